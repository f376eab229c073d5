"""Faults during a run on the real stack: the run notices, records them, keeps going, cleans up.

Each test counts the project's containers, namespaces, cgroups and processes
before and after.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from placement.model import Chain, Embedding, Placement
from placement.topologies import line
from placement.workload import DEFAULT_CATALOGUE
from testbed.cleanup import remove_container
from testbed.deploy import Testbed
from tests.testbed_helpers import project_leftovers, skip_without_testbed

pytestmark = [pytest.mark.testbed, skip_without_testbed]
ROOT = Path(__file__).resolve().parents[1]


def one_chain_per_server(n=3):
    """``n`` servers, chain ``c<i>`` wholly on server ``srv<i>``, plus a second chain on srv0."""
    g = line(n, cpu=2, mem=2048, delay=0.0)
    fw = DEFAULT_CATALOGUE["firewall"]
    chains, embeddings = [], {}
    for i, srv in enumerate([f"srv{k}" for k in range(n)] + ["srv0"]):
        c = Chain(f"c{i}", (fw,), srv, srv)
        chains.append(c)
        embeddings[c.id] = Embedding(c.id, (srv,), ((srv,), (srv,)))
    return g, chains, Placement(embeddings)


def test_killed_vnf_stopped_daemon_and_removed_server_are_recorded():
    assert project_leftovers() == {}
    g, chains, placement = one_chain_per_server()
    with Testbed(g, chains, placement, log=lambda *_: None) as tb:
        s0, s1, s2 = (tb.nodes[tb.plan.names[f"srv{i}"]] for i in range(3))
        s0.docker("kill", "c0-1-firewall")  # a VNF container dies
        s1.cmd("kill $(cat /run/sfcbench-dockerd.pid)")  # an inner Docker daemon stops
        remove_container(tb.run.docker.containers.get(s2.container.id))  # a server disappears
        rows = {r["chain_id"]: r for r in tb.measure(requests=5)}
        run_id = tb.info["run_id"]
    assert rows["c0"]["status"] == "error" and "c0-1-firewall" in rows["c0"]["reason"]
    assert rows["c1"]["status"] == "error" and "Docker daemon" in rows["c1"]["reason"]
    assert rows["c2"]["status"] == "error" and "is gone" in rows["c2"]["reason"]
    # The other chain on the server that lost a VNF is still measured as usual.
    assert rows["c3"]["status"] == "ok" and rows["c3"]["errors"] == 0 and rows["c3"]["trace_ok"]
    assert project_leftovers(run_id) == {} and project_leftovers() == {}


def test_vnf_killed_mid_measurement():
    g, chains, placement = one_chain_per_server(1)
    with Testbed(g, chains, placement, log=lambda *_: None) as tb:
        server = tb.nodes[tb.plan.names["srv0"]]
        killer = threading.Timer(0.5, lambda: subprocess.run(
            ["docker", "exec", server.container.id, "docker", "kill", "c0-1-firewall"], capture_output=True))
        killer.start()
        results = tb.request("c0", 40, interval=0.05)
        killer.join()
        ok = [r for r in results if r["status"] == 200]
        assert 0 < len(ok) < 40  # some before the kill, none after
        assert results[-1]["error"]  # the client gave up instead of waiting out every timeout
        assert "c0-1-firewall" in tb.diagnose("c0")
        # The other chain, on the same server, is unaffected.
        assert [r["status"] for r in tb.request("c1", 3)] == [200] * 3
    assert project_leftovers() == {}


def wait_for(proc, text, timeout=120):
    """Read ``proc``'s merged output until a line containing ``text``; the lines read."""
    lines, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if text in line:
            return lines
    raise AssertionError(f"{text!r} never appeared:\n{''.join(lines)}")


@pytest.mark.parametrize("step,marker", [("deployment", "testbed: run"), ("measurement", "testbed: up in")])
def test_ctrl_c_tears_down_and_keeps_earlier_results(tmp_path, step, marker):
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / "results.parquet").write_bytes(b"earlier results")
    out = tmp_path / "run"
    # Ctrl-C as in a terminal, also when these tests run as a background job (which ignores SIGINT, and
    # passes that on to its children).
    proc = subprocess.Popen(
        [sys.executable, "-m", "experiments.run", "algo=greedy", "progress=false", "testbed.requests=2000",
         f"hydra.run.dir={out}"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        wait_for(proc, marker)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode != 0
    assert not (out / "results.parquet").exists()
    assert (earlier / "results.parquet").read_bytes() == b"earlier results"
    assert project_leftovers() == {}


@pytest.mark.parametrize("after_s", [0.5, 1.5, 3.0])
def test_sigkill_during_bring_up_then_cleanup_leaves_nothing(tmp_path, after_s):
    """Killed at some point of deployment (containers, daemons, links, VNFs), then cleaned up."""
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "experiments.run", "algo=greedy", "progress=false", f"hydra.run.dir={out}"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = wait_for(proc, "testbed: run")
    run_id = next(line.split("testbed: run ")[1].split(",")[0] for line in lines if "testbed: run " in line)
    time.sleep(after_s)
    proc.kill()
    proc.wait()
    subprocess.run([sys.executable, "-m", "testbed.cleanup", run_id], cwd=ROOT, check=True, capture_output=True)
    assert project_leftovers(run_id) == {}
    assert not (out / "results.parquet").exists()
