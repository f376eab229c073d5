"""Which machine emulates which substrate node, when the testbed spans several machines.

A good partition cuts few links, because every cut link becomes a VXLAN
tunnel between two machines, and weighs the same on every machine, because a
machine whose servers reserve more CPU than it has cores measures its own
contention.  :func:`partition` therefore minimises the bandwidth of the cut
links while keeping each machine's *load* (the CPU that the VNFs placed on its
servers reserve, plus a base cost per server and per switch) near its share.

The method is recursive bisection: the machines are split into two groups,
the nodes into two sides weighing in proportion to the groups (greedy graph
growing from a few seeded start nodes, each refined by Fiduccia-Mattheyses
moves that keep the balance), and each side is split again for its group.
NetworkX's ``kernighan_lin_bisection`` is not used: it swaps pairs of nodes,
so it keeps node *counts* equal, not loads, and cannot give one machine twice
another's share.

Pure (NetworkX and the standard library only): nothing here starts anything.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

import networkx as nx

from placement.model import BW, KIND, SERVER

__all__ = [
    "PartitionError",
    "SERVER_LOAD",
    "SWITCH_LOAD",
    "TOLERANCE",
    "partition",
    "check_mapping",
    "reserved_cpu",
    "node_loads",
    "machine_loads",
    "cut_links",
    "cut_bandwidth",
]

SERVER_LOAD = 0.25
"""Load (in reserved cores) of a server before any VNF: its Docker daemon, veths and link relays.

Large enough that a substrate with few VNFs still spreads its servers evenly
(each costs ~91 MiB and a share of bring-up, see :mod:`testbed.budget`),
small next to a VNF's usual reservation of one core.
"""

SWITCH_LOAD = 0.05
"""Load of a switch (a forwarding namespace): nearly free, but not nothing, so switches spread too."""

TOLERANCE = 0.1
"""How far (as a fraction of its share) a machine's load may stray from its share, at each bisection.

A node heavier than that may still push a side over: a single server's VNFs
cannot be split, so the bound is ``max(TOLERANCE * share, heaviest node)``.
"""

_STARTS = 4  # seeded start nodes tried per bisection; the best refined cut wins
_PASSES = 8  # Fiduccia-Mattheyses passes at most per bisection (they stop when one gains nothing)


class PartitionError(ValueError):
    """The machines, the loads or a fixed mapping cannot describe a partition of this substrate."""


def reserved_cpu(placement, chains) -> dict:
    """CPU cores that ``placement`` reserves on each server (servers without VNFs left out).

    Examples
    --------
    >>> from placement.model import VNF, Chain, Embedding, Placement
    >>> chain = Chain("c", (VNF("fw", cpu=2.0), VNF("ids", cpu=1.0)), "a", "b")
    >>> p = Placement({"c": Embedding("c", ("s1", "s2"), (("a", "s1"), ("s1", "s2"), ("s2", "b")))})
    >>> reserved_cpu(p, [chain])
    {'s1': 2.0, 's2': 1.0}
    """
    by_id = {chain.id: chain for chain in chains}
    missing = sorted(set(placement.embeddings) - set(by_id))
    if missing:
        raise PartitionError(f"placement has chains {missing} that are not among the chains given")
    cpu: dict = {}
    for chain_id, embedding in placement.embeddings.items():
        for vnf, server in zip(by_id[chain_id].vnfs, embedding.servers):
            cpu[server] = cpu.get(server, 0.0) + float(vnf.cpu)
    return cpu


def node_loads(substrate: nx.Graph, reservations: Mapping | None = None, *,
               server_load: float = SERVER_LOAD, switch_load: float = SWITCH_LOAD) -> dict:
    """Each node's load: ``server_load`` plus its reserved CPU for a server, ``switch_load`` for a switch."""
    reservations = dict(reservations or {})
    unknown = sorted(map(str, set(reservations) - set(substrate)))
    if unknown:
        raise PartitionError(f"reservations name nodes {unknown[:5]} that are not in the substrate")
    loads = {}
    for node, data in substrate.nodes(data=True):
        base = server_load if data.get(KIND) == SERVER else switch_load
        extra = reservations.get(node, 0.0)
        if not isinstance(extra, (int, float)) or extra < 0 or extra != extra:
            raise PartitionError(f"reservation of node {node!r} is {extra!r}: give reserved CPU cores, a number >= 0")
        loads[node] = base + float(extra)
    return loads


def _machine_weights(machines) -> dict[str, float]:
    """``machines`` as name -> relative capacity (a list weighs every machine 1)."""
    if isinstance(machines, Mapping):
        weights = dict(machines)
    elif isinstance(machines, Sequence) and not isinstance(machines, str):
        if len(set(machines)) != len(machines):
            raise PartitionError(f"machines {list(machines)} name a machine twice")
        weights = {name: 1.0 for name in machines}
    else:
        raise PartitionError(f"machines={machines!r}: give a list of names or a dict name -> capacity (e.g. cores)")
    if not weights:
        raise PartitionError("machines is empty: give at least one machine")
    for name, weight in weights.items():
        if not isinstance(name, str) or not name:
            raise PartitionError(f"machine name {name!r}: names are non-empty strings")
        if not isinstance(weight, (int, float)) or not weight > 0 or weight == float("inf"):
            raise PartitionError(f"machine {name!r} has capacity {weight!r}: give a finite number > 0 (e.g. its cores)")
    return {name: float(weight) for name, weight in weights.items()}


