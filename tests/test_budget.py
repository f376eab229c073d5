"""testbed.budget: each machine's share against its cores and memory, refused with the shortfall named."""

from __future__ import annotations

import doctest

import networkx as nx
import pytest

import testbed.budget
import testbed.partition
from placement.model import VNF, Chain, Embedding, Placement
from placement.topologies import line
from testbed.budget import (
    CLIENT_MIB,
    MACHINE_MIB,
    RELAY_MIB,
    SERVER_MIB,
    SINK_MIB,
    VNF_MIB,
    BudgetError,
    Machine,
    Share,
    check_budget,
    demand,
    local_machine,
    machines_from_ray,
    shares_of,
)


@pytest.mark.parametrize("module", [testbed.budget, testbed.partition])
def test_docstring_examples_run(module):
    assert doctest.testmod(module, optionflags=doctest.ELLIPSIS).failed == 0


def test_the_memory_model_agrees_with_the_measured_100_server_run():
    """README: 100 DinD servers, 200 light VNFs, 162 delayed links, 100 chains used 91 MiB per server."""
    _, mib, _ = demand(Share(servers=100, vnfs=200, relays=162, clients=100, sinks=100))
    per_server = (mib - MACHINE_MIB) / 100
    assert 91 <= per_server <= 91 * 1.25  # never below what was measured, not far above it
    assert SERVER_MIB + 2 * VNF_MIB == 64  # the measured server cgroup with two light VNFs


def test_demand_adds_up_its_parts():
    share = Share(servers=3, switches=2, vnfs=5, vnf_cpu=2.5, vnf_mem=640, relays=4, clients=2, sinks=1)
    cores, mib, parts = demand(share)
    assert cores == pytest.approx(sum(c for c, _ in parts.values())) and cores > 2.5
    assert mib == pytest.approx(sum(m for _, m in parts.values()))
    assert parts["relays"][1] == 4 * RELAY_MIB and parts["clients"][1] == 2 * CLIENT_MIB + SINK_MIB
    _, reserved, parts_reserved = demand(share, vnf_memory="reserved")
    assert parts_reserved["VNFs"][1] == 640 and reserved - mib == 640 - 5 * VNF_MIB


def test_a_share_that_fits_passes_and_reports_its_usage():
    usage = check_budget([Machine("a", 4, 8192), Machine("b", 2, 4096)],
                         {"a": Share(servers=4, vnfs=6, vnf_cpu=3.0), "b": Share(servers=2, vnfs=1, vnf_cpu=1.0)})
    assert all(u.fits for u in usage.values())
    assert usage["a"].cores == pytest.approx(3.04) and usage["a"].cores_short == 0


def test_an_oversubscribed_machine_is_named_with_its_shortfall():
    machines = [Machine("big", 16, 65536), Machine("small", 2, 1024)]
    shares = {"big": Share(servers=10, vnf_cpu=8.0, vnfs=8), "small": Share(servers=10, vnfs=20, vnf_cpu=3.0)}
    with pytest.raises(BudgetError) as info:
        check_budget(machines, shares)
    message = str(info.value)
    assert "machine 'small' cannot emulate its share" in message and "'big'" not in message
    assert "it needs 3.1 cores, has 2, 1.1 cores short (VNFs 3, servers 0.1)" in message
    assert f"it needs {10 * SERVER_MIB + 20 * VNF_MIB + MACHINE_MIB:.0f} MiB, has 1024" in message
    assert "MiB short" in message and "override" in message


def test_every_short_machine_is_named_in_one_error():
    with pytest.raises(BudgetError) as info:
        check_budget([Machine("m1", 1, 8192), Machine("m2", 1, 8192)],
                     {"m1": Share(vnf_cpu=2.0, vnfs=2), "m2": Share(vnf_cpu=4.0, vnfs=4)})
    assert "'m1'" in str(info.value) and "'m2'" in str(info.value)


def test_override_runs_anyway_and_still_reports_the_shortfall():
    usage = check_budget([Machine("m", 1, 8192)], {"m": Share(vnf_cpu=2.0, vnfs=2)}, override=True)
    assert not usage["m"].fits and usage["m"].cores_short == pytest.approx(1.0)


@pytest.mark.parametrize("machines, shares, kw, message", [
    ([Machine("a", 2, 1024)], {"b": Share()}, {}, r"shares for unknown machines \['b'\]: the machines are \['a'\]"),
    ([Machine("a", 2, 1024)], {"a": Share(vnfs=-1)}, {}, "share vnfs=-1: must be a number >= 0"),
    ([Machine("a", 2, 1024)], {"a": Share()}, {"vnf_memory": "all"}, "vnf_memory='all': use one of footprint"),
])
def test_bad_input_is_named(machines, shares, kw, message):
    with pytest.raises(BudgetError, match=message):
        check_budget(machines, shares, **kw)


def test_local_machine_reads_this_machines_cores_and_available_memory():
    here = local_machine()
    assert here.cores >= 1 and 0 < here.mem_mib < 2**30


def ray_node(host, cpu, mem_gib, machine=None, alive=True):
    resources = {"CPU": cpu, "memory": mem_gib * 2**30}
    if machine:
        resources[f"sfcbench_machine:{machine}"] = 1.0
    return {"Alive": alive, "NodeManagerHostname": host, "NodeID": f"id-{host}", "Resources": resources}


def test_machines_from_ray_nodes_by_custom_resource_or_host_name():
    machines = machines_from_ray([ray_node("h1", 4, 8, "left"), ray_node("h2", 2, 4), ray_node("h3", 8, 8, alive=False)])
    assert machines == {"left": Machine("left", 4.0, 8192.0), "h2": Machine("h2", 2.0, 4096.0)}


def test_two_ray_nodes_claiming_one_machine_are_refused():
    with pytest.raises(BudgetError, match="two Ray nodes are machine 'h1'"):
        machines_from_ray([ray_node("h1", 4, 8), ray_node("h1", 4, 8)])


def test_shares_of_a_partitioned_substrate():
    G = line(4, delay=1.0)  # srv0 - srv1 - srv2 - srv3, every link delayed
    mapping = {"srv0": "a", "srv1": "a", "srv2": "b", "srv3": "b"}
    chain = Chain("c", (VNF("fw", cpu=2.0, mem=256), VNF("ids", cpu=1.0, mem=128)), "srv0", "srv3")
    paths = (("srv0", "srv1"), ("srv1", "srv2"), ("srv2", "srv3"))
    placement = Placement({"c": Embedding("c", ("srv1", "srv2"), paths)})
    shares = shares_of(G, mapping, [chain], placement)
    # the cross link srv1-srv2 has a relay at each end, each with half its delay
    assert shares["a"] == Share(servers=2, vnfs=1, vnf_cpu=2.0, vnf_mem=256, relays=2, clients=1)
    assert shares["b"] == Share(servers=2, vnfs=1, vnf_cpu=1.0, vnf_mem=128, relays=2, sinks=1)
    assert shares_of(G, mapping, relays=False)["a"].relays == 0  # netem delays in the kernel: no relays


def test_shares_of_needs_every_node_mapped():
    G = nx.path_graph(3)
    nx.set_node_attributes(G, "server", "kind")
    with pytest.raises(BudgetError, match=r"mapping leaves nodes \['2'\] without a machine"):
        shares_of(G, {0: "a", 1: "a"})
