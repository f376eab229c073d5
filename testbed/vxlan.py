"""One end of a link that crosses machines: a VXLAN tunnel to the peer machine, one VNI per link.

Each machine builds its own end (``docs/multihost.md``): the node's
interface is one side of a veth pair whose other side sits in the machine's
*underlay* namespace (its root namespace on a real machine, a namespace of
its own where a test stands machines up on one box), next to a VXLAN device
that carries the link's frames, tagged with its VNI, to the peer machine's
underlay address.  In between, a bridge joins the two; or, where link delay
is user-space (kernels without ``sch_netem``), :mod:`testbed.delay` relays
frames between them after half the link's delay, both ways, so the two ends
add up to the link's delay in each direction.  With netem, the node's
interface delays its egress by the whole delay, as a local link's ends do.
htb shapes the node's interface at each end, as on a local link.  The
interfaces' MTU leaves room for the 50 bytes VXLAN adds.
"""

from __future__ import annotations

import select
import subprocess
import sys
from dataclasses import dataclass, field

from testbed import system
from testbed.system import TestbedError

VXLAN_PORT = 4789
VXLAN_OVERHEAD = 50  # outer Ethernet, IP, UDP and VXLAN headers
OFFLOADS_OFF = ["tso", "off", "gso", "off", "gro", "off", "tx", "off", "rx", "off"]


def _ip(netns, *args) -> list[str]:
    """``ip args`` run in namespace ``netns`` (a name, a pid, or None for this one)."""
    if isinstance(netns, str):
        return ["ip", "-n", netns, *args]
    return _exec(netns, ["ip", *args])


def _exec(netns, argv: list[str]) -> list[str]:
    """``argv`` run in namespace ``netns`` (a name, a pid, or None for this one)."""
    if netns is None:
        return argv
    if isinstance(netns, str):
        return ["ip", "netns", "exec", netns, *argv]
    return system.in_netns(int(netns), argv)


@dataclass
class CrossLinkEnd:
    """What one machine made for its end of a cross link; :meth:`delete` removes all of it."""

    vni: int
    intf: str
    node_netns: object
    underlay_ns: str | None
    devices: list[str] = field(default_factory=list)  # in the underlay namespace, deleted in reverse
    relay: subprocess.Popen | None = None

    def delete(self) -> None:
        """Stop the relay and delete the devices (the node's interface goes with its veth peer)."""
        if self.relay is not None and self.relay.poll() is None:
            self.relay.terminate()
            try:
                self.relay.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.relay.kill()
                self.relay.wait()
        for dev in reversed(self.devices):
            system.run(_ip(self.underlay_ns, "link", "del", dev), check=False)
        self.devices = []


def open_end(vni: int, node_netns, intf: str, *, local_ip: str, remote_ip: str, underlay_ns: str | None = None,
             address: str | None = None, bw: float | None = None, delay_ms: float = 0.0,
             mechanism: str = "userspace", tag: str = "sx", mtu: int = 1500, popen=subprocess.Popen) -> CrossLinkEnd:
    """Build this machine's end of cross link ``vni``: interface ``intf`` in ``node_netns`` (a namespace
    name or a pid), tunnelled from ``local_ip`` to the peer's ``remote_ip`` in the underlay.

    ``address`` (``a.b.c.d/len``) is set on the interface; ``bw`` (Mbit/s) shapes its egress with htb;
    ``delay_ms`` is the link's one-way delay, realised by ``mechanism`` ("netem" or "userspace").
    Device names in the underlay are ``<tag>v<vni>``, ``<tag>p<vni>`` and ``<tag>b<vni>`` (15 characters
    at most).  Raises :class:`TestbedError` (having removed what it made) when a step fails.
    """
    if not 0 < vni < 2**24:
        raise TestbedError(f"VXLAN network identifier {vni} out of range: it must be in [1, 2^24)")
    if mechanism not in ("netem", "userspace"):
        raise TestbedError(f"link delay mechanism {mechanism!r} unknown: use netem or userspace")
    vx, peer, bridge = (f"{tag}{kind}{vni}" for kind in "vpb")
    if max(len(vx), len(peer), len(bridge), len(intf)) > 15:
        raise TestbedError(f"interface names for VNI {vni} with tag {tag!r} exceed Linux's 15 characters")
    end = CrossLinkEnd(vni, intf, node_netns, underlay_ns)
    inner_mtu = str(mtu - VXLAN_OVERHEAD)
    relayed = delay_ms > 0 and mechanism == "userspace"
    try:
        system.run(_ip(underlay_ns, "link", "add", vx, "type", "vxlan", "id", str(vni), "local", local_ip,
                       "remote", remote_ip, "dstport", str(VXLAN_PORT), "nolearning"))
        end.devices.append(vx)
        system.run(_ip(underlay_ns, "link", "add", peer, "mtu", inner_mtu, "type", "veth", "peer", "name", intf,
                       "mtu", inner_mtu, *(["netns", str(node_netns)] if node_netns is not None else [])))
        end.devices.append(peer)
        system.run(_ip(underlay_ns, "link", "set", vx, "mtu", inner_mtu, "up"))
        system.run(_ip(underlay_ns, "link", "set", peer, "up"))
        if address:
            system.run(_ip(node_netns, "addr", "add", address, "dev", intf))
        system.run(_ip(node_netns, "link", "set", intf, "up"))
        if bw:
            tc = ["tc", "qdisc", "add", "dev", intf, "root", "handle", "1:", "htb", "default", "1"]
            system.run(_exec(node_netns, tc))
            system.run(_exec(node_netns, ["tc", "class", "add", "dev", intf, "parent", "1:", "classid", "1:1",
                                          "htb", "rate", f"{bw:g}mbit", "quantum", "1514"]))
        if delay_ms > 0 and mechanism == "netem":
            parent = ["parent", "1:1", "handle", "10:"] if bw else ["root"]
            system.run(_exec(node_netns, ["tc", "qdisc", "add", "dev", intf, *parent, "netem", "delay",
                                          f"{delay_ms:g}ms"]))
        if relayed:
            for netns, dev in ((underlay_ns, vx), (underlay_ns, peer), (node_netns, intf)):
                system.run(_exec(netns, ["ethtool", "-K", dev, *OFFLOADS_OFF]))
            end.relay = popen(_exec(underlay_ns, [sys.executable, "-m", "testbed.delay", peer, vx,
                                                  f"{delay_ms / 2:g}"]), stdout=subprocess.PIPE)
            ready, _, _ = select.select([end.relay.stdout], [], [], 10)
            if not ready or end.relay.stdout.readline().strip() != b"ready":
                raise TestbedError(f"the delay relay of cross link {vni} did not start")
        else:
            system.run(_ip(underlay_ns, "link", "add", bridge, "type", "bridge"))
            end.devices.append(bridge)
            for dev in (vx, peer):
                system.run(_ip(underlay_ns, "link", "set", dev, "master", bridge))
            system.run(_ip(underlay_ns, "link", "set", bridge, "up"))
    except BaseException:
        end.delete()
        raise
    return end
