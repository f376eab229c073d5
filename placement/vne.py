"""VNE-style instances with Virne's published settings, for when no dump is at hand.

Virne (https://github.com/GeminiLight/virne, ``settings/p_net_setting`` and
``settings/v_sim_setting/default.yaml``) evaluates on

* substrates: **WX100**, a 100-node Waxman graph (``wm_alpha`` 0.5,
  ``wm_beta`` 0.2), or **GEANT** (40 nodes), node CPU and link bandwidth
  integers uniform in [50, 100];
* requests: 2 to 10 virtual nodes, CPU integers uniform in [0, 20],
  bandwidth integers uniform in [0, 50], Poisson arrivals at rate 0.04 per
  time unit, exponential lifetimes of mean 500, 1000 requests.

Here every substrate node is a server (memory is no VNE resource: servers
get ``mem`` enough for sfcbench's own chains, requests need none), and
a request is a :class:`~placement.model.Chain` without endpoints, with
anti-affinity and no latency bound.  Two differences from Virne, both
because an sfcbench chain is a path with one bandwidth: Virne's default
requests are random graphs (``random_prob`` 0.5), here they are paths; and
Virne draws one bandwidth per virtual link, here one per request (same
distribution, so the same expected revenue per link).
"""

from __future__ import annotations

import numpy as np

from .errors import ChainError
from .model import BW, CPU, MEM, VNF, Chain
from .numeric import number_fault
from .topologies import waxman, zoo

__all__ = ["WX100", "GEANT", "SERVER_MEM", "wx100", "geant", "generate_requests"]

WX100 = {"n": 100, "alpha": 0.5, "beta": 0.2}
"""Virne's WX100 substrate: Waxman with ``wm_alpha`` 0.5, ``wm_beta`` 0.2 (Waxman's own notation)."""

GEANT = "Geant2012"
"""The Topology Zoo GEANT graph packaged with sfcbench (40 nodes, as Virne's GEANT)."""

_CAPACITY = (50, 100)

SERVER_MEM = 8192.0
"""MiB per server: memory is no VNE resource, but sfcbench's own chains need some to run here too."""


def _int_range(name, value):
    lo, hi = value if isinstance(value, (list, tuple)) else (value, value)
    ints = all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in (lo, hi))
    if not (ints and 0 <= lo <= hi):
        raise ChainError(f"{name} must be an int >= 0 or an inclusive (lo, hi) pair of ints, got {value!r}")
    return int(lo), int(hi)


def _draw_capacities(G, cpu, bw, mem, rng):
    """Integer CPU per node and bandwidth per link, uniform in the inclusive ranges (as Virne draws)."""
    cpu_lo, cpu_hi = _int_range("cpu", cpu)
    bw_lo, bw_hi = _int_range("bw", bw)
    if cpu_hi == 0 or bw_lo == 0:
        raise ValueError(f"substrate capacities must be positive: cpu={cpu!r}, bw={bw!r}")
    for _, attrs in sorted(G.nodes(data=True), key=lambda na: str(na[0])):
        attrs.update({CPU: float(rng.integers(cpu_lo, cpu_hi + 1)), MEM: float(mem)})
    for u, v in sorted(G.edges, key=lambda e: (str(e[0]), str(e[1]))):
        G.edges[u, v][BW] = float(rng.integers(bw_lo, bw_hi + 1))
    return G


def wx100(*, n=WX100["n"], cpu=_CAPACITY, bw=_CAPACITY, mem=SERVER_MEM, max_delay=10.0, seed=None):
    """Virne's WX100 substrate: a connected Waxman graph of ``n`` servers, capacities uniform.

    Built by :func:`placement.topologies.waxman` (components joined along
    their nearest pair, where Virne redraws until connected; link delay from
    length, the square's diagonal taking ``max_delay`` ms), then node CPU
    and link bandwidth drawn as integers uniform in ``cpu``/``bw``.

    Examples
    --------
    >>> G = wx100(n=20, seed=1)
    >>> len(G), all(50 <= a["cpu"] <= 100 for _, a in G.nodes(data=True))
    (20, True)
    """
    rng = np.random.default_rng(seed)
    G = waxman(n, alpha=WX100["alpha"], beta=WX100["beta"], seed=int(rng.integers(2**32)), max_delay=max_delay)
    return _draw_capacities(G, cpu, bw, mem, rng)


