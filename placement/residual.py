"""Residual capacities: what is left of a substrate, and how to consume it.

Every algorithm works on a residual copy of the substrate (see
:func:`placement.substrate.residual_copy`) whose ``cpu``/``mem``/``bw``
attributes are the capacities still free.  This module is the one place that
reads and changes them: checking that a VNF fits, reserving and releasing a
chain's embedding, and finding the shortest-delay path that still has
bandwidth.  Heuristics share it so that they agree on feasibility to the
last epsilon.
"""

from __future__ import annotations

import math

import networkx as nx

from .errors import Infeasible, SubstrateError
from .model import BW, CPU, DELAY, KIND, MEM, SERVER, SWITCH, Chain, Embedding, VNF
from .numeric import number_fault
from .substrate import servers

__all__ = [
    "EPS",
    "working_copy",
    "check_residual",
    "usage",
    "fits",
    "reserve_vnf",
    "reserve_path",
    "reserve_embedding",
    "release_embedding",
    "Transaction",
    "bandwidth_weight",
    "feasible_distances",
    "shortest_feasible_path",
    "path_delay",
    "path_edges",
    "link_endpoints",
    "link_into",
    "failure_reason",
    "raise_infeasible",
]

EPS = 1e-9
"""Absolute slack of every capacity and latency comparison (float round-off)."""


def working_copy(G) -> nx.Graph:
    """A copy of ``G`` whose capacities an algorithm may consume freely.

    Every node and edge gets its own attribute dict (``G.copy()``), so
    changing ``cpu``/``mem``/``bw`` on the copy never touches ``G``; other
    attribute values are shared, which is safe because placement code only
    ever replaces numbers.  Several times faster than the deep
    :func:`placement.substrate.residual_copy`, which matters when an online
    run copies the residual substrate on every arrival.

    Examples
    --------
    >>> from placement.topologies import line
    >>> G = line(2)
    >>> H = working_copy(G)
    >>> H.nodes["srv0"]["cpu"] = 0.0
    >>> G.nodes["srv0"]["cpu"]
    8.0
    """
    return G.copy()


def check_residual(G) -> None:
    """Check that ``G`` can be placed on, allowing capacities already consumed to 0.

    :func:`placement.substrate.validate_substrate` insists on positive
    capacities, which a residual graph of an online run legitimately lacks;
    this lighter check accepts zero and still reports every malformed node or
    edge at once.

    Examples
    --------
    >>> G = nx.Graph()
    >>> G.add_node("s", kind="server", cpu=0.0, mem=0.0)
    >>> check_residual(G)
    >>> G.add_edge("s", "t", bw=-1.0, delay=1.0)
    >>> check_residual(G)
    Traceback (most recent call last):
    ...
    placement.errors.SubstrateError: invalid substrate: node 't': kind is None, must be 'server' or 'switch'; edge ('s', 't'): bw is -1.0, must be a finite number >= 0
    """
    if not isinstance(G, nx.Graph) or G.is_directed() or G.is_multigraph():
        raise SubstrateError(f"substrate must be an undirected networkx.Graph, got {type(G).__name__}")
    try:  # fast path: plain comparisons, messages only when something is off
        ok = all(
            (a[KIND] == SWITCH or (a[KIND] == SERVER and 0 <= a[CPU] < math.inf and 0 <= a[MEM] < math.inf))
            for _, a in G.nodes(data=True)
        ) and all(0 <= a[BW] < math.inf and 0 <= a[DELAY] < math.inf for _, _, a in G.edges(data=True))
    except (KeyError, TypeError):
        ok = False
    if ok:
        return
    problems = []
    for n, attrs in G.nodes(data=True):
        kind = attrs.get(KIND)
        if kind not in (SERVER, SWITCH):
            problems.append(f"node {n!r}: kind is {kind!r}, must be '{SERVER}' or '{SWITCH}'")
        elif kind == SERVER:
            problems += _value_problems(f"node {n!r}", attrs, (CPU, MEM))
    for u, v, attrs in G.edges(data=True):
        problems += _value_problems(f"edge {(u, v)!r}", attrs, (BW, DELAY))
    raise SubstrateError(problems)


