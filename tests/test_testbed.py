"""The real testbed on this machine: Mininet, DinD servers, inner VNF containers, traffic.

These tests build networks; they must not run in parallel with each other
(pytest runs them serially; do not use pytest-xdist on this file).
"""

import json
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
from testbed.deploy import Testbed
from testbed.images import ImageNames, ensure_images, saved_image
from testbed.nodes import DinDHost, ProcessHost, SfcLink
from testbed.runtime import Run
from testbed.system import TestbedError
from tests.testbed_helpers import dangling_volumes, project_leftovers, skip_without_testbed

pytestmark = [pytest.mark.testbed, skip_without_testbed]
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module", autouse=True)
def nothing_left_behind():
    """Before and after this module, nothing of the project is on the machine, no volume orphaned."""
    before, volumes = project_leftovers(), dangling_volumes()
    yield
    assert project_leftovers() == before == {}
    assert dangling_volumes() <= volumes


def three_server_chain():
    """A 3-server line; a 3-VNF chain on two servers, the two IDS copies sharing one."""
    g = line(3, cpu=2, mem=2048, bw=100, delay=1.0)
    s0, s1, s2 = sorted(g.nodes)
    chain = Chain("c0", (VNF("firewall", 0.5, 128), VNF("ids", 0.5, 128), VNF("ids", 0.5, 128)),
                  ingress=s0, egress=s2, bw=5)
    emb = Embedding("c0", (s0, s1, s1), ((s0,), (s0, s1), (s1,), (s1, s2)))
    return g, chain, Placement({"c0": emb})


@pytest.mark.parametrize("host_kind", ["dind", "docker", "process"])
def test_chain_traversed_in_order_with_exact_counters(host_kind):
    g, chain, placement = three_server_chain()
    with Testbed(g, [chain], placement, host_kind=host_kind, log=lambda *_: None) as tb:
        results = tb.request("c0", 5)
        assert [r["status"] for r in results] == [200] * 5
        assert {r["trace"] for r in results} == {"c0-1-firewall,c0-2-ids,c0-3-ids,e0"}
        assert {r["body"] for r in results} == {"e0 ok\n"}
        # Two copies of the same VNF, side by side on one server, on ports 80 and 8080.
        ids = [v for v in tb.plan.vnfs if v.role == "ids"]
        assert {v.server for v in ids} == {tb.plan.names["srv1"]} and {v.port for v in ids} == {80, 8080}
        blocked = tb.request("c0", 2, path="/blocked")
        assert [r["status"] for r in blocked] == [403, 403]
        counters = tb.counters()
        assert counters == {"c0-1-firewall": 7, "c0-2-ids": 5, "c0-3-ids": 5}
        rows = tb.measure(requests=10)
        assert rows[0]["errors"] == 0 and rows[0]["trace_ok"]
        assert rows[0]["vnf_counters"] == {"c0-1-firewall": 12, "c0-2-ids": 12, "c0-3-ids": 12}  # 2 warm-up
        assert rows[0]["p50_ms"] > 0
        run_id = tb.info["run_id"]
        if host_kind == "dind":
            server = tb.nodes[tb.plan.names["srv1"]]
            names = server.docker("ps", "--format", "{{.Names}}").split()
            assert sorted(names) == ["c0-2-ids", "c0-3-ids"]
            # Full isolation: each copy sees only its own processes.
            ps = server.docker("exec", "c0-2-ids", "python3", "-c",
                               "import os;print([open(f'/proc/{p}/cmdline').read() for p in os.listdir('/proc')"
                               " if p.isdigit()])")
            assert "c0-2-ids" in ps and "c0-3-ids" not in ps and "dockerd" not in ps
    assert project_leftovers(run_id) == {}


def _ping_rtts(host, ip, count=10):
    host.cmd(f"ping -c 2 -i 0.2 {ip}")  # ARP and relay warm-up
    out = host.cmd(f"ping -c {count} -i 0.2 {ip}")
    return [float(x) for x in re.findall(r"time=([0-9.]+) ms", out)]


