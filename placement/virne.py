"""Read Virne instance dumps: a substrate and its virtual network requests.

Virne (Wang et al., "Virne: A comprehensive benchmark for RL-based network
resource allocation in NFV", https://github.com/GeminiLight/virne) saves an
instance as a directory:

* ``p_net.gml``: the physical network (networkx GML), node ``cpu``, edge
  ``bw`` and optionally edge ``ltc`` (latency);
* ``v_nets/v_net-*.gml``: one file per request, with graph attributes
  ``id``, ``arrival_time`` and ``lifetime`` (optionally ``max_latency``),
  node ``cpu``, edge ``bw`` and optionally edge ``ltc``;
* ``events.yaml``: the arrivals (``type: 1``) and departures (``type: 0``)
  of the requests, each ``{id, type, v_net_id, time}``, in time order.

How they map onto sfcbench:

* every physical node is a server with the file's ``cpu``; memory is no VNE
  resource (requests need none; servers get ``mem`` MiB so that sfcbench's
  own chains can run there too).  An edge's ``ltc`` becomes its ``delay``
  (0 without one).  Node names are the GML ids as strings.
* a path-shaped request becomes a :class:`~placement.model.Chain` without
  ingress or egress and with ``anti_affinity`` (VNE maps virtual nodes to
  distinct substrate nodes), VNF ``i`` being the ``i``-th node along the path
  from its end with the smaller id.  sfcbench reserves one bandwidth per
  chain, so a request whose links ask for different ``bw`` gets their
  **maximum** on every virtual link (it never gets less than it asked for;
  its revenue then counts that maximum too).  Per-link ``ltc`` becomes the
  chain's ``link_latency``.
* arrival and lifetime come from ``events.yaml`` (checked against the
  request files' own ``arrival_time``/``lifetime``).

Every problem (a missing file or attribute, a request that is not a path,
a request larger than any server, events that do not match the requests)
is one :class:`~placement.errors.SubstrateError` or
:class:`~placement.errors.ChainError` naming the file and the element.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import networkx as nx

from .errors import ChainError, SubstrateError
from .model import BW, CPU, DELAY, KIND, MEM, SERVER, VNF, Chain
from .numeric import number_fault
from .workload import validate_chain

__all__ = ["P_NET_FILE", "V_NETS_DIR", "EVENTS_FILE", "read_substrate", "read_requests", "read_dump"]

P_NET_FILE = "p_net.gml"
V_NETS_DIR = "v_nets"
EVENTS_FILE = "events.yaml"
LATENCY = "ltc"
"""Virne's name of a link's latency attribute."""

_ARRIVE, _LEAVE = 1, 0
_REL_TOL = 1e-6


def _read_gml(path: Path, error):
    if not path.is_file():
        raise error(f"{path}: no such file (a Virne dump holds {P_NET_FILE}, {V_NETS_DIR}/ and {EVENTS_FILE})")
    try:
        return nx.read_gml(path, label="id")
    except (nx.NetworkXError, UnicodeDecodeError, ValueError) as e:
        raise error(f"{path}: not a readable GML file ({e})") from None


def _number(path, owner, attrs, name, error, *, positive=False):
    """``attrs[name]`` as a float >= 0 (> 0 with ``positive``), or one error naming file and element."""
    value = attrs.get(name)
    if value is None:
        raise error(f"{path}: {owner} has no '{name}' attribute")
    if number_fault(value, positive=positive):
        bound = "> 0" if positive else ">= 0"
        raise error(f"{path}: {owner} has {name}={value!r}, must be a finite number {bound}")
    return float(value)


def _dump_file(path, name):
    path = Path(path)
    return path / name if path.is_dir() else path


def read_substrate(path, *, mem=8192.0) -> nx.Graph:
    """The substrate of a Virne dump: ``path`` is the dump directory or its ``p_net.gml``.

    Every node becomes a server with the file's ``cpu`` (and ``mem`` MiB);
    every edge keeps its ``bw`` and gets ``delay`` = its ``ltc`` (0 when the
    file has no ``ltc`` at all; a file with ``ltc`` on some edges only is
    malformed).

    Examples
    --------
    >>> G = read_substrate("tests/data/virne_small")
    >>> len(G), G.nodes["0"]["cpu"], G.edges["0", "1"]["bw"], G.edges["0", "1"]["delay"]
    (6, 80.0, 90.0, 2.0)
    """
    path = _dump_file(path, P_NET_FILE)
    raw = _read_gml(path, SubstrateError)
    if len(raw) == 0:
        raise SubstrateError(f"{path}: the physical network has no nodes")
    with_latency = [LATENCY in a for _, _, a in raw.edges(data=True)]
    latency = any(with_latency)
    G = nx.Graph(name=raw.graph.get("name", path.parent.name or path.stem))
    for n, attrs in raw.nodes(data=True):
        cpu = _number(path, f"node {n!r}", attrs, CPU, SubstrateError)
        G.add_node(str(n), **{KIND: SERVER, CPU: cpu, MEM: float(mem)})
    for u, v, attrs in raw.edges(data=True):
        owner = f"edge ({u!r}, {v!r})"
        bw = _number(path, owner, attrs, BW, SubstrateError, positive=True)
        delay = _number(path, owner, attrs, LATENCY, SubstrateError) if latency else 0.0
        G.add_edge(str(u), str(v), **{BW: bw, DELAY: delay})
    if not nx.is_connected(G):
        parts = sorted((sorted(c, key=str) for c in nx.connected_components(G)), key=len)
        raise SubstrateError(f"{path}: the physical network is not connected (e.g. nodes {parts[0][:5]} are cut off)")
    return G


def _path_order(path, raw):
    """The request's nodes along its path, from the end with the smaller id; or one ChainError."""
    n = len(raw)
    if n == 0:
        raise ChainError(f"{path}: the request has no nodes")
    if n == 1:
        return list(raw)
    degree = dict(raw.degree)
    forks = [v for v, d in degree.items() if d > 2]
    if forks:
        raise ChainError(
            f"{path}: the request is not a path: node {forks[0]!r} has {degree[forks[0]]} links"
            " (sfcbench maps only path-shaped requests onto chains)"
        )
    if not nx.is_connected(raw) or raw.number_of_edges() != n - 1:
        raise ChainError(
            f"{path}: the request is not a path: {n} nodes, {raw.number_of_edges()} links,"
            f" {nx.number_connected_components(raw)} component(s) (a path has n - 1 links and one component)"
        )
    start = min((v for v, d in degree.items() if d == 1), key=lambda v: (str(type(v)), v))
    order, previous = [start], None
    while len(order) < n:
        nxt = next(w for w in raw[order[-1]] if w != previous)
        previous = order[-1]
        order.append(nxt)
    return order


