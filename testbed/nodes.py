"""Host kinds and links of the testbed, on top of Debian's Mininet 2.3.0.

- :class:`ProcessHost`: a plain Mininet host (own network namespace; shares the
  machine's filesystem and processes).
- :class:`DockerHost`: a container attached to the emulated network the way
  Containernet does it (its veths moved into the container's namespace), with a
  Mininet shell inside the container's namespaces.
- :class:`DinDHost`: a Docker host running its own Docker daemon, in which VNFs
  run as inner containers.
- :class:`SfcLink`: a veth pair shaped by tc (htb) and delayed by netem, or by
  the user-space relay (:mod:`testbed.delay`) on kernels without netem.

Interfaces are configured with the host's ``ip``/``tc``/``ethtool`` run inside
the node's network namespace, so container images need none of them.
"""

from __future__ import annotations

import functools
import os
import pty
import re
import select
import shlex
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from urllib.parse import urlsplit

from testbed import system
from testbed.cleanup import remove_container
from testbed.system import TestbedError, parallel

try:
    from mininet.link import Link, TCIntf
    from mininet.node import Host
except ImportError as exc:  # pragma: no cover - depends on the machine
    raise TestbedError(
        "Mininet is not importable: run `make setup` (it installs Debian's mininet package and makes "
        ".venv from /usr/bin/python3 with --system-site-packages), or use testbed=none"
    ) from exc


class RunNode:
    """Mixin: the node belongs to a :class:`testbed.runtime.Run` and its processes to the run's cgroup."""

    run = None

    def _popen(self, cmd, **params):
        return Host._popen(self, self.run.spawn_prefix() + list(cmd), **params)

    def netcmd(self, *args) -> str:
        """Run a host tool in this node's network namespace; return its output."""
        return self.cmd(*args)

    def safe_cmd(self, command: str) -> str | None:
        """``cmd(command)``, or None when the node's shell is gone."""
        if self.shell is None or self.shell.poll() is not None:
            return None
        try:
            return self.cmd(command)
        except OSError:
            return None


VNF_DIR = Path(__file__).parent / "vnfs"
CODE_MOUNT = "/opt/sfcbench"  # where container servers see VNF_DIR
# VNF processes run as nobody, without capabilities (the VNF image sets the same user).
UNPRIVILEGED = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"]


class ServerBehaviour:
    """What a testbed server does, per host kind: its parameters, readiness, VNFs and faults.

    The defaults run each VNF as an unprivileged process of the host's
    interpreter; :class:`DinDHost` overrides them with inner containers.
    """

    kind = ""
    python = sys.executable  # the interpreter for helper commands run in this host
    uses_images = False  # whether servers of this kind need the project's images

    @classmethod
    def server_params(cls, images, cpu: float, mem: float, log=None, vnf_networks: bool = False) -> dict:
        """``addHost`` keywords that make a testbed server of this kind (``vnf_networks``: some VNF of
        it needs a network namespace of its own)."""
        return {}

    @classmethod
    def prepare_servers(cls, servers, images, run, extra_images=()) -> None:
        """Make all ``servers`` ready to start VNFs, at once (nothing to do by default)."""

    real_vnfs = False  # whether real VNF software (testbed.vnfs.catalogue) can run on servers of this kind

    def start_vnf(self, spec, vnf_args: list[str], impl=None) -> None:
        """Start one VNF (``vnf.py`` with ``vnf_args``) listening on ``spec.in_ip:spec.port``."""
        argv = [*UNPRIVILEGED, *self._vnf_program(), *vnf_args, "--listen", f"{spec.in_ip}:{spec.port}",
                "--source", spec.out_ip]
        self.cmd(" ".join(shlex.quote(str(a)) for a in argv) + f" > {self._vnf_log(spec.name)} 2>&1 &")

    def _vnf_program(self) -> list[str]:
        return [sys.executable, "-u", str(VNF_DIR / "vnf.py")]

    def _vnf_log(self, name: str) -> str:
        return str(self.run.tmpdir / f"{name}.log")

    def vnf_log_tail(self, spec, lines: int = 20) -> str:
        """The last lines a VNF wrote (for error messages)."""
        return self.cmd(f"tail -n {lines} {self._vnf_log(spec.name)} 2>&1")

    def fault(self) -> str | None:
        """What is wrong with this server that a request would meet (None: nothing seen)."""
        return None

    def _vnf_candidates(self) -> list[int]:
        """Host pids among which this server's VNF processes are (:meth:`vnf_sources`)."""
        return system.cgroup_procs(self.run.procs_cgroup)

    def vnf_sources(self, specs) -> dict:
        """Where the counters of this server's VNFs ``specs`` are read (:mod:`testbed.telemetry`), by name.

        A VNF process is found by its ``--name`` argument; it shares its server's network namespace.
        """
        from testbed.telemetry import Source, process_pids

        candidates = self._vnf_candidates()
        return {s.name: Source("vnf", s.name, pids=process_pids(candidates, s.name)) for s in specs}

    def server_source(self, vnf_sources: dict):
        """Where this server's counters are read: a plain host is the sum of its VNF processes."""
        from testbed.telemetry import Source

        pids = tuple(p for src in vnf_sources.values() for p in src.pids)
        return Source("server", self.name, pids=pids, netns_pid=self.pid)


