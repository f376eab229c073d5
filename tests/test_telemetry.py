"""Telemetry sampler on real processes (no testbed): CPU, memory and interface counters, tidy output."""

import os
import subprocess
import sys
import time

import pytest

from testbed import system
from testbed.telemetry import COLUMNS, Sampler, Source, cgroup_dirs, cgroup_dirs_from, machine_source, mean_by_entity


@pytest.fixture
def busy_and_idle():
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    idle = subprocess.Popen(["sleep", "30"])
    yield busy, idle
    for p in (busy, idle):
        p.kill()
        p.wait()


def test_a_busy_process_uses_a_core_and_an_idle_one_none(busy_and_idle):
    busy, idle = busy_and_idle
    sources = [Source("vnf", "busy", pids=(busy.pid,), netns_pid=os.getpid()), Source("vnf", "idle", pids=(idle.pid,))]
    with Sampler(sources, hz=20) as sampler:
        time.sleep(1.5)
    frame = sampler.frame()
    assert list(frame.columns) == COLUMNS
    cpu = mean_by_entity(frame, "cpu_cores", t_from=0.2)
    assert cpu["busy"] > 0.3 and cpu["idle"] < 0.05, cpu  # a whole core when the machine is idle
    assert mean_by_entity(frame, "memory_mib")["busy"] > 1
    assert len(frame[(frame.entity == "busy") & (frame.metric == "memory_mib")]) >= 20 * 1.5 * 0.8
    assert {"rx_mbit_s", "tx_pkt_s"} <= set(frame[frame.entity == "busy"].metric)  # interface counters
    assert "rx_mbit_s" not in set(frame[frame.entity == "idle"].metric)  # no namespace given: none counted


def test_a_process_that_ends_stops_being_sampled_without_error():
    proc = subprocess.Popen(["sleep", "0.3"])
    with Sampler([Source("client", "short", pids=(proc.pid,))], hz=20) as sampler:
        proc.wait()
        time.sleep(0.5)
    frame = sampler.frame()
    assert frame.time_s.max() < 0.5 + 0.2  # nothing sampled once it was gone


def test_cgroup_v1_lines_name_the_cpuacct_and_memory_directories(monkeypatch):
    monkeypatch.setattr(system, "cgroup_v2", lambda: False)
    dirs = cgroup_dirs_from("12:pids:/a\n4:cpuacct:/sfcbench-x/abc/docker/def\n5:memory:/sfcbench-x/abc\n")
    assert dirs["cpu"] == system.CGROUP_ROOT / "cpuacct" / "sfcbench-x/abc/docker/def"
    assert dirs["memory"] == system.CGROUP_ROOT / "memory" / "sfcbench-x/abc"


def test_cgroup_v2_paths_inside_a_private_namespace_are_prefixed(monkeypatch):
    monkeypatch.setattr(system, "cgroup_v2", lambda: True)
    dirs = cgroup_dirs_from("0::/docker/def\n", prefix="/system.slice/docker-abc.scope")
    assert dirs["cpu"] == system.CGROUP_ROOT / "system.slice/docker-abc.scope/docker/def" == dirs["memory"]


def test_this_process_cgroup_is_found_and_readable():
    dirs = cgroup_dirs(os.getpid())
    assert {"cpu", "memory"} <= set(dirs) and all(d.is_dir() for d in dirs.values())


def test_a_bad_rate_is_refused():
    with pytest.raises(ValueError, match="telemetry rate"):
        Sampler([], hz=0)


def test_the_machine_itself_is_sampled(busy_and_idle):
    with Sampler([machine_source()], hz=10) as sampler:
        time.sleep(1.0)
    frame = sampler.frame()
    cpu = mean_by_entity(frame, "cpu_cores", t_from=0.2)[machine_source().name]
    assert 0.3 < cpu <= os.cpu_count() + 0.1, cpu  # the busy loop at least; never more than every core
    assert 100 < mean_by_entity(frame, "memory_mib")[machine_source().name] < 2**30
    assert set(frame.entity_kind) == {"machine"}
