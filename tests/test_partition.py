"""testbed.partition: few cut links, balanced loads, the same answer per seed, fixed mappings checked."""

from __future__ import annotations

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from placement.model import VNF, Chain, Embedding, Placement
from placement.substrate import node_sort_key, servers
from placement.topologies import fat_tree, waxman
from testbed.partition import (
    SERVER_LOAD,
    SWITCH_LOAD,
    TOLERANCE,
    PartitionError,
    check_mapping,
    cut_bandwidth,
    cut_links,
    machine_loads,
    node_loads,
    partition,
)


def two_clusters(size=6, inner=1000.0, bridge=10.0) -> nx.Graph:
    """Two cliques of servers joined by one thin link: the right cut is obvious."""
    G = nx.Graph()
    for side in "ab":
        nodes = [f"{side}{i}" for i in range(size)]
        G.add_nodes_from(nodes, kind="server", cpu=8.0, mem=8192.0)
        G.add_edges_from(((u, v) for i, u in enumerate(nodes) for v in nodes[i + 1:]), bw=inner, delay=1.0)
    G.add_edge("a0", "b0", bw=bridge, delay=1.0)
    return G


def naive(G, machines) -> dict:
    """Nodes in name order dealt into contiguous, equally many blocks: what one would do by hand."""
    nodes = sorted(G, key=node_sort_key)
    return {n: machines[i * len(machines) // len(nodes)] for i, n in enumerate(nodes)}


def shares(G, mapping, machines, reservations=None):
    loads = machine_loads(G, mapping, reservations)
    total = sum(loads.values())
    weights = machines if isinstance(machines, dict) else dict.fromkeys(machines, 1.0)
    return {m: (loads.get(m, 0.0), total * w / sum(weights.values())) for m, w in weights.items()}


def test_two_clusters_are_cut_at_their_one_thin_link():
    G = two_clusters()
    mapping = partition(G, None, ["m1", "m2"])
    assert cut_links(G, mapping) == [("a0", "b0")]
    assert cut_bandwidth(G, mapping) == 10.0
    assert {mapping[f"a{i}"] for i in range(6)} != {mapping[f"b{i}"] for i in range(6)}


def test_two_clusters_beat_a_naive_split_even_when_names_interleave():
    G = nx.relabel_nodes(two_clusters(), {f"{s}{i}": f"n{2 * i + (s == 'b')}" for s in "ab" for i in range(6)})
    mapping = partition(G, None, ["m1", "m2"])
    assert cut_bandwidth(G, mapping) == 10.0 < cut_bandwidth(G, naive(G, ["m1", "m2"]))


@pytest.mark.parametrize("machines", [["m1", "m2"], ["m1", "m2", "m3"]])
def test_fat_tree_cut_is_no_worse_than_the_naive_split_and_loads_balance(machines):
    G = fat_tree(4)  # 16 servers, 20 switches
    mapping = partition(G, None, machines)
    assert set(mapping) == set(G) and set(mapping.values()) == set(machines)
    assert cut_bandwidth(G, mapping) <= cut_bandwidth(G, naive(G, machines))
    heaviest = SERVER_LOAD
    for load, share in shares(G, mapping, machines).values():
        assert abs(load - share) <= max(2 * TOLERANCE * share, 2 * heaviest)


@pytest.mark.parametrize("G", [fat_tree(6), waxman(40, seed=2), waxman(100, seed=0)], ids=["fat6", "wax40", "wax100"])
def test_cut_is_no_worse_than_networkx_kernighan_lin(G):
    """Without reservations KL's equal node counts are a fair balance; its cut is the bar to meet."""
    a, _ = nx.community.kernighan_lin_bisection(G, weight="bw", seed=0)
    kl = {n: ("m1" if n in a else "m2") for n in G}
    assert cut_bandwidth(G, partition(G, None, ["m1", "m2"])) <= cut_bandwidth(G, kl)


def test_vnf_reservations_are_balanced_not_server_counts():
    """All VNFs sit in cluster a: balancing their CPU must move part of cluster a's servers away."""
    G = two_clusters()
    chain = Chain("c", tuple(VNF("fw", cpu=2.0) for _ in range(6)), "a0", "a5")
    servers_a = tuple(f"a{i}" for i in range(6))
    paths = (("a0",),) + tuple((u, v) for u, v in zip(servers_a, servers_a[1:])) + (("a5",),)
    placement = Placement({"c": Embedding("c", servers_a, paths)})
    mapping = partition(G, placement, ["m1", "m2"], chains=[chain])
    for load, share in shares(G, mapping, ["m1", "m2"], {s: 2.0 for s in servers_a}).values():
        assert abs(load - share) <= 2.0 + SERVER_LOAD  # within one loaded server's load
    assert len({mapping[s] for s in servers_a}) == 2  # cluster a is split: server counts alone would keep it whole


def test_machine_capacities_set_the_shares():
    G = waxman(40, seed=3)
    mapping = partition(G, None, {"big": 3, "small": 1})
    (big, big_share), (small, small_share) = shares(G, mapping, {"big": 3, "small": 1}).values()
    heaviest = max(node_loads(G).values())
    assert abs(big - big_share) <= max(TOLERANCE * small_share, heaviest)
    assert big > 2 * small


def test_same_seed_same_mapping_and_the_substrate_is_untouched():
    G = waxman(30, seed=1)
    before = nx.node_link_data(G, edges="links")
    reservations = {s: float(i % 3) for i, s in enumerate(servers(G))}
    first = partition(G, reservations, ["x", "y", "z"], seed=7)
    assert partition(G, reservations, ["x", "y", "z"], seed=7) == first
    assert nx.node_link_data(G, edges="links") == before


def test_more_machines_than_nodes_leaves_some_machines_empty():
    G = nx.Graph()
    G.add_node("s", kind="server", cpu=1.0, mem=512.0)
    G.add_node("r", kind="switch")
    G.add_edge("s", "r", bw=100.0, delay=0.0)
    mapping = partition(G, None, ["a", "b", "c", "d"])
    assert set(mapping) == {"s", "r"} and set(mapping.values()) <= {"a", "b", "c", "d"}


def test_switch_and_server_loads():
    G = fat_tree(4)
    loads = node_loads(G, {"h0": 3.0} if "h0" in G else {servers(G)[0]: 3.0})
    assert sorted(set(loads.values())) == [SWITCH_LOAD, SERVER_LOAD, SERVER_LOAD + 3.0]


@settings(max_examples=25, deadline=None)
@given(n=st.integers(4, 30), k=st.integers(2, 3), seed=st.integers(0, 5),
       cpus=st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.0]), min_size=30, max_size=30))
