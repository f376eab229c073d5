"""Telemetry: CPU, memory and network counters of every VNF, server and client, sampled during a measurement.

A :class:`Source` names where one entity's counters live: a cgroup (a
container: CPU time and memory of everything in it), or a set of processes
(a VNF that is a plain process, a load generator), and the ``/proc/<pid>/net/dev``
of its network namespace.  A :class:`Sampler` reads every source at a fixed
rate (10 Hz by default) in a thread of its own and turns the counters into a
tidy frame: time, entity kind, entity, metric, value (kinds ``vnf``,
``server``, ``client`` and ``machine``: the host itself), with metrics
``cpu_cores``, ``memory_mib``, ``rx_mbit_s``, ``tx_mbit_s``, ``rx_pkt_s`` and
``tx_pkt_s``.  Reading a few small files per entity is cheap enough to keep
up with 100 entities at 10 Hz on two cores.
"""

from __future__ import annotations

import os
import platform
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from testbed import system

METRICS = ("cpu_cores", "memory_mib", "rx_mbit_s", "tx_mbit_s", "rx_pkt_s", "tx_pkt_s")
COLUMNS = ["time_s", "entity_kind", "entity", "metric", "value"]


@dataclass
class Source:
    """Where one entity's counters are read.

    ``cgroup`` maps a controller (``cpu``, ``memory``) to its directory;
    without it, CPU and memory are the sum over ``pids`` (and their threads).
    ``netns_pid`` is a process in the entity's network namespace (None: the
    entity has no interfaces of its own, such as a VNF that shares its
    server's stack); ``lo`` is never counted.
    """

    kind: str
    name: str
    cgroup: dict[str, Path] = field(default_factory=dict)
    pids: tuple[int, ...] = ()
    netns_pid: int | None = None
    whole_machine: bool = False  # the machine itself: all its CPUs and memory (kind "machine")


def machine_source() -> Source:
    """The machine the testbed runs on, so a reader can see whether the host itself was the bottleneck."""
    return Source("machine", platform.node(), whole_machine=True)


def cgroup_dirs(pid: int, *, prefix: str = "") -> dict[str, Path]:
    """The ``cpu`` and ``memory`` cgroup directories of process ``pid`` as the host sees them.

    ``/proc/<pid>/cgroup`` may be read in another namespace: ``prefix`` is
    then where that namespace's cgroup root is on the host (cgroup v2 with a
    private cgroup namespace; v1 here shares the host's).
    """
    return cgroup_dirs_from(Path(f"/proc/{pid}/cgroup").read_text(), prefix=prefix)


def cgroup_dirs_from(text: str, *, prefix: str = "") -> dict[str, Path]:
    """:func:`cgroup_dirs` from the text of a ``/proc/<pid>/cgroup`` file."""
    dirs = {}
    for line in text.splitlines():
        _, controllers, path = line.strip().split(":", 2)
        path = (prefix.rstrip("/") + "/" + path.lstrip("/")).lstrip("/")
        if system.cgroup_v2():
            if controllers == "":
                dirs = {"cpu": system.CGROUP_ROOT / path, "memory": system.CGROUP_ROOT / path}
            continue
        names = controllers.split(",")
        if "cpuacct" in names:
            dirs["cpu"] = system.CGROUP_ROOT / controllers / path
            if not dirs["cpu"].exists():
                dirs["cpu"] = system.CGROUP_ROOT / "cpuacct" / path
        if "memory" in names:
            dirs["memory"] = system.CGROUP_ROOT / "memory" / path
    return dirs


def host_cgroup_path(pid: int) -> str:
    """The unified (v2) cgroup path of ``pid`` relative to the host's root, for :func:`cgroup_dirs`'s prefix."""
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        if line.startswith("0::"):
            return line[3:]
    return ""


