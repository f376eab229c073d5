"""The testbed over two machines of a Ray cluster, stood up on this one (``testbed.cluster``).

Two Ray nodes stand for machines m1 and m2 (plus a head with neither name,
where this test is the driver).  Each owns an underlay namespace with its
own address, the two joined by a veth like NICs on a LAN, and its own state
directory (its own testbed lock and manifests), all given through the
environment Ray starts the node with, as on a real machine.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from placement.model import VNF, Chain, Embedding, Placement
from placement.topologies import line
from testbed.system import TestbedError
from tests.testbed_helpers import project_leftovers, skip_without_testbed

ray = pytest.importorskip("ray")
pytestmark = [pytest.mark.testbed, skip_without_testbed]
ROOT = Path(__file__).resolve().parents[1]
MACHINES = ("m1", "m2")
NO_DOCKER = "m3"  # a third machine whose Docker daemon does not answer


@pytest.fixture(scope="module")
def cluster():
    """A Ray head and machines m1, m2 (and m3, without Docker) with underlays joined like NICs on a LAN;
    all removed after."""
    from testbed.localcluster import LocalCluster

    with LocalCluster([*MACHINES, NO_DOCKER], env={NO_DOCKER: {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}}) as c:
        yield c


def leftovers(cluster, run_id: str) -> dict:
    """What of cluster run ``run_id`` is on 'any machine': its shares' containers, namespaces, cgroups and
    processes, manifests in the machines' state directories, devices in their underlays."""
    found = {}
    for m in MACHINES:
        found |= {f"{m} {k}": v for k, v in project_leftovers(f"{run_id}-{m}").items() if k != "manifests"}
        manifests = sorted(p.name for p in cluster.state[m].glob("*.json"))
        devices = sorted(cluster.underlay_devices(m))
        found |= {f"{m} {k}": v for k, v in (("manifests", manifests), ("underlay devices", devices)) if v}
    return found


def two_machine_chain(host_kind_delay=10.0, bw=10.0):
    """srv0 - srv1 - srv2; srv2 on m2, the rest on m1: the srv1-srv2 link (10 ms, 10 Mbit/s) crosses machines.
    A firewall on srv0 and an IDS on srv2, so the chain crosses too."""
    g = line(3, cpu=2, mem=2048, bw=100, delay=1.0)
    s0, s1, s2 = sorted(g.nodes)
    g.edges[s1, s2].update(delay=host_kind_delay, bw=bw)
    chain = Chain("c0", (VNF("firewall", 0.2, 64), VNF("ids", 0.2, 64)), ingress=s0, egress=s2, bw=1)
    emb = Embedding("c0", (s0, s2), ((s0,), (s0, s1, s2), (s2,)))
    return g, chain, Placement({"c0": emb}), {s0: "m1", s1: "m1", s2: "m2"}


def test_a_chain_across_two_machines_measures_as_on_one(cluster):
    from testbed.cluster import ClusterTestbed
    from testbed.deploy import Testbed

    g, chain, placement, mapping = two_machine_chain()
    with Testbed(g, [chain], placement, log=lambda *_: None) as tb:
        one = tb.measure(requests=40)[0]
    with ClusterTestbed(g, [chain], placement, machines=mapping, log=lambda *_: None) as ctb:
        two = ctb.measure(requests=40)[0]
        info = dict(ctb.info)
    assert leftovers(cluster, info["run_id"]) == {}
    assert one["status"] == two["status"] == "ok" and one["trace_ok"] and two["trace_ok"], (one, two)
    expected = {"c0-1-firewall": 42, "c0-2-ids": 42}  # 2 warm-up requests each
    assert one["vnf_counters"] == two["vnf_counters"] == expected
    assert abs(two["p50_ms"] - one["p50_ms"]) <= 0.05 * one["p50_ms"], (one["p50_ms"], two["p50_ms"])
    assert two["machines"] == ["m1", "m2"]
    assert info["cut_links"] == 1 and info["machines"] == ["m1", "m2"]
    assert set(info["machine_util"]) == {"m1", "m2"}
    assert all(u["cpu_cores_mean"] > 0 and u["memory_mib_mean"] > 0 for u in info["machine_util"].values())