class ProcessHost(ServerBehaviour, RunNode, Host):
    """A plain Mininet host: private network namespace, shared filesystem and processes."""

    kind = "process"

    def __init__(self, name, run, **params):
        self.run = run
        super().__init__(name, **params)


def parse_delay(delay) -> float:
    """Delay in ms from a number or a Mininet-style string such as ``'10ms'``."""
    if delay is None or delay == "":
        return 0.0
    if isinstance(delay, (int, float)):
        value = float(delay)
    else:
        m = re.fullmatch(r"\s*([0-9.]+)\s*(us|ms|s)?\s*", str(delay))
        if not m:
            raise TestbedError(f"link delay {delay!r} is not a duration such as 10 or '10ms'")
        value = float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3, None: 1.0}[m.group(2)]
    if value < 0:
        raise TestbedError(f"link delay {delay!r} is negative")
    return value


class SfcIntf(TCIntf):
    """A tc-shaped interface configured with the host's tools in its node's namespace."""

    bwParamMax = 100_000  # Mbit/s; Mininet's 1000 would silently drop faster links

    def cmd(self, *args, **kwargs):
        return self.node.netcmd(*args)

    def bwCmds(self, bw=None, **kwargs):
        cmds, parent = super().bwCmds(bw=bw, **kwargs)
        # htb's default quantum (rate / r2q) is "too big" above ~100 Mbit/s.
        return [c + " quantum 1514" if " htb rate " in c else c for c in cmds], parent


