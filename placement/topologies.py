"""Substrate builders: synthetic topologies and real ones from Topology Zoo / SNDlib.

Every builder returns a validated substrate (see :mod:`placement.substrate`)
with string node names (servers ``"srv0"``, ... and switches ``"sw0"``, ...
for synthetic graphs; file ids for real ones) and uniform capacities given
by the keyword-only ``cpu`` (cores), ``mem`` (MiB), ``bw`` (Mbit/s) and
``delay`` (one-way ms per link).  Random builders take ``seed`` as an int, a
:class:`numpy.random.Generator` or None; the same int gives the same graph.
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path

import networkx as nx
import numpy as np

from .errors import SubstrateError
from .model import BW, CPU, DELAY, KIND, MEM, SERVER, SWITCH
from .numeric import number_fault
from .substrate import node_sort_key, substrate_from_json, substrate_to_json, validate_substrate

__all__ = [
    "line",
    "star",
    "tree",
    "fat_tree",
    "waxman",
    "zoo",
    "zoo_names",
    "load_gml",
    "from_file",
    "assign_servers",
    "DATA_DIR",
    "FIBRE_MS_PER_KM",
]

DATA_DIR = Path(__file__).parent / "data"
"""Packaged Topology Zoo files, loadable by bare name with :func:`zoo`."""

FIBRE_MS_PER_KM = 0.005
"""One-way delay of light in fibre (about 2e5 km/s): 1000 km is 5 ms."""

EARTH_RADIUS_KM = 6371.0
DEFAULT_DELAY_MS = 1.0
"""Delay of links of unknown length when no link length is known at all."""


def _server_attrs(cpu, mem):
    return {KIND: SERVER, CPU: float(cpu), MEM: float(mem)}


def _switch_attrs():
    return {KIND: SWITCH, CPU: 0.0, MEM: 0.0}


def _check_number(name, value, *, positive=True):
    """Reject a bad capacity argument once, rather than once per node or link."""
    if number_fault(value, positive=positive):
        raise ValueError(f"{name} must be a finite number {'> 0' if positive else '>= 0'}, got {value!r}")


def _check_capacities(cpu, mem, bw, delay=0.0):
    for name, value in ((CPU, cpu), (MEM, mem), (BW, bw)):
        _check_number(name, value)
    _check_number(DELAY, delay, positive=False)


def _finish(G, *, bw, delay=None):
    """Set uniform link attributes, then validate (builders' common tail)."""
    nx.set_edge_attributes(G, float(bw), BW)
    if delay is not None:
        nx.set_edge_attributes(G, float(delay), DELAY)
    validate_substrate(G)
    return G


def _check_count(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")


def line(n, *, cpu=8.0, mem=8192.0, bw=1000.0, delay=1.0) -> nx.Graph:
    """``n`` servers in a line, the smallest multi-hop substrate.

    Examples
    --------
    >>> G = line(3)
    >>> list(G.edges)
    [('srv0', 'srv1'), ('srv1', 'srv2')]
    """
    _check_count("n", n, 1)
    _check_capacities(cpu, mem, bw, delay)
    G = nx.Graph()
    G.add_nodes_from((f"srv{i}", _server_attrs(cpu, mem)) for i in range(n))
    nx.add_path(G, [f"srv{i}" for i in range(n)])
    return _finish(G, bw=bw, delay=delay)


def star(n, *, cpu=8.0, mem=8192.0, bw=1000.0, delay=1.0) -> nx.Graph:
    """``n`` servers around one switch ``"sw0"``, like a single-rack testbed.

    Examples
    --------
    >>> G = star(3)
    >>> sorted(G["sw0"]), G.nodes["sw0"]["kind"]
    (['srv0', 'srv1', 'srv2'], 'switch')
    """
    _check_count("n", n, 1)
    _check_capacities(cpu, mem, bw, delay)
    G = nx.Graph()
    G.add_node("sw0", **_switch_attrs())
    for i in range(n):
        G.add_node(f"srv{i}", **_server_attrs(cpu, mem))
        G.add_edge("sw0", f"srv{i}")
    return _finish(G, bw=bw, delay=delay)


def tree(depth, fanout, *, cpu=8.0, mem=8192.0, bw=1000.0, delay=1.0) -> nx.Graph:
    """A balanced tree: switches inside, ``fanout ** depth`` servers at the leaves.

    Examples
    --------
    >>> G = tree(2, 3)
    >>> len([n for n in G if n.startswith("srv")]), len([n for n in G if n.startswith("sw")])
    (9, 4)
    """
    _check_count("depth", depth, 1)
    _check_count("fanout", fanout, 1)
    _check_capacities(cpu, mem, bw, delay)
    T = nx.balanced_tree(fanout, depth)
    level = nx.single_source_shortest_path_length(T, 0)
    names, n_srv, n_sw = {}, 0, 0
    for v in sorted(T):  # balanced_tree numbers nodes breadth-first
        if level[v] == depth:
            names[v], n_srv = f"srv{n_srv}", n_srv + 1
        else:
            names[v], n_sw = f"sw{n_sw}", n_sw + 1
    G = nx.Graph()
    for v in sorted(T):
        attrs = _server_attrs(cpu, mem) if level[v] == depth else _switch_attrs()
        G.add_node(names[v], **attrs)
    G.add_edges_from((names[u], names[v]) for u, v in T.edges)
    return _finish(G, bw=bw, delay=delay)


def fat_tree(k, *, cpu=8.0, mem=8192.0, bw=1000.0, delay=1.0) -> nx.Graph:
    """A k-ary fat tree, the classic data-centre fabric.

    ``(k/2)**2`` core switches, ``k`` pods of ``k/2`` aggregation and ``k/2``
    edge switches, and ``k/2`` servers per edge switch (``k**3/4`` servers).
    Switch names run core, then aggregation, then edge; each switch has a
    ``layer`` attribute (``"core"``, ``"aggregation"``, ``"edge"``) and each
    pod member a ``pod`` number.

    Examples
    --------
    >>> G = fat_tree(4)
    >>> sum(d["kind"] == "server" for _, d in G.nodes(data=True)), G.number_of_edges()
    (16, 48)
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2 or k % 2:
        raise ValueError(f"fat_tree needs an even int k >= 2, got {k!r}")
    _check_capacities(cpu, mem, bw, delay)
    half = k // 2
    G = nx.Graph()
    core = [f"sw{i}" for i in range(half * half)]
    for name in core:
        G.add_node(name, layer="core", **_switch_attrs())
    n_sw, n_srv = len(core), 0
    for pod in range(k):
        agg = [f"sw{n_sw + i}" for i in range(half)]
        edge = [f"sw{n_sw + half + i}" for i in range(half)]
        n_sw += k
        for name in agg:
            G.add_node(name, layer="aggregation", pod=pod, **_switch_attrs())
        for name in edge:
            G.add_node(name, layer="edge", pod=pod, **_switch_attrs())
        for i, a in enumerate(agg):
            G.add_edges_from((c, a) for c in core[i * half : (i + 1) * half])
            G.add_edges_from((a, e) for e in edge)
        for e in edge:
            for _ in range(half):
                G.add_node(f"srv{n_srv}", pod=pod, **_server_attrs(cpu, mem))
                G.add_edge(e, f"srv{n_srv}")
                n_srv += 1
    return _finish(G, bw=bw, delay=delay)


def _connect_nearest(G, pos):
    """Join the components of ``G`` one by one along their nearest node pair."""
    nodes = list(G)
    xy = np.array([pos[n] for n in nodes])
    index = {n: i for i, n in enumerate(nodes)}
    while not nx.is_connected(G):
        inside = np.zeros(len(nodes), dtype=bool)
        inside[[index[n] for n in nx.node_connected_component(G, nodes[0])]] = True
        dist = np.linalg.norm(xy[inside][:, None, :] - xy[~inside][None, :, :], axis=2)
        i, j = np.unravel_index(np.argmin(dist), dist.shape)
        G.add_edge(nodes[np.flatnonzero(inside)[i]], nodes[np.flatnonzero(~inside)[j]])


def waxman(
    n,
    *,
    alpha=0.4,
    beta=0.1,
    seed=None,
    cpu=8.0,
    mem=8192.0,
    bw=1000.0,
    max_delay=10.0,
) -> nx.Graph:
    """A connected random Waxman graph of ``n`` servers in the unit square.

    A link joins nodes at distance ``d`` with probability
    ``alpha * exp(-d / (beta * L))`` (Waxman's own notation; networkx swaps
    the two names), ``L`` being the largest distance.  Components are then
    joined along their nearest node pair.  A link's delay is its length
    scaled so that the square's diagonal would take ``max_delay`` ms.  Node
    positions are kept in the ``pos`` attribute.

    Examples
    --------
    >>> G = waxman(20, seed=1)
    >>> nx.is_connected(G), nx.utils.graphs_equal(G, waxman(20, seed=1))
    (True, True)
    """
    _check_count("n", n, 2)
    for name, value in (("alpha", alpha), ("beta", beta)):
        if not 0 < value <= 1:
            raise ValueError(f"waxman {name} must be in (0, 1], got {value!r}")
    _check_capacities(cpu, mem, bw)
    _check_number("max_delay", max_delay, positive=False)
    rng = np.random.default_rng(seed)
    W = nx.waxman_graph(n, beta=alpha, alpha=beta, seed=int(rng.integers(2**32)))
    G = nx.Graph()
    for v in sorted(W):
        G.add_node(f"srv{v}", pos=tuple(map(float, W.nodes[v]["pos"])), **_server_attrs(cpu, mem))
    G.add_edges_from((f"srv{u}", f"srv{v}") for u, v in W.edges)
    pos = dict(G.nodes(data="pos"))
    _connect_nearest(G, pos)
    for u, v in G.edges:
        G.edges[u, v][DELAY] = max_delay * math.dist(pos[u], pos[v]) / math.sqrt(2)
    return _finish(G, bw=bw)


def assign_servers(G, servers=None, *, cpu=8.0, mem=8192.0, seed=None) -> nx.Graph:
    """A copy of ``G`` with chosen nodes made servers and the rest switches.

    ``servers`` is None or ``"all"`` (every node), an int ``k`` (``k`` nodes
    drawn with ``seed``) or a list of node names.  Servers get ``cpu``/``mem``;
    switches get 0 of both.  ``G`` itself is not changed.

    Examples
    --------
    >>> G = assign_servers(nx.path_graph(["a", "b", "c"]), ["a", "c"], cpu=4)
    >>> dict(G.nodes(data="kind")), G.nodes["a"]["cpu"]
    ({'a': 'server', 'b': 'switch', 'c': 'server'}, 4.0)
    """
    _check_number(CPU, cpu)
    _check_number(MEM, mem)
    nodes = sorted(G, key=node_sort_key)
    if servers is None or (isinstance(servers, str) and servers == "all"):
        chosen = set(nodes)
    elif isinstance(servers, (int, np.integer)) and not isinstance(servers, bool):
        if not 1 <= servers <= len(nodes):
            raise ValueError(f"servers must be between 1 and {len(nodes)} (the node count), got {servers}")
        picks = np.random.default_rng(seed).choice(len(nodes), size=int(servers), replace=False)
        chosen = {nodes[i] for i in picks}
    elif isinstance(servers, Iterable) and not isinstance(servers, str):
        chosen = set(servers)
        unknown = sorted(chosen - set(G), key=node_sort_key)
        if unknown:
            raise ValueError(f"servers {unknown} are not nodes of the graph")
        if not chosen:
            raise ValueError("servers is an empty list: name at least one node")
    else:
        raise ValueError(f"servers must be None, 'all', an int or a list of nodes, got {servers!r}")
    H = G.copy()
    for n in H:
        H.nodes[n].update(_server_attrs(cpu, mem) if n in chosen else _switch_attrs())
    return H


def _haversine_km(a, b):
    """Great-circle distance in km between two (latitude, longitude) pairs."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def _coordinates(attrs):
    try:
        lat, lon = float(attrs["Latitude"]), float(attrs["Longitude"])
    except (KeyError, TypeError, ValueError):
        return None
    return (lat, lon) if math.isfinite(lat) and math.isfinite(lon) else None


def _keep_largest_component(G):
    """Drop self-loops and every node outside the largest component; return the dropped."""
    G.remove_edges_from(list(nx.selfloop_edges(G)))
    components = sorted(nx.connected_components(G), key=lambda c: (-len(c), min(map(node_sort_key, c))))
    dropped = sorted(set(G) - components[0], key=node_sort_key)
    G.remove_nodes_from(dropped)
    return dropped


def zoo_names() -> list[str]:
    """Names of the Topology Zoo files shipped in ``placement/data``.

    Examples
    --------
    >>> "Abilene" in zoo_names()
    True
    """
    return sorted(p.stem for p in DATA_DIR.glob("*.graphml"))


def _resolve(name_or_path):
    path = Path(name_or_path)
    if path.is_file():
        return path
    packaged = {p.stem.lower(): p for p in DATA_DIR.glob("*.graphml")}
    if path.stem.lower() in packaged and path.parent == Path("."):
        return packaged[path.stem.lower()]
    raise FileNotFoundError(
        f"no topology file {str(name_or_path)!r}: give a path to a .graphml file "
        f"or one of the packaged names {zoo_names()}"
    )


def _read_graphml(path: Path) -> nx.Graph:
    """The graph in a GraphML file, or a SubstrateError naming the file and what is wrong."""
    try:
        raw = nx.read_graphml(path)
    except (ET.ParseError, nx.NetworkXError) as e:
        raise SubstrateError(f"{path}: not a readable GraphML file ({e})") from None
    if len(raw) == 0:
        raise SubstrateError(f"{path}: the GraphML file has no nodes")
    return raw


def zoo(
    name_or_path,
    *,
    servers=None,
    cpu=8.0,
    mem=8192.0,
    bw=1000.0,
    seed=None,
    delay_per_km=FIBRE_MS_PER_KM,
) -> nx.Graph:
    """Load an Internet Topology Zoo GraphML file as a substrate.

    ``name_or_path`` is a path or a packaged name such as ``"Abilene"`` (see
    :func:`zoo_names`).  Parallel edges are collapsed and self-loops removed;
    nodes outside the largest connected component (isolated ones included)
    are dropped and listed in ``G.graph["dropped_nodes"]``.  Node names are
    the GraphML ids, with ``label``, ``Latitude`` and ``Longitude`` kept.
    A link's delay is its great-circle length times ``delay_per_km``
    (ms/km), also stored as ``km``; a link with an end of unknown position
    gets the median delay of the known links (1 ms if none is known),
    recorded in ``G.graph["default_delay"]``.  ``servers`` is as for
    :func:`assign_servers`.

    Examples
    --------
    >>> G = zoo("Abilene", servers=4, seed=0)
    >>> len(G), G.number_of_edges(), sum(k == "server" for _, k in G.nodes(data="kind"))
    (11, 14, 4)
    >>> round(G.edges["0", "1"]["delay"], 2)  # New York - Chicago, about 1140 km
    5.73
    """
    _check_number(BW, bw)
    _check_number("delay_per_km", delay_per_km, positive=False)
    path = _resolve(name_or_path)
    raw = _read_graphml(path)
    G = nx.Graph(name=path.stem)
    for n, attrs in raw.nodes(data=True):
        G.add_node(str(n), **{a: attrs[a] for a in ("label", "Latitude", "Longitude") if a in attrs})
    G.add_edges_from((str(u), str(v)) for u, v in raw.edges())
    G.graph["dropped_nodes"] = _keep_largest_component(G)

    coords = {n: _coordinates(attrs) for n, attrs in G.nodes(data=True)}
    known = []
    for u, v, attrs in G.edges(data=True):
        if coords[u] and coords[v]:
            attrs["km"] = _haversine_km(coords[u], coords[v])
            attrs[DELAY] = attrs["km"] * delay_per_km
            known.append(attrs[DELAY])
    default = float(np.median(known)) if known else DEFAULT_DELAY_MS
    G.graph["default_delay"] = default
    for u, v, attrs in G.edges(data=True):
        attrs.setdefault(DELAY, default)
    G = assign_servers(G, servers, cpu=cpu, mem=mem, seed=seed)
    return _finish(G, bw=bw)


def load_gml(
    path,
    *,
    servers=None,
    cpu=8.0,
    mem=8192.0,
    bw=1000.0,
    seed=None,
    delay_per_km=FIBRE_MS_PER_KM,
) -> nx.Graph:
    """Load an SNDlib topology in GML (nodes with ``lon``/``lat``, edges with ``dist`` km).

    Node names are the GML ids as strings, with ``label`` kept; a link's
    delay is ``dist * delay_per_km`` ms.  Otherwise as :func:`zoo`.
    """
    _check_number(BW, bw)
    _check_number("delay_per_km", delay_per_km, positive=False)
    path = Path(path)
    try:
        raw = nx.read_gml(path, label="id")
    except (nx.NetworkXError, UnicodeDecodeError) as e:
        raise SubstrateError(f"{path}: not a readable GML file ({e})") from None
    if len(raw) == 0:
        raise SubstrateError(f"{path}: the GML file has no nodes")
    G = nx.Graph(name=raw.graph.get("name", path.stem))
    for n, attrs in raw.nodes(data=True):
        G.add_node(str(n), **{a: attrs[a] for a in ("label", "lon", "lat") if a in attrs})
    for u, v, attrs in raw.edges(data=True):
        if "dist" not in attrs:
            raise SubstrateError(f"{path}: edge ({u!r}, {v!r}) has no 'dist' (km)")
        G.add_edge(str(u), str(v), km=float(attrs["dist"]), **{DELAY: float(attrs["dist"]) * delay_per_km})
    G.graph["dropped_nodes"] = _keep_largest_component(G)
    G = assign_servers(G, servers, cpu=cpu, mem=mem, seed=seed)
    return _finish(G, bw=bw)


def from_file(path) -> nx.Graph:
    """A substrate read as it is from GraphML or node-link JSON, then validated.

    Unlike :func:`zoo`, nothing is derived: every node needs ``kind`` (and
    servers ``cpu`` and ``mem``), every link ``bw`` and ``delay``, as
    :func:`placement.substrate.validate_substrate` explains when they are
    missing or wrong.

    Examples
    --------
    >>> import json, tempfile
    >>> G = line(2)
    >>> with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
    ...     json.dump(substrate_to_json(G), f)
    >>> sorted(from_file(f.name).nodes)
    ['srv0', 'srv1']
    """
    path = Path(path)
    if not path.is_file():
        raise SubstrateError(f"{path}: no such topology file")
    try:
        return _read_node_link(path) if path.suffix == ".json" else _read_plain_graphml(path)
    except SubstrateError as e:  # every problem names the file
        raise SubstrateError([p if p.startswith(str(path)) else f"{path}: {p}" for p in e.problems]) from None


def _read_node_link(path: Path) -> nx.Graph:
    """A validated substrate from node-link JSON (as :func:`substrate_to_json` writes)."""
    try:
        data = json.loads(path.read_text())
    except ValueError as e:
        raise SubstrateError(f"not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise SubstrateError(f"expected a node-link JSON object, found {type(data).__name__}")
    try:
        return substrate_from_json(data)
    except (KeyError, TypeError, nx.NetworkXError) as e:
        raise SubstrateError(f"not node-link JSON ({type(e).__name__}: {e})") from None


def _read_plain_graphml(path: Path) -> nx.Graph:
    """A validated substrate from GraphML whose nodes and links carry their own attributes."""
    raw = _read_graphml(path)
    if raw.is_multigraph():
        pairs = sorted({tuple(sorted(map(str, (u, v)))) for u, v, k in raw.edges(keys=True) if k})
        raise SubstrateError(f"parallel links between {pairs[:5]}: a substrate has one link per pair")
    G = nx.relabel_nodes(raw if raw.is_directed() else nx.Graph(raw), str)
    validate_substrate(G)
    return G
