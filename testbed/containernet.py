"""Containernet's scripting surface on sfcbench's own host classes.

A Containernet script runs after changing one import::

    from testbed.containernet import Containernet   # was: from mininet.net import Containernet

:class:`Containernet` is a :class:`mininet.net.Mininet` whose hosts, switches
and links belong to one sfcbench run (so ``python -m testbed.cleanup`` finds
them by run, not by an all-runs label): ``addDocker`` makes a :class:`Docker`
host, switches are Linux bridges in their own namespace (no controller
needed; OpenFlow controllers a script adds are ignored; ``switch="ovs"``
chooses Open vSwitch where its kernel datapath exists), and ``TCLink``
links become :class:`testbed.nodes.SfcLink` (netem or user-space delay).
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# testbed.nodes first: where Mininet is missing, it says how to install it.
from testbed.nodes import DockerHost, ProcessHost, RunNode, SfcLink, privileged_options  # isort: skip

from mininet.link import Link, TCLink
from mininet.log import info, output, warn
from mininet.moduledeps import pathCheck
from mininet.net import Mininet
from mininet.node import OVSSwitch
from mininet.nodelib import LinuxBridge

from testbed import system
from testbed.runtime import Run
from testbed.system import TestbedError, parallel

# Containernet's addDocker keywords and the docker-py argument each becomes.
DOCKER_ARGS = {
    "volumes": "volumes", "tmpfs": "tmpfs", "network_mode": "network_mode", "dns": "dns",
    "ipc_mode": "ipc_mode", "devices": "devices", "cap_add": "cap_add", "cap_drop": "cap_drop",
    "sysctls": "sysctls", "storage_opt": "storage_opt", "shm_size": "shm_size",
    "cpu_quota": "cpu_quota", "cpu_period": "cpu_period", "cpu_shares": "cpu_shares",
    "cpuset_cpus": "cpuset_cpus", "mem_limit": "mem_limit", "memswap_limit": "memswap_limit",
    "environment": "environment", "publish_all_ports": "publish_all_ports", "runtime": "runtime",
    "labels": "labels", "user": "user", "working_dir": "working_dir", "entrypoint": "entrypoint",
    "ulimits": "ulimits", "security_opt": "security_opt", "device_cgroup_rules": "device_cgroup_rules",
}
# Keywords Mininet's Host itself takes.
HOST_PARAMS = {"ip", "mac", "defaultRoute", "lo", "privateDirs", "inNamespace"}
# Containernet keywords that need special handling below.
SPECIAL = {"dimage", "dcmd", "ports", "port_bindings", "privileged", "build_params"}


class Docker(DockerHost):
    """Containernet's ``Docker`` host: ``dimage``, ``dcmd`` and its documented keywords.

    Differences from Containernet, on purpose: without ``dcmd`` the image's own
    entrypoint and command run (Containernet forces ``/bin/bash``); a keyword this
    class does not know raises instead of being dropped; ``privileged=True``
    falls back to the capability set that runs a Docker daemon where the
    machine refuses privileged containers; the container has no network but its
    links unless ``network_mode``, ``ports`` or ``port_bindings`` ask for one.
    """

    def __init__(self, name, run, dimage=None, dcmd=None, *, pool=None, **kwargs):
        unknown = sorted(set(kwargs) - set(DOCKER_ARGS) - HOST_PARAMS - SPECIAL)
        if unknown:
            raise TestbedError(f"addDocker({name!r}): unsupported argument(s) {', '.join(unknown)}; "
                               f"supported: {', '.join(sorted(set(DOCKER_ARGS) | SPECIAL))}")
        if not dimage:
            raise TestbedError(f"addDocker({name!r}) needs dimage=<image name>")
        docker_args = {DOCKER_ARGS[k]: kwargs.pop(k) for k in list(kwargs) if k in DOCKER_ARGS}
        build = kwargs.pop("build_params", None)
        if build:
            run.docker.images.build(tag=dimage, **build)
        ports = _port_map(kwargs.pop("ports", None), kwargs.pop("port_bindings", None))
        if ports or docker_args.get("publish_all_ports"):
            docker_args["ports"] = ports
            docker_args.setdefault("network_mode", "bridge")  # publishing needs Docker's network
        if kwargs.pop("privileged", False):
            options = privileged_options(run, dimage, log=lambda msg: warn(f"*** {msg}\n"))  # said once
            for key, value in options.items():
                if key == "volumes":
                    docker_args[key] = _merge_volumes(docker_args.get(key) or [], value)
                elif isinstance(value, list):
                    docker_args[key] = list(docker_args.get(key) or []) + value
                else:
                    docker_args.setdefault(key, value)
        super().__init__(name, run, dimage, dcmd, docker_args=docker_args, pool=pool, **kwargs)
        self.dimage, self.dcmd = dimage, dcmd

    def setDefaultRoute(self, intf=None):
        params = intf if isinstance(intf, str) and " " in intf else f"dev {intf or self.defaultIntf()}"
        return self.netcmd(f"ip route del default; ip route add default {params}")

    def updateCpuLimit(self, cpu_quota=-1, cpu_period=-1, cpu_shares=-1, cores=None):
        """Containernet's runtime CPU update, through the Docker API."""
        args = {k: v for k, v in dict(cpu_quota=cpu_quota, cpu_period=cpu_period,
                                      cpu_shares=cpu_shares).items() if v is not None and v >= 0}
        if cores:
            args["cpuset_cpus"] = cores
        self.container.update(**args)

    def updateMemoryLimit(self, mem_limit=-1, memswap_limit=-1):
        """Containernet's runtime memory update, through the Docker API."""
        args = {k: v for k, v in dict(mem_limit=mem_limit, memswap_limit=memswap_limit).items() if v >= 0}
        self.container.update(**args)