def _request(path, raw, largest_cpu):
    """One request file as ``(virne id, chain)``, its timing from its own graph attributes."""
    graph = raw.graph
    for name in ("id", "arrival_time", "lifetime"):
        if name not in graph:
            raise ChainError(f"{path}: the request has no graph attribute '{name}'")
    vid = graph["id"]
    if not isinstance(vid, int) or isinstance(vid, bool):
        raise ChainError(f"{path}: graph attribute id={vid!r}, must be an integer")
    order = _path_order(path, raw)
    vnfs = []
    for v in order:
        cpu = _number(path, f"node {v!r}", raw.nodes[v], CPU, ChainError)
        if cpu > largest_cpu:
            raise ChainError(f"{path}: node {v!r} needs cpu {cpu:g} but the largest server has {largest_cpu:g}")
        vnfs.append(VNF(f"vnode{v}", cpu=cpu, mem=0.0))
    links = [(a, b) for a, b in zip(order[:-1], order[1:])]
    bws = [_number(path, f"link ({a!r}, {b!r})", raw.edges[a, b], BW, ChainError) for a, b in links]
    with_latency = [LATENCY in raw.edges[a, b] for a, b in links]
    link_latency = None
    if any(with_latency):
        link_latency = tuple(
            _number(path, f"link ({a!r}, {b!r})", raw.edges[a, b], LATENCY, ChainError, positive=True)
            for a, b in links
        )
    max_latency = math.inf
    if "max_latency" in graph:
        max_latency = _number(path, "the request", graph, "max_latency", ChainError, positive=True)
    chain = Chain(
        id=f"vnet{vid}",
        vnfs=tuple(vnfs),
        bw=max(bws, default=0.0),
        max_latency=max_latency,
        arrival=_number(path, "the request", graph, "arrival_time", ChainError),
        lifetime=_number(path, "the request", graph, "lifetime", ChainError, positive=True),
        anti_affinity=True,
        link_latency=link_latency,
    )
    return vid, chain


