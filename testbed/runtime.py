"""Run identity and the record of what a run created.

Every testbed run gets a short id.  Everything it creates carries that id: Docker
objects a ``sfcbench.run=<id>`` label, network namespaces and cgroups the
``sfcbench-<id>`` prefix (the run's host processes live in that cgroup), and
the rest an entry in the run's manifest under ``/run/sfcbench``.
:mod:`testbed.cleanup` reads manifests and labels to remove what a killed run
left, and nothing else.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from testbed import system
from testbed.cleanup import remove_run
from testbed.images import docker_client
from testbed.manifest import LABEL, PREFIX, STATE_DIR, Manifest, new_run_id
from testbed.system import TestbedError

LOCK_TIMEOUT = float(os.environ.get("SFCBENCH_LOCK_TIMEOUT", 900))


def acquire_machine_lock(timeout: float = LOCK_TIMEOUT):
    """Hold the machine-wide testbed lock: only one testbed runs at a time.

    A second run waits for the first (saying so once) and gives up after
    ``timeout`` seconds.  The kernel drops the lock when its holder dies, so a
    killed run never blocks the next one.
    """
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    f = open(STATE_DIR / "testbed.lock", "a+")
    deadline = time.monotonic() + timeout
    told = False
    while True:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() > deadline:
                f.close()
                raise TestbedError(f"another testbed run has held {f.name} for {timeout:.0f} s; "
                                   "wait for it, or clean up a dead one with `python -m testbed.cleanup --all`")
            if not told:
                print("testbed: another testbed run is active on this machine; waiting for it",
                      file=sys.stderr, flush=True)
                told = True
            time.sleep(0.2)
    f.seek(0), f.truncate(), f.write(str(os.getpid())), f.flush()
    return f


class Run:
    """One testbed run: its id, manifest, process cgroup and link namespace.

    Processes the run starts on the host join the cgroup ``sfcbench-<id>/procs``;
    its Docker containers use ``sfcbench-<id>`` as cgroup parent, so one cgroup
    tree holds everything and cleanup can kill exactly that.  ``close()``
    removes it all (it is what :mod:`testbed.cleanup` does for a dead run).
    """

    def __init__(self, run_id: str | None = None, *, delay: str = "auto"):
        system.require_root()
        self._machine_lock = acquire_machine_lock()
        self.id = run_id or new_run_id()
        self.name = f"{PREFIX}-{self.id}"
        self.manifest = Manifest(self.id)
        self.cgroup = system.run_cgroup_path(self.name)
        self.procs_cgroup = self.cgroup / "procs"
        self.delay = system.delay_mechanism(delay)
        self._links_ns: str | None = None
        self._docker = None
        self.procs_cgroup.mkdir(parents=True, exist_ok=True)
        self.manifest.add("cgroups", str(self.cgroup))

    def spawn_prefix(self) -> list[str]:
        """argv prefix that moves the process into the run's cgroup, then execs the rest."""
        procs = self.procs_cgroup / "cgroup.procs"
        return ["sh", "-c", f'echo $$ > {procs} && exec "$@"', "sh"]

    def popen(self, argv: list[str], *, netns: str | None = None, **kwargs):
        """Start a host process inside the run's cgroup (optionally in a named netns)."""
        if netns:
            argv = ["ip", "netns", "exec", netns, *argv]
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        return subprocess.Popen(self.spawn_prefix() + [str(a) for a in argv], **kwargs)

    @property
    def links_ns(self) -> str:
        """Name of the namespace that holds the middle of user-space-delayed links."""
        if self._links_ns is None:
            self.manifest.add("netns", self.name)
            system.run(["ip", "netns", "add", self.name])
            system.run(["ip", "netns", "exec", self.name, "ip", "link", "set", "lo", "up"])
            self._links_ns = self.name
        return self._links_ns

    @property
    def tmpdir(self) -> Path:
        """A scratch directory for this run's logs and files, removed by cleanup."""
        path = Path(tempfile.gettempdir()) / self.name
        if not path.exists():
            self.manifest.add("paths", str(path))
            path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def docker(self):
        """A docker-py client; a clear error when no daemon answers."""
        if self._docker is None:
            self._docker = docker_client()
        return self._docker

    def labels(self, **extra) -> dict:
        return {LABEL: self.id, **{f"sfcbench.{k}": str(v) for k, v in extra.items()}}

    def close(self) -> None:
        """Remove everything this run created that is still there (once; later calls do nothing)."""
        if self._machine_lock is None:
            return
        try:
            remove_run(self.id, docker_client=self._docker)
        finally:
            if self._machine_lock is not None:
                self._machine_lock.close()  # releases the flock
                self._machine_lock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
