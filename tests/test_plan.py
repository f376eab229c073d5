"""The deployment plan is pure: routes follow the embedding's paths exactly, both ways."""

import ipaddress

from placement.model import VNF, Chain, Embedding, Placement
from placement.topologies import line, star
from testbed.plan import build_plan, vnf_role


def next_hop_owner(plan, node, via):
    """The plan node that owns link address ``via`` and is adjacent to ``node``."""
    for spec in plan.links:
        if spec.ip_a == via and node == spec.b:
            return spec.a
        if spec.ip_b == via and node == spec.a:
            return spec.b
    raise AssertionError(f"{via} is not on a link of {node}")


def walk(plan, start, dst):
    """Follow host routes from ``start`` towards ``dst``; return the nodes visited."""
    hops, node = [start], start
    while dst not in plan.addresses.get(node, []):
        routes = {d: via for d, via, _ in plan.routes.get(node, [])}
        assert dst in routes, f"{node} has no route to {dst}"
        node = next_hop_owner(plan, node, routes[dst])
        hops.append(node)
        assert len(hops) < 50
    return hops


def test_requests_follow_the_chosen_paths_and_replies_the_reverse():
    g = star(3, delay=1.0)  # sw0 in the middle of srv0..srv2
    chain = Chain("c0", (VNF("firewall"), VNF("ids"), VNF("ids")), "srv0", "srv2")
    emb = Embedding("c0", ("srv0", "srv1", "srv1"),
                    (("srv0",), ("srv0", "sw0", "srv1"), ("srv1",), ("srv1", "sw0", "srv2")))
    plan = build_plan(g, [chain], Placement({"c0": emb}))
    n = plan.names
    client, sink = plan.clients["c0"], plan.sinks["c0"]
    vnfs = [v for v in plan.vnfs if v.chain_id == "c0"]
    endpoints = [(client["name"], client["ip"])] + [(v.server, v.in_ip) for v in vnfs] + [(sink["name"], sink["ip"])]
    expected = [[client["name"], n["srv0"]], [n["srv0"], n["sw0"], n["srv1"]], [n["srv1"]],
                [n["srv1"], n["sw0"], n["srv2"], sink["name"]]]
    for j, path in enumerate(expected):
        src_node = endpoints[j][0]
        dst_ip = endpoints[j + 1][1]
        assert walk(plan, src_node, dst_ip) == path
        src_ip = client["ip"] if j == 0 else vnfs[j - 1].out_ip
        assert walk(plan, path[-1], src_ip) == path[::-1]
    # Two copies of one VNF type share srv1 on ports 80 and 8080.
    assert [(v.server, v.port) for v in vnfs] == [(n["srv0"], 80), (n["srv1"], 80), (n["srv1"], 8080)]


def test_addresses_are_unique_and_names_fit_interfaces():
    g = line(4)
    chains = [Chain(f"c{i}", (VNF("forwarder"),) * 2, "srv0", "srv3") for i in range(3)]
    path = ("srv0", "srv1", "srv2", "srv3")
    placement = Placement({c.id: Embedding(c.id, ("srv0", "srv3"), (("srv0",), path, ("srv3",))) for c in chains})
    plan = build_plan(g, chains, placement)
    addrs = [a for node in plan.addresses.values() for a in node]
    assert len(addrs) == len(set(addrs))
    link_ips = [ip for spec in plan.links for ip in (spec.ip_a, spec.ip_b)]
    assert len(link_ips) == len(set(link_ips))
    for addr in addrs + link_ips:
        assert ipaddress.ip_address(addr).is_private
    names = set(plan.servers) | set(plan.routers) | {c["name"] for c in plan.clients.values()}
    assert all(len(f"{name}-eth99") <= 15 for name in names)


def test_unknown_vnf_types_forward():
    assert vnf_role("ids") == "ids" and vnf_role("nat") == "forwarder" and vnf_role("dpi") == "forwarder"


def test_chain_without_endpoints_cannot_be_deployed():
    import pytest

    g = line(2)
    chain = Chain("r0", (VNF("firewall"), VNF("ids")), anti_affinity=True)
    emb = Embedding("r0", ("srv0", "srv1"), (("srv0", "srv1"),))
    with pytest.raises(ValueError, match=r"chains \['r0'\] have no ingress or egress: the testbed needs both"):
        build_plan(g, [chain], Placement({"r0": emb}))