def _read_events(path):
    import yaml

    if not path.is_file():
        raise ChainError(f"{path}: no such file (a Virne dump lists arrivals and departures in {EVENTS_FILE})")
    try:
        events = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise ChainError(f"{path}: not valid YAML ({e})") from None
    if not isinstance(events, list):
        raise ChainError(f"{path}: expected a list of events {{id, type, v_net_id, time}}, got {type(events).__name__}")
    times = {}  # (v_net_id, type) -> time
    for k, event in enumerate(events):
        where = f"{path}: event {k}"
        if not isinstance(event, dict) or any(key not in event for key in ("type", "v_net_id", "time")):
            raise ChainError(f"{where} must be a mapping with type, v_net_id and time, got {event!r}")
        kind, vid, time = event["type"], event["v_net_id"], event["time"]
        if kind not in (_ARRIVE, _LEAVE):
            raise ChainError(f"{where}: type={kind!r}, must be 1 (arrival) or 0 (departure)")
        if number_fault(time, allow_inf=True):
            raise ChainError(f"{where}: time={time!r}, must be a number >= 0")
        if (vid, kind) in times:
            raise ChainError(f"{where}: v_net {vid!r} has a second {'arrival' if kind else 'departure'}")
        times[vid, kind] = float(time)
    previous = [float(e["time"]) for e in events]
    for k in range(1, len(previous)):
        if previous[k] < previous[k - 1]:
            raise ChainError(f"{path}: event {k} at time {previous[k]:g} comes after one at {previous[k - 1]:g}"
                             " (events must be in time order)")
    return times


def _close(a, b):
    return math.isclose(a, b, rel_tol=_REL_TOL, abs_tol=_REL_TOL)


def read_requests(substrate, path) -> list[Chain]:
    """The requests of the Virne dump in directory ``path``, as chains in arrival order.

    ``substrate`` is the dump's substrate (:func:`read_substrate`); each
    chain is checked against it (:func:`placement.workload.validate_chain`).
    Chains are named ``vnet<id>`` after Virne's request id.

    Examples
    --------
    >>> G = read_substrate("tests/data/virne_small")
    >>> chains = read_requests(G, "tests/data/virne_small")
    >>> [(c.id, len(c.vnfs), c.ingress, c.anti_affinity) for c in chains][:2]
    [('vnet0', 3, None, True), ('vnet1', 2, None, True)]
    >>> chains[0].arrival, chains[0].lifetime, chains[0].link_latency
    (10.0, 400.0, (50.0, 60.0))
    """
    path = Path(path)
    if not path.is_dir():
        raise ChainError(f"{path}: not a directory (give the Virne dump holding {V_NETS_DIR}/ and {EVENTS_FILE})")
    folder = path / V_NETS_DIR
    files = sorted(folder.glob("v_net-*.gml")) if folder.is_dir() else []
    if not files:
        raise ChainError(f"{folder}: no v_net-*.gml request files")
    largest = max((a[CPU] for _, a in substrate.nodes(data=True) if a.get(KIND) == SERVER), default=0.0)
    requests = {}
    for file in files:
        vid, chain = _request(file, _read_gml(file, ChainError), largest)
        if vid in requests:
            raise ChainError(f"{file}: request id {vid} already used by {requests[vid][0].name}")
        requests[vid] = (file, chain)
    events_path = path / EVENTS_FILE
    times = _read_events(events_path)
    unknown = sorted({vid for vid, _ in times} - set(requests), key=str)
    if unknown:
        raise ChainError(f"{events_path}: events for v_net {unknown[0]!r}, which has no file in {folder}")
    chains = []
    for vid, (file, chain) in requests.items():
        if (vid, _ARRIVE) not in times:
            raise ChainError(f"{events_path}: no arrival (type 1) for v_net {vid} ({file.name})")
        arrival, departure = times[vid, _ARRIVE], times.get((vid, _LEAVE), math.inf)
        if not _close(arrival, chain.arrival) or not _close(departure - arrival, chain.lifetime):
            raise ChainError(
                f"{events_path}: v_net {vid} arrives at {arrival:g} and leaves at {departure:g}, but {file.name}"
                f" says arrival_time={chain.arrival:g}, lifetime={chain.lifetime:g}"
            )
        try:
            validate_chain(substrate, chain)
        except ChainError as e:
            raise ChainError(f"{file}: {e}") from None
        chains.append(chain)
    chains.sort(key=lambda c: (c.arrival, c.id))
    return chains


def read_dump(path) -> tuple[nx.Graph, list[Chain]]:
    """The substrate and the requests of the Virne dump in directory ``path``.

    Examples
    --------
    >>> G, chains = read_dump("tests/data/virne_small")
    >>> len(G), len(chains)
    (6, 4)
    """
    substrate = read_substrate(path)
    return substrate, read_requests(substrate, path)
