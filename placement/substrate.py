"""The substrate network: a plain :class:`networkx.Graph` with capacities.

Nodes carry ``kind`` (``"server"`` or ``"switch"``); servers carry ``cpu``
(cores, > 0) and ``mem`` (MiB, > 0), switches may carry them as 0 or not at
all.  Edges carry ``bw`` (Mbit/s, > 0) and ``delay`` (one-way ms, >= 0).  The
attribute names are the constants of :mod:`placement.model`.  Keeping the
substrate a bare graph lets users build one with any networkx tool; this
module checks it and offers the few helpers every algorithm needs.
"""

from __future__ import annotations

import copy
import re

import networkx as nx

from .errors import SubstrateError
from .model import BW, CPU, DELAY, KIND, MEM, SERVER, SWITCH
from .numeric import number_fault

__all__ = [
    "validate_substrate",
    "servers",
    "switches",
    "residual_copy",
    "total_capacity",
    "node_sort_key",
    "substrate_to_json",
    "substrate_from_json",
]

_UNITS = {CPU: "cores", MEM: "MiB", BW: "Mbit/s", DELAY: "ms"}
_LISTED = 5  # members shown per component in the "split servers" message


def node_sort_key(node):
    """Sort key putting ``"srv2"`` before ``"srv10"`` and never comparing types.

    Used wherever node order must be stable (listing servers, drawing random
    servers by seed).

    Examples
    --------
    >>> sorted(["srv10", "srv2", "sw0"], key=node_sort_key)
    ['srv2', 'srv10', 'sw0']
    """
    parts = re.split(r"(\d+)", str(node))
    return [int(p) if i % 2 else p for i, p in enumerate(parts)], type(node).__name__


def _number_problem(owner, attrs, name, *, positive):
    """Describe what is wrong with ``attrs[name]`` (None if it is fine)."""
    bound = "> 0" if positive else ">= 0"
    if name not in attrs:
        return f"{owner}: missing '{name}' ({_UNITS[name]})"
    value = attrs[name]
    fault = number_fault(value, positive=positive)
    if fault == "type":
        return f"{owner}: {name} is {value!r}, must be a number {bound} ({_UNITS[name]})"
    if fault == "nonfinite":
        return f"{owner}: {name} is {value!r}, must be a finite number {bound}"
    if fault:
        return f"{owner}: {name} is {value:g}, must be a number {bound}"
    return None


def _node_problems(G):
    problems = []
    for n, attrs in G.nodes(data=True):
        owner = f"node {n!r}"
        kind = attrs.get(KIND)
        if kind is None:
            problems.append(f"{owner}: missing '{KIND}': set it to '{SERVER}' or '{SWITCH}'")
            continue
        if kind not in (SERVER, SWITCH):
            problems.append(f"unknown kind {kind!r} on node {n!r}: use '{SERVER}' or '{SWITCH}'")
            continue
        for name in (CPU, MEM):
            if kind == SWITCH and name not in attrs:
                continue
            problem = _number_problem(owner, attrs, name, positive=kind == SERVER)
            if problem:
                problems.append(problem)
    return problems


def _edge_problems(G):
    problems = []
    for u, v, attrs in G.edges(data=True):
        owner = f"edge {(u, v)!r}"
        if u == v:
            problems.append(
                f"{owner}: self-loop; remove it with "
                "G.remove_edges_from(list(nx.selfloop_edges(G)))"
            )
        for name, positive in ((BW, True), (DELAY, False)):
            problem = _number_problem(owner, attrs, name, positive=positive)
            if problem:
                problems.append(problem)
    return problems


def _connectivity_problems(G):
    srv = servers(G)
    if not srv:
        return [f"no servers: set {KIND}='{SERVER}' (with cpu and mem) on at least one node"]
    undirected = G.to_undirected(as_view=True) if G.is_directed() else G
    groups = []
    for component in nx.connected_components(undirected):
        members = [n for n in srv if n in component]
        if members:
            shown = ", ".join(repr(n) for n in members[:_LISTED])
            more = f", ... ({len(members) - _LISTED} more)" if len(members) > _LISTED else ""
            groups.append(f"[{shown}{more}]")
    if len(groups) > 1:
        return [
            f"servers are split across {len(groups)} connected components "
            f"({' | '.join(groups)}): add links joining them or remove the stray servers"
        ]
    return []