def _value_problems(owner, attrs, names):
    out = []
    for name in names:
        value = attrs.get(name)
        if number_fault(value):
            out.append(f"{owner}: {name} is {value!r}, must be a finite number >= 0")
    return out


def usage(chains, embeddings) -> tuple[dict, dict]:
    """What ``embeddings`` consume: ``({server: {"cpu", "mem"}}, {frozenset edge: bw})``.

    Sums over all chains that have an embedding in the ``embeddings`` dict;
    an edge's bandwidth counts both directions.  Assumes the embeddings are
    structurally valid (servers and edges exist).

    Examples
    --------
    >>> c = Chain("c", (VNF("a", cpu=1.0, mem=0.0), VNF("b", cpu=2.0, mem=0.0)), "x", "x", bw=5.0)
    >>> e = Embedding("c", ("s", "s"), (("x", "s"), ("s",), ("s", "x")))
    >>> nodes, edges = usage([c], {"c": e})
    >>> nodes, edges[frozenset(("x", "s"))]
    ({'s': {'cpu': 3.0, 'mem': 0.0}}, 10.0)
    """
    nodes, edges = {}, {}
    for chain in chains:
        embedding = embeddings.get(chain.id)
        if embedding is None:
            continue
        for server, vnf in zip(embedding.servers, chain.vnfs):
            used = nodes.setdefault(server, {CPU: 0.0, MEM: 0.0})
            used[CPU] += vnf.cpu
            used[MEM] += vnf.mem
        for path in embedding.paths:
            for u, v in path_edges(path):
                key = frozenset((u, v))
                edges[key] = edges.get(key, 0.0) + chain.bw
    return nodes, edges


def fits(G, server, vnf: VNF) -> bool:
    """Whether ``server`` still has the CPU and memory ``vnf`` needs.

    Examples
    --------
    >>> G = nx.Graph()
    >>> G.add_node("s", kind="server", cpu=2.0, mem=512.0)
    >>> fits(G, "s", VNF("fw", cpu=2.0, mem=256.0)), fits(G, "s", VNF("fw", cpu=3.0))
    (True, False)
    """
    attrs = G.nodes[server]
    return (
        attrs.get(KIND) == SERVER
        and vnf.cpu <= attrs[CPU] + EPS
        and vnf.mem <= attrs[MEM] + EPS
    )


def _consume(attrs, name, amount):
    # Clamp round-off so that residual capacities never go (slightly) negative.
    left = attrs[name] - amount
    attrs[name] = 0.0 if abs(left) <= EPS else left


def reserve_vnf(G, server, vnf: VNF, sign: int = 1) -> None:
    """Take (``sign=1``) or give back (``sign=-1``) ``vnf``'s CPU and memory on ``server``."""
    attrs = G.nodes[server]
    _consume(attrs, CPU, sign * vnf.cpu)
    _consume(attrs, MEM, sign * vnf.mem)


def path_edges(path):
    """The consecutive node pairs of ``path`` (none for a one-node path).

    Examples
    --------
    >>> list(path_edges(["a", "b", "c"])), list(path_edges(["a"]))
    ([('a', 'b'), ('b', 'c')], [])
    """
    return zip(path[:-1], path[1:])


def reserve_path(G, path, bw: float, sign: int = 1) -> None:
    """Take (``sign=1``) or give back (``sign=-1``) ``bw`` on every edge of ``path``."""
    for u, v in path_edges(path):
        _consume(G.edges[u, v], BW, sign * bw)


def reserve_embedding(G, chain: Chain, embedding: Embedding, sign: int = 1) -> None:
    """Take (or, with ``sign=-1``, give back) everything ``embedding`` of ``chain`` uses.

    Examples
    --------
    >>> from placement.topologies import line
    >>> G = line(2, cpu=4.0, bw=100.0)
    >>> c = Chain("c", (VNF("fw", cpu=1.5),), ingress="srv0", egress="srv1", bw=10.0)
    >>> e = Embedding("c", ("srv1",), (("srv0", "srv1"), ("srv1",)))
    >>> reserve_embedding(G, c, e)
    >>> G.nodes["srv1"]["cpu"], G.edges["srv0", "srv1"]["bw"]
    (2.5, 90.0)
    >>> release_embedding(G, c, e)
    >>> G.nodes["srv1"]["cpu"], G.edges["srv0", "srv1"]["bw"]
    (4.0, 100.0)
    """
    for server, vnf in zip(embedding.servers, chain.vnfs):
        reserve_vnf(G, server, vnf, sign)
    for path in embedding.paths:
        reserve_path(G, path, chain.bw, sign)