def test_any_substrate_gets_a_complete_balanced_mapping(n, k, seed, cpus):
    G = waxman(n, seed=seed)
    reservations = dict(zip(servers(G), cpus))
    machines = [f"m{i}" for i in range(k)]
    mapping = partition(G, reservations, machines, seed=seed)
    assert set(mapping) == set(G) and set(mapping.values()) <= set(machines)
    heaviest = max(node_loads(G, reservations).values())
    for load, share in shares(G, mapping, machines, reservations).values():
        # per bisection level: the tolerance, or one indivisible node
        assert abs(load - share) <= 2 * max(TOLERANCE * share, heaviest) + 1e-9


# ----------------------------------------------------------------- fixed mappings and bad input


def test_a_fixed_mapping_is_used_as_given():
    G = two_clusters(3)
    fixed = {n: ("left" if n.startswith("a") else "right") for n in G}
    assert partition(G, None, ["left", "right"], fixed=fixed) == fixed


@pytest.mark.parametrize("fixed, message", [
    ({"a0": "m1", "zz": "m1"}, "fixed mapping names nodes ['zz'] that are not in the substrate"),
    ({**{f"a{i}": "m1" for i in range(3)}, **{f"b{i}": "m9" for i in range(3)}},
     "unknown machines {'b0': 'm9', 'b1': 'm9', 'b2': 'm9'}: the machines are ['m1', 'm2']"),
    ({"a0": "m1"}, "fixed mapping leaves 5 node(s) without a machine, e.g. ['a1', 'a2', 'b0', 'b1', 'b2']"),
])
def test_a_bad_fixed_mapping_is_named(fixed, message):
    with pytest.raises(PartitionError) as info:
        check_mapping(two_clusters(3), fixed, ["m1", "m2"])
    assert message in str(info.value)


@pytest.mark.parametrize("machines, message", [
    ([], "machines is empty"),
    (["a", "a"], "name a machine twice"),
    ({"a": 0}, "machine 'a' has capacity 0: give a finite number > 0"),
    ("ab", "give a list of names or a dict"),
])
def test_bad_machines_are_named(machines, message):
    with pytest.raises(PartitionError, match=message):
        partition(two_clusters(3), None, machines)


def test_bad_reservations_are_named():
    with pytest.raises(PartitionError, match=r"reservations name nodes \['nope'\]"):
        partition(two_clusters(3), {"nope": 1.0}, ["a", "b"])
    with pytest.raises(PartitionError, match="reservation of node 'a0' is -1"):
        partition(two_clusters(3), {"a0": -1}, ["a", "b"])
    with pytest.raises(PartitionError, match="needs its chains"):
        partition(two_clusters(3), Placement(), ["a", "b"])
