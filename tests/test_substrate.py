"""validate_substrate reports every problem by name; helpers are stable and pure."""

import json
import math

import networkx as nx
import numpy as np
import pytest

from placement.errors import SubstrateError
from placement.substrate import (
    node_sort_key,
    residual_copy,
    servers,
    substrate_from_json,
    substrate_to_json,
    switches,
    total_capacity,
    validate_substrate,
)


def small(graph_class=nx.Graph):
    """Two servers a, b behind switch s: a - s - b."""
    G = graph_class()
    G.add_node("a", kind="server", cpu=4.0, mem=4096.0)
    G.add_node("b", kind="server", cpu=2.0, mem=2048.0)
    G.add_node("s", kind="switch")
    G.add_edge("a", "s", bw=100.0, delay=1.0)
    G.add_edge("s", "b", bw=50.0, delay=0.0)
    return G


def problems_of(G):
    with pytest.raises(SubstrateError) as info:
        validate_substrate(G)
    return info.value.problems


def test_valid_graph_passes():
    validate_substrate(small())


def test_numpy_numbers_and_zero_capacity_switches_are_fine():
    G = small()
    G.nodes["a"]["cpu"] = np.float64(3.5)
    G.nodes["s"].update(cpu=0, mem=0.0)
    G.edges["a", "s"]["bw"] = np.int64(10)
    validate_substrate(G)


def _set_node(n, **attrs):
    return lambda G: G.nodes[n].update(attrs)


def _del_node_attr(n, attr):
    return lambda G: G.nodes[n].pop(attr)


def _set_edge(u, v, **attrs):
    return lambda G: G.edges[u, v].update(attrs)


def _del_edge_attr(u, v, attr):
    return lambda G: G.edges[u, v].pop(attr)


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (_del_node_attr("a", "kind"), "node 'a': missing 'kind'"),
        (_set_node("a", kind="router"), "unknown kind 'router' on node 'a': use 'server' or 'switch'"),
        (_del_node_attr("a", "cpu"), "node 'a': missing 'cpu' (cores)"),
        (_del_node_attr("a", "mem"), "node 'a': missing 'mem' (MiB)"),
        (_set_node("a", cpu=-2), "node 'a': cpu is -2, must be a number > 0"),
        (_set_node("a", cpu=0.0), "node 'a': cpu is 0, must be a number > 0"),
        (_set_node("s", cpu=-2), "node 's': cpu is -2, must be a number >= 0"),
        (_set_node("a", mem="lots"), "node 'a': mem is 'lots', must be a number"),
        (_set_node("a", cpu=True), "node 'a': cpu is True, must be a number"),
        (_set_node("a", cpu=math.nan), "node 'a': cpu is nan, must be a finite number"),
        (_set_node("a", mem=math.inf), "node 'a': mem is inf, must be a finite number"),
        (_del_edge_attr("a", "s", "bw"), "edge ('a', 's'): missing 'bw' (Mbit/s)"),
        (_del_edge_attr("a", "s", "delay"), "edge ('a', 's'): missing 'delay' (ms)"),
        (_set_edge("a", "s", bw=0), "edge ('a', 's'): bw is 0, must be a number > 0"),
        (_set_edge("a", "s", delay=-1.5), "edge ('a', 's'): delay is -1.5, must be a number >= 0"),
        (_set_edge("a", "s", delay=math.inf), "edge ('a', 's'): delay is inf, must be a finite"),
        (_set_edge("a", "s", bw="fast"), "edge ('a', 's'): bw is 'fast', must be a number"),
        (lambda G: G.add_edge("a", "a", bw=1.0, delay=1.0), "edge ('a', 'a'): self-loop"),
        (lambda G: nx.set_node_attributes(G, "switch", "kind"), "no servers"),
        (
            lambda G: G.add_node("c", kind="server", cpu=1.0, mem=1.0),
            "servers are split across 2 connected components (['a', 'b'] | ['c'])",
        ),
    ],
)
def test_each_problem_is_named(mutate, expected):
    G = small()
    mutate(G)
    problems = problems_of(G)
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize(
    "G, expected",
    [
        (small(nx.MultiGraph), "MultiGraph"),
        (small(nx.DiGraph), "directed"),
        (nx.Graph(), "no nodes"),
    ],
)
def test_graph_type_problems(G, expected):
    assert any(expected in p for p in problems_of(G))


def test_not_a_graph():
    with pytest.raises(SubstrateError, match="must be a networkx.Graph, got list"):
        validate_substrate([("a", "b")])


def test_all_problems_reported_at_once():
    G = small()
    G.nodes["a"]["cpu"] = -1
    G.nodes["s"]["kind"] = "router"
    del G.edges["s", "b"]["bw"]
    with pytest.raises(SubstrateError) as info:
        validate_substrate(G)
    assert len(info.value.problems) == 3, info.value.problems
    assert all(p in str(info.value) for p in info.value.problems)


def test_long_components_are_truncated():
    G = nx.Graph()
    for i in range(8):
        G.add_node(f"x{i}", kind="server", cpu=1.0, mem=1.0)
    nx.add_path(G, [f"x{i}" for i in range(7)], bw=1.0, delay=1.0)
    (problem,) = problems_of(G)
    assert "... (2 more)" in problem and "['x7']" in problem


def test_servers_and_switches_natural_stable_order():
    G = nx.Graph()
    for name in ["srv10", "sw1", "srv2", "srv1", "sw0"]:
        G.add_node(name, kind="server" if name.startswith("srv") else "switch")
    assert servers(G) == ["srv1", "srv2", "srv10"]
    assert switches(G) == ["sw0", "sw1"]


def test_node_sort_key_handles_mixed_types():
    assert sorted([10, "a", 2, ("t", 1)], key=node_sort_key)[:2] == [2, 10]


def test_residual_copy_is_independent():
    G = small()
    G.graph["notes"] = ["x"]
    R = residual_copy(G)
    R.nodes["a"]["cpu"] -= 1.0
    R.edges["a", "s"]["bw"] -= 10.0
    R.graph["notes"].append("y")
    assert G.nodes["a"]["cpu"] == 4.0 and G.edges["a", "s"]["bw"] == 100.0
    assert G.graph["notes"] == ["x"]


def test_total_capacity_counts_servers_only():
    G = small()
    G.nodes["s"].update(cpu=99.0, mem=99.0)
    assert total_capacity(G) == {"cpu": 6.0, "mem": 6144.0, "bw": 150.0}


def test_json_round_trip():
    G = small()
    G.graph["name"] = "tiny"
    text = json.dumps(substrate_to_json(G), allow_nan=False)
    H = substrate_from_json(json.loads(text))
    assert nx.utils.graphs_equal(G, H)
    assert not H.is_multigraph() and not H.is_directed()


def test_from_json_validates():
    data = substrate_to_json(small())
    data["nodes"][0]["cpu"] = -1
    with pytest.raises(SubstrateError, match="cpu is -1"):
        substrate_from_json(data)