def release_embedding(G, chain: Chain, embedding: Embedding) -> None:
    """Give back everything :func:`reserve_embedding` took (a departure)."""
    reserve_embedding(G, chain, embedding, sign=-1)


class Transaction:
    """Reservations on a residual graph that can be undone as a whole.

    A heuristic reserves VNF by VNF and link by link while it builds a chain's
    embedding (so that later links see the bandwidth earlier ones took); if
    the chain fails half-way, :meth:`undo` restores the graph exactly.

    Examples
    --------
    >>> from placement.topologies import line
    >>> G = line(2, cpu=4.0)
    >>> t = Transaction(G)
    >>> t.vnf("srv0", VNF("fw", cpu=1.0)); t.path(["srv0", "srv1"], 5.0)
    >>> G.nodes["srv0"]["cpu"], G.edges["srv0", "srv1"]["bw"]
    (3.0, 995.0)
    >>> t.undo()
    >>> G.nodes["srv0"]["cpu"], G.edges["srv0", "srv1"]["bw"]
    (4.0, 1000.0)
    """

    def __init__(self, G):
        self.G = G
        self._log = []

    def vnf(self, server, vnf: VNF) -> None:
        """Reserve ``vnf`` on ``server``."""
        reserve_vnf(self.G, server, vnf)
        self._log.append((reserve_vnf, server, vnf))

    def path(self, path, bw: float) -> None:
        """Reserve ``bw`` along ``path``."""
        reserve_path(self.G, path, bw)
        self._log.append((reserve_path, path, bw))

    def undo(self) -> None:
        """Give back everything reserved so far, newest first."""
        while self._log:
            func, where, what = self._log.pop()
            func(self.G, where, what, -1)


def bandwidth_weight(bw: float):
    """A networkx edge-weight function: the delay, or None (edge hidden) if ``bw`` does not fit.

    Examples
    --------
    >>> w = bandwidth_weight(10.0)
    >>> w("a", "b", {"bw": 100.0, "delay": 2.0}), w("a", "b", {"bw": 5.0, "delay": 2.0})
    (2.0, None)
    """

    def weight(u, v, attrs):
        return attrs[DELAY] if attrs[BW] + EPS >= bw else None

    return weight


def feasible_distances(G, source, bw: float, *, cutoff=None, paths=True):
    """Shortest delays (and paths) from ``source`` over edges with ``bw`` free.

    Returns ``(dist, paths)`` dicts keyed by reachable node (``paths`` is None
    when ``paths=False``).  ``cutoff`` (ms) drops nodes farther than it.  The
    source itself is at delay 0 with the one-node path ``[source]``.

    Examples
    --------
    >>> from placement.topologies import line
    >>> dist, paths = feasible_distances(line(3), "srv0", bw=1.0)
    >>> dist["srv2"], paths["srv2"]
    (2.0, ['srv0', 'srv1', 'srv2'])
    """
    weight = bandwidth_weight(bw)
    if paths:
        return nx.single_source_dijkstra(G, source, cutoff=cutoff, weight=weight)
    return nx.single_source_dijkstra_path_length(G, source, cutoff=cutoff, weight=weight), None


def shortest_feasible_path(G, source, target, bw: float):
    """The least-delay path from ``source`` to ``target`` with ``bw`` free on every edge.

    Returns ``(delay, path)``, or None when no such path exists.

    Examples
    --------
    >>> from placement.topologies import line
    >>> shortest_feasible_path(line(3), "srv0", "srv2", bw=10.0)
    (2.0, ['srv0', 'srv1', 'srv2'])
    >>> shortest_feasible_path(line(3, bw=5.0), "srv0", "srv2", bw=10.0) is None
    True
    """
    try:
        return nx.single_source_dijkstra(G, source, target, weight=bandwidth_weight(bw))
    except nx.NetworkXNoPath:
        return None