def _port_map(ports, bindings) -> dict:
    """Containernet's ``ports`` (exposed) and ``port_bindings`` as docker-py's ``ports``."""
    mapping = {f"{p}/tcp" if isinstance(p, int) else p: None for p in ports or []}
    for cport, hport in (bindings or {}).items():
        mapping[f"{cport}/tcp" if isinstance(cport, int) else cport] = hport
    return mapping


def _merge_volumes(user, extra: dict):
    if isinstance(user, dict):
        return {**extra, **user}
    return list(user) + [f"{host}:{spec['bind']}:{spec['mode']}" for host, spec in extra.items()]


class Bridge(RunNode, LinuxBridge):
    """A Linux bridge in its own network namespace: no controller, untouched by host firewalls."""

    def __init__(self, name, run, **params):
        self.run = run
        params["inNamespace"] = True
        super().__init__(name, **params)

    @classmethod
    def setup(cls):
        """Only brctl is needed: the host's bridge-nf sysctls do not reach a bridge in its own namespace."""
        pathCheck("brctl", moduleName="bridge-utils")

    def stop(self, deleteIntfs=True):
        """Nothing to undo one by one: the bridge and its ports go with the namespace when the shell dies."""

    def connected(self):
        """Whether every port forwards: a port whose peer's carrier the kernel has not reported yet
        (up to a second after the link came up) drops what reaches it, and a first ARP is lost."""
        ports = [line for line in self.cmd("bridge link show").splitlines() if " master " in line]
        return all(" state forwarding " in port for port in ports)


def ovs_datapath_available() -> bool:
    """Whether Open vSwitch can switch here: its kernel datapath module and a working ovs-vsctl."""
    if not Path("/sys/module/openvswitch").exists() or not shutil.which("ovs-vsctl"):
        return False
    return subprocess.run(["ovs-vsctl", "--timeout=5", "show"], capture_output=True).returncode == 0


class OvsBridge(RunNode, OVSSwitch):
    """An Open vSwitch bridge in standalone mode (a learning switch: no controller needed).

    An option for machines with the OVS kernel datapath (``switch=OvsBridge``
    or ``switch="ovs"``); elsewhere it says so at once.
    """

    def __init__(self, name, run, **params):
        if not ovs_datapath_available():
            raise TestbedError("Open vSwitch needs its kernel datapath (module openvswitch) and a running "
                               "ovs-vswitchd; this machine has none: use the default Linux bridge switches")
        self.run = run
        params.setdefault("failMode", "standalone")
        params["inNamespace"] = False
        super().__init__(name, **params)
        run.manifest.add("ovs_bridges", name)


SWITCHES = {"bridge": Bridge, "ovs": OvsBridge}
MARK = "@@sfcbench-ping@@"  # separates the outputs of one host's pings


