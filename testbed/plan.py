"""A deployment plan: the pure description of how a placement becomes a network.

Built from the substrate, the chains and a :class:`placement.model.Placement`
before anything starts (as Mininet's ``Topo`` is built before ``Mininet``).

Steering: every substrate node is an IP forwarder and every substrate link a
point-to-point /30.  Each virtual link of a chain gets its own pair of /32
addresses (the sender's *out* address, the receiver's *in* address) and
host routes for both along exactly the path the placement chose, forward and
back, so each request follows the embedding hop by hop over the emulated links.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

import networkx as nx

from placement.model import BW, CPU, DELAY, KIND, MEM, SERVER

LINK_NET = ipaddress.ip_network("10.128.0.0/10")  # /30 per link
CHAIN_NET = ipaddress.ip_network("10.64.0.0/10")  # 64 addresses per chain
ROLES = {"forwarder", "firewall", "load_balancer", "ids"}  # programs in vnfs/vnf.py
PORTS = (80, 8080)  # the first two VNFs on a server, as in the article; then 8081, ...


@dataclass(frozen=True)
class LinkSpec:
    a: str
    b: str
    bw: float | None
    delay: float
    ip_a: str
    ip_b: str


@dataclass
class VnfSpec:
    """One VNF instance: which chain and position, where it runs, what it listens on."""

    name: str
    chain_id: str
    index: int
    role: str
    vnf_type: str
    server: str
    cpu: float
    mem: float
    in_ip: str
    out_ip: str
    port: int
    next_url: str = ""


@dataclass
class Plan:
    """Node names, links, VNFs, client/sink endpoints and per-node host routes."""

    servers: dict[str, dict] = field(default_factory=dict)  # mininet name -> cpu, mem, substrate node
    routers: dict[str, str] = field(default_factory=dict)  # mininet name -> substrate node
    names: dict = field(default_factory=dict)  # substrate node -> mininet name
    links: list[LinkSpec] = field(default_factory=list)
    vnfs: list[VnfSpec] = field(default_factory=list)
    clients: dict[str, dict] = field(default_factory=dict)  # chain id -> name, ip, url, attach
    sinks: dict[str, dict] = field(default_factory=dict)  # chain id -> name, ip, port, attach
    addresses: dict[str, list[str]] = field(default_factory=dict)  # node -> local /32s
    routes: dict[str, list[tuple[str, str, str | None]]] = field(default_factory=dict)  # node -> (dst, via, src)


def vnf_role(vnf_type: str) -> str:
    """The testbed program that realises a VNF type (unknown types forward)."""
    return vnf_type if vnf_type in ROLES else "forwarder"


def build_plan(substrate: nx.Graph, chains, placement) -> Plan:
    """Describe the network realising ``placement`` (only its placed chains)."""
    plan = Plan()
    for i, node in enumerate(sorted(substrate.nodes, key=str)):
        data = substrate.nodes[node]
        if data.get(KIND) == SERVER:
            name = f"s{i}"
            plan.servers[name] = {"node": node, "cpu": float(data[CPU]), "mem": float(data[MEM])}
        else:
            name = f"r{i}"
            plan.routers[name] = node
        plan.names[node] = name
    link_ips = {}
    link_hosts = LINK_NET.subnets(new_prefix=30)
    for u, v, data in substrate.edges(data=True):
        a, b = plan.names[u], plan.names[v]
        hosts = list(next(link_hosts).hosts())
        spec = LinkSpec(a, b, data.get(BW), float(data.get(DELAY, 0.0)), str(hosts[0]), str(hosts[1]))
        plan.links.append(spec)
        link_ips[(a, b)], link_ips[(b, a)] = spec.ip_b, spec.ip_a  # next-hop address seen from a / b

    def route(node, dst, nxt, src=None):
        plan.routes.setdefault(node, []).append((dst, link_ips[(node, nxt)], src))

    by_id = {c.id: c for c in chains}
    open_ended = sorted(cid for cid in placement.embeddings if None in (by_id[cid].ingress, by_id[cid].egress))
    if open_ended:
        raise ValueError(
            f"chains {open_ended} have no ingress or egress: the testbed needs both (a client"
            " attaches at the ingress, a sink at the egress); give every deployed chain its endpoints"
        )
    ports_used: dict[str, int] = {}
    for c_index, (chain_id, emb) in enumerate(sorted(placement.embeddings.items())):
        chain = by_id[chain_id]
        base = CHAIN_NET.network_address + 64 * c_index
        n = len(chain.vnfs)
        if 2 * n + 3 > 64:
            raise ValueError(f"chain {chain_id!r} has {n} VNFs; the testbed supports at most 30")
        out_ip = lambda j: str(base + 2 * j + 1)  # noqa: E731  sender of virtual link j
        in_ip = lambda j: str(base + 2 * j + 2)  # noqa: E731  receiver of virtual link j-1
        client, sink = f"c{c_index}", f"e{c_index}"
        hosts = [client] + [plan.names[s] for s in emb.servers] + [sink]
        ingress, egress = plan.names[chain.ingress], plan.names[chain.egress]
        for attach, host in ((ingress, client), (egress, sink)):
            hosts_ = list(next(link_hosts).hosts())
            plan.links.append(LinkSpec(host, attach, None, 0.0, str(hosts_[0]), str(hosts_[1])))
            link_ips[(host, attach)], link_ips[(attach, host)] = str(hosts_[1]), str(hosts_[0])
        ports = []
        for i, (vnf, server) in enumerate(zip(chain.vnfs, emb.servers), start=1):
            name = plan.names[server]
            used = ports_used.get(name, 0)
            ports_used[name] = used + 1
            port = PORTS[used] if used < len(PORTS) else 8079 + used
            ports.append(port)
            plan.vnfs.append(VnfSpec(
                name=f"{chain_id}-{i}-{vnf.type}"[:60], chain_id=chain_id, index=i, role=vnf_role(vnf.type), vnf_type=vnf.type,
                server=name, cpu=vnf.cpu, mem=vnf.mem, in_ip=in_ip(i), out_ip=out_ip(i), port=port))
        sink_port = 80
        chain_vnfs = plan.vnfs[-n:] if n else []
        for i, spec in enumerate(chain_vnfs):
            nxt = chain_vnfs[i + 1] if i + 1 < n else None
            spec.next_url = f"http://{nxt.in_ip}:{nxt.port}/" if nxt else f"http://{in_ip(n + 1)}:{sink_port}/"
        first_url = f"http://{chain_vnfs[0].in_ip}:{chain_vnfs[0].port}/" if n else f"http://{in_ip(1)}:{sink_port}/"
        plan.clients[chain_id] = {"name": client, "ip": out_ip(0), "url": first_url, "attach": ingress}
        plan.sinks[chain_id] = {"name": sink, "ip": in_ip(n + 1), "port": sink_port, "attach": egress}
        for j, path in enumerate(emb.paths):
            src_host, dst_host = hosts[j], hosts[j + 1]
            src, dst = out_ip(j), in_ip(j + 1)
            plan.addresses.setdefault(src_host, []).append(src)
            plan.addresses.setdefault(dst_host, []).append(dst)
            hops = [src_host] + [plan.names[p] for p in path] + [dst_host]
            # Collapse the endpoint itself where it sits on the path (a VNF's own server).
            hops = [h for k, h in enumerate(hops) if k == 0 or h != hops[k - 1]]
            for k in range(len(hops) - 1):
                route(hops[k], dst, hops[k + 1], src if k == 0 else None)
                route(hops[k + 1], src, hops[k])
    return plan