def validate_substrate(G) -> None:
    """Check that ``G`` is a usable substrate, reporting every problem at once.

    Raises :class:`~placement.errors.SubstrateError` whose ``problems`` name
    each offending node or edge and say how to fix it, so that a user fixes a
    hand-built graph in one pass.

    Examples
    --------
    >>> import networkx as nx
    >>> G = nx.Graph()
    >>> G.add_node("a", kind="server", cpu=4.0, mem=4096.0)
    >>> G.add_node("b", kind="router")
    >>> G.add_edge("a", "b", delay=1.0)
    >>> validate_substrate(G)
    Traceback (most recent call last):
    ...
    placement.errors.SubstrateError: invalid substrate: unknown kind 'router' on node 'b': use 'server' or 'switch'; edge ('a', 'b'): missing 'bw' (Mbit/s)
    """
    if not isinstance(G, nx.Graph):
        raise SubstrateError(f"substrate must be a networkx.Graph, got {type(G).__name__}")
    problems = []
    if G.is_multigraph():
        problems.append("graph is a MultiGraph: collapse parallel edges with networkx.Graph(G)")
    if G.is_directed():
        problems.append("graph is directed: links are undirected, use G.to_undirected()")
    if len(G) == 0:
        raise SubstrateError(problems + ["graph has no nodes"])
    problems += _node_problems(G) + _edge_problems(G) + _connectivity_problems(G)
    if problems:
        raise SubstrateError(problems)


def _of_kind(G, kind):
    return sorted((n for n, k in G.nodes(data=KIND) if k == kind), key=node_sort_key)


def servers(G) -> list:
    """Server nodes of ``G`` in a stable natural order (``srv2`` before ``srv10``).

    Examples
    --------
    >>> import networkx as nx
    >>> G = nx.Graph([("srv10", "sw0"), ("srv2", "sw0")])
    >>> nx.set_node_attributes(G, {"srv10": "server", "srv2": "server", "sw0": "switch"}, "kind")
    >>> servers(G), switches(G)
    (['srv2', 'srv10'], ['sw0'])
    """
    return _of_kind(G, SERVER)


def switches(G) -> list:
    """Switch nodes of ``G`` in the same stable order as :func:`servers`."""
    return _of_kind(G, SWITCH)


def residual_copy(G) -> nx.Graph:
    """An independent deep copy of ``G`` whose capacities may be consumed.

    Algorithms subtract demands from the copy's ``cpu``/``mem``/``bw`` while
    the caller's substrate stays untouched.
    """
    return copy.deepcopy(G)


def total_capacity(G) -> dict[str, float]:
    """Summed server ``cpu`` and ``mem`` and link ``bw`` of ``G``.

    Examples
    --------
    >>> from placement.topologies import star
    >>> total_capacity(star(3, cpu=2.0, mem=1024.0, bw=100.0))
    {'cpu': 6.0, 'mem': 3072.0, 'bw': 300.0}
    """
    srv = servers(G)
    return {
        CPU: float(sum(G.nodes[n].get(CPU, 0.0) for n in srv)),
        MEM: float(sum(G.nodes[n].get(MEM, 0.0) for n in srv)),
        BW: float(sum(b for _, _, b in G.edges(data=BW, default=0.0))),
    }


def substrate_to_json(G) -> dict:
    """``G`` as a JSON-ready dict (networkx node-link format), to save with a run.

    Node names must be JSON values (strings or numbers) to round-trip.
    """
    return nx.node_link_data(G, edges="edges")


def substrate_from_json(data: dict) -> nx.Graph:
    """Rebuild and validate a substrate saved by :func:`substrate_to_json`.

    Examples
    --------
    >>> from placement.topologies import line
    >>> G = line(3)
    >>> H = substrate_from_json(substrate_to_json(G))
    >>> nx.utils.graphs_equal(G, H)
    True
    """
    G = nx.node_link_graph(data, edges="edges")
    validate_substrate(G)
    return G