def test_a_cut_link_keeps_its_delay_and_bandwidth_and_carries_load(cluster):
    from testbed.cluster import ClusterTestbed

    g, chain, placement, mapping = two_machine_chain()
    with ClusterTestbed(g, [chain], placement, machines=mapping, host_kind="process", log=lambda *_: None) as ctb:
        s1, s2 = ctb.plan.names["srv1"], ctb.plan.names["srv2"]
        spec = next(s for s in ctb.plan.links if {s.a, s.b} == {s1, s2})
        far = spec.ip_b if spec.a == s1 else spec.ip_a
        ctb.cmd(s1, f"ping -n -c 2 {far}")
        out = ctb.cmd(s1, f"ping -n -c 10 -i 0.2 {far}")
        rtt = float(re.search(r"= [\d.]+/([\d.]+)/", out).group(1))
        assert 18.0 <= rtt <= 22.0, out
        ctb.cmd(s2, f"iperf3 -s -1 -D -B {far}")
        deadline = time.monotonic() + 10
        while not ctb.cmd(s2, "ss -Hltn 'sport = :5201'").strip() and time.monotonic() < deadline:
            time.sleep(0.1)
        report = ctb.cmd(s1, f"iperf3 -c {far} -t 4 -J")
        mbit = __import__("json").loads(report)["end"]["sum_received"]["bits_per_second"] / 1e6
        assert 8.5 <= mbit <= 11.5, mbit
        # Open-loop load from the client on m1 through both machines: every request answered and counted.
        row = ctb.load(rate=50, duration=2)[0]
        assert row["sent"] == 100 and row["ok"] == 100 and row["errors"] == 0 and row["counters_add_up"], row
        run_id = ctb.info["run_id"]
    assert leftovers(cluster, run_id) == {}


def test_an_unknown_machine_is_refused_before_anything_starts(cluster):
    from testbed.cluster import ClusterTestbed

    g, chain, placement, mapping = two_machine_chain()
    mapping["srv2"] = "m9"
    with pytest.raises(TestbedError, match=r"machines \['m9'\] are not in the Ray cluster"):
        with ClusterTestbed(g, [chain], placement, machines=mapping, log=lambda *_: None):
            pass
    with pytest.raises(TestbedError, match="testbed.machines='everything'"):
        with ClusterTestbed(g, [chain], placement, machines="everything", log=lambda *_: None):
            pass


def test_an_underlay_that_does_not_reach_a_peer_is_refused_before_anything_starts(cluster):
    from testbed.cluster import ClusterTestbed

    g, chain, placement, mapping = two_machine_chain()
    nic = ["ip", "-n", cluster.underlay["m2"], "link", "set", "nic"]
    subprocess.run([*nic, "down"], check=True)
    try:
        with pytest.raises(TestbedError, match=r"the underlay does not join the machines: m1 \(10.98.0.1\) cannot "
                                               r"reach m2 \(10.98.0.2\)"):
            with ClusterTestbed(g, [chain], placement, machines=mapping, host_kind="process", log=lambda *_: None):
                pass
    finally:
        subprocess.run([*nic, "up"], check=True)
    assert [p for m in MACHINES for p in cluster.state[m].glob("*.json")] == []  # no share was started


def test_a_machine_without_docker_is_refused_before_anything_starts(cluster):
    from testbed.cluster import ClusterTestbed

    g, chain, placement, mapping = two_machine_chain()
    mapping["srv2"] = NO_DOCKER
    with pytest.raises(TestbedError, match=r"machine m3, its preflight check: .*Docker"):
        with ClusterTestbed(g, [chain], placement, machines=mapping, log=lambda *_: None):
            pass
    assert [p for m in MACHINES for p in cluster.state[m].glob("*.json")] == []  # no share was started