class SfcLink(Link):
    """A substrate link: bandwidth ``bw`` (Mbit/s) and one-way ``delay`` (ms) in both directions.

    With netem both interfaces get ``htb`` + ``netem delay``.  Without it the
    link is split in the run's link namespace and :mod:`testbed.delay` relays
    frames across the split after ``delay`` ms; htb still shapes both ends.
    """

    def __init__(self, node1, node2, bw=None, delay=None, run=None, **params):
        self.run = run or node1.run or node2.run
        self.delay_ms = parse_delay(delay)
        self.relay = None
        self.mid = None
        self.mechanism = self.run.delay if self.delay_ms > 0 else "none"
        relayed = self.mechanism == "userspace"
        params.setdefault("cls1", SfcIntf)
        params.setdefault("cls2", SfcIntf)
        netem = f"{self.delay_ms:g}ms" if self.mechanism == "netem" else None
        if relayed:  # raw relays need plain frames: no offloads, no partial checksums
            params.update(txo=False, rxo=False)
        super().__init__(node1, node2, bw=bw, delay=netem, **params)
        if relayed:
            for intf in (self.intf1, self.intf2):
                intf.cmd(f"ethtool -K {intf.name} tso off gso off gro off tx off rx off")
            a, b = self.mid
            self.relay = self.run.popen(
                [sys.executable, "-m", "testbed.delay", a, b, self.delay_ms],
                netns=self.run.links_ns,
                stdout=subprocess.PIPE,
            )
            ready, _, _ = select.select([self.relay.stdout], [], [], 10)
            if not ready or self.relay.stdout.readline().strip() != b"ready":
                raise TestbedError(f"the delay relay of link {self.intf1}<->{self.intf2} did not start")

    @staticmethod
    def _netns(node):
        return ["netns", str(node.pid)] if node is not None and node.inNamespace else []

    def makeIntfPair(self, name1, name2, addr1=None, addr2=None, node1=None, node2=None, deleteIntfs=True):
        def end(name, addr, node):
            return ["name", name, *(["address", addr] if addr else []), *self._netns(node)]

        if self.delay_ms > 0 and self.run.delay == "userspace":
            ns = self.run.links_ns
            uid = os.urandom(3).hex()
            self.mid = (f"d{uid}a", f"d{uid}b")
            system.run(["ip", "link", "add", *end(name1, addr1, node1), "type", "veth", "peer", "name", self.mid[0], "netns", ns])
            system.run(["ip", "link", "add", *end(name2, addr2, node2), "type", "veth", "peer", "name", self.mid[1], "netns", ns])
            for m in self.mid:
                system.run(["ip", "-n", ns, "link", "set", m, "up"])
                system.run(["ip", "netns", "exec", ns, "ethtool", "-K", m, "tso", "off", "gso", "off", "gro", "off", "tx", "off", "rx", "off"])
        else:
            system.run(["ip", "link", "add", *end(name1, addr1, node1), "type", "veth", "peer", *end(name2, addr2, node2)])
        for node in (node1, node2):
            if node is not None and not node.inNamespace:
                self.run.manifest.add("links", name1 if node is node1 else name2)

    def stop(self):
        """At network teardown: ends inside a namespace go with it; delete only the rest."""
        self._stop_relay()
        for intf in (self.intf1, self.intf2):
            if intf is not None and intf.node is not None and not intf.node.inNamespace:
                intf.delete()

    def _stop_relay(self):
        if self.relay is not None:
            self.relay.kill()
            self.relay.wait()
            self.relay = None

    def delete(self):
        """Remove the link: its relay, the middle of a split link, and both interfaces."""
        self._stop_relay()
        if self.mid:
            for m in self.mid:
                system.run(["ip", "-n", self.run.links_ns, "link", "del", m], check=False)
            self.mid = None
        for intf in (self.intf1, self.intf2):
            if intf is not None and intf.node is not None:
                intf.delete()
        self.intf1 = self.intf2 = None


# -- container hosts ----------------------------------------------------------------

DIND_FALLBACK_OPTIONS = {
    # What runs a Docker daemon where --privileged is refused (ENVIRONMENT.md): every
    # capability the machine can grant, no seccomp/AppArmor filter, writable /proc
    # and /sys paths, and access to devices so inner containers can be created.
    "cap_add": ["ALL"],
    "cap_drop": ["SYS_RESOURCE"],
    "security_opt": ["seccomp=unconfined", "apparmor=unconfined", "systempaths=unconfined"],
    "device_cgroup_rules": ["a *:* rwm"],
}
_privileged_ok: dict[str, bool] = {}
_fallback_told: list = []  # said once per process
_probe_lock = threading.Lock()


def privileged_allowed(run, image: str) -> bool:
    """Whether this machine can start a ``--privileged`` container (tried once per process)."""
    with _probe_lock:  # servers are created in parallel; one probe is enough
        return _probe_privileged(run, image)


def _probe_privileged(run, image: str) -> bool:
    if image not in _privileged_ok:
        import docker

        probe = run.docker.containers.create(image, ["true"], privileged=True, network_disabled=True,
                                             name=f"{run.name}-probe", labels=run.labels(node="probe"))
        try:
            probe.start()
            _privileged_ok[image] = True
        except docker.errors.APIError:
            _privileged_ok[image] = False
        finally:
            remove_container(probe)
    return _privileged_ok[image]


def privileged_options(run, image: str, log=None) -> dict:
    """docker-py options for a host that must run a Docker daemon: privileged, or the fallback."""
    if privileged_allowed(run, image):
        options = {"privileged": True}
    else:
        with _probe_lock:  # said once, though servers are created in parallel
            tell = bool(log) and not _fallback_told
            if tell:
                _fallback_told.append(True)
        if tell:
            log("this machine refuses --privileged containers; Docker-daemon hosts get cap-add ALL "
                "minus SYS_RESOURCE, seccomp/apparmor unconfined, device rule 'a *:* rwm'")
        options = dict(DIND_FALLBACK_OPTIONS)
    if system.cgroup_v2():
        options["cgroupns"] = "private"  # the entrypoint delegates controllers inside it
    else:
        # The host's hierarchy, so the inner daemon nests its containers under this one's cgroup.
        options["volumes"] = {"/sys/fs/cgroup": {"bind": "/sys/fs/cgroup", "mode": "rw"}}
    return options