def _read(path: Path | str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except OSError:  # the entity went away: its counters end
        return None


def _stat_value(text: str, key: str) -> int:
    for line in text.splitlines():
        k, _, v = line.partition(" ")
        if k == key:
            return int(v)
    return 0


_TICK_NS = 1e9 / os.sysconf("SC_CLK_TCK")


def cpu_ns(source: Source) -> int | None:
    """CPU time used so far, in ns (for the machine: every CPU's time not idle)."""
    if source.whole_machine:
        text = _read("/proc/stat")
        if text is None:
            return None
        ticks = [int(v) for v in text.split("\n", 1)[0].split()[1:]]
        return int((sum(ticks[:8]) - ticks[3] - ticks[4]) * _TICK_NS)  # all but idle and iowait; no guest twice
    directory = source.cgroup.get("cpu")
    if directory is not None:
        if system.cgroup_v2():
            text = _read(directory / "cpu.stat")
            return None if text is None else _stat_value(text, "usage_usec") * 1000
        text = _read(directory / "cpuacct.usage")
        return None if text is None else int(text)
    total, seen = 0, False
    for pid in source.pids:
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for task in tasks:
            text = _read(f"/proc/{pid}/task/{task}/schedstat")
            if text:
                total, seen = total + int(text.split()[0]), True
    return total if seen else None


def memory_bytes(source: Source) -> int | None:
    """Memory in use, without the reclaimable file cache (as ``docker stats`` counts it)."""
    if source.whole_machine:
        info = dict(line.split(":", 1) for line in (_read("/proc/meminfo") or "").splitlines() if ":" in line)
        try:
            return (int(info["MemTotal"].split()[0]) - int(info["MemAvailable"].split()[0])) * 1024
        except (KeyError, ValueError):
            return None
    directory = source.cgroup.get("memory")
    if directory is not None:
        if system.cgroup_v2():
            current, stat = _read(directory / "memory.current"), _read(directory / "memory.stat")
            if current is None or stat is None:
                return None
            return int(current) - _stat_value(stat, "inactive_file")
        usage, stat = _read(directory / "memory.usage_in_bytes"), _read(directory / "memory.stat")
        if usage is None or stat is None:
            return None
        return int(usage) - _stat_value(stat, "total_inactive_file")
    total, seen = 0, False
    for pid in source.pids:
        text = _read(f"/proc/{pid}/status")
        for line in (text or "").splitlines():
            if line.startswith("VmRSS:"):
                total, seen = total + int(line.split()[1]) * 1024, True
    return total if seen else None


def net_counters(pid: int) -> tuple[int, int, int, int] | None:
    """rx bytes, rx packets, tx bytes, tx packets over the interfaces (but ``lo``) of ``pid``'s namespace."""
    text = _read(f"/proc/{pid}/net/dev")
    if text is None:
        return None
    rx_b = rx_p = tx_b = tx_p = 0
    for line in text.splitlines()[2:]:
        name, _, values = line.partition(":")
        if name.strip() == "lo":
            continue
        v = values.split()
        rx_b, rx_p, tx_b, tx_p = rx_b + int(v[0]), rx_p + int(v[1]), tx_b + int(v[8]), tx_p + int(v[9])
    return rx_b, rx_p, tx_b, tx_p


class Sampler:
    """Sample ``sources`` every ``1 / hz`` s in a background thread, between :meth:`start` and :meth:`stop`.

    Use as a context manager around a measurement; :meth:`frame` then gives
    the tidy samples, with time in seconds from ``t0`` (default: the start).
    """

    def __init__(self, sources: list[Source], hz: float = 10.0, t0: float | None = None):
        if not hz > 0:
            raise ValueError(f"telemetry rate must be > 0 Hz, not {hz}")
        self.sources, self.period, self.t0 = list(sources), 1.0 / hz, t0
        self._raw: list[tuple] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, source: Source) -> None:
        """Sample ``source`` too, from the next tick on (a client started during the measurement)."""
        with self._lock:
            self.sources.append(source)

    def _sample(self) -> None:
        now = time.monotonic()
        with self._lock:
            sources = list(self.sources)
        for i, s in enumerate(sources):
            try:
                net = net_counters(s.netns_pid) if s.netns_pid else None
                self._raw.append((now, i, cpu_ns(s), memory_bytes(s), net))
            except (ValueError, IndexError):  # a file caught half-written as its entity went away
                continue

    def _loop(self) -> None:
        due = time.monotonic()
        while not self._stop.is_set():
            self._sample()
            due += self.period
            # A late tick is taken at once, not skipped: rates divide by the real interval.
            self._stop.wait(max(0.0, due - time.monotonic()))
        self._sample()

    def start(self) -> "Sampler":
        if self.t0 is None:
            self.t0 = time.monotonic()
        self._thread = threading.Thread(target=self._loop, name="telemetry", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def frame(self, t0: float | None = None) -> pd.DataFrame:
        """Tidy samples: one row per (time, entity, metric); rates over the interval that ends at ``time_s``.

        Times count from ``t0`` (a :func:`time.monotonic` reading; default: when sampling started).
        """
        t0 = self.t0 if t0 is None else t0
        rows, last = [], {}
        for now, i, cpu, mem, net in self._raw:
            s = self.sources[i]
            t = now - t0
            if mem is not None:
                rows.append((t, s.kind, s.name, "memory_mib", mem / 2**20))
            prev = last.get(i)
            last[i] = (now, cpu, net)
            if prev is None or now <= prev[0]:
                continue
            dt = now - prev[0]
            if cpu is not None and prev[1] is not None:
                rows.append((t, s.kind, s.name, "cpu_cores", max(0, cpu - prev[1]) / 1e9 / dt))
            if net is not None and prev[2] is not None:
                d = [max(0, a - b) / dt for a, b in zip(net, prev[2])]
                rows += [(t, s.kind, s.name, "rx_mbit_s", d[0] * 8 / 1e6), (t, s.kind, s.name, "rx_pkt_s", d[1]),
                         (t, s.kind, s.name, "tx_mbit_s", d[2] * 8 / 1e6), (t, s.kind, s.name, "tx_pkt_s", d[3])]
        return pd.DataFrame(rows, columns=COLUMNS)


def process_pids(candidates, marker: str) -> tuple[int, ...]:
    """Those of ``candidates`` (host pids) whose command line has the argument ``marker``."""
    found = []
    for pid in candidates:
        cmdline = _read(f"/proc/{pid}/cmdline")
        if cmdline and marker in cmdline.split("\0"):
            found.append(pid)
    return tuple(found)


def mean_by_entity(frame: pd.DataFrame, metric: str, t_from: float = 0.0, t_to: float = float("inf")) -> pd.Series:
    """The mean of ``metric`` per entity between two times (a summary for results and tests)."""
    sel = frame[(frame.metric == metric) & (frame.time_s > t_from) & (frame.time_s <= t_to)]
    return sel.groupby("entity")["value"].mean()
