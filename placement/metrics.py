"""What a placement costs and earns: latency, hops, the objective, utilisation.

:func:`cost` is *the* objective of sfcbench: every algorithm is judged by it
and the MILP (:mod:`placement.algorithms.milp`) minimises exactly it.  Rows
from :func:`chain_rows` are plain dicts, ready for ``pandas.DataFrame``.
"""

from __future__ import annotations

import math

from .model import BW, CPU, MEM, Chain, Embedding, Placement
from .residual import path_delay, usage
from .substrate import servers

__all__ = [
    "LATENCY_WEIGHT",
    "BANDWIDTH_WEIGHT",
    "chain_latency",
    "hops",
    "chain_cost",
    "cost",
    "revenue",
    "resource_cost",
    "utilisation",
    "acceptance_ratio",
    "chain_rows",
]

LATENCY_WEIGHT = 1.0
"""Default weight of one ms of model one-way latency in :func:`cost`."""

BANDWIDTH_WEIGHT = 0.01
"""Default weight of one Mbit/s reserved on one substrate hop in :func:`cost`."""


def chain_latency(substrate, chain: Chain, embedding: Embedding, *, round_trip=False) -> float:
    """Model latency of ``chain`` as embedded: link delays plus VNF processing delays.

    One-way: the delays of every edge of every virtual link's path plus each
    VNF's ``proc_delay``.  ``round_trip=True`` models a request-response that
    returns along the same paths without being processed again: twice the
    link delays plus the processing delays once.

    Examples
    --------
    >>> from placement.topologies import line
    >>> from placement.model import VNF
    >>> G = line(3, delay=2.0)
    >>> c = Chain("c", (VNF("fw", proc_delay=0.5),), ingress="srv0", egress="srv2")
    >>> e = Embedding("c", ("srv1",), (("srv0", "srv1"), ("srv1", "srv2")))
    >>> chain_latency(G, c, e), chain_latency(G, c, e, round_trip=True)
    (4.5, 8.5)
    """
    links = sum(path_delay(substrate, p) for p in embedding.paths)
    proc = sum(v.proc_delay for v in chain.vnfs)
    return float((2 if round_trip else 1) * links + proc)


def hops(embedding: Embedding) -> int:
    """Number of substrate edges over all virtual links of ``embedding``.

    Examples
    --------
    >>> hops(Embedding("c", ("b",), (("a", "b"), ("b", "c", "d"))))
    3
    """
    return sum(len(p) - 1 for p in embedding.paths)


def chain_cost(
    substrate,
    chain: Chain,
    embedding: Embedding,
    *,
    latency_weight=LATENCY_WEIGHT,
    bandwidth_weight=BANDWIDTH_WEIGHT,
) -> float:
    """One chain's share of :func:`cost`."""
    return latency_weight * chain_latency(substrate, chain, embedding) + bandwidth_weight * chain.bw * hops(
        embedding
    )


def cost(
    substrate,
    chains,
    placement: Placement,
    *,
    latency_weight=LATENCY_WEIGHT,
    bandwidth_weight=BANDWIDTH_WEIGHT,
) -> float:
    """The objective: weighted model latency plus weighted bandwidth-hops, summed over chains.

    ``latency_weight * sum(one-way latency) + bandwidth_weight * sum(bw * hops)``.
    Chains without an embedding in ``placement`` (rejected) add nothing, so
    compare costs only between placements of the same chains.

    Examples
    --------
    >>> from placement.topologies import line
    >>> from placement.model import VNF
    >>> G = line(3)
    >>> c = Chain("c", (VNF("fw"),), ingress="srv0", egress="srv2", bw=10.0)
    >>> p = Placement({"c": Embedding("c", ("srv1",), (("srv0", "srv1"), ("srv1", "srv2")))})
    >>> cost(G, [c], p)  # 2 ms + 0.01 * 10 Mbit/s * 2 hops
    2.2
    """
    return float(
        sum(
            chain_cost(
                substrate,
                c,
                placement.embeddings[c.id],
                latency_weight=latency_weight,
                bandwidth_weight=bandwidth_weight,
            )
            for c in chains
            if c.id in placement.embeddings
        )
    )


def revenue(chain: Chain) -> float:
    """What accepting ``chain`` earns: ``bw * n_links + sum of VNF cpu``.

    The usual virtual-network-embedding revenue (Yu et al., "Rethinking
    virtual network embedding", SIGCOMM CCR 2008): bandwidth per virtual link
    plus CPU per virtual node, units mixed on purpose (Mbit/s + cores).
    Only virtual links that exist count: a chain without ingress or egress
    has fewer (see :attr:`~placement.model.Chain.n_links`).

    Examples
    --------
    >>> from placement.model import VNF
    >>> revenue(Chain("c", (VNF("a", cpu=1.0), VNF("b", cpu=2.0)), "x", "y", bw=5.0))
    18.0
    >>> revenue(Chain("r", (VNF("a", cpu=1.0), VNF("b", cpu=2.0)), bw=5.0))  # one virtual link
    8.0
    """
    return float(chain.bw * chain.n_links + sum(v.cpu for v in chain.vnfs))


