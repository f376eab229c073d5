"""How a run's chains reach the algorithm: the three modes, each giving one result row per chain.

* ``sequential``: chains one at a time, in order, on the residual substrate
  (what is left after the chains placed before); a chain that does not fit
  is rejected with the :class:`~placement.errors.Infeasible` reason and the
  run goes on.
* ``batch``: all chains in one ``place`` call: all placed or all rejected
  (the setting of the MILP and of the GA's joint optimisation).
* ``online``: :func:`placement.online.simulate`: chains arrive and depart
  over time (``arrival``/``lifetime`` from the workload).

Every accepted placement is checked by the placement validator
(:func:`placement.base.check_placement`) before it is kept.  An algorithm
that fails otherwise (a bug) gives status ``error`` with the exception as
``detail``; one that declines the instance (:meth:`skip`) gives ``skipped``.
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

__all__ = ["Outcome", "place_sequential", "place_batch", "place_online", "PLACERS"]

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


PLACERS = {"sequential": place_sequential, "batch": place_batch, "online": place_online}
"""Mode name (``cfg.mode``) -> placement function."""


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