def create_container(run, name: str, image: str, command=None, *, kind: str = "docker",
                     cpu: float | None = None, mem: float | None = None, **docker_args):
    """Create and start the container behind a Docker host; return the docker-py object.

    The container has no network but loopback: its only interfaces are the
    testbed's links, so no traffic can leave the emulation.  It is made with
    Docker's networking disabled rather than ``network_mode=none``: an empty
    namespace all the same, but no endpoint on Docker's "none" network, which
    Docker 20.10 deadlocks on when containers leave it at once (see
    :data:`testbed.system.CONTAINER_REMOVAL`), and less work per container.
    ``cpu`` is in cores, ``mem`` in MiB.
    """
    import docker

    args = dict(
        name=f"{run.name}-{name}", hostname=name, detach=True, tty=True, stdin_open=True,
        labels=run.labels(node=name, kind=kind), init=False,
    )
    if "network_mode" not in docker_args:
        args["network_disabled"] = True
    if _cgroupfs(run.docker):
        args["cgroup_parent"] = "/" + run.name
    if cpu:
        # Docker refuses a quota above the machine's cores; more would not bind anyway.
        args["nano_cpus"] = int(min(cpu, os.cpu_count()) * 1e9)
    if mem:
        args["mem_limit"] = f"{int(mem)}m"
    args.update(docker_args)
    run.manifest.add("containers", args["name"])
    try:
        container = _run_container(run.docker, image, command, args)
    except docker.errors.ImageNotFound as exc:
        raise TestbedError(f"image {image!r} not found: build it with `python -m testbed.images` "
                           "or name an image that exists (conf/testbed/*.yaml)") from exc
    except docker.errors.APIError as exc:
        raise TestbedError(f"cannot start container for {name!r} from {image!r}: {exc.explanation or exc}") from exc
    container.reload()
    if container.status != "running":
        logs = container.logs(tail=20).decode(errors="replace")
        raise TestbedError(f"container for {name!r} exited at once ({container.status}): {logs}")
    return container


def _run_container(client, image, command, args):
    """``client.containers.run`` that also understands ``systempaths=unconfined``.

    docker-py has no field for it; the CLI sends empty MaskedPaths and
    ReadonlyPaths, and so do we.
    """
    from docker.models.containers import _create_container_args

    args = dict(args, image=image, command=command, version=client.api._version)
    security = list(args.pop("security_opt", None) or [])
    unmask = "systempaths=unconfined" in security
    if unmask:
        security.remove("systempaths=unconfined")
    if security:
        args["security_opt"] = security
    args.pop("detach", None)
    create = _create_container_args(args)
    if unmask:
        create["host_config"].update(MaskedPaths=[], ReadonlyPaths=[])
    cid = client.api.create_container(**create)["Id"]
    client.api.start(cid)
    return client.containers.get(cid)


_cgroup_driver: dict[int, str] = {}


def _cgroupfs(client) -> bool:
    key = id(client)
    if key not in _cgroup_driver:
        _cgroup_driver[key] = client.info().get("CgroupDriver", "")
    return _cgroup_driver[key] == "cgroupfs"


