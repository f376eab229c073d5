"""Online simulation: chains arrive and depart over time, placed one by one.

Events are processed in time order by :func:`replay` (departures before
arrivals at the same instant, so back-to-back lifetimes do not overlap),
the one arrival/departure loop of the project.  Each arrival asks the
algorithm to place that one chain on the current residual substrate; an
:class:`~placement.errors.Infeasible` answer is a rejection with its
reason.  A departure gives the chain's resources back.  This is the usual
online SFC/VNE evaluation (e.g. Yu et al., SIGCOMM CCR 2008; Mijumbi et al.,
NetSoft 2015), reported with the metrics of the VNE benchmarks (Virne,
https://github.com/GeminiLight/virne): acceptance ratio, long-term average
revenue, long-term revenue-to-cost ratio and solving time per request,
over time and at the end.
"""

from __future__ import annotations

import heapq
import math
import time
from dataclasses import dataclass, field

import numpy as np

from .base import PlacementAlgorithm, check_placement, get_algorithm
from .errors import ChainError, Infeasible
from .metrics import chain_rows
from .model import Placement
from .residual import release_embedding, reserve_embedding, working_copy
from .substrate import validate_substrate

__all__ = ["OnlineResult", "simulate", "replay", "long_term_average_revenue"]

_DEPART, _ARRIVE = 0, 1  # event priorities at equal times: departures first


def replay(arrivals, arrive, depart) -> float:
    """Play ``arrivals`` and the departures they cause in time order; return the time of the last event.

    ``arrivals`` is an iterable of ``(time, item)``.  ``arrive(time, item)``
    handles an arrival and returns when ``item`` leaves (None or inf: it
    stays); ``depart(time, item)`` is called then.  At equal times
    departures come first, then arrivals in the order given.  Returns 0.0
    when nothing arrives.

    Examples
    --------
    >>> log = []
    >>> def arrive(t, item):
    ...     log.append(("+", t, item))
    ...     return t + 2.0 if item != "stays" else None
    >>> replay([(1.0, "b"), (0.0, "a"), (2.0, "stays")], arrive, lambda t, item: log.append(("-", t, item)))
    3.0
    >>> log
    [('+', 0.0, 'a'), ('+', 1.0, 'b'), ('-', 2.0, 'a'), ('+', 2.0, 'stays'), ('-', 3.0, 'b')]
    """
    events = [(float(t), _ARRIVE, k, item) for k, (t, item) in enumerate(arrivals)]
    heapq.heapify(events)
    sequence, now = len(events), 0.0
    while events:
        now, kind, _, item = heapq.heappop(events)
        if kind == _DEPART:
            depart(now, item)
            continue
        leave = arrive(now, item)
        if leave is not None and math.isfinite(leave):
            heapq.heappush(events, (float(leave), _DEPART, sequence, item))
            sequence += 1
    return now


def long_term_average_revenue(rows, until: float) -> float:
    """Revenue earned per time unit up to ``until``: ``sum(revenue * time served before until) / until``.

    The long-term average revenue of the VNE literature (Virne's
    ``long_term_avg_time_revenue``): each accepted request earns its revenue
    per time unit while it runs.  ``rows`` need ``revenue``, ``arrival`` and
    ``departure`` (rejected rows earn 0).  NaN when ``until`` is 0.

    Examples
    --------
    >>> rows = [{"revenue": 10.0, "arrival": 0.0, "departure": 5.0},
    ...         {"revenue": 4.0, "arrival": 5.0, "departure": math.inf}]
    >>> long_term_average_revenue(rows, 10.0)  # (10 * 5 + 4 * 5) / 10
    7.0
    """
    if until <= 0:
        return math.nan
    earned = sum(
        r["revenue"] * (min(r["departure"], until) - r["arrival"])
        for r in rows
        if r["revenue"] and r["arrival"] <= until
    )
    return float(earned / until)