class Containernet(Mininet):
    """Mininet with Containernet's ``addDocker``/``removeDocker``, on one sfcbench run.

    Containers are created in the background as hosts are added (up to
    ``workers`` at once), and links that touch a host still being created are
    made when the network is first used (``build``/``start``, a command on one
    of its hosts, :meth:`materialize`): a script that adds 50 Docker hosts one
    by one waits for them once.  ``net.stop()`` tears the run down
    (containers in parallel, namespaces, relays, cgroup).
    """

    def __init__(self, *args, run: Run | None = None, delay: str = "auto", workers: int = 8, **kwargs):
        system.require_root()
        self.run = run or Run(delay=delay)
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix=f"{self.run.name}-create")
        self._deferred_links: list[DeferredLink] = []
        switch = kwargs.get("switch", "bridge")
        kwargs["switch"] = SWITCHES[switch] if isinstance(switch, str) else switch
        kwargs.setdefault("host", ProcessHost)
        kwargs["link"] = SfcLink if kwargs.get("link") in (None, Link, TCLink) else kwargs["link"]
        kwargs["controller"] = None
        info(f"*** sfcbench run {self.run.id} (clean up with: python -m testbed.cleanup {self.run.id})\n")
        super().__init__(*args, **kwargs)

    def _bind(self, cls):
        """Our node classes take the run as their second argument."""
        if isinstance(cls, type) and issubclass(cls, RunNode):
            return functools.partial(cls, run=self.run)
        return cls

    def addHost(self, name, cls=None, **params):
        cls = cls or self.host
        if isinstance(cls, type) and issubclass(cls, DockerHost):
            params.setdefault("pool", self._pool)
        host = super().addHost(name, cls=self._bind(cls), **params)
        if isinstance(host, DockerHost):
            host.realizer = self.materialize
        return host

    def addSwitch(self, name, cls=None, **params):
        return super().addSwitch(name, cls=self._bind(cls or self.switch), **params)

    def addController(self, name="c0", controller=None, **params):
        """Accepted for compatibility and ignored: Linux bridge switches need no controller."""
        info(f"*** {name}: ignored (sfcbench's switches are Linux bridges and need no controller)\n")
        return None

    def addLink(self, node1, node2, port1=None, port2=None, cls=None, **params):
        """Add a link; one to a host still being created is made by :meth:`materialize`."""
        cls = SfcLink if cls in (None, Link, TCLink) else cls
        node1 = self[node1] if isinstance(node1, str) else node1
        node2 = self[node2] if isinstance(node2, str) else node2
        if any(getattr(n, "pending", False) for n in (node1, node2)):
            link = DeferredLink(self, (node1, node2, port1, port2), dict(params, cls=cls))
            self._deferred_links.append(link)
            return link
        return super().addLink(node1, node2, port1, port2, cls=cls, **params)

    def materialize(self) -> None:
        """Wait for every container being created, start their shells, then make the deferred links.

        Raises the first creation error (the other containers are still
        removed by :meth:`stop`).
        """
        pending = [h for h in self.hosts if getattr(h, "pending", False)]
        if pending:
            parallel(lambda h: h.realize(), pending)
        links, self._deferred_links = self._deferred_links, []
        for link in links:
            link.make()

    def build(self):
        self.materialize()
        super().build()

    def start(self):
        """Mininet's ``start``, then wait (polling, at most 5 s) until every switch forwards on every port."""
        super().start()
        deadline = time.monotonic() + 5.0
        waiting = [s for s in self.switches if hasattr(s, "connected")]
        while waiting and time.monotonic() < deadline:
            waiting = [s for s in waiting if not s.connected()]
            if waiting:
                time.sleep(0.01)
        for switch in waiting:
            warn(f"*** {switch.name}: not every port forwards after 5 s\n")

    def ping(self, hosts=None, timeout=None):
        """Mininet's ``ping`` (each host pings every other once; loss in percent), sources in parallel.

        ``-n``: no reverse DNS lookup of each reply, which cost 50 ms per ping here.
        """
        if not hosts:
            hosts = self.hosts
            output("*** Ping: testing ping reachability\n")
        opts = f"-W {timeout}" if timeout else ""

        def from_host(node):
            """One shell command per source: every ping, each output after a marker line."""
            dests = [d for d in hosts if d is not node and d.intfs]
            script = "; ".join(f"echo {MARK}{i}; ping -n -c1 {opts} {d.IP()}" for i, d in enumerate(dests))
            outputs = node.cmd(script).split(MARK)[1:] if dests else []
            sent = {i: self._parsePing(out.partition("\n")[2]) for i, out in enumerate(outputs)}
            return [(d, sent[dests.index(d)] if d in dests else (0, 0)) for d in hosts if d is not node]

        packets = lost = 0
        for node, results in zip(hosts, parallel(from_host, hosts, workers=16)):
            output(f"{node.name} -> ")
            for dest, (sent, received) in results:
                packets, lost = packets + sent, lost + sent - received
                output(f"{dest.name} " if received else "X ")
            output("\n")
        if not packets:
            output("*** Warning: No packets sent\n")
            return 0
        ploss = 100.0 * lost / packets
        output(f"*** Results: {ploss:.0f}% dropped ({packets - lost}/{packets} received)\n")
        return ploss

    def addDocker(self, name, cls=Docker, **params):
        """Add a Docker host (Containernet's keywords: dimage, dcmd, volumes, ...)."""
        return self.addHost(name, cls=cls, **params)

    def removeDocker(self, name, **params):
        """Remove a Docker host and its links."""
        self.materialize()
        node = self[name] if isinstance(name, str) else name
        for link in [l for l in self.links if node in (l.intf1.node, l.intf2.node)]:
            self.delLink(link)
        self.delHost(node)

    def stop(self):
        """Stop switches and links as Mininet does, then every host at once, then the run."""
        try:
            self._deferred_links = []
            hosts, self.hosts = self.hosts, []
            try:
                super().stop()
            finally:
                parallel(lambda h: h.terminate(), hosts, workers=16)
        finally:
            self._pool.shutdown(wait=True)
            self.run.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class DeferredLink:
    """What ``addLink`` returns for a link to a host still being created: the link once it exists.

    Attribute access makes the network (and so the link) first.
    """

    def __init__(self, net, ends, params):
        self._net, self._ends, self._params, self._link = net, ends, params, None

    def make(self):
        if self._link is None:
            node1, node2, port1, port2 = self._ends
            self._link = Mininet.addLink(self._net, node1, node2, port1, port2, **self._params)
        return self._link

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        self._net.materialize()
        return getattr(self.make(), name)