def resource_cost(chain: Chain, embedding: Embedding) -> float:
    """What ``embedding`` of ``chain`` costs the substrate: ``sum of VNF cpu + bw * hops``.

    The virtual-network-embedding cost of Yu et al. (SIGCOMM CCR 2008), used
    by VNE benchmarks such as Virne for the revenue-to-cost ratio: the CPU
    taken plus the bandwidth reserved on every substrate link crossed.  Equal
    to :func:`revenue` when every virtual link takes exactly one hop.

    Examples
    --------
    >>> from placement.model import VNF
    >>> c = Chain("r", (VNF("a", cpu=1.0), VNF("b", cpu=2.0)), bw=5.0)
    >>> resource_cost(c, Embedding("r", ("x", "z"), (("x", "y", "z"),))), revenue(c)
    (13.0, 8.0)
    """
    return float(sum(v.cpu for v in chain.vnfs) + chain.bw * hops(embedding))


def _fractions(cap_used):
    values = [used / cap for cap, used in cap_used if cap > 0]
    if not values:
        return 0.0, 0.0
    return float(sum(values) / len(values)), float(max(values))


def utilisation(substrate, chains, placement: Placement) -> dict[str, float]:
    """Mean and max fraction of server CPU/memory and link bandwidth ``placement`` uses.

    Means are over all servers (or all edges), idle ones included.

    Examples
    --------
    >>> from placement.topologies import line
    >>> from placement.model import VNF
    >>> G = line(2, cpu=4.0, bw=100.0)
    >>> c = Chain("c", (VNF("fw", cpu=2.0, mem=0.0),), ingress="srv0", egress="srv0", bw=10.0)
    >>> p = Placement({"c": Embedding("c", ("srv1",), (("srv0", "srv1"), ("srv1", "srv0")))})
    >>> utilisation(G, [c], p)
    {'cpu_mean': 0.25, 'cpu_max': 0.5, 'mem_mean': 0.0, 'mem_max': 0.0, 'bw_mean': 0.2, 'bw_max': 0.2}
    """
    node_use, edge_use = usage(chains, placement.embeddings)
    out = {}
    for name in (CPU, MEM):
        pairs = [(substrate.nodes[s][name], node_use.get(s, {}).get(name, 0.0)) for s in servers(substrate)]
        out[f"{name}_mean"], out[f"{name}_max"] = _fractions(pairs)
    pairs = [(a[BW], edge_use.get(frozenset((u, v)), 0.0)) for u, v, a in substrate.edges(data=True)]
    out["bw_mean"], out["bw_max"] = _fractions(pairs)
    return out


def acceptance_ratio(chains, placement: Placement) -> float:
    """Fraction of ``chains`` that ``placement`` embeds (NaN for no chains).

    Examples
    --------
    >>> from placement.model import VNF
    >>> cs = [Chain(i, (VNF("a"),), "x", "y") for i in "ab"]
    >>> acceptance_ratio(cs, Placement({"a": Embedding("a", ("x",), (("x",), ("x", "y")))}))
    0.5
    """
    chains = list(chains)
    if not chains:
        return math.nan
    return sum(c.id in placement.embeddings for c in chains) / len(chains)


def chain_rows(substrate, chains, placement: Placement, rejected=None) -> list[dict]:
    """One dict per chain, for ``pandas.DataFrame``: where it runs, or why not.

    ``rejected`` maps chain ids to a reason; chains neither embedded nor in
    ``rejected`` get status ``"rejected"`` and reason ``"not placed"``.
    Columns: ``chain_id, status, reason, vnfs, bw, max_latency, servers``
    (dict VNF position -> server), ``paths, model_latency_ms, hops, cost,
    demand`` (the chain's :func:`revenue`), ``revenue`` (earned: the
    demand if placed, else 0) and ``resource_cost`` (:func:`resource_cost`).
    Latency, hops and both costs are NaN for rejected chains.

    Examples
    --------
    >>> from placement.topologies import line
    >>> from placement.model import VNF
    >>> G = line(2)
    >>> cs = [Chain(i, (VNF("fw"),), "srv0", "srv1") for i in "ab"]
    >>> p = Placement({"a": Embedding("a", ("srv1",), (("srv0", "srv1"), ("srv1",)))})
    >>> rows = chain_rows(G, cs, p, rejected={"b": "cpu"})
    >>> [(r["chain_id"], r["status"], r["reason"], r["servers"], r["hops"]) for r in rows]
    [('a', 'placed', None, {0: 'srv1'}, 1), ('b', 'rejected', 'cpu', {}, nan)]
    """
    rejected = rejected or {}
    rows = []
    for c in chains:
        e = placement.embeddings.get(c.id)
        row = {
            "chain_id": c.id,
            "status": "placed" if e else "rejected",
            "reason": None if e else rejected.get(c.id, "not placed"),
            "vnfs": [v.type for v in c.vnfs],
            "bw": c.bw,
            "max_latency": c.max_latency,
            "servers": dict(enumerate(e.servers)) if e else {},
            "paths": [list(p) for p in e.paths] if e else [],
            "model_latency_ms": chain_latency(substrate, c, e) if e else math.nan,
            "hops": hops(e) if e else math.nan,
            "cost": chain_cost(substrate, c, e) if e else math.nan,
            "demand": revenue(c),
            "revenue": revenue(c) if e else 0.0,
            "resource_cost": resource_cost(c, e) if e else math.nan,
        }
        rows.append(row)
    return rows

