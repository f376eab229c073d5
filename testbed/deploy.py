"""Deploy a placement on the emulated network and measure it.

:class:`Testbed` is a context manager: it builds the network a
:class:`testbed.plan.Plan` describes (servers as DinD, Docker or process hosts,
substrate switches as IP forwarders, a client at each chain's ingress and a
sink at its egress), starts every VNF, measures, and tears everything down on
exit, also after a failure or Ctrl-C.
"""

from __future__ import annotations

import json
import shlex
import shutil
import sys
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import numpy as np
from tqdm.auto import tqdm

from testbed import system
from testbed.cleanup import remove_container
from testbed.containernet import Containernet
from testbed.images import ImageNames, ensure_image, ensure_images
from testbed.nodes import UNPRIVILEGED, VNF_DIR, DinDHost, DockerHost, ProcessHost, SfcLink
from testbed.plan import build_plan
from testbed.runtime import Run
from testbed.system import TestbedError, parallel
from testbed.loadgen import LoadError, LoadResult, Profile, constant, parse, run_args
from testbed.telemetry import Sampler, Source, machine_source
from testbed.vxlan import CrossLinkEnd, open_end
from testbed.vnfs.catalogue import CatalogueError, implementation

# Servers as these host classes; behaviour that differs by kind lives in the classes.
HOST_KINDS = {cls.kind: cls for cls in (DinDHost, DockerHost, ProcessHost)}
PROTOCOLS = ("http", "tcp")


def preflight(host_kind: str) -> None:
    """Fail at once, with how to fix it, if this machine cannot run a testbed of ``host_kind``.

    Checks root, Mininet (imported with this module) and, for container hosts,
    a Docker daemon that answers: before anything is placed, built or written.
    """
    if host_kind not in HOST_KINDS:
        raise TestbedError(f"host_kind {host_kind!r} unknown: use one of {', '.join(HOST_KINDS)}")
    system.require_root()
    for tool in ("ip", "tc", "nsenter", "ethtool"):
        system.which(tool)
    if HOST_KINDS[host_kind].uses_images:
        from testbed.images import docker_client

        docker_client(timeout=30)


SINKS = ("light", "nginx")
NGINX_SINK = """daemon off; worker_processes 1; pid {dir}/{name}-nginx.pid; error_log {dir}/{name}-nginx.err;
events {{ worker_connections 4096; }}
http {{
  access_log off; keepalive_requests 1000000; keepalive_timeout 300s;
  client_body_temp_path {dir}/{name}-body; proxy_temp_path {dir}/{name}-proxy;
  fastcgi_temp_path {dir}/{name}-fcgi; uwsgi_temp_path {dir}/{name}-uwsgi; scgi_temp_path {dir}/{name}-scgi;
  map $http_x_sfc_trace $sfc_trace {{ "" "{name}"; default "$http_x_sfc_trace,{name}"; }}
  server {{ listen {listen}; location / {{ add_header X-SFC-Trace $sfc_trace always; return 200 "{name} ok\\n"; }} }}
}}
"""
"""A chain's egress as Debian's nginx: the trace and body of ``vnf.py``'s sink, at tens of thousands of
requests/s, so that the egress is never what saturates a chain under load."""


def check_options(host_kind: str, protocol: str, sink: str) -> None:
    """One clear error for an unknown host kind, protocol or sink, before anything is built."""
    if host_kind not in HOST_KINDS:
        raise TestbedError(f"host_kind {host_kind!r} unknown: use one of {', '.join(HOST_KINDS)}")
    if protocol not in PROTOCOLS:
        raise TestbedError(f"protocol {protocol!r} unknown: use one of {', '.join(PROTOCOLS)}")
    if sink not in SINKS:
        raise TestbedError(f"sink {sink!r} unknown: use one of {', '.join(SINKS)}")


VNI_BASE = 4096
"""A cut link's VXLAN network identifier is ``VNI_BASE`` + its index in the plan: both machines derive it alike."""


@dataclass(frozen=True)
class MachineShare:
    """The part of a plan one machine builds (:mod:`testbed.cluster`), and how it reaches its peers.

    ``machines`` maps every plan node (servers, routers, clients, sinks) to a
    machine; ``peers`` maps every other machine to its underlay address.  The
    underlay is this machine's network between machines: ``underlay_ns`` None
    is its root namespace (a real machine), a name is a namespace standing in
    for one.  ``mtu`` is the underlay's: cut links get 50 bytes less.
    """

    machine: str
    machines: dict
    underlay_ip: str
    peers: dict = field(default_factory=dict)
    underlay_ns: str | None = None
    mtu: int = 1500

    def local(self, node: str) -> bool:
        return self.machines[node] == self.machine