@dataclass
class OnlineResult:
    """What an online run did: one row per chain, one timeline point per arrival and one at the end.

    ``rows`` are :func:`placement.metrics.chain_rows` rows plus ``arrival``,
    ``departure`` (NaN if rejected, inf if never leaving) and ``solve_ms`` (wall
    time of the ``place`` call, rejections included).  ``revenue`` is the
    earned :func:`placement.metrics.revenue` (``bw * n_links + sum of VNF
    cpu``), 0 for rejected chains; ``demand`` is what the chain offered;
    ``resource_cost`` what the accepted embedding costs the substrate
    (:func:`placement.metrics.resource_cost`).

    ``timeline`` points have ``event`` (``"arrival"``, or ``"end"`` for the
    last point, at the run's last event), ``time, arrived, accepted,
    acceptance_ratio, active`` and the running VNE metrics at that time:
    ``long_term_average_revenue`` (:func:`long_term_average_revenue`),
    ``revenue_cost_ratio`` (accepted revenue over accepted resource cost)
    and ``mean_solve_ms`` (time per request so far).  ``end_time`` is the time
    of the last event (arrival or departure), the horizon of the summary
    properties, which equal the ``"end"`` point.
    """

    algorithm: str
    params: dict
    rows: list[dict] = field(default_factory=list)
    timeline: list[dict] = field(default_factory=list)
    end_time: float = 0.0

    @property
    def acceptance_ratio(self) -> float:
        """Accepted chains over arrived chains (NaN with no arrivals)."""
        if not self.rows:
            return math.nan
        return sum(r["status"] == "placed" for r in self.rows) / len(self.rows)

    @property
    def accepted_revenue(self) -> float:
        """Sum of the revenue of accepted chains."""
        return float(sum(r["revenue"] for r in self.rows))

    @property
    def offered_revenue(self) -> float:
        """Sum of the revenue of all arrived chains."""
        return float(sum(r["demand"] for r in self.rows))

    @property
    def long_term_average_revenue(self) -> float:
        """Revenue per time unit over the whole run (:func:`long_term_average_revenue` at ``end_time``)."""
        return long_term_average_revenue(self.rows, self.end_time)

    @property
    def revenue_cost_ratio(self) -> float:
        """Long-term revenue-to-cost ratio: accepted revenue over the resources it took (NaN if none)."""
        cost = sum(r["resource_cost"] for r in self.rows if r["status"] == "placed")
        return float(self.accepted_revenue / cost) if cost > 0 else math.nan

    @property
    def mean_solve_ms(self) -> float:
        """Time per request: the mean wall time of the ``place`` calls in ms (NaN with no arrivals)."""
        return float(np.mean(self.solve_ms)) if self.rows else math.nan

    @property
    def solve_ms(self) -> list[float]:
        """Per-arrival wall time of ``place`` in ms, in arrival order."""
        return [r["solve_ms"] for r in self.rows]

    def summary(self) -> dict:
        """The end-of-run metrics as one dict (the VNE benchmarks' summary)."""
        return {
            "acceptance_ratio": self.acceptance_ratio,
            "long_term_average_revenue": self.long_term_average_revenue,
            "revenue_cost_ratio": self.revenue_cost_ratio,
            "mean_solve_ms": self.mean_solve_ms,
            "end_time": self.end_time,
        }

    def to_frame(self):
        """The per-chain rows as a :class:`pandas.DataFrame`."""
        import pandas as pd

        return pd.DataFrame(self.rows)

    def timeline_frame(self):
        """The metrics-over-time points as a :class:`pandas.DataFrame`."""
        import pandas as pd

        return pd.DataFrame(self.timeline)


class _Running:
    """The running VNE metrics, updated in O(1) per event (no rescan of the rows)."""

    def __init__(self):
        self.arrived = self.accepted = 0
        self.revenue = self.cost = self.solve_ms = 0.0
        self.closed = 0.0  # revenue * time of chains already departed
        self.active_rev = self.active_rev_arrival = 0.0  # sums over running chains: rev, rev * arrival
        self.active = 0

    def arrive(self, row):
        self.arrived += 1
        self.solve_ms += row["solve_ms"]
        if row["status"] == "placed":
            self.accepted += 1
            self.active += 1
            self.revenue += row["revenue"]
            self.cost += row["resource_cost"]
            self.active_rev += row["revenue"]
            self.active_rev_arrival += row["revenue"] * row["arrival"]

    def depart(self, row):
        self.active -= 1
        self.active_rev -= row["revenue"]
        self.active_rev_arrival -= row["revenue"] * row["arrival"]
        self.closed += row["revenue"] * (row["departure"] - row["arrival"])

    def point(self, event, now):
        earned = self.closed + self.active_rev * now - self.active_rev_arrival
        return {
            "event": event,
            "time": now,
            "arrived": self.arrived,
            "accepted": self.accepted,
            "acceptance_ratio": self.accepted / self.arrived if self.arrived else math.nan,
            "active": self.active,
            "long_term_average_revenue": earned / now if now > 0 else math.nan,
            "revenue_cost_ratio": self.revenue / self.cost if self.cost > 0 else math.nan,
            "mean_solve_ms": self.solve_ms / self.arrived if self.arrived else math.nan,
        }


