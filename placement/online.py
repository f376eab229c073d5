"""Online simulation: chains arrive and depart over time, placed one by one.

Events are processed in time order (departures before arrivals at the same
instant, so back-to-back lifetimes do not overlap).  Each arrival asks the
algorithm to place that one chain on the current residual substrate; an
:class:`~placement.errors.Infeasible` answer is a rejection with its
reason.  A departure gives the chain's resources back.  This is the usual
online SFC/VNE evaluation (e.g. Yu et al., SIGCOMM CCR 2008; Mijumbi et al.,
NetSoft 2015): acceptance ratio and accepted revenue over time.
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

__all__ = ["OnlineResult", "simulate"]

_DEPART, _ARRIVE = 0, 1  # event priorities at equal times: departures first


@dataclass
class OnlineResult:
    """What an online run did: one row per chain, one timeline point per arrival.

    ``rows`` are :func:`placement.metrics.chain_rows` rows plus ``arrival``,
    ``departure`` (NaN if rejected, inf if never leaving) and ``solve_ms`` (wall
    time of the ``place`` call, rejections included).  ``revenue`` is the
    earned :func:`placement.metrics.revenue` (``bw * n_links + sum of VNF
    cpu``), 0 for rejected chains; ``demand`` is what the chain offered.
    ``timeline`` has ``time, arrived, accepted, acceptance_ratio, active``.
    """

    algorithm: str
    params: dict
    rows: list[dict] = field(default_factory=list)
    timeline: list[dict] = field(default_factory=list)

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
    def solve_ms(self) -> list[float]:
        """Per-arrival wall time of ``place`` in ms, in arrival order."""
        return [r["solve_ms"] for r in self.rows]

    def to_frame(self):
        """The per-chain rows as a :class:`pandas.DataFrame`."""
        import pandas as pd

        return pd.DataFrame(self.rows)

    def timeline_frame(self):
        """The acceptance-over-time points as a :class:`pandas.DataFrame`."""
        import pandas as pd

        return pd.DataFrame(self.timeline)


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
    >>> result.acceptance_ratio
    0.75
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
    events = [(c.arrival, _ARRIVE, i) for i, c in enumerate(chains)]
    heapq.heapify(events)
    live = {}  # chain index -> embedding
    accepted = 0
    while events:
        now, kind, i = heapq.heappop(events)
        chain = chains[i]
        if kind == _DEPART:
            release_embedding(residual, chain, live.pop(i))
            continue
        row, embedding = _arrive(residual, chain, algo, int(rng.integers(2**63 - 1)), check, substrate)
        if embedding is not None:
            reserve_embedding(residual, chain, embedding)
            live[i] = embedding
            accepted += 1
            if math.isfinite(chain.lifetime):
                heapq.heappush(events, (now + chain.lifetime, _DEPART, i))
        result.rows.append(row)
        result.timeline.append(_point(now, len(result.rows), accepted, len(live)))
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


def _point(now, arrived, accepted, active):
    return {
        "time": now,
        "arrived": arrived,
        "accepted": accepted,
        "acceptance_ratio": accepted / arrived,
        "active": active,
    }
