"""The emulation budget: can each machine emulate its share without measuring its own contention?

Before bring-up, each machine's share of the testbed (its servers, switches,
the VNFs placed on its servers, the delay relays of its links, the clients and
sinks of the chains that start or end there) is turned into a demand in cores
and MiB and held against what the machine has.  A machine short of either is
named with the shortfall, in one error for all machines, unless the user
overrides it.  Emulated CPU must be backed by real cores: the cores a VNF
reserves count in full; a server's own ``cpu`` capacity is a limit, not a
demand, so it does not count (one 2-core machine runs 40-100 idle servers).

Memory overheads, measured on the project's 2-core VM (2026-11-30):

* a DinD server with two light VNFs used 64 MiB in its own cgroup (Docker
  daemon, containerd, two VNF containers), 91 MiB per server machine-wide once
  the clients, sinks and delay relays of a 100-server run are counted (README,
  "Testbed");
* a user-space delay relay (``python -m testbed.delay``, one per delayed
  link) is one Python process of 14.3 MiB RSS, 9.1 MiB PSS;
* a ``vnf.py`` process (a light VNF, a sink) 20.7 MiB RSS, 14 MiB PSS;
* a Mininet host's shell (a switch, a client, a sink) 3.6 MiB RSS, 0.8 PSS.

PSS (shared pages split among their users) is what adds up over many
processes.  For the 100-server run (200 VNFs, 162 relays, 100 clients and
sinks) these constants give 108 MiB per server against the 91 measured: the
budget errs on the safe side, by counting every client as running at once.

The CPU overheads are estimates, not measurements: idle daemons and relays
use little, but relays forward every frame in Python.

Pure apart from :func:`local_machine` (reads ``/proc/meminfo``):
nothing here starts anything.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = [
    "BudgetError",
    "Machine",
    "Share",
    "Usage",
    "SERVER_MIB",
    "VNF_MIB",
    "RELAY_MIB",
    "SHELL_MIB",
    "CLIENT_MIB",
    "SINK_MIB",
    "MACHINE_MIB",
    "SERVER_CORES",
    "RELAY_CORES",
    "CLIENT_CORES",
    "demand",
    "check_budget",
    "local_machine",
    "machines_from_ray",
    "shares_of",
    "MACHINE_RESOURCE",
]

VNF_MIB = 14.0
"""A light VNF (``vnf.py`` in an inner container): 14 MiB PSS measured for the same program on the host."""

SERVER_MIB = 64.0 - 2 * VNF_MIB
"""A DinD server without its VNFs: the measured 64 MiB of a server with two light VNFs, less theirs."""

RELAY_MIB = 9.0
"""A user-space delay relay: one Python process per delayed link (9.1 MiB PSS measured)."""

SHELL_MIB = 1.0
"""A Mininet host's shell: each switch (an IP forwarder), client and sink has one (0.8 MiB PSS, 3.6 RSS)."""

CLIENT_MIB = SHELL_MIB + VNF_MIB
"""A chain's client: its shell, and the Python client (as large as ``vnf.py``) while it measures."""

SINK_MIB = SHELL_MIB + VNF_MIB
"""A chain's egress sink: its shell and a ``vnf.py --role sink`` process."""

MACHINE_MIB = 512.0
"""What a machine needs besides its share: the Ray node, the actor that builds the share, Docker. An estimate."""

SERVER_CORES = 0.01
"""An idle DinD server's daemons (estimate): small, but 100 of them are a core's worth of housekeeping."""

RELAY_CORES = 0.02
"""A delay relay forwarding a chain's few requests in Python (estimate; a saturated relay takes a whole core)."""

CLIENT_CORES = 0.02
"""A chain's client and sink while its requests flow (estimate)."""

MACHINE_RESOURCE = "sfcbench_machine:"
"""Prefix of the Ray custom resource that names a node's machine (``ray start --resources``)."""

VNF_MEMORY = ("footprint", "reserved")


class BudgetError(RuntimeError):
    """A machine's share needs more cores or memory than the machine has."""


@dataclass(frozen=True)
class Machine:
    """What one machine offers the emulation: cores and MiB of memory."""

    name: str
    cores: float
    mem_mib: float