def _netns_inode(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return None


class DockerHost(ServerBehaviour, RunNode, Host):
    """A Mininet host backed by a container: own filesystem, processes and network.

    The Mininet shell enters all of the container's namespaces (nsenter) and
    joins its cgroups, so ``cmd()`` runs inside the container, under its limits.
    Pass ``container=`` to adopt one created beforehand, or ``pool=`` (a
    :class:`concurrent.futures.Executor`) to create it in the background: the
    host is then *pending* until :meth:`realize` (or its first command) waits
    for the container and starts the shell, so a network creates many at once.
    """

    kind = "docker"

    def __init__(self, name, run, image=None, command=None, *, container=None, pool=None,
                 cpu=None, mem=None, docker_args=None, log=None, **params):
        self.run = run
        self.realizer = None  # set by a network that must finish its own build first
        if container is None:
            create = functools.partial(self.create, run, name, image, command, cpu=cpu, mem=mem, log=log,
                                       **(docker_args or {}))
            container = pool.submit(create) if pool is not None else create()
        self._container = container
        Host.__init__(self, name, **params)

    python = "python3"
    uses_images = True

    @classmethod
    def create(cls, run, name, image, command=None, *, cpu=None, mem=None, log=None, **docker_args):
        """The container behind a host of this kind (create several in parallel, then adopt them)."""
        return create_container(run, name, image, command, kind=cls.kind, cpu=cpu, mem=mem, **docker_args)

    @classmethod
    def server_params(cls, images, cpu, mem, log=None, vnf_networks=False) -> dict:
        """A container of the base image with this checkout's VNF code mounted read-only."""
        return {"image": images.base, "command": ["sleep", "infinity"], "cpu": cpu, "mem": mem,
                "docker_args": {"volumes": {str(VNF_DIR): {"bind": CODE_MOUNT, "mode": "ro"}}}}

    def _vnf_program(self):
        return ["python3", "-u", f"{CODE_MOUNT}/vnf.py"]

    def _vnf_log(self, name):
        return f"/tmp/{name}.log"

    def fault(self):
        if not self.container_running():
            return f"server {self.name} is gone (its container was removed or stopped)"
        return None

    def _vnf_candidates(self) -> list[int]:
        from testbed.telemetry import cgroup_dirs

        return system.cgroup_procs(cgroup_dirs(self.container_pid)["cpu"])

    def server_source(self, vnf_sources: dict):
        """A container's counters: its cgroup (everything in it, inner containers included) and its interfaces."""
        from testbed.telemetry import Source, cgroup_dirs

        return Source("server", self.name, cgroup=cgroup_dirs(self.container_pid), netns_pid=self.container_pid)

    @property
    def container(self):
        """The docker-py container (waits for a background creation; raises its error)."""
        if isinstance(self._container, Future):
            self._container = self._container.result()
        return self._container

    @property
    def pending(self) -> bool:
        """Whether the shell has not started yet (the container may still be being created)."""
        return self.shell is None and getattr(self, "_deferred_shell", False)

    def realize(self) -> None:
        """Wait for the container and start the shell, if that has not happened yet."""
        if self.pending:
            self.container  # noqa: B018  (waits for it)
            self._deferred_shell = False
            self.startShell()

    def _use(self) -> None:
        """Before anything that needs the container's namespaces: the whole network, or this host, realized."""
        if self.pending:
            (self.realizer or self.realize)()

    def sendCmd(self, *args, **kwargs):
        self._use()
        return Host.sendCmd(self, *args, **kwargs)

    @property
    def container_pid(self) -> int:
        return int(self.container.attrs["State"]["Pid"])

    def enter_argv(self) -> list[str]:
        return ["nsenter", "-t", str(self.container_pid), "-m", "-u", "-i", "-n", "-p", "-r", "-w"]

    def _cgroup_procs_files(self) -> list[str]:
        files = []
        for line in Path(f"/proc/{self.container_pid}/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            base = system.CGROUP_ROOT
            if controllers:
                base = base / controllers.replace("name=", "")
            elif not system.cgroup_v2():
                base = base / "unified"
            procs = base / path.lstrip("/") / "cgroup.procs"
            if procs.exists():
                files.append(str(procs))
        return files

    def _popen(self, cmd, **params):
        join = " ".join(f"echo $$ > {shlex.quote(f)};" for f in self._cgroup_procs_files())
        return Host._popen(self, ["sh", "-c", f'{join} exec "$@"', "sh", *cmd], **params)

    def popen(self, *args, **kwargs):
        self._use()
        kwargs.setdefault("mncmd", self.enter_argv())
        return Host.popen(self, *args, **kwargs)

    def startShell(self, mnopts=None):
        """Start the Mininet shell inside the container (Mininet's protocol: prompt chr(127)).

        While the container is still being created in the background, this
        only notes that the shell is owed (see :meth:`realize`).
        """
        if self.shell:
            return
        if isinstance(self._container, Future) and not self._container.done():
            self._deferred_shell = True
            return
        self.pid = self.container_pid
        cmd = self.enter_argv() + ["env", "PS1=" + chr(127), "bash", "--norc", "--noediting",
                                   "-is", "mininet:" + self.name]
        self.master, self.slave = pty.openpty()
        self.shell = self._popen(cmd, stdin=self.slave, stdout=self.slave, stderr=self.slave,
                                 close_fds=False, start_new_session=True)
        self.stdin = os.fdopen(self.master, "r")
        self.stdout = self.stdin
        self.pollOut = select.poll()
        self.pollOut.register(self.stdout)
        self.outToNode[self.stdout.fileno()] = self
        self.inToNode[self.stdin.fileno()] = self
        self.execed, self.lastCmd, self.lastPid, self.readbuf = False, None, None, ""
        output = ""
        deadline = time.monotonic() + 30
        while not output.endswith(chr(127)):
            if self.shell.poll() is not None or time.monotonic() > deadline:
                raise TestbedError(f"no shell in container of {self.name!r}: its image needs bash ({output.strip()[-200:]})")
            if self.pollOut.poll(100):
                output += self.read(1024)
        self.waiting = False
        self.cmd("unset HISTFILE; stty -echo; set +m")

    def container_running(self) -> bool:
        """Whether the host's container still exists and runs."""
        try:
            self.container.reload()
        except Exception:  # NotFound, or the daemon itself is gone
            return False
        return self.container.status == "running"

    def safe_cmd(self, command: str) -> str | None:
        """``cmd(command)``, or None when the container or its shell is gone (no hang, no raise)."""
        if not self.container_running() or self.shell is None or self.shell.poll() is not None:
            return None
        try:
            return self.cmd(command)
        except OSError:
            return None

    def netcmd(self, *args) -> str:
        self._use()
        argv = system.in_netns(self.pid, ["sh", "-c", " ".join(str(a) for a in args)])
        proc = subprocess.run(argv, capture_output=True, text=True)
        return proc.stdout + proc.stderr

    def terminate(self):
        self._kill_shell()
        self.cleanup()
        self.remove_container()

    def _kill_shell(self):
        """Kill the shell, let nsenter reap it, and reap nsenter, before the container goes.

        nsenter forks the shell into the container's PID namespace, where
        interactive bash leads its own process group: a killpg of nsenter's
        group misses it.  Left alive, it is reparented outside the container
        and the daemon's kill then waits about 2 s for the namespace to empty.
        Killing nsenter with it is no better: the orphaned shell is left to the
        container's init as the daemon kills it, and removal again often waits
        2 s (20 hosts: ``net.stop()`` 2.3-2.8 s; killing the shell alone, 1.5-1.7 s).
        """
        if not self.shell or self.shell.poll() is not None:
            return
        try:
            children = [int(pid) for pid in
                        Path(f"/proc/{self.shell.pid}/task/{self.shell.pid}/children").read_text().split()]
        except OSError:
            children = []
        for pid in children or [self.shell.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.shell.wait(timeout=5)  # nsenter exits once its child is reaped
        except subprocess.TimeoutExpired:
            self.shell.kill()
            self.shell.wait()

    def remove_container(self):
        try:
            container = self.container
        except Exception:  # its creation failed: nothing to remove here (cleanup finds strays by label)
            return
        remove_container(container)
        self.run.manifest.remove("containers", container.name)


class DinDHost(DockerHost):
    """A server: a Docker host running its own Docker daemon, VNFs as inner containers.

    The inner daemon listens on its unix socket only.  Images reach it from the
    host's image cache, bind-mounted read-only at ``/sfcbench/images``.
    """

    kind = "dind"
    IMAGE_MOUNT = "/sfcbench/images"
    real_vnfs = True

    @classmethod
    def create(cls, run, name, image, command=None, *, cpu=None, mem=None, log=None, **docker_args):
        """A server's container: the privileges a Docker daemon needs on this machine, the image
        cache read-only, and the daemon's data root on a volume of its own."""
        from testbed.images import CACHE_DIR

        (CACHE_DIR / "images").mkdir(parents=True, exist_ok=True)
        options = privileged_options(run, image, log)
        volumes = {**options.pop("volumes", {}),
                   str(CACHE_DIR / "images"): {"bind": cls.IMAGE_MOUNT, "mode": "ro"},
                   **cls.data_volume(run, name), **docker_args.pop("volumes", {})}
        # docker-init as PID 1 reaps orphans; the daemon is not PID 1 (see the entrypoint).
        return create_container(run, name, image, command, kind=cls.kind, cpu=cpu, mem=mem,
                                volumes=volumes, init=True, **options, **docker_args)

    SERVER_DAEMON_ARGS = ["--iptables=false", "--ip-masq=false"]
    """A testbed server's inner daemon sets up no NAT: most VNFs share the server's network stack, and
    the few with a namespace of their own get the one SNAT rule they need from :meth:`start_vnf`."""

    @classmethod
    def server_params(cls, images, cpu, mem, log=None, vnf_networks=False) -> dict:
        """The server image; its daemon makes a bridge only where a VNF needs a network of its own."""
        args = cls.SERVER_DAEMON_ARGS + ([] if vnf_networks else ["--bridge=none"])
        return {"image": images.dind, "command": args, "cpu": cpu, "mem": mem, "log": log}

    @classmethod
    def prepare_servers(cls, servers, images, run, extra_images=()) -> None:
        """Wait for every inner daemon and load the VNF image, and ``extra_images`` (a user's own VNF
        images), into it from the host's cache."""
        from testbed.images import ensure_image, saved_image

        tars = [saved_image(run.docker, name).name for name in [images.vnf, *(ensure_image(run.docker, n)
                                                                              for n in extra_images)]]
        labels = run.docker.images.get(images.vnf).labels or {}
        # The thin image borrows the server's Python; a full image brings its own.
        mounts = ["-v", "/usr:/usr:ro", "-v", "/etc/ld.so.cache:/etc/ld.so.cache:ro"] \
            if labels.get("sfcbench.thin") == "1" else []

        def ready(node):
            node.vnf_image, node.vnf_mounts = images.vnf, mounts
            node.wait_daemon()
            for tar in tars:
                node.load_image(tar)

        parallel(ready, servers, desc="servers: Docker daemons")

    def start_vnf(self, spec, vnf_args, impl=None):
        """The VNF as an inner container: its own filesystem, processes and cgroup, the server's network.

        Sharing the server's network stack (as processes on a real server do)
        spares a bridge, a published port and NAT per VNF: the VNF listens on
        its virtual link's address and relays from the next link's own (the
        server's route to the next hop names it as source).  ``impl``, a
        :class:`testbed.vnfs.catalogue.Implementation` (None: ``light``),
        runs real software instead of ``vnf.py``; one that needs a network
        namespace of its own gets it, with its port published on the link's
        address and its relayed traffic SNATed to the next link's.
        """
        common = ["run", "-d", "--name", spec.name, "--label", f"sfcbench.chain={spec.chain_id}",
                  "--cpus", f"{min(spec.cpu, os.cpu_count()):g}", "--memory", f"{int(spec.mem)}m"]
        if impl is None:
            self.docker(*common, "--network", "host", *self.vnf_mounts, self.vnf_image, *vnf_args,
                        "--listen", f"{spec.in_ip}:{spec.port}", "--source", spec.out_ip)
            return
        image, mounts = (impl.image, []) if impl.image else (self.vnf_image, self.vnf_mounts)
        if impl.own_network:
            network, listen = ["-p", f"{spec.in_ip}:{spec.port}:{impl.port}"], f"0.0.0.0:{impl.port}"
            next_ip = urlsplit(spec.next_url).hostname
            self.cmd(f"iptables -t nat -I POSTROUTING -d {next_ip}/32 -j SNAT --to-source {spec.out_ip}")
            extra = []
        else:
            network, listen = ["--network", "host"], f"{spec.in_ip}:{spec.port}"
            # The launcher's own stats server, on loopback: one port per VNF of the server.
            extra = ["--stats-port", str(10000 + spec.port)] if impl.image is None else []
        self.docker(*common, *network, *impl.docker_options(), *mounts, image,
                    *impl.command_args(spec.name, [spec.next_url], listen), *extra)

    def fault(self):
        return super().fault() or (None if self.daemon_answers() else f"the Docker daemon of server {self.name} stopped")

    def vnf_sources(self, specs) -> dict:
        """Each VNF's inner container: its own cgroup, and its interfaces where it has a network of its own."""
        from testbed.telemetry import Source, cgroup_dirs_from, host_cgroup_path

        if not specs:
            return {}
        names = " ".join(shlex.quote(s.name) for s in specs)
        out = self.cmd(f"docker inspect -f '{{{{.Name}}}} {{{{.State.Pid}}}}' {names} | "
                       "while read n p; do echo \"== ${n#/}\"; cat /proc/$p/cgroup; done")
        texts, current = {}, None
        for line in out.splitlines():
            if line.startswith("== "):
                current = line[3:].strip()
                texts[current] = []
            elif current and line.count(":") >= 2:
                texts[current].append(line)
        # cgroup v2: the server has a private cgroup namespace rooted at its own cgroup.
        prefix = host_cgroup_path(self.container_pid) if system.cgroup_v2() else ""
        own_ns = os.stat(f"/proc/{self.container_pid}/ns/net").st_ino
        sources = {}
        for spec in specs:
            if not texts.get(spec.name):
                raise TestbedError(f"{self.name}: no cgroup found for VNF container {spec.name}: {out.strip()[-300:]}")
            dirs = cgroup_dirs_from("\n".join(texts[spec.name]), prefix=prefix)
            pids = system.cgroup_procs(dirs["cpu"]) if "cpu" in dirs else []
            netns = next((p for p in pids if _netns_inode(p) not in (None, own_ns)), None)
            sources[spec.name] = Source("vnf", spec.name, cgroup=dirs, netns_pid=netns)
        return sources

    def vnf_log_tail(self, spec, lines: int = 20) -> str:
        return self.cmd(f"docker logs --tail {lines} {shlex.quote(spec.name)} 2>&1")

    def daemon_answers(self) -> bool:
        """Whether the inner Docker daemon answers (False also when the server is gone)."""
        out = self.safe_cmd("timeout 5 docker version --format '{{.Server.Version}}' 2>&1")
        return bool(out and re.search(r"^\d+\.\d+", out.strip()))

    @staticmethod
    def data_volume(run, name: str) -> dict:
        """A labelled volume for the inner daemon's data root, as a docker-py ``volumes`` entry.

        Named and labelled with the run, so cleanup finds it even when the
        server's container was removed by someone else (an anonymous volume
        would be orphaned); on the host's filesystem, so overlay2 works inside.
        """
        volume = run.docker.volumes.create(f"{run.name}-{name}-docker", labels=run.labels(node=name))
        return {volume.name: {"bind": "/var/lib/docker", "mode": "rw"}}

    def remove_container(self):
        super().remove_container()
        import docker

        try:
            self.run.docker.volumes.get(f"{self.run.name}-{self.name}-docker").remove(force=True)
        except docker.errors.NotFound:
            pass

    def wait_daemon(self, timeout: float = 60.0) -> None:
        """Block until the inner Docker daemon answers (polling, never a fixed sleep)."""
        # Wait for the socket with the shell's own test (the docker CLI costs ~25 ms of CPU a call, and
        # twenty servers start their daemons at once on two cores), then ask the daemon itself.
        out = self.cmd(
            f"for i in $(seq 1 {int(timeout * 20)}); do [ -S /var/run/docker.sock ] && "
            "docker version >/dev/null 2>&1 && break; sleep 0.05; done; "
            "docker version --format '{{.Server.Version}}' 2>&1"
        )
        if not re.search(r"^\d+\.\d+", out.strip()):
            logs = self.container.logs(tail=15).decode(errors="replace")
            raise TestbedError(f"the Docker daemon in {self.name!r} did not answer within {timeout} s: {out.strip()} {logs}")

    def docker(self, *args) -> str:
        """Run the inner ``docker`` CLI with ``args``; raise on failure."""
        out = self.cmd("docker " + " ".join(shlex.quote(str(a)) for a in args) + "; echo \"rc=$?\"")
        body, _, rc = out.rstrip().rpartition("rc=")
        if rc.strip() != "0":
            raise TestbedError(f"{self.name}: docker {' '.join(map(str, args))} failed: {body.strip()}")
        return body.strip()

    def load_image(self, tar_name: str) -> None:
        self.docker("load", "-q", "-i", f"{self.IMAGE_MOUNT}/{tar_name}")

    def terminate(self):
        # Inner containers first, so their cgroups go with them.
        self.safe_cmd("timeout 20 docker rm -f $(docker ps -aq) >/dev/null 2>&1")
        super().terminate()