def test_link_delay_gives_round_trip_of_twice_the_delay():
    with Run() as run:
        h1, h2 = ProcessHost("h1", run), ProcessHost("h2", run)
        link = SfcLink(h1, h2, delay=10)
        h1.setIP("10.0.0.1/24"), h2.setIP("10.0.0.2/24")
        rtts = sorted(_ping_rtts(h1, "10.0.0.2"))
        median = rtts[len(rtts) // 2]
        assert 18.0 <= median <= 22.0, rtts
        link.stop(), h1.terminate(), h2.terminate()


def test_link_bandwidth_is_enforced():
    with Run() as run:
        h1, h2 = ProcessHost("h1", run), ProcessHost("h2", run)
        link = SfcLink(h1, h2, bw=10)
        h1.setIP("10.0.0.1/24"), h2.setIP("10.0.0.2/24")
        h2.cmd("iperf3 -s -1 -D -p 5201")
        time.sleep(0.3)
        out = json.loads(h1.cmd("iperf3 -c 10.0.0.2 -p 5201 -t 4 -J"))
        mbps = out["end"]["sum_received"]["bits_per_second"] / 1e6
        assert 8.5 <= mbps <= 11.5, mbps
        link.stop(), h1.terminate(), h2.terminate()


def test_vnf_cpu_limit_holds_under_load():
    names = ensure_images(ImageNames(), log=lambda *_: None)
    with Run() as run:
        server = DinDHost("s0", run, names.dind, cpu=2)
        server.wait_daemon()
        server.load_image(saved_image(run.docker, names.vnf).name)
        server.docker("run", "-d", "--name", "busy", "--cpus", "0.5", "-v", "/usr:/usr:ro",
                      "--entrypoint", "/usr/bin/python3", names.vnf, "-c", "while True: pass")
        pid = server.docker("inspect", "-f", "{{.State.Pid}}", "busy")
        cgroup = server.cmd(f"cat /proc/{pid}/cgroup")
        path = re.search(r"cpuacct[^:]*:(\S+)", cgroup)
        usage = Path("/sys/fs/cgroup/cpuacct") / path.group(1).lstrip("/") / "cpuacct.usage"
        time.sleep(1.0)
        u0, t0 = int(usage.read_text()), time.monotonic()
        time.sleep(3.0)
        cores = (int(usage.read_text()) - u0) / 1e9 / (time.monotonic() - t0)
        assert 0.3 <= cores <= 0.55, cores
        server.terminate()


def test_sigkill_then_cleanup_leaves_nothing(tmp_path):
    script = tmp_path / "victim.py"
    script.write_text(textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from tests.test_testbed import three_server_chain
        from testbed.deploy import Testbed
        g, chain, placement = three_server_chain()
        tb = Testbed(g, [chain], placement, host_kind="dind", log=lambda *_: None)
        tb.__enter__()
        print(tb.info["run_id"], flush=True)
        time.sleep(600)
    """))
    victim = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    run_id = victim.stdout.readline().strip()
    assert run_id, "the victim did not come up"
    assert project_leftovers(run_id)  # it really left things running
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert project_leftovers(run_id)  # SIGKILL alone leaves them
    subprocess.run([sys.executable, "-m", "testbed.cleanup", run_id], check=True, cwd=ROOT,
                   capture_output=True)
    assert project_leftovers(run_id) == {}
    # The user-space delay relays and Mininet shells lived in the run's cgroup: gone too.
    assert not subprocess.run(["pgrep", "-f", f"sfcbench-{run_id}"], capture_output=True).stdout


def test_calibration_measures_each_vnf_type():
    from placement.workload import DEFAULT_CATALOGUE
    from testbed.calibrate import calibrate, calibrated_catalogue

    catalogue = {t: DEFAULT_CATALOGUE[t] for t in ("firewall", "ids")}
    result = calibrate(catalogue, host_kind="process", requests=20, log=lambda *_: None)
    assert set(result.proc_delay) == {"firewall", "ids"}
    assert all(0.0 < ms < 50.0 for ms in result.proc_delay.values()), result
    assert 0.0 < result.endpoint_ms < 50.0
    assert calibrated_catalogue(catalogue, result.proc_delay)["ids"].proc_delay == result.proc_delay["ids"]
    # CPU per request of a Python relay: well above nothing, well below a millisecond's tens.
    assert set(result.cpu_ms_per_request) == {"firewall", "ids"}
    assert all(0.02 < ms < 20.0 for ms in result.cpu_ms_per_request.values()), result


def test_rated_load_loses_nothing_and_counters_add_up():
    g, chain, placement = three_server_chain()
    with Testbed(g, [chain], placement, host_kind="dind", log=lambda *_: None) as tb:
        tb.measure(requests=3)
        [row] = tb.load(rate=50, duration=2.0)
        assert row["sent"] == 100 and row["lost"] == 0 and row["ok"] + row["errors"] == row["sent"]
        assert row["errors"] == 0 and row["counters_add_up"]
        assert set(row["vnf_counters"].values()) == {100}


def test_a_full_vnf_image_from_configuration_works(tmp_path):
    """A VNF image that brings its own runtime (as one from a registry would) is loaded and run as is."""
    import shutil

    import docker

    from testbed.images import VNF_SOURCE

    base = ensure_images(ImageNames(), log=lambda *_: None)
    name = "sfcbench-test/vnf-full:latest"
    shutil.copy(VNF_SOURCE, tmp_path / "vnf.py")
    (tmp_path / "Dockerfile").write_text(
        f"FROM {base.base}\nCOPY vnf.py /opt/sfcbench/vnf.py\nUSER 65534:65534\nWORKDIR /tmp\n"
        'ENTRYPOINT ["python3", "-u", "/opt/sfcbench/vnf.py"]\n')
    client = docker.from_env()
    client.images.build(path=str(tmp_path), tag=name, rm=True)
    tar = None
    try:
        g, chain, placement = three_server_chain()
        images = ImageNames(base=base.base, dind=base.dind, vnf=name, pull=False)
        with Testbed(g, [chain], placement, host_kind="dind", images=images, log=lambda *_: None) as tb:
            tar = saved_image(tb.run.docker, name)
            assert {r["trace"] for r in tb.request("c0", 3)} == {"c0-1-firewall,c0-2-ids,c0-3-ids,e0"}
            server = tb.nodes[tb.plan.names["srv1"]]
            mounts = json.loads(server.docker("inspect", "c0-2-ids"))[0]["Mounts"]
            assert not any(m["Destination"] == "/usr" for m in mounts)  # its own runtime, not the server's
    finally:
        if tar is not None:
            tar.unlink(missing_ok=True)
        client.images.remove(name, force=True)


def test_tcp_mode_throughput_through_the_chain_respects_link_bandwidth():
    g = line(3, cpu=2, mem=2048, bw=10, delay=1.0)
    chain = Chain("c0", (VNF("firewall", 0.5, 128), VNF("ids", 0.5, 128)), ingress="srv0", egress="srv2", bw=5)
    placement = Placement({"c0": Embedding("c0", ("srv0", "srv1"), (("srv0",), ("srv0", "srv1"), ("srv1", "srv2")))})
    with Testbed(g, [chain], placement, host_kind="dind", protocol="tcp", log=lambda *_: None) as tb:
        mbps = tb.throughput("c0", seconds=4)
        assert 8.0 <= mbps <= 11.0, mbps  # the 10 Mbit/s links bound it, through both VNFs
        counters = tb.counters()
        assert all(n >= 2 for n in counters.values()), counters  # iperf3's control and data connections


def test_real_vnf_software_in_a_chain_on_a_dind_server():
    """HAProxy, nginx+ModSecurity (CRS), Varnish, nftables and nDPI in one chain: traversed in order,
    counted exactly from their own statistics; the WAF blocks an SQL injection and passes a clean request."""
    g = line(2, cpu=2, mem=4096, bw=100, delay=0.5)
    s0, s1 = sorted(g.nodes)
    types = ("load_balancer", "waf", "cache", "firewall", "monitor")
    chain = Chain("c0", tuple(VNF(t, 0.25, 256) for t in types), ingress=s0, egress=s1, bw=5)
    emb = Embedding("c0", (s0, s0, s1, s1, s1), ((s0,), (s0,), (s0, s1), (s1,), (s1,), (s1,)))
    impls = {"load_balancer": "haproxy", "waf": "nginx-modsecurity", "cache": "varnish",
             "firewall": "nftables", "monitor": "ndpi"}
    with Testbed(g, [chain], Placement({"c0": emb}), host_kind="dind", vnf_impl=impls, log=lambda *_: None) as tb:
        rows = tb.measure(requests=20, warmup=2)
        assert rows[0]["status"] == "ok" and rows[0]["trace_ok"], rows
        assert set(rows[0]["vnf_counters"].values()) == {22}, rows[0]["vnf_counters"]
        attack, clean = tb.request("c0", 1, path="/?id=1%27%20OR%20%271%27=%271"), tb.request("c0", 1, path="/?id=42")
        assert attack[0]["status"] == 403 and clean[0]["status"] == 200, (attack, clean)
        counters = tb.counters()
        waf = next(name for name in counters if name.endswith("-waf"))
        cache = next(name for name in counters if name.endswith("-cache"))
        assert counters[waf] == 24 and counters[cache] == 23  # the attack stopped at the WAF


def test_real_vnf_choices_are_checked_before_anything_starts():
    g = line(2, cpu=2, mem=4096, bw=100, delay=0.5)
    s0, s1 = sorted(g.nodes)
    chain = Chain("c0", (VNF("waf", 0.25, 256),), ingress=s0, egress=s1)
    placement = Placement({"c0": Embedding("c0", (s0,), ((s0,), (s0, s1)))})
    with pytest.raises(TestbedError, match="no implementation 'modsec' for VNF type 'waf'"):
        Testbed(g, [chain], placement, vnf_impl={"waf": "modsec"})
    with pytest.raises(TestbedError, match="runs in DinD servers' inner containers"):
        Testbed(g, [chain], placement, host_kind="process", vnf_impl={"waf": "nginx-modsecurity"})


def test_telemetry_sees_a_loaded_vnf_busy_and_an_idle_one_idle():
    """Sampled at 10 Hz from cgroup and interface counters: the VNFs of the loaded chain use > 0.2 cores,
    those of the idle chain on the same servers < 0.05; servers, clients and interfaces are sampled too."""
    g = line(3, cpu=2, mem=2048, bw=100, delay=1.0)
    s0, s1, s2 = sorted(g.nodes)
    chains = [Chain(f"c{i}", (VNF("firewall", 1, 128), VNF("ids", 1, 128)), ingress=s0, egress=s2, bw=5)
              for i in range(2)]
    placement = Placement({c.id: Embedding(c.id, (s0, s1), ((s0,), (s0, s1), (s1, s2))) for c in chains})
    with Testbed(g, chains, placement, host_kind="dind", log=lambda *_: None) as tb:
        tb.measure(requests=3)
        with tb.sampler(hz=10) as sampler:
            [row] = tb.load(rate=700, duration=3.0, chains=["c0"], sampler=sampler)
        frame = sampler.frame()
    assert row["lost"] == 0 and row["ok"] > 0
    cpu = frame[(frame.metric == "cpu_cores") & (frame.time_s > 0.5) & (frame.time_s < 3.0)]
    per_entity = cpu.groupby("entity")["value"].mean()
    assert per_entity["c0-1-firewall"] > 0.2 and per_entity["c0-2-ids"] > 0.2, per_entity
    assert per_entity["c1-1-firewall"] < 0.05 and per_entity["c1-2-ids"] < 0.05, per_entity
    ticks = frame[(frame.entity == "c0-1-firewall") & (frame.metric == "memory_mib")]
    assert len(ticks) >= 10 * 3.0 * 0.9, len(ticks)  # >= 10 Hz over the load
    kinds = frame.groupby("entity_kind")["entity"].unique()
    assert set(kinds["server"]) == set(tb.plan.servers) and "c0" in set(kinds["client"])
    server_rx = frame[(frame.metric == "rx_pkt_s") & (frame.entity == tb.plan.names[s1])]["value"]
    assert server_rx.max() > 100  # the loaded chain's packets cross the middle server's interfaces


def test_a_ramp_is_offered_and_served_within_5_percent_in_each_stage():
    """Open loop through a DinD chain: each stage of a ramp (below saturation) is served within 5% of its
    target, the generator never falls behind its schedule, and the VNFs counted every answered request."""
    from testbed.loadgen import ramp

    g, chain, placement = three_server_chain()
    profile = ramp([(2, 100), (2, 100), (2, 200)], start=20)
    with Testbed(g, [chain], placement, host_kind="dind", log=lambda *_: None) as tb:
        tb.measure(requests=3)
        result = tb.drive(profile, connections=16)["c0"]
    sec = result.seconds
    for t0, t1 in ((0, 2), (2, 4), (4, 6)):
        stage = sec[(sec.second >= t0) & (sec.second < t1)]
        target = profile.expected(t0, t1)
        assert abs(stage.offered.sum() - target) <= 0.05 * target + 1, (t0, stage.offered.sum(), target)
        assert abs(stage.ok.sum() - target) <= 0.05 * target + 1, (t0, stage.ok.sum(), target)
    assert sec.errors.sum() == sec.timeouts.sum() == 0
    assert set(result.summary["vnf_counters"].values()) == {int(sec.ok.sum())}
