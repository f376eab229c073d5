"""A link between two machines as a VXLAN tunnel, on one machine: two underlay namespaces joined like NICs on
a LAN stand for the machines, and two more for the nodes at the link's ends."""

import json
import os
import re
import subprocess

import pytest

from testbed import system
from testbed.manifest import PREFIX
from testbed.system import TestbedError
from testbed.vxlan import open_end

pytestmark = [pytest.mark.testbed,
              pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")]


@pytest.fixture
def machines():
    """Underlays u1 (10.99.0.1) and u2 (10.99.0.2) on one veth 'LAN', nodes n1 and n2; all deleted after."""
    tag = os.urandom(2).hex()
    names = {k: f"{PREFIX}-vx{tag}-{k}" for k in ("u1", "u2", "n1", "n2")}
    for name in names.values():
        system.run(["ip", "netns", "add", name])
    try:
        system.run(["ip", "link", "add", "lan1", "netns", names["u1"], "type", "veth", "peer", "name", "lan2",
                    "netns", names["u2"]])
        for k, dev, ip in (("u1", "lan1", "10.99.0.1/24"), ("u2", "lan2", "10.99.0.2/24")):
            system.run(["ip", "-n", names[k], "addr", "add", ip, "dev", dev])
            system.run(["ip", "-n", names[k], "link", "set", dev, "up"])
        yield names
    finally:
        for name in names.values():
            system.netns_delete(name)


def _ends(machines, **link):
    a = open_end(7, machines["n1"], "eth0", local_ip="10.99.0.1", remote_ip="10.99.0.2", underlay_ns=machines["u1"],
                 address="10.0.0.1/30", **link)
    try:
        b = open_end(7, machines["n2"], "eth0", local_ip="10.99.0.2", remote_ip="10.99.0.1",
                     underlay_ns=machines["u2"], address="10.0.0.2/30", **link)
    except BaseException:
        a.delete()
        raise
    return a, b


def _ping_avg_ms(netns, ip, count=10) -> float:
    out = system.run(["ip", "netns", "exec", netns, "ping", "-n", "-c", str(count), "-i", "0.2", ip], timeout=30)
    return float(re.search(r"= [\d.]+/([\d.]+)/", out).group(1))


@pytest.mark.parametrize("mechanism", ["userspace"] + (["netem"] if system.netem_available() else []))
def test_a_10ms_cross_link_gives_a_20ms_round_trip(machines, mechanism):
    a, b = _ends(machines, delay_ms=10.0, mechanism=mechanism)
    try:
        _ping_avg_ms(machines["n1"], "10.0.0.2", count=2)  # ARP, and the relays' first frames
        rtt = _ping_avg_ms(machines["n1"], "10.0.0.2")
        assert 18.0 <= rtt <= 22.0, rtt
        # The frames really crossed the underlay as VXLAN (UDP 4789) between the two machines' addresses.
        stats = system.run(["ip", "-n", machines["u1"], "-s", "-j", "link", "show", "lan1"])
        assert json.loads(stats)[0]["stats64"]["tx"]["packets"] >= 10
    finally:
        a.delete(), b.delete()
    assert "sxv7" not in system.run(["ip", "-n", machines["u1"], "link"])  # nothing of the link is left


def test_a_10_mbit_cross_link_is_shaped_at_each_end(machines):
    a, b = _ends(machines, bw=10.0)
    server = subprocess.Popen(["ip", "netns", "exec", machines["n2"], "iperf3", "-s", "-1", "-B", "10.0.0.2"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(50):
            if system.run(["ip", "netns", "exec", machines["n2"], "ss", "-Hltn", "sport = :5201"]).strip():
                break
            subprocess.run(["sleep", "0.1"])
        out = system.run(["ip", "netns", "exec", machines["n1"], "iperf3", "-c", "10.0.0.2", "-t", "4", "-J"],
                         timeout=30)
        mbps = json.loads(out)["end"]["sum_received"]["bits_per_second"] / 1e6
        assert 8.5 <= mbps <= 11.5, mbps
    finally:
        server.kill(), server.wait()
        a.delete(), b.delete()


def test_a_failed_end_removes_what_it_made(machines):
    with pytest.raises(TestbedError, match="failed"):
        open_end(9, machines["n1"], "eth0", local_ip="10.99.0.1", remote_ip="10.99.0.2", underlay_ns=machines["u1"],
                 address="not-an-address")
    assert "sxv9" not in system.run(["ip", "-n", machines["u1"], "link"])
    with pytest.raises(TestbedError, match="out of range"):
        open_end(2**24, machines["n1"], "eth0", local_ip="10.99.0.1", remote_ip="10.99.0.2")