def simulate(substrate, chains, algorithm, *, seed=None, check=True) -> OnlineResult:
    """Run ``chains`` through ``algorithm`` online on ``substrate`` and collect the outcome.

    ``algorithm`` is a :class:`~placement.base.PlacementAlgorithm` or a
    registered name.  Each chain arrives at ``chain.arrival`` and, if
    accepted, leaves at ``arrival + lifetime``.  ``seed`` (int, Generator or
    None) yields one seed per ``place`` call, so the run is reproducible.
    With ``check`` every accepted placement is verified by
    :func:`~placement.base.check_placement` (a failing check is an algorithm
    bug and raises :class:`~placement.errors.InvalidPlacement`).  The
    substrate is not modified.

    Examples
    --------
    >>> from placement.topologies import line
    >>> from placement.model import VNF, Chain
    >>> G = line(2, cpu=1.0)
    >>> big = (VNF("ids", cpu=1.0),)
    >>> cs = [Chain("a", big, "srv0", "srv1", arrival=0.0, lifetime=5.0),
    ...       Chain("b", big, "srv0", "srv1", arrival=1.0, lifetime=5.0),
    ...       Chain("c", big, "srv0", "srv1", arrival=2.0, lifetime=5.0),
    ...       Chain("d", big, "srv0", "srv1", arrival=5.0, lifetime=5.0)]
    >>> result = simulate(G, cs, "greedy")
    >>> [(r["chain_id"], r["status"], r["reason"]) for r in result.rows]
    [('a', 'placed', None), ('b', 'placed', None), ('c', 'rejected', 'cpu'), ('d', 'placed', None)]
    >>> result.acceptance_ratio, result.end_time, result.long_term_average_revenue  # 3 x 3 revenue x 5 / 10
    (0.75, 10.0, 4.5)
    """
    validate_substrate(substrate)
    algo = get_algorithm(algorithm) if isinstance(algorithm, str) else algorithm
    if not isinstance(algo, PlacementAlgorithm):
        raise TypeError(f"algorithm must be a PlacementAlgorithm or a registered name, got {algorithm!r}")
    chains = list(chains)
    if len({c.id for c in chains}) != len(chains):
        raise ChainError("duplicate chain ids: every chain of an online run needs its own id")
    rng = np.random.default_rng(seed)
    residual = working_copy(substrate)
    result = OnlineResult(algo.name or type(algo).__name__, algo.get_params())
    running = _Running()
    live = {}  # chain index -> (embedding, row)

    def arrive(now, i):
        chain = chains[i]
        row, embedding = _arrive(residual, chain, algo, int(rng.integers(2**63 - 1)), check, substrate)
        result.rows.append(row)
        running.arrive(row)
        if embedding is not None:
            reserve_embedding(residual, chain, embedding)
            live[i] = embedding, row
        result.timeline.append(running.point("arrival", now))
        return row["departure"] if embedding is not None else None

    def depart(now, i):
        embedding, row = live.pop(i)
        release_embedding(residual, chains[i], embedding)
        running.depart(row)

    result.end_time = replay(((c.arrival, i) for i, c in enumerate(chains)), arrive, depart)
    if chains:
        result.timeline.append(running.point("end", result.end_time))
    return result


def _arrive(residual, chain, algo, seed, check, substrate):
    """Ask ``algo`` for ``chain`` alone; return its row and embedding (None if rejected)."""
    start = time.perf_counter()
    try:
        placement = algo.place(residual, [chain], seed=seed)
        rejected = {}
    except Infeasible as e:
        placement, rejected = Placement(), {chain.id: e.reason}
    elapsed_ms = (time.perf_counter() - start) * 1e3
    if check and placement.embeddings:
        check_placement(residual, [chain], placement)
    row = chain_rows(substrate, [chain], placement, rejected=rejected)[0]
    embedding = placement.embeddings.get(chain.id)
    departure = chain.arrival + chain.lifetime if embedding is not None else math.nan
    row.update(arrival=chain.arrival, departure=departure, solve_ms=elapsed_ms)
    return row, embedding
