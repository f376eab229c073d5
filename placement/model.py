"""The placement problem as data: VNFs, chains, embeddings.

The substrate itself is a plain :class:`networkx.Graph` (see
:mod:`placement.substrate` for the attribute names); chains and embeddings are
small frozen dataclasses so that a placement is a pure, comparable plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Attribute names on the substrate graph.  One place, so that every module
# (and every user's graph) agrees on them.
KIND = "kind"  # node: "server" or "switch"
SERVER = "server"
SWITCH = "switch"
CPU = "cpu"  # node: CPU cores (float)
MEM = "mem"  # node: memory in MiB
BW = "bw"  # edge: bandwidth in Mbit/s
DELAY = "delay"  # edge: one-way propagation delay in ms


@dataclass(frozen=True)
class VNF:
    """One virtual network function of a chain: its type and demands.

    ``proc_delay`` is the per-request processing delay in ms the model adds
    for this VNF (measured by the testbed's calibration when available).
    """

    type: str
    cpu: float = 1.0
    mem: float = 128.0
    proc_delay: float = 0.0


@dataclass(frozen=True)
class Chain:
    """An ordered service function chain, from ``ingress`` to ``egress`` when these are given.

    ``bw`` (Mbit/s) is reserved on every virtual link; ``max_latency`` (ms)
    bounds the one-way end-to-end model latency.  ``arrival`` and
    ``lifetime`` are used by online simulation only.

    ``ingress`` and ``egress`` may be None: the chain then has no virtual
    link before its first (after its last) VNF, and that VNF may go on any
    server, as in virtual network embedding requests.  ``anti_affinity``
    puts the chain's VNFs on pairwise distinct servers.  ``link_latency``
    optionally bounds the one-way delay (ms) of each virtual link, in order
    (one number per virtual link, ``inf`` for none), on top of ``max_latency``.

    Examples
    --------
    >>> Chain("c", (VNF("a"), VNF("b")), "x", "y").n_links
    3
    >>> Chain("r", (VNF("a"), VNF("b")), anti_affinity=True, link_latency=(5.0,)).n_links
    1
    """

    id: str
    vnfs: tuple[VNF, ...]
    ingress: object = None
    egress: object = None
    bw: float = 1.0
    max_latency: float = float("inf")
    arrival: float = 0.0
    lifetime: float = float("inf")
    anti_affinity: bool = False
    link_latency: tuple[float, ...] | None = None

    def __post_init__(self):
        object.__setattr__(self, "vnfs", tuple(self.vnfs))
        if self.link_latency is not None:
            object.__setattr__(self, "link_latency", tuple(self.link_latency))

    @property
    def n_links(self) -> int:
        """Number of virtual links: [ingress ->] VNF1 -> ... -> VNFn [-> egress]."""
        return len(self.vnfs) - 1 + (self.ingress is not None) + (self.egress is not None)

    def link_bound(self, link: int) -> float:
        """The one-way delay bound (ms) of virtual link ``link`` alone (inf when none is set)."""
        return float("inf") if self.link_latency is None else self.link_latency[link]


@dataclass(frozen=True)
class Embedding:
    """Where one chain runs: a server per VNF and a substrate path per virtual link.

    ``paths[i]`` is the node list of virtual link ``i``, for exactly the
    chain's virtual links in order (see :attr:`Chain.n_links`): link 0 starts
    at the chain's ingress, or links VNFs 0 and 1 when there is none; the last
    link ends at the egress, if any.  Consecutive VNFs on the same server have
    a one-node path ``[server]``.
    """

    chain_id: str
    servers: tuple
    paths: tuple[tuple, ...]

    def __post_init__(self):
        object.__setattr__(self, "servers", tuple(self.servers))
        object.__setattr__(self, "paths", tuple(tuple(p) for p in self.paths))


@dataclass
class Placement:
    """The result of placing a batch of chains: one embedding per chain.

    ``info`` carries algorithm-specific facts (MILP status, objective, bound,
    gap; GA generations; ...).  ``solve_time`` is wall-clock seconds.
    """

    embeddings: dict[str, Embedding] = field(default_factory=dict)
    solve_time: float = 0.0
    info: dict = field(default_factory=dict)