@dataclass(frozen=True)
class Share:
    """What one machine emulates (counts, and what its VNFs reserve)."""

    servers: int = 0
    switches: int = 0
    vnfs: int = 0
    vnf_cpu: float = 0.0  # cores the VNFs on its servers reserve
    vnf_mem: float = 0.0  # MiB they reserve (counted with vnf_memory="reserved")
    relays: int = 0  # user-space delay relays running here (one per delayed link)
    clients: int = 0  # chains whose ingress is here
    sinks: int = 0  # chains whose egress is here


@dataclass(frozen=True)
class Usage:
    """A machine's demand against its capacity, with the parts of the demand."""

    machine: Machine
    cores: float
    mem_mib: float
    parts: dict = field(default_factory=dict)

    @property
    def cores_short(self) -> float:
        return max(0.0, self.cores - self.machine.cores)

    @property
    def mem_short(self) -> float:
        return max(0.0, self.mem_mib - self.machine.mem_mib)

    @property
    def fits(self) -> bool:
        return self.cores_short == 0 and self.mem_short == 0


def demand(share: Share, *, vnf_memory: str = "footprint") -> tuple[float, float, dict]:
    """Cores and MiB that ``share`` needs, and the parts they come from (name -> (cores, MiB)).

    ``vnf_memory="footprint"`` counts a light VNF's measured memory;
    ``"reserved"`` counts what the VNFs reserve, for real VNF software that
    may use its whole reservation.

    Examples
    --------
    >>> cores, mib, parts = demand(Share(servers=2, vnfs=4, vnf_cpu=2.0, relays=1, clients=1, sinks=1))
    >>> round(cores, 2), round(mib)
    (2.06, 679)
    """
    if vnf_memory not in VNF_MEMORY:
        raise BudgetError(f"vnf_memory={vnf_memory!r}: use one of {', '.join(VNF_MEMORY)}")
    for name in ("servers", "switches", "vnfs", "vnf_cpu", "vnf_mem", "relays", "clients", "sinks"):
        value = getattr(share, name)
        if not isinstance(value, (int, float)) or not value >= 0:
            raise BudgetError(f"share {name}={value!r}: must be a number >= 0")
    vnf_mib = share.vnf_mem if vnf_memory == "reserved" else share.vnfs * VNF_MIB
    parts = {
        "VNFs": (share.vnf_cpu, vnf_mib),
        "servers": (share.servers * SERVER_CORES, share.servers * SERVER_MIB),
        "switches": (0.0, share.switches * SHELL_MIB),
        "relays": (share.relays * RELAY_CORES, share.relays * RELAY_MIB),
        "clients": (share.clients * CLIENT_CORES, share.clients * CLIENT_MIB + share.sinks * SINK_MIB),
        "machine": (0.0, MACHINE_MIB),
    }
    cores = sum(c for c, _ in parts.values())
    mib = sum(m for _, m in parts.values())
    return cores, mib, parts


def check_budget(machines: Mapping[str, Machine] | Iterable[Machine], shares: Mapping[str, Share], *,
                 override: bool = False, vnf_memory: str = "footprint") -> dict[str, Usage]:
    """Each machine's :class:`Usage`; one :class:`BudgetError` naming every short machine unless ``override``.

    Examples
    --------
    >>> small = Machine("m1", cores=2, mem_mib=4096)
    >>> check_budget([small], {"m1": Share(servers=4, vnfs=4, vnf_cpu=3.0)})
    Traceback (most recent call last):
    ...
    testbed.budget.BudgetError: machine 'm1' cannot emulate its share: it needs 3.04 cores, has 2, 1.04 cores short (VNFs 3, servers 0.04). Spread ...
    """
    by_name = dict(machines) if isinstance(machines, Mapping) else {m.name: m for m in machines}
    unknown = sorted(set(shares) - set(by_name))
    if unknown:
        raise BudgetError(f"shares for unknown machines {unknown}: the machines are {sorted(by_name)}")
    usage = {}
    for name, share in shares.items():
        cores, mib, parts = demand(share, vnf_memory=vnf_memory)
        usage[name] = Usage(by_name[name], cores, mib, parts)
    short = [u for u in usage.values() if not u.fits]
    if short and not override:
        raise BudgetError(
            "; ".join(_shortfall(u) for u in short)
            + ". Spread the load over more or larger machines (testbed.machines), place fewer or smaller VNFs, "
            "or override the budget to run anyway and let the host's own contention show in the measurements"
        )
    return usage