def check_mapping(substrate: nx.Graph, mapping: Mapping, machines) -> dict:
    """A user-given node -> machine mapping, checked to cover the substrate with known machines only."""
    known = _machine_weights(machines)
    unknown_nodes = [node for node in mapping if node not in substrate]
    if unknown_nodes:
        raise PartitionError(
            f"fixed mapping names nodes {sorted(map(str, unknown_nodes))[:5]} that are not in the substrate "
            f"(its nodes: {sorted(map(str, substrate))[:8]}...)"
        )
    bad = {str(node): machine for node, machine in mapping.items() if machine not in known}
    if bad:
        raise PartitionError(
            f"fixed mapping puts nodes on unknown machines {dict(sorted(bad.items())[:5])}: "
            f"the machines are {sorted(known)}"
        )
    missing = [node for node in substrate if node not in mapping]
    if missing:
        raise PartitionError(
            f"fixed mapping leaves {len(missing)} node(s) without a machine, e.g. {sorted(map(str, missing))[:5]}: "
            "map every substrate node (servers and switches)"
        )
    return {node: mapping[node] for node in substrate}


def partition(substrate: nx.Graph, reservations, machines, *, chains=None, seed: int = 0,
              weight: str = BW, tolerance: float = TOLERANCE, fixed: Mapping | None = None,
              server_load: float = SERVER_LOAD, switch_load: float = SWITCH_LOAD) -> dict:
    """Map every substrate node (servers and switches) to a machine; the same answer for the same seed.

    Parameters
    ----------
    substrate : the substrate graph (edges carry ``weight``, Mbit/s by default).
    reservations : CPU cores reserved per server (a mapping node -> cores),
        or a :class:`placement.model.Placement` together with ``chains``, or None.
    machines : machine names (equal shares) or a mapping name -> capacity
        (e.g. cores): each machine's share of the total load is proportional.
    fixed : a complete node -> machine mapping to use instead (checked by
        :func:`check_mapping`).

    Examples
    --------
    >>> G = nx.Graph()
    >>> for a, b in [("a1", "a2"), ("a2", "a3"), ("b1", "b2"), ("b2", "b3")]:
    ...     G.add_edge(a, b, bw=1000)
    >>> G.add_edge("a3", "b1", bw=10)
    >>> nx.set_node_attributes(G, "server", "kind")
    >>> mapping = partition(G, None, ["m1", "m2"])
    >>> sorted(n for n, m in mapping.items() if m == mapping["a1"])
    ['a1', 'a2', 'a3']
    >>> cut_bandwidth(G, mapping)
    10.0
    """
    if fixed is not None:
        return check_mapping(substrate, fixed, machines)
    shares = _machine_weights(machines)
    if not 0 < tolerance < 1:
        raise PartitionError(f"tolerance={tolerance!r}: give a fraction between 0 and 1")
    if reservations is not None and hasattr(reservations, "embeddings"):
        if chains is None:
            raise PartitionError("a Placement needs its chains (chains=...) to know what its VNFs reserve")
        reservations = reserved_cpu(reservations, chains)
    loads = node_loads(substrate, reservations, server_load=server_load, switch_load=switch_load)
    for u, v, data in substrate.edges(data=True):
        if not isinstance(data.get(weight, 1.0), (int, float)):
            raise PartitionError(f"link {u!r}-{v!r}: {weight}={data.get(weight)!r} is not a number")
    rng = random.Random(seed)
    order = {node: i for i, node in enumerate(sorted(substrate, key=_sort_key))}
    mapping: dict = {}
    _split(substrate, list(order), list(shares), shares, loads, weight, tolerance, rng, order, mapping)
    return mapping


def _sort_key(node):
    from placement.substrate import node_sort_key

    return node_sort_key(node)


def _split(G, nodes, names, shares, loads, weight, tolerance, rng, order, mapping) -> None:
    """Assign ``nodes`` to the machines ``names`` by recursive bisection (into ``mapping``)."""
    if len(names) == 1:
        mapping.update(dict.fromkeys(nodes, names[0]))
        return
    half = (len(names) + 1) // 2
    first, second = names[:half], names[half:]
    fraction = sum(shares[n] for n in first) / sum(shares[n] for n in names)
    side_a = _bisect(G.subgraph(nodes), fraction, loads, weight, tolerance, rng, order)
    _split(G, [n for n in nodes if n in side_a], first, shares, loads, weight, tolerance, rng, order, mapping)
    _split(G, [n for n in nodes if n not in side_a], second, shares, loads, weight, tolerance, rng, order, mapping)