def path_delay(G, path) -> float:
    """Sum of the one-way ``delay`` of the edges of ``path`` (0 for a one-node path).

    Examples
    --------
    >>> from placement.topologies import line
    >>> path_delay(line(3, delay=2.5), ["srv0", "srv1", "srv2"])
    5.0
    """
    return float(sum(G.edges[u, v][DELAY] for u, v in path_edges(path)))


def link_endpoints(chain: Chain, servers_) -> list[tuple]:
    """``(source, target)`` of each virtual link of ``chain`` placed on ``servers_``.

    Only the links that exist: none before the first VNF of a chain without
    ingress, none after the last without egress.

    Examples
    --------
    >>> c = Chain("c", (VNF("a"), VNF("b")), ingress="in", egress="out")
    >>> link_endpoints(c, ["s1", "s2"])
    [('in', 's1'), ('s1', 's2'), ('s2', 'out')]
    >>> link_endpoints(Chain("r", (VNF("a"), VNF("b"))), ["s1", "s2"])
    [('s1', 's2')]
    """
    hops = [*([] if chain.ingress is None else [chain.ingress]), *servers_]
    if chain.egress is not None:
        hops.append(chain.egress)
    return list(zip(hops[:-1], hops[1:]))


def link_into(chain: Chain, index: int):
    """Index of the virtual link that ends at VNF ``index`` (None for VNF 0 of a chain without ingress).

    Examples
    --------
    >>> link_into(Chain("c", (VNF("a"), VNF("b")), "x", "y"), 0), link_into(Chain("r", (VNF("a"), VNF("b"))), 0)
    (0, None)
    """
    link = index if chain.ingress is not None else index - 1
    return None if link < 0 else link


def failure_reason(G, chain: Chain, vnf: VNF | None, source, targets=None, *, taken=()) -> str:
    """Why nothing can carry ``chain`` on from ``source``: the :class:`Infeasible` reason tag.

    ``vnf`` is the VNF to host next (None when only the egress link is left),
    ``source`` the node before it (None for the first VNF of a chain without
    ingress), ``targets`` the candidate end nodes (servers, or the egress)
    and ``taken`` the servers anti-affinity rules out.  Checks in order:
    ``"cpu"``/``"mem"`` (no server big enough), ``"anti-affinity"`` (only
    servers the chain already uses are big enough), ``"no-path"`` (not
    connected at all), ``"bandwidth"`` (connected only over full links),
    else ``"latency"``.  Only called on failure, so it may be slow.
    """
    if vnf is not None:
        if not any(G.nodes[s][CPU] + EPS >= vnf.cpu for s in servers(G)):
            return "cpu"
        targets = [s for s in servers(G) if fits(G, s, vnf)]
        if not targets:
            return "mem"
        targets = [s for s in targets if s not in taken]
        if not targets:
            return "anti-affinity"
    ends = [n for n in (source, chain.egress) if n is not None]
    if not ends:
        return "latency"
    component = nx.node_connected_component(G, ends[0])
    if not all(n in component for n in ends) or not any(t in component for t in targets):
        return "no-path"
    reach = [feasible_distances(G, n, chain.bw, paths=False)[0] for n in ends]
    if not any(all(t in r for r in reach) for t in targets):
        return "bandwidth"
    return "latency"


def raise_infeasible(G, chain: Chain, vnf: VNF | None, source, targets=None, *, index=None, taken=()):
    """Raise :class:`Infeasible` for ``chain`` with the reason :func:`failure_reason` finds."""
    reason = failure_reason(G, chain, vnf, source, targets, taken=taken)
    what = f"VNF {index} ({vnf.type})" if vnf is not None else "the link to the egress"
    where = "on any server" if source is None else f"after {source!r}"
    raise Infeasible(
        f"chain {chain.id!r}: cannot place {what} {where}: {reason}",
        chain_id=chain.id,
        reason=reason,
    )
