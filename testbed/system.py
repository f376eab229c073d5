"""Small wrappers over the kernel tools the testbed drives (ip, tc, cgroups).

Each raises :class:`TestbedError` with the command and its output on failure,
so a broken step names itself instead of surfacing later as a timeout.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from tqdm.auto import tqdm

CGROUP_ROOT = Path("/sys/fs/cgroup")

CONTAINER_REMOVAL = threading.Lock()
"""Held while Docker removes a container that has a network endpoint: one at a time.  Docker 20.10
(Debian 12's) deadlocks when two containers leave the same network at once (moby#42545, a lock-order
inversion between a leaving sandbox and the endpoint watch loop, fixed in 20.10.27): every API call then
hangs until the daemon is restarted.  The testbed's own containers have networking disabled (no endpoint)
and need no such care."""


class TestbedError(RuntimeError):
    """A testbed step failed; the message says which and how to fix it."""

    __test__ = False  # not a pytest test class


def run(cmd: list[str] | str, *, check: bool = True, timeout: float = 60, input: str | None = None) -> str:
    """Run ``cmd`` on the host and return its stdout; raise TestbedError on failure."""
    argv = cmd.split() if isinstance(cmd, str) else [str(c) for c in cmd]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input)
    except FileNotFoundError as exc:
        raise TestbedError(f"{argv[0]} is not installed: run `make setup` (scripts/setup-system.sh)") from exc
    except subprocess.TimeoutExpired as exc:
        raise TestbedError(f"`{' '.join(argv)}` did not finish within {timeout} s") from exc
    if check and proc.returncode != 0:
        raise TestbedError(f"`{' '.join(argv)}` failed ({proc.returncode}): {(proc.stderr or proc.stdout).strip()}")
    return proc.stdout


def in_netns(pid: int | None, argv: list[str]) -> list[str]:
    """``argv`` prefixed to run the host's binary in the network namespace of ``pid``.

    Only the network namespace is entered, so tools (ip, tc, ethtool) come from
    the host and need not exist in a container's image.
    """
    if pid is None:
        return list(argv)
    return ["nsenter", f"--net=/proc/{pid}/ns/net", "--", *argv]


def require_root() -> None:
    """Raise a clear error unless running as root (Mininet and Docker need it)."""
    if os.geteuid() != 0:
        raise TestbedError("the testbed needs root: run it with sudo, or use testbed=none for placement only")


@functools.cache
def netem_available() -> bool:
    """Whether the kernel has ``sch_netem``, tried in a throw-away namespace."""
    proc = subprocess.run(
        ["unshare", "--net", "tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"],
        capture_output=True,
    )
    return proc.returncode == 0


def delay_mechanism(requested: str = "auto") -> str:
    """Resolve ``auto`` to ``netem`` where the kernel has it, else ``userspace``."""
    if requested not in ("auto", "netem", "userspace"):
        raise TestbedError(f"delay mechanism {requested!r} unknown: use auto, netem or userspace")
    if requested == "auto":
        return "netem" if netem_available() else "userspace"
    if requested == "netem" and not netem_available():
        raise TestbedError("this kernel has no sch_netem: use delay_mechanism=userspace (or auto)")
    return requested


# -- cgroups: every host process a run starts lives in the run's pids cgroup ---------


def cgroup_v2() -> bool:
    return (CGROUP_ROOT / "cgroup.controllers").exists()


def run_cgroup_path(name: str) -> Path:
    """Path of the cgroup ``name`` that holds a run's processes (v1: pids controller)."""
    return CGROUP_ROOT / name if cgroup_v2() else CGROUP_ROOT / "pids" / name


def cgroup_procs(path: Path) -> list[int]:
    try:
        return [int(p) for p in (path / "cgroup.procs").read_text().split()]
    except OSError:
        return []


def kill_cgroup(path: Path, timeout: float = 5.0) -> None:
    """Kill every process in the cgroup at ``path`` (and its children), then remove it."""
    if not path.exists():
        return
    deadline = time.monotonic() + timeout
    while True:
        pids = [pid for p in [path, *_subdirs(path)] for pid in cgroup_procs(p)]
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if time.monotonic() > deadline:
            raise TestbedError(f"processes {pids} in {path} survive SIGKILL")
        time.sleep(0.02)
    remove_cgroup_tree(path)


def remove_cgroup_tree(path: Path) -> None:
    """rmdir a cgroup and its empty descendants, deepest first."""
    if not path.exists():
        return
    for sub in sorted(_subdirs(path), key=lambda p: -len(p.parts)):
        _rmdir(sub)
    _rmdir(path)


def _subdirs(path: Path) -> list[Path]:
    """Every directory below ``path``; one that vanishes meanwhile (Docker removing a container's cgroup)
    is skipped, as ``os.walk`` skips what it cannot list."""
    return [Path(root) / d for root, dirs, _ in os.walk(path) for d in dirs]


def _rmdir(path: Path) -> None:
    for _ in range(50):
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.02)  # the kernel frees a cgroup a moment after its last task
    path.rmdir()


def cgroup_dirs(prefix: str) -> list[Path]:
    """Every cgroup directory, in any hierarchy, whose name starts with ``prefix``."""
    found = []
    roots = [CGROUP_ROOT] if cgroup_v2() else [p for p in CGROUP_ROOT.iterdir() if p.is_dir()]
    for root in roots:
        found.extend(p for p in root.glob(f"{prefix}*") if p.is_dir())
    return found


# -- network namespaces -------------------------------------------------------------


def netns_list() -> list[str]:
    return [line.split()[0] for line in run(["ip", "netns", "list"]).splitlines() if line.strip()]


def netns_delete(name: str) -> None:
    """Kill what runs inside the named namespace, then delete it."""
    for pid in run(["ip", "netns", "pids", name], check=False).split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass
    run(["ip", "netns", "delete", name], check=False)


def which(tool: str) -> str:
    path = shutil.which(tool)
    if not path:
        raise TestbedError(f"{tool} is not installed: run `make setup` (scripts/setup-system.sh)")
    return path


def parallel(fn, items, workers=8, desc=None):
    """``[fn(x) for x in items]`` on a thread pool; a progress bar named ``desc`` on a terminal."""
    items = list(items)
    if not items:
        return []
    with ThreadPoolExecutor(min(workers, len(items))) as pool, \
            tqdm(total=len(items), desc=desc, unit="", disable=None if desc else True, leave=False) as bar:
        futures = [pool.submit(fn, x) for x in items]
        for future in as_completed(futures):
            future.result()
            bar.update()
        return [f.result() for f in futures]