def _shortfall(u: Usage) -> str:
    """One machine's shortfall, with the parts that make up the short resource."""
    said = []
    if u.cores_short:
        parts = ", ".join(f"{k} {c:.3g}" for k, (c, _) in u.parts.items() if c)
        said.append(f"it needs {u.cores:.3g} cores, has {u.machine.cores:g}, {u.cores_short:.3g} cores short ({parts})")
    if u.mem_short:
        parts = ", ".join(f"{k} {m:.0f}" for k, (_, m) in u.parts.items() if m)
        said.append(f"it needs {u.mem_mib:.0f} MiB, has {u.machine.mem_mib:.0f}, {u.mem_short:.0f} MiB short ({parts})")
    return f"machine {u.machine.name!r} cannot emulate its share: " + "; ".join(said)


def local_machine(name: str = "local") -> Machine:
    """This machine: the cores this process may run on and the memory available now (``MemAvailable``)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    with open("/proc/meminfo") as f:
        info = dict(line.split(":", 1) for line in f)
    mem_kib = float(info["MemAvailable"].split()[0])
    return Machine(name, float(cores), mem_kib / 1024)


def machines_from_ray(nodes: Iterable[Mapping]) -> dict[str, Machine]:
    """The machines of a Ray cluster, from ``ray.nodes()``: live nodes, by their ``sfcbench_machine:`` name.

    A node started with ``--resources='{"sfcbench_machine:NAME": 1}'`` is
    machine NAME; a node without one is named by its host name.  Memory is
    Ray's ``memory`` resource (bytes its tasks and actors may use).

    Examples
    --------
    >>> machines_from_ray([{"Alive": True, "NodeManagerHostname": "h1",
    ...                     "Resources": {"CPU": 4.0, "memory": 8 * 2**30, "sfcbench_machine:m1": 1.0}}])
    {'m1': Machine(name='m1', cores=4.0, mem_mib=8192.0)}
    """
    machines = {}
    for node in nodes:
        if not node.get("Alive"):
            continue
        resources = node.get("Resources", {})
        names = [r[len(MACHINE_RESOURCE):] for r in resources if r.startswith(MACHINE_RESOURCE)]
        if len(names) > 1:
            raise BudgetError(f"Ray node {node.get('NodeID', '?')} claims several machines {names}: give it one")
        name = names[0] if names else node.get("NodeManagerHostname", node.get("NodeID", "?"))
        if name in machines:
            raise BudgetError(
                f"two Ray nodes are machine {name!r}: give each node its own "
                f"--resources='{{\"{MACHINE_RESOURCE}NAME\": 1}}'"
            )
        machines[name] = Machine(name, float(resources.get("CPU", 0.0)), float(resources.get("memory", 0.0)) / 2**20)
    return machines


def shares_of(substrate, mapping: Mapping, chains: Iterable = (), placement=None, *,
              relays: bool = True) -> dict[str, Share]:
    """Each machine's :class:`Share` of a substrate partitioned by ``mapping`` (node -> machine).

    A delayed link's relay (``relays``: user-space delay, no netem) runs on
    the machine of its ends; a cut link has one on each of its two machines,
    each relaying half the delay (:mod:`testbed.vxlan`).
    Clients count where their chain's ingress is, sinks where its egress is.
    """
    from placement.model import DELAY, KIND, SERVER

    missing = [n for n in substrate if n not in mapping]
    if missing:
        raise BudgetError(f"mapping leaves nodes {sorted(map(str, missing))[:5]} without a machine")
    counts: dict[str, dict] = {m: {} for m in sorted(set(mapping.values()))}

    def add(machine, key, amount=1):
        counts[machine][key] = counts[machine].get(key, 0) + amount

    for node, data in substrate.nodes(data=True):
        add(mapping[node], "servers" if data.get(KIND) == SERVER else "switches")
    if relays:
        for u, v, data in substrate.edges(data=True):
            if float(data.get(DELAY, 0.0)) > 0:
                for machine in {mapping[u], mapping[v]}:
                    add(machine, "relays")
    if placement is not None:
        by_id = {chain.id: chain for chain in chains}
        for chain_id, embedding in placement.embeddings.items():
            chain = by_id[chain_id]
            for vnf, server in zip(chain.vnfs, embedding.servers):
                add(mapping[server], "vnfs")
                add(mapping[server], "vnf_cpu", float(vnf.cpu))
                add(mapping[server], "vnf_mem", float(vnf.mem))
            if chain.ingress is not None:
                add(mapping[chain.ingress], "clients")
            if chain.egress is not None:
                add(mapping[chain.egress], "sinks")
    return {machine: Share(**fields) for machine, fields in counts.items()}