def _bisect(G, fraction, loads, weight, tolerance, rng, order) -> set:
    """The nodes of side A (``fraction`` of the load) of the best refined bisection from seeded starts."""
    nodes = sorted(G, key=order.__getitem__)
    if not nodes:
        return set()
    total = sum(loads[n] for n in nodes)
    target = fraction * total
    slack = max(tolerance * min(target, total - target), max(loads[n] for n in nodes))
    starts = rng.sample(nodes, min(_STARTS, len(nodes)))
    best = None
    for start in starts:
        side = _grow(G, start, target, loads, weight, order)
        side, cut = _refine(G, side, target, slack, loads, weight, order)
        score = (cut, abs(sum(loads[n] for n in side) - target))
        if best is None or score < best[0]:
            best = (score, side)
    return best[1]


def _w(data, weight) -> float:
    return float(data.get(weight, 1.0))


def _grow(G, start, target, loads, weight, order) -> set:
    """Side A grown from ``start``, adding the node most strongly tied to it, until it weighs ``target``."""
    side, load = {start}, loads[start]
    tie = {}  # node outside A -> bandwidth of its links into A
    for nbr, data in G[start].items():
        tie[nbr] = tie.get(nbr, 0.0) + _w(data, weight)
    rest = [n for n in sorted(G, key=order.__getitem__) if n != start]
    while load < target:
        outside = [n for n in rest if n not in side]
        if not outside:
            break
        candidates = [n for n in outside if n in tie] or outside  # a disconnected rest: jump
        node = max(candidates, key=lambda n: (tie.get(n, 0.0), -order[n]))
        if abs(load + loads[node] - target) > abs(load - target):
            break  # adding it would overshoot more than stopping undershoots
        side.add(node)
        load += loads[node]
        tie.pop(node, None)
        for nbr, data in G[node].items():
            if nbr not in side:
                tie[nbr] = tie.get(nbr, 0.0) + _w(data, weight)
    return side


def _cut(G, side, weight) -> float:
    return sum(_w(d, weight) for u, v, d in G.edges(data=True) if (u in side) != (v in side))


def _refine(G, side, target, slack, loads, weight, order) -> tuple[set, float]:
    """Fiduccia-Mattheyses passes: move single nodes across while the balance holds; keep the best prefix."""
    side = set(side)
    load_a = sum(loads[n] for n in side)
    cut = _cut(G, side, weight)

    def quality(cut_, load_):
        off = abs(load_ - target)
        return (off > slack, cut_, off)  # balanced first, then the smaller cut, then the better balance

    for _ in range(_PASSES):
        gain = {n: sum(_w(d, weight) * (1 if ((m in side) != (n in side)) else -1) for m, d in G[n].items())
                for n in G}
        locked: set = set()
        moves = []
        cur_side, cur_load, cur_cut = set(side), load_a, cut
        best = (quality(cut, load_a), 0)
        while len(locked) < len(gain):
            choice = None
            for n in gain:
                if n in locked:
                    continue
                new_load = cur_load - loads[n] if n in cur_side else cur_load + loads[n]
                # A move may leave the band only if it comes closer to the target.
                if abs(new_load - target) > slack and abs(new_load - target) >= abs(cur_load - target):
                    continue
                key = (gain[n], -abs(new_load - target), -order[n])
                if choice is None or key > choice[0]:
                    choice = (key, n, new_load)
            if choice is None:
                break
            _, n, cur_load = choice
            cur_cut -= gain[n]
            leaving = n in cur_side
            (cur_side.discard if leaving else cur_side.add)(n)
            locked.add(n)
            moves.append(n)
            for m, d in G[n].items():
                if m in locked:
                    continue
                # m's link to n changed from same-side to cross (or back): its gain moves by 2 * w.
                same_now = (m in cur_side) == (n in cur_side)
                gain[m] += -2 * _w(d, weight) if same_now else 2 * _w(d, weight)
            gain[n] = -gain[n]
            q = quality(cur_cut, cur_load)
            if q < best[0]:
                best = (q, len(moves))
        if best[1] == 0:
            break
        for n in moves[: best[1]]:
            if n in side:
                side.discard(n)
                load_a -= loads[n]
            else:
                side.add(n)
                load_a += loads[n]
        cut = _cut(G, side, weight)
    return side, cut


def machine_loads(substrate: nx.Graph, mapping: Mapping, reservations: Mapping | None = None, **load_kw) -> dict:
    """Each machine's load (see :func:`node_loads`) under ``mapping``."""
    loads = node_loads(substrate, reservations, **load_kw)
    totals: dict = {}
    for node, machine in mapping.items():
        totals[machine] = totals.get(machine, 0.0) + loads[node]
    return totals


def cut_links(substrate: nx.Graph, mapping: Mapping) -> list[tuple]:
    """The substrate links whose ends are on different machines (each becomes a VXLAN tunnel)."""
    return [(u, v) for u, v in substrate.edges if mapping[u] != mapping[v]]


def cut_bandwidth(substrate: nx.Graph, mapping: Mapping, weight: str = BW) -> float:
    """Total ``weight`` (bandwidth) of the cut links."""
    return float(sum(_w(substrate.edges[u, v], weight) for u, v in cut_links(substrate, mapping)))


