"""How a run's chains reach the algorithm: the four modes, each giving one result row per chain.

* ``sequential``: chains one at a time, in order, on the residual substrate
  (what is left after the chains placed before); a chain that does not fit
  is rejected with the :class:`~placement.errors.Infeasible` reason and the
  run goes on.
* ``batch``: all chains in one ``place`` call: all placed or all rejected
  (the setting of the MILP and of the GA's joint optimisation).
* ``online``: :func:`placement.online.simulate`: chains arrive and depart
  over time (``arrival``/``lifetime`` from the workload).
* ``admission``: the whole batch is known at time 0 and the operator chooses
  which chains to accept: :func:`placement.packing.admit_by_density` picks
  the subset (revenue-density order, add/drop exchanges) and the algorithm
  embeds each chain; a chain left out is rejected with reason
  ``"not admitted"``.  With ``optimum=exact`` the rows say how much of the
  admission optimum that earns.

Every accepted placement is checked by the placement validator
(:func:`placement.base.check_placement`) before it is kept.  An algorithm
that fails otherwise (a bug) gives status ``error`` with the exception as
``detail``; one that declines the instance (:meth:`skip`) gives ``skipped``.

With ``optimum=exact|lp`` (:data:`OPTIMA`), :func:`instance_optimum` computes
the instance's admission optimum (:func:`placement.admission.admission_optimum`)
or LP bound (:func:`placement.admission.lp_bound`) once, and
:func:`with_optimum` adds it and each repetition's share of it to the rows.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field

import numpy as np

from placement.base import check_placement
from placement.errors import Infeasible
from placement.metrics import chain_latency, chain_rows
from placement.model import Embedding, Placement
from placement.online import simulate
from placement.residual import reserve_embedding
from placement.substrate import residual_copy

from .results import mapping_json

__all__ = [
    "Outcome",
    "place_sequential",
    "place_batch",
    "place_online",
    "place_admission",
    "PLACERS",
    "OPTIMA",
    "instance_optimum",
    "with_optimum",
]

_SEED_BOUND = 2**63 - 1


@dataclass
class Outcome:
    """One repetition's placement: result rows in chain order and the total time of the ``place`` calls.

    ``timeline``: the online run's points over time (:attr:`placement.online.OnlineResult.timeline`),
    empty in the other modes.
    """

    rows: list[dict]
    solve_time_ms: float
    timeline: list[dict] = field(default_factory=list)
    placement: Placement = field(default_factory=Placement)
    """The embeddings of the placed chains: what the testbed deploys."""


def _call(G, chains, algo, seed, substrate) -> tuple[list[dict], Placement]:
    """One ``algo.place(G, chains)`` call; its chain rows (statuses and reasons) and placement.

    ``G`` is what the algorithm sees (the residual in sequential mode),
    ``substrate`` the full substrate the model latencies are computed on.
    """
    skip, why = algo.skip(G, chains)
    if skip:
        return _failed(substrate, chains, "skipped", "skipped", why, 0.0), Placement()
    start = time.perf_counter()
    try:
        placement = algo.place(G, chains, seed=seed)
        check_placement(G, chains, placement)
    except Infeasible as e:
        return _failed(substrate, chains, "rejected", e.reason, str(e), _ms_since(start)), Placement()
    except Exception as e:  # an algorithm bug must not end a sweep: record it
        return _failed(substrate, chains, "error", type(e).__name__, str(e), _ms_since(start)), Placement()
    elapsed = _ms_since(start)
    rows = chain_rows(substrate, chains, placement)
    info = json.dumps(placement.info, default=str) if placement.info else None
    for row in rows:
        row.update(solve_time_ms=elapsed, detail=info, arrival=0.0, departure=math.inf)
    return rows, placement


def _ms_since(start: float) -> float:
    return (time.perf_counter() - start) * 1e3


def _failed(substrate, chains, status, reason, detail, elapsed_ms) -> list[dict]:
    rows = chain_rows(substrate, chains, Placement(), rejected={c.id: reason for c in chains})
    for row in rows:
        row.update(status=status, detail=detail, solve_time_ms=elapsed_ms, arrival=0.0, departure=math.nan)
    return rows


def place_sequential(substrate, chains, algo, *, seed, bar) -> Outcome:
    """Place ``chains`` one by one on the shrinking residual of ``substrate``.

    Each call gets its own seed drawn from ``seed``; ``bar`` (tqdm) advances
    by one per chain.
    """
    rng = np.random.default_rng(seed)
    residual = residual_copy(substrate)
    rows, total = [], 0.0
    for chain in chains:
        (row,), placement = _call(residual, [chain], algo, int(rng.integers(_SEED_BOUND)), substrate)
        if chain.id in placement.embeddings:
            reserve_embedding(residual, chain, placement.embeddings[chain.id])
        rows.append(row)
        total += row["solve_time_ms"]
        bar.update(1)
    return _outcome(substrate, chains, rows, total)


def place_batch(substrate, chains, algo, *, seed, bar) -> Outcome:
    """Place all ``chains`` jointly in one call (all or nothing)."""
    rows, _ = _call(substrate, list(chains), algo, seed, substrate)
    bar.update(len(chains))
    return _outcome(substrate, chains, rows, rows[0]["solve_time_ms"] if rows else 0.0)


def place_online(substrate, chains, algo, *, seed, bar) -> Outcome:
    """Run :func:`placement.online.simulate`: arrivals and departures in time order."""
    start = time.perf_counter()
    try:
        result = simulate(substrate, chains, algo, seed=seed)
    except Exception as e:  # an algorithm bug (Infeasible is handled by simulate)
        rows = _failed(substrate, chains, "error", type(e).__name__, str(e), _ms_since(start))
        bar.update(len(chains))
        return _outcome(substrate, chains, rows, _ms_since(start))
    bar.update(len(chains))
    by_id = {row["chain_id"]: {**row, "solve_time_ms": row["solve_ms"], "detail": None} for row in result.rows}
    rows = [by_id[c.id] for c in chains]
    return _outcome(substrate, chains, rows, float(sum(result.solve_ms)), result.timeline)


def place_admission(substrate, chains, algo, *, seed, bar) -> Outcome:
    """Admit a batch (:func:`placement.packing.admit_by_density` with ``algo`` as the embedder).

    Every row carries the time of the whole admission (as in batch mode) and
    its ``info`` (winning order, exchanges) as ``detail``.
    """
    from placement.packing import admit_by_density  # imports the HiGHS models: load only when asked

    start = time.perf_counter()
    try:
        admitted = admit_by_density(substrate, chains, algorithm=algo, seed=seed)
        check_placement(substrate, [c for c in chains if c.id in admitted.placement.embeddings], admitted.placement)
    except Exception as e:  # an algorithm bug must not end a sweep: record it
        rows = _failed(substrate, chains, "error", type(e).__name__, str(e), _ms_since(start))
        bar.update(len(chains))
        return _outcome(substrate, chains, rows, rows[0]["solve_time_ms"] if rows else 0.0)
    elapsed = _ms_since(start)
    rows = chain_rows(substrate, chains, admitted.placement, rejected={c: "not admitted" for c in admitted.rejected})
    info = json.dumps(admitted.info, default=str)
    for row in rows:
        placed = row["status"] == "placed"
        row.update(solve_time_ms=elapsed, detail=info, arrival=0.0, departure=math.inf if placed else math.nan)
    bar.update(len(chains))
    return _outcome(substrate, chains, rows, elapsed)


PLACERS = {"sequential": place_sequential, "batch": place_batch, "online": place_online, "admission": place_admission}
"""Mode name (``cfg.mode``) -> placement function."""

OPTIMA = ("none", "exact", "lp")
"""What ``cfg.optimum`` adds to the rows: nothing, the exact admission optimum, or the LP bound."""

OPTIMUM_COLUMNS = ("opt_kind", "opt_revenue", "opt_bound", "opt_gap", "opt_status", "opt_time_s")


def instance_optimum(substrate, chains, kind: str) -> dict:
    """The columns describing the best revenue any algorithm could accept from this instance.

    ``kind="exact"``: the admission MILP (all chains at time 0; its
    ``opt_revenue`` is the best accepted revenue, ``opt_bound`` its proved
    upper bound, ``opt_gap`` their relative gap).  ``kind="lp"``: the LP
    bound only (``opt_revenue`` NaN), which honours arrivals and lifetimes,
    so it also bounds online runs.  ``"none"``: no columns (nothing computed).

    Examples
    --------
    >>> from placement.topologies import line
    >>> from placement.model import VNF, Chain
    >>> cs = [Chain(f"c{i}", (VNF("a", cpu=1.0),), "srv0", "srv1", bw=1.0) for i in range(3)]
    >>> opt = instance_optimum(line(2, cpu=1.0), cs, "exact")
    >>> opt["opt_kind"], opt["opt_revenue"], opt["opt_status"]
    ('exact', 6.0, 'Optimal')
    >>> instance_optimum(line(2, cpu=1.0), cs, "none")
    {}
    """
    from placement.admission import admission_optimum, lp_bound  # HiGHS models: load only when asked

    start = time.perf_counter()
    if kind == "none":
        return {}
    if kind == "exact":
        a = admission_optimum(substrate, chains)
        values = ("exact", a.revenue, a.bound, a.gap, a.status)
    elif kind == "lp":
        values = ("lp", math.nan, lp_bound(substrate, chains), math.nan, "lp")
    else:
        raise ValueError(f"optimum={kind!r}: choose one of {', '.join(OPTIMA)}")
    return dict(zip(OPTIMUM_COLUMNS, (*values, time.perf_counter() - start)))


def with_optimum(rows: list[dict], optimum: dict) -> list[dict]:
    """``rows`` with the ``optimum`` columns and ``revenue_ratio``: each repetition's accepted revenue
    over ``opt_revenue`` (or, without it, ``opt_bound``).  Unchanged when ``optimum`` is empty.

    Examples
    --------
    >>> rows = [{"repetition": 0, "revenue": 3.0}, {"repetition": 0, "revenue": 0.0}, {"repetition": 1, "revenue": 6.0}]
    >>> [r["revenue_ratio"] for r in with_optimum(rows, {"opt_revenue": 6.0, "opt_bound": 6.0})]
    [0.5, 0.5, 1.0]
    """
    if not optimum:
        return rows
    reference = optimum.get("opt_revenue", math.nan)
    if not math.isfinite(reference):
        reference = optimum.get("opt_bound", math.nan)
    earned = {}
    for row in rows:
        earned[row.get("repetition")] = earned.get(row.get("repetition"), 0.0) + row["revenue"]
    return [
        {**row, **optimum, "revenue_ratio": earned[row.get("repetition")] / reference if reference > 0 else math.nan}
        for row in rows
    ]


def _outcome(substrate, chains, rows, solve_time_ms, timeline=()) -> Outcome:
    """From :func:`placement.metrics.chain_rows` rows: result rows (JSON text for structures) and the placement."""
    embeddings = {chain.id: Embedding(chain.id, [row["servers"][i] for i in range(len(chain.vnfs))], row["paths"])
                  for chain, row in zip(chains, rows, strict=True) if row["status"] == "placed"}
    tidy = [_tidy_row(substrate, chain, row, embeddings.get(chain.id)) for chain, row in zip(chains, rows)]
    return Outcome(tidy, solve_time_ms, list(timeline), Placement(embeddings))


def _tidy_row(substrate, chain, row, embedding) -> dict:
    placed = embedding is not None
    servers = list(embedding.servers) if placed else []
    return {
        "chain_id": chain.id,
        "status": row["status"],
        "reason": row["reason"],
        "detail": row["detail"],
        "vnfs": json.dumps(row["vnfs"]),
        "ingress": chain.ingress,
        "egress": chain.egress,
        "bw": chain.bw,
        "max_latency": chain.max_latency,
        "arrival": row["arrival"],
        "departure": row["departure"],
        "mapping": mapping_json(chain, servers) if placed else None,
        "paths": json.dumps(row["paths"]) if placed else None,
        "hops": row["hops"],
        "cost": row["cost"],
        "demand": row["demand"],
        "revenue": row["revenue"],
        "model_latency_ms": row["model_latency_ms"],
        "model_rtt_ms": chain_latency(substrate, chain, embedding, round_trip=True) if placed else math.nan,
        "solve_time_ms": row["solve_time_ms"],
    }