def geant(*, cpu=_CAPACITY, bw=_CAPACITY, mem=SERVER_MEM, seed=None):
    """Virne's GEANT substrate: Topology Zoo's Geant2012 (40 nodes), every node a server, capacities uniform.

    Link delays come from fibre length (:func:`placement.topologies.zoo`).

    Examples
    --------
    >>> G = geant(seed=0)
    >>> len(G), all(a["kind"] == "server" for _, a in G.nodes(data=True))
    (40, True)
    """
    rng = np.random.default_rng(seed)
    G = zoo(GEANT, servers="all")
    return _draw_capacities(G, cpu, bw, mem, rng)


def generate_requests(
    substrate,
    n=1000,
    *,
    length=(2, 10),
    cpu=(0, 20),
    bw=(0, 50),
    arrival_rate=0.04,
    mean_lifetime=500.0,
    seed=None,
) -> list[Chain]:
    """``n`` VNE requests ``"r0"``, ``"r1"``, ... with Virne's default settings.

    Each request has a uniform number of virtual nodes in ``length``
    (inclusive), CPU per node and one bandwidth for all its links drawn as
    integers uniform in ``cpu``/``bw`` (inclusive), no ingress or egress,
    anti-affinity, and no latency bound.  Requests arrive as a Poisson
    process of ``arrival_rate`` and live exponentially long with mean
    ``mean_lifetime``.  ``substrate`` is only checked: every request must be
    able to fit (enough servers for anti-affinity, CPU within the largest).

    Examples
    --------
    >>> G = wx100(n=20, seed=0)
    >>> rs = generate_requests(G, 3, seed=0)
    >>> [(r.id, r.ingress, r.anti_affinity) for r in rs]
    [('r0', None, True), ('r1', None, True), ('r2', None, True)]
    >>> rs == generate_requests(G, 3, seed=0) and rs[0].arrival < rs[1].arrival < rs[2].arrival
    True
    """
    from .substrate import servers

    if not (isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 0):
        raise ChainError(f"n must be an int >= 0, got {n!r}")
    len_lo, len_hi = _int_range("length", length)
    cpu_lo, cpu_hi = _int_range("cpu", cpu)
    bw_lo, bw_hi = _int_range("bw", bw)
    for name, value in (("arrival_rate", arrival_rate), ("mean_lifetime", mean_lifetime)):
        if number_fault(value, positive=True):
            raise ChainError(f"{name} must be a finite number > 0, got {value!r}")
    hosts = servers(substrate)
    largest = max((substrate.nodes[s][CPU] for s in hosts), default=0.0)
    if len_lo < 1 or len_hi > len(hosts):
        raise ChainError(
            f"length={length!r}: requests need 1 to {len(hosts)} virtual nodes on this substrate"
            f" ({len(hosts)} servers, and anti-affinity puts each node on its own)"
        )
    if cpu_hi > largest:
        raise ChainError(f"cpu={cpu!r}: a request node may need {cpu_hi} but the largest server has {largest:g}")
    rng = np.random.default_rng(seed)
    chains, clock = [], 0.0
    for i in range(n):
        size = int(rng.integers(len_lo, len_hi + 1))
        cpus = rng.integers(cpu_lo, cpu_hi + 1, size=size)
        clock += rng.exponential(1.0 / arrival_rate)
        chains.append(
            Chain(
                id=f"r{i}",
                vnfs=tuple(VNF("vnode", cpu=float(c), mem=0.0) for c in cpus),
                bw=float(rng.integers(bw_lo, bw_hi + 1)),
                arrival=float(clock),
                lifetime=float(rng.exponential(mean_lifetime)),
                anti_affinity=True,
            )
        )
    return chains