class ChainMeasurements:
    """Deployed chains: up and down in a with-block, and their latency, load and counters, on top of a
    few primitives a testbed provides.

    :class:`Testbed` provides them on one machine; :class:`testbed.cluster.ClusterTestbed` on several,
    by asking each machine's share: ``start()``, ``stop()`` (idempotent), ``plan``,
    ``request(chain_id, n, warmup=)``, ``counters()``, ``diagnose(chain_id)`` and
    ``_generate(argvs, wait, sampler)``.
    """

    def __enter__(self):
        try:
            self.start()
        except BaseException:  # a failed or interrupted bring-up leaves nothing behind
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()

    def _counter_deltas(self, before: dict, after: dict, chain_id: str) -> dict:
        """What each VNF of the chain handled between two :meth:`counters` readings (None: gone)."""
        return {s.name: None if after[s.name] is None else after[s.name] - (before[s.name] or 0)
                for s in self.plan.vnfs if s.chain_id == chain_id}

    def drive(self, profile: Profile, *, chains=None, sampler: Sampler | None = None, connections: int = 64,
              new_connection: bool = False, body_bytes: int = 0, attack_share: float = 0.0, seed: int = 0,
              timeout: float = 5.0) -> dict[str, LoadResult]:
        """Drive chains with open-loop load following ``profile``: one generator per chain ingress, all at once.

        Each chain's client runs :mod:`testbed.loadgen`'s generator against its
        first VNF (options as :func:`testbed.loadgen.run_args`; chain ``i`` of
        the run uses seed ``seed + i``).  Returns a
        :class:`~testbed.loadgen.LoadResult` per chain, its ``summary`` with
        ``vnf_counters``: what each VNF of the chain handled meanwhile, and
        ``started_monotonic``: when the generators started (their second 0;
        pass it to :meth:`Sampler.frame` to put telemetry on the same clock).
        A running ``sampler`` (:meth:`sampler`) also samples each client.
        """
        selected = sorted(c for c in self.plan.clients if chains is None or c in chains)
        unknown = sorted(set(chains or ()) - set(self.plan.clients))
        if unknown:
            raise TestbedError(f"no deployed chain {', '.join(unknown)}: deployed are {', '.join(sorted(self.plan.clients))}")
        try:
            argvs = {c: run_args(self.plan.clients[c]["url"], profile, source=self.plan.clients[c]["ip"],
                                 connections=connections, new_connection=new_connection, body_bytes=body_bytes,
                                 attack_share=attack_share, seed=seed + i, timeout=timeout)
                     for i, c in enumerate(selected)}
        except LoadError as exc:
            raise TestbedError(str(exc)) from None
        before = self.counters()
        started = time.monotonic()
        results = self._generate(argvs, wait=profile.duration + timeout + 120, sampler=sampler)
        after = self.counters()
        for chain_id, result in results.items():
            result.summary["vnf_counters"] = self._counter_deltas(before, after, chain_id)
            result.summary["started_monotonic"] = started  # to put telemetry on the generators' clock
        return results

    def load(self, rate: float, duration: float = 5.0, concurrency: int = 64,
             sampler: Sampler | None = None, chains=None) -> list[dict]:
        """Drive chains (default: all) at once at a constant ``rate`` requests/s for ``duration`` s (open loop).

        One summary per chain: sent, answered (``ok``), ``errors``, ``lost``
        (due but neither answered nor failed: must be 0), latency
        percentiles from each request's due time, and the VNF counter
        deltas, which must equal ``ok`` while nothing fails.  See
        :meth:`drive` for profiles and the generator's other options.
        """
        results = self.drive(constant(rate, duration), chains=chains, sampler=sampler, connections=concurrency)
        rows = []
        for chain_id, result in results.items():
            sec, summary = result.seconds, result.summary
            ok = int(sec.ok.sum())
            errors = int(sec.errors.sum() + sec.timeouts.sum() + sec.other.sum() + sec.blocked.sum())
            sent = int(sec.offered.sum())
            deltas = summary["vnf_counters"]
            rows.append({
                "chain_id": chain_id, "offered_rps": rate, "sent": sent, "ok": ok, "errors": errors,
                "lost": sent - ok - errors, "achieved_rps": ok / max(summary["elapsed_s"], 1e-9),
                "late": int(sec.late.sum()),
                **{f"p{q}_ms": result.quantile(q / 100) for q in (50, 95, 99)},
                "vnf_counters": deltas,
                "counters_add_up": all(d == ok for d in deltas.values()) if errors == 0 else None,
            })
        return rows

    def measure(self, requests: int = 20, warmup: int = 2) -> list[dict]:
        """Per chain: latency percentiles and errors of ``requests`` requests, and VNF counters.

        ``vnf_counters`` is what each VNF handled meanwhile (``warmup + requests``;
        None for a VNF that no longer answers).  A chain whose servers or VNFs
        failed, or whose requests failed, gets ``status="error"`` and a
        ``reason``; the other chains are measured as usual.
        """
        rows = []
        before = self.counters()
        for chain_id in tqdm(sorted(self.plan.clients), desc="measuring", unit="chain", disable=None, leave=False):
            results = self.request(chain_id, requests, warmup=warmup)
            ok = [r["latency_ms"] for r in results if r["status"] == 200]
            expected = ",".join([*(s.name for s in self.plan.vnfs if s.chain_id == chain_id),
                                 self.plan.sinks[chain_id]["name"]])
            fault = self.diagnose(chain_id)
            if fault is None and len(ok) < len(results):
                fault = f"{len(results) - len(ok)} of {len(results)} requests failed: " + next(
                    r["error"] or f"HTTP {r['status']}" for r in results if r["status"] != 200)
            rows.append({
                "chain_id": chain_id, "status": "error" if fault else "ok", "reason": fault or "",
                "requests": len(results), "warmup": warmup, "errors": len(results) - len(ok),
                "p50_ms": float(np.percentile(ok, 50)) if ok else float("nan"),
                "p95_ms": float(np.percentile(ok, 95)) if ok else float("nan"),
                "p99_ms": float(np.percentile(ok, 99)) if ok else float("nan"),
                "trace_ok": all(r["trace"] == expected for r in results if r["status"] == 200) and bool(ok),
            })
        after = self.counters()
        for row in rows:
            row["vnf_counters"] = self._counter_deltas(before, after, row["chain_id"])
        return rows