def test_a_machine_that_dies_mid_run_fails_the_run_and_the_others_clean_up(cluster):
    from testbed.cluster import ClusterTestbed, MachineLost

    g, chain, placement, mapping = two_machine_chain()
    with pytest.raises(MachineLost, match="machine m2 died during"):
        with ClusterTestbed(g, [chain], placement, machines=mapping, host_kind="process", log=lambda *_: None) as ctb:
            run_id = ctb.info["run_id"]
            assert ctb.measure(requests=2)[0]["status"] == "ok"
            ray.kill(ctb.actors["m2"])  # as if its machine died: nothing of its share is torn down by it
            ctb.measure(requests=2)
    assert leftovers(cluster, run_id) == {}


def test_no_cluster_is_one_clear_error():
    out = subprocess.run([sys.executable, "-m", "testbed.cluster", "cleanup", "--address", "127.0.0.1:1", "--all"],
                         capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 1
    assert out.stderr.strip().startswith("cleanup: no Ray cluster answers at '127.0.0.1:1'"), out.stderr
    assert "Traceback" not in out.stderr


DRIVER = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    from tests.test_multihost import two_machine_chain
    from testbed.cluster import ClusterTestbed
    g, chain, placement, mapping = two_machine_chain()
    tb = ClusterTestbed(g, [chain], placement, machines=mapping, address={address!r}, log=lambda *_: None)
    tb.start()
    print("up", tb.info["run_id"], flush=True)
    time.sleep(600)
""")


def test_a_killed_run_is_cleaned_up_on_every_machine(cluster):
    address = ray.get_runtime_context().gcs_address
    driver = subprocess.Popen([sys.executable, "-c", DRIVER.format(root=str(ROOT), address=address)],
                              stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        said = [driver.stdout.readline()]
        while said[-1] and not said[-1].startswith("up "):
            said.append(driver.stdout.readline())
        assert said[-1].startswith("up "), said
        run_id = said[-1].split()[1]
        assert leftovers(cluster, run_id)  # a live run has things on both machines
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.wait()
    out = subprocess.run([sys.executable, "-m", "testbed.cluster", "cleanup", "--address", address, run_id],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    deadline = time.monotonic() + 10
    while (left := leftovers(cluster, run_id)) and time.monotonic() < deadline:
        time.sleep(0.5)  # containers of killed actors may still be going
    assert left == {}


def test_an_experiment_over_the_machines_in_its_config_is_refused_over_budget_then_runs(cluster, tmp_path):
    import json

    import pandas as pd

    address = ray.get_runtime_context().gcs_address

    def run(out, *overrides):
        return subprocess.run(
            [sys.executable, "-m", "experiments.run", "algo=greedy", "progress=false", f"hydra.run.dir={out}",
             "testbed.requests=10", "testbed.machines=[m1,m2]", f"testbed.address={address}", *overrides],
            cwd=ROOT, capture_output=True, text=True, timeout=600)

    # The default workload reserves more CPU than these one-core machines have: refused before anything starts.
    refused = run(tmp_path / "refused")
    assert refused.returncode == 1
    assert re.search(r"machine 'm\d' cannot emulate its share: it needs [\d.]+ cores, has 1", refused.stdout)
    assert "testbed.budget_override=true" in refused.stdout
    assert not (tmp_path / "refused" / "results.parquet").exists()
    proc = run(tmp_path / "run", "testbed.budget_override=true")
    assert proc.returncode == 0, proc.stdout[-3000:]
    placed = pd.read_parquet(tmp_path / "run" / "results.parquet").query("status == 'placed'")
    assert len(placed) >= 1 and placed.trace_ok.all() and (placed.measured_errors == 0).all()
    for counters, warmup, machines in zip(placed.vnf_counters, placed.measured_warmup, placed.machines):
        assert set(json.loads(counters).values()) == {10 + warmup}
        assert set(json.loads(machines)) <= {"m1", "m2"}
    assert set(json.loads(placed.machine_util.iloc[0])) <= {"m1", "m2"}
    assert leftovers(cluster, placed.testbed_run_id.iloc[0]) == {}


def test_a_bad_machines_setting_is_one_error_before_anything_starts(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "experiments.run", "algo=greedy", "testbed.machines=5",
                           f"hydra.run.dir={tmp_path / 'run'}"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "testbed.machines=5: use null (this machine), auto" in proc.stderr
    assert not (tmp_path / "run" / "results.parquet").exists()