class Testbed(ChainMeasurements):
    """A placement realised on Mininet, from bring-up to teardown.

    Parameters
    ----------
    substrate, chains, placement
        The problem and the plan to realise (only placed chains are deployed).
    host_kind : {"dind", "docker", "process"}
        Servers as DinD hosts with VNFs in inner containers (default), as one
        container each with VNFs as processes in it (the Containernet way), or
        as plain Mininet hosts.
    images : ImageNames
        Image names; missing ones are pulled or built.
    delay : {"auto", "netem", "userspace"}
        How link delay is realised.
    protocol : {"http", "tcp"}
        VNFs relay HTTP requests (latency, :meth:`measure`) or whole TCP
        connections to an iperf3 server at the egress (:meth:`throughput`).
    vnf_impl : dict, optional
        Implementation per VNF type (:mod:`testbed.vnfs.catalogue`), such as
        ``{"waf": "nginx-modsecurity", "load_balancer": "haproxy"}``; types
        not named run ``light`` (``vnf.py``).  Real software runs in DinD
        servers only.
    sink : {"light", "nginx"}
        What answers at each chain's egress: ``vnf.py``'s sink, or Debian's
        nginx (for load beyond a few thousand requests/s).
    share : MachineShare, optional
        Build only this machine's part of the plan (:mod:`testbed.cluster`):
        its nodes, its local links and its ends of cut links, as VXLAN
        tunnels to the peer machines.  Counters, requests and telemetry then
        cover this machine's VNFs and clients only.
    run_id : str, optional
        The run's id (default: a fresh one).
    """

    __test__ = False  # not a pytest test class

    def __init__(self, substrate, chains, placement, *, host_kind="dind", images=ImageNames(),
                 delay="auto", protocol="http", vnf_impl=None, sink="light", share: MachineShare | None = None,
                 run_id: str | None = None, log=print):
        check_options(host_kind, protocol, sink)
        if sink == "nginx" and protocol == "http" and not shutil.which("nginx"):
            raise TestbedError("sink='nginx' needs Debian's nginx on this machine: run `make setup`")
        self.sink = sink
        self.plan = build_plan(substrate, chains, placement)
        self.share, self.run_id = share, run_id
        if share is not None:
            unmapped = sorted(n for n in self._plan_nodes() if n not in share.machines)
            if unmapped:
                raise TestbedError(f"machine share of {share.machine!r} maps no machine for plan nodes {unmapped}")
        self.host_kind, self.images, self.delay, self.protocol, self.log = host_kind, images, delay, protocol, log
        self.impls = self._implementations(dict(vnf_impl or {}))
        self.run: Run | None = None
        self.net: Containernet | None = None
        self.nodes: dict = {}
        self.info: dict = {}
        self._sources: list | None = None
        self.cross_ends: list[CrossLinkEnd] = []

    def _plan_nodes(self) -> list[str]:
        return [*self.plan.servers, *self.plan.routers, *(c["name"] for c in self.plan.clients.values()),
                *(s["name"] for s in self.plan.sinks.values())]

    def local(self, node: str) -> bool:
        """Whether plan node ``node`` is built here (always, but for a machine's share of a cluster run)."""
        return self.share is None or self.share.local(node)

    def _implementations(self, vnf_impl: dict) -> dict:
        """The chosen implementation of each VNF instance, by name (None: ``light``, ``vnf.py``, for any type).

        Bad choices fail here, before anything starts.
        """
        try:
            chosen = {vnf_type: implementation(vnf_type, impl) for vnf_type, impl in vnf_impl.items()}
        except CatalogueError as exc:
            raise TestbedError(str(exc)) from None
        impls = {spec.name: chosen.get(spec.vnf_type) for spec in self.plan.vnfs}
        impls = {name: None if impl is None or impl.name == "light" else impl for name, impl in impls.items()}
        real = sorted({f"{i.vnf_type}={i.name}" for i in impls.values() if i})
        if real and self.protocol != "http":
            raise TestbedError(f"real VNF software ({', '.join(real)}) relays HTTP: use protocol='http'")
        if real and not HOST_KINDS[self.host_kind].real_vnfs:
            raise TestbedError(f"real VNF software ({', '.join(real)}) runs in DinD servers' inner containers: "
                               f"use host kind dind (testbed=dind), not {self.host_kind}")
        return impls

    def _check_programs(self) -> None:
        """Refuse, before any server starts, an image that lacks a program its implementations need."""
        needs: dict[str, set] = {}
        for impl in filter(None, self.impls.values()):
            needs.setdefault(impl.image or self.images.dind, set()).update(impl.programs)
        for image, programs in needs.items():
            probe = "; ".join(f"command -v {p} >/dev/null || echo {p}" for p in sorted(programs))
            container = self.run.docker.containers.create(
                ensure_image(self.run.docker, image), ["-c", probe], entrypoint="sh", network_disabled=True,
                labels=self.run.labels(node="probe"))
            try:
                container.start()
                container.wait(timeout=60)
                lacking = set(container.logs().decode().split())
            except Exception as exc:  # no sh in the image, or it does not start
                raise TestbedError(f"cannot look into image {image!r} for {', '.join(sorted(programs))}: {exc}") from exc
            finally:
                remove_container(container)
            for impl in {i for i in filter(None, self.impls.values()) if (i.image or self.images.dind) == image}:
                try:
                    impl.require(lambda p: p not in lacking)
                except CatalogueError as exc:
                    raise TestbedError(str(exc)) from None

    # -- lifecycle (a with-block: ChainMeasurements) --------------------------------------

    def start(self):
        t0 = time.monotonic()
        self.run = Run(self.run_id, delay=self.delay)
        self.info = {"run_id": self.run.id, "delay_mechanism": self.run.delay, "host_kind": self.host_kind}
        where = f" on machine {self.share.machine}" if self.share else ""
        self.log(f"testbed: run {self.run.id}{where}, servers as {self.host_kind} hosts, link delay by {self.run.delay}")
        server = HOST_KINDS[self.host_kind]
        servers = {name: spec for name, spec in self.plan.servers.items() if self.local(name)}
        if server.uses_images and servers:
            ensure_images(self.images, self.run.docker, log=self.log)
            self._check_programs()
        self.net = Containernet(run=self.run)
        own = {s.server for s in self.plan.vnfs if self.impls[s.name] and self.impls[s.name].own_network}
        for name, spec in servers.items():  # containers are created in the background
            self.nodes[name] = self.net.addHost(name, cls=server, **server.server_params(
                self.images, spec["cpu"], spec["mem"], log=self.log, vnf_networks=name in own))
        for name in [*self.plan.routers, *(c["name"] for c in self.plan.clients.values()),
                     *(s["name"] for s in self.plan.sinks.values())]:
            if self.local(name):
                self.nodes[name] = self.net.addHost(name, cls=ProcessHost)
        local = [spec for spec in self.plan.links if self.local(spec.a) and self.local(spec.b)]
        links = [self.net.addLink(spec.a, spec.b, cls=SfcLink, bw=spec.bw, delay=spec.delay) for spec in local]
        self.net.materialize()
        for spec, link in zip(local, links):
            link.intf1.setIP(f"{spec.ip_a}/30")
            link.intf2.setIP(f"{spec.ip_b}/30")
        self._open_cross_links()
        parallel(self._configure_ip, self.nodes.values())
        server.prepare_servers([self.nodes[n] for n in servers], self.images, self.run,
                               extra_images=sorted({i.image for i in filter(None, self.impls.values()) if i.image}))
        self._start_vnfs()
        self._start_sinks()
        self.info["bring_up_s"] = time.monotonic() - t0
        self.log(f"testbed: up in {self.info['bring_up_s']:.1f} s{where}: {len(servers)} servers, "
                 f"{sum(self.local(s.server) for s in self.plan.vnfs)} VNFs, "
                 f"{sum(self.local(c['name']) for c in self.plan.clients.values())} chains")

    def cut_links(self) -> list[tuple[int, object]]:
        """The plan's links with one end here and one on another machine, with their index in the plan."""
        return [(i, spec) for i, spec in enumerate(self.plan.links) if self.local(spec.a) != self.local(spec.b)]

    def _open_cross_links(self):
        """This machine's end of every cut link: a VXLAN tunnel to the peer's end (:func:`testbed.vxlan.open_end`)."""
        share = self.share
        for i, spec in self.cut_links():
            node, ip, other = (spec.a, spec.ip_a, spec.b) if self.local(spec.a) else (spec.b, spec.ip_b, spec.a)
            peer = share.machines[other]
            if peer not in share.peers:
                raise TestbedError(f"link {spec.a}-{spec.b} goes to machine {peer!r}, whose underlay address "
                                   f"machine {share.machine!r} was not given")
            vni = VNI_BASE + i
            for dev in (f"sx{kind}{vni}" for kind in "vpb"):  # recorded first: a killed run's cleanup finds them
                self.run.manifest.add("underlay_links", [share.underlay_ns or "", dev])
            self.cross_ends.append(open_end(
                vni, self.nodes[node].pid, f"{node}-x{i}", local_ip=share.underlay_ip, remote_ip=share.peers[peer],
                underlay_ns=share.underlay_ns, address=f"{ip}/30", bw=spec.bw, delay_ms=spec.delay,
                mechanism=self.run.delay, tag="sx", mtu=share.mtu, popen=self.run.popen))

    def stop(self):
        """Tear down everything of this run (idempotent)."""
        if self.run is None:
            return
        t0 = time.monotonic()
        try:
            for end in self.cross_ends:
                end.delete()
            self.cross_ends = []
            if self.net is not None:
                self.net.stop()  # every host at once, then the run (delay relays die with its cgroup)
        finally:
            self.run.close()
            self.info["teardown_s"] = time.monotonic() - t0
            self.run, self.net, self.nodes, self._sources = None, None, {}, None

    # -- bring-up steps --------------------------------------------------------------

    def _configure_ip(self, node):
        """Forwarding, the node's chain addresses and its host routes, in one ``ip -batch``."""
        # Ports below 1024 for the unprivileged VNFs (per namespace).
        node.netcmd("sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 "
                    "net.ipv4.conf.default.rp_filter=0 net.ipv4.ip_unprivileged_port_start=0")
        commands = [f"addr add {addr}/32 dev lo" for addr in self.plan.addresses.get(node.name, [])]
        commands.append("link set lo up")
        commands += [f"route add {dst}/32 via {via}" + (f" src {src}" if src else "")
                     for dst, via, src in self.plan.routes.get(node.name, [])]
        batch = self.run.tmpdir / f"{node.name}.ip"  # read by the host's ip, in the node's namespace
        batch.write_text("\n".join(commands) + "\n")
        out = node.netcmd(f"ip -batch {batch}; echo rc=$?")
        if not out.rstrip().endswith("rc=0"):
            raise TestbedError(f"{node.name}: configuring addresses and routes failed: {out.strip()}")

    def _vnf_args(self, spec) -> list[str]:
        """The command line of ``vnf.py`` for one VNF instance, but where it listens (the server's choice)."""
        return ["--role", spec.role, "--name", spec.name, "--next", spec.next_url,
                "--protocol", self.protocol,
                *(["--rule", "/blocked"] if spec.role == "firewall" else []),
                *(["--signature", "attack"] if spec.role == "ids" else [])]

    def _start_vnfs(self):
        """Start every VNF; servers in parallel, one thread per server (a node's shell is not thread-safe)."""
        by_server: dict[str, list] = {}
        for spec in self.plan.vnfs:
            if self.local(spec.server):
                by_server.setdefault(spec.server, []).append(spec)

        def start_all(specs):
            for spec in specs:
                self.nodes[spec.server].start_vnf(spec, self._vnf_args(spec), self.impls[spec.name])
            self._wait_listening(specs)

        parallel(start_all, by_server.values(), desc="VNFs: servers done")

    def _start_sinks(self):
        sinks = [sink for sink in self.plan.sinks.values() if self.local(sink["name"])]
        for sink in sinks:
            node, ip, port = self.nodes[sink["name"]], sink["ip"], sink["port"]
            if self.protocol == "tcp":
                node.cmd(f"{' '.join(UNPRIVILEGED)} iperf3 -s -B {ip} -p {port} > /dev/null 2>&1 &")
            elif self.sink == "nginx":
                conf = self.run.tmpdir / f"{sink['name']}-nginx.conf"
                conf.write_text(NGINX_SINK.format(dir=self.run.tmpdir, name=sink["name"], listen=f"{ip}:{port}"))
                node.cmd(f"nginx -c {conf} > {self.run.tmpdir}/{sink['name']}.log 2>&1 &")
            else:
                node.cmd(f"{' '.join(UNPRIVILEGED)} {sys.executable} -u {VNF_DIR}/vnf.py --role sink "
                         f"--name {sink['name']} --listen {ip}:{port} > /dev/null 2>&1 &")
        for sink in sinks:
            node, ip, port = self.nodes[sink["name"]], sink["ip"], sink["port"]
            deadline = time.monotonic() + 30
            while not node.netcmd(f"ss -Hltn src {ip} sport = :{port}").strip():
                if time.monotonic() > deadline:
                    raise TestbedError(f"{node.name}: the egress server does not listen on {ip}:{port}")
                time.sleep(0.05)

    def _wait_listening(self, specs, timeout=30.0):
        """Poll each VNF's stats URL until it answers (no fixed sleeps); a VNF that never does is named,
        with the end of its log."""
        for spec in specs:
            node = self.nodes[spec.server]
            deadline = time.monotonic() + timeout
            # Something listens first (a cheap look with the host's ss), then the VNF itself answers.
            while not node.netcmd(f"ss -Hltn src {spec.in_ip} sport = :{spec.port}").strip() \
                    and time.monotonic() < deadline:
                time.sleep(0.02)
            while self.stats(node, spec.in_ip, spec.port) is None:
                if time.monotonic() > deadline:
                    raise TestbedError(f"{node.name}: VNF {spec.name} does not answer on {spec.in_ip}:{spec.port} "
                                       f"after {timeout} s; its log ends:\n{node.vnf_log_tail(spec)}")
                time.sleep(0.05)

    def stats(self, node, ip, port):
        """Counters of the VNF answering at ip:port, read from ``node``; None if it does not answer."""
        out = node.safe_cmd(f"{node.python} -c \"import urllib.request as u;print(u.urlopen("
                            f"'http://{ip}:{port}/_sfcbench/stats',timeout=2).read().decode())\" 2>/dev/null")
        try:
            return json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError, AttributeError):  # no answer, or no node to ask
            return None

    # -- measurement primitives (ChainMeasurements builds on them) ---------------------

    def request(self, chain_id: str, n: int = 1, path: str = "/", interval: float = 0.0,
                warmup: int = 0) -> list[dict]:
        """Send ``warmup`` + ``n`` requests from the chain's client on one kept-alive connection.

        Returns one dict per measured request (warm-up requests open the
        connections along the chain and are not reported; VNFs count them).
        """
        client = self.plan.clients[chain_id]
        url = client["url"].rstrip("/") + path
        out = self.nodes[client["name"]].cmd(
            f"{sys.executable} {VNF_DIR}/client.py {shlex.quote(url)} -n {n} --interval {interval} "
            f"--warmup {warmup} --source {client['ip']}")
        return json.loads(out.strip().splitlines()[-1])

    def throughput(self, chain_id: str, seconds: float = 3.0) -> float:
        """TCP goodput in Mbit/s through the chain (``protocol="tcp"``): iperf3 from its client to its egress."""
        if self.protocol != "tcp":
            raise TestbedError("throughput needs a testbed deployed with protocol='tcp'")
        client = self.plan.clients[chain_id]
        url = urlsplit(client["url"])
        out = self.nodes[client["name"]].cmd(
            f"iperf3 -c {url.hostname} -p {url.port} -B {client['ip']} -t {seconds:g} -J")
        try:
            return json.loads(out)["end"]["sum_received"]["bits_per_second"] / 1e6
        except (ValueError, KeyError) as exc:
            raise TestbedError(f"iperf3 through chain {chain_id} failed: {out.strip()[-500:]}") from exc

    def counters(self) -> dict[str, int | None]:
        """Requests handled so far by each VNF instance, by instance name (None: it does not answer)."""
        result = {}
        for spec in (s for s in self.plan.vnfs if self.local(s.server)):
            stats = self.stats(self.nodes[spec.server], spec.in_ip, spec.port)
            result[spec.name] = stats["requests"] if stats else None
        return result

    def diagnose(self, chain_id: str) -> str | None:
        """What is wrong with the chain's servers and VNFs, in the order a request meets them; None if nothing."""
        for spec in (s for s in self.plan.vnfs if s.chain_id == chain_id and self.local(s.server)):
            node = self.nodes[spec.server]
            fault = node.fault()
            if fault:
                return fault
            if self.stats(node, spec.in_ip, spec.port) is None:
                return f"VNF {spec.name} on {spec.server} does not answer (its process or container died)"
        return None

    def _generate(self, argvs: dict, wait: float, sampler: Sampler | None = None) -> dict[str, LoadResult]:
        """Run each chain's load generator (``argvs``: chain -> argv) on its client, all at once; their results."""
        procs = {}
        for chain_id, argv in argvs.items():
            node = self.nodes[self.plan.clients[chain_id]["name"]]
            procs[chain_id] = node.popen(argv)
            if sampler is not None:
                sampler.add(Source("client", node.name, pids=(procs[chain_id].pid,), netns_pid=node.pid))
        results = {}
        for chain_id, proc in procs.items():
            out, err = proc.communicate(timeout=wait)
            if proc.returncode:
                raise TestbedError(f"load generator of chain {chain_id} failed (exit {proc.returncode}): "
                                   f"{err.decode(errors='replace').strip()[-500:]}")
            try:
                results[chain_id] = parse(out.decode(errors="replace"))
            except LoadError as exc:
                raise TestbedError(f"load generator of chain {chain_id}: {exc}") from None
        return results

    def telemetry_sources(self) -> list:
        """Where the counters of every VNF and server are read (:mod:`testbed.telemetry`), found once."""
        if self._sources is None:
            by_server: dict[str, list] = {name: [] for name in self.plan.servers if self.local(name)}
            for spec in self.plan.vnfs:
                if spec.server in by_server:
                    by_server[spec.server].append(spec)
            sources = []
            for name, specs in by_server.items():
                vnfs = self.nodes[name].vnf_sources(specs)
                sources += [*vnfs.values(), self.nodes[name].server_source(vnfs)]
            self._sources = sources
        return self._sources

    def sampler(self, hz: float = 10.0) -> Sampler:
        """A telemetry sampler of every VNF and server, and of the machine itself; :meth:`drive` adds the
        clients."""
        return Sampler([*self.telemetry_sources(), machine_source()], hz=hz)

