"""Synthetic builders: right shapes, valid, reproducible, never mutating input."""

import math

import networkx as nx
import numpy as np
import pytest

from placement.substrate import servers, switches, validate_substrate
from placement.topologies import assign_servers, fat_tree, line, star, tree, waxman


def counts(G):
    return len(servers(G)), len(switches(G)), G.number_of_edges()


@pytest.mark.parametrize(
    "build, expected",
    [
        (lambda: line(1), (1, 0, 0)),
        (lambda: line(5), (5, 0, 4)),
        (lambda: star(1), (1, 1, 1)),
        (lambda: star(6), (6, 1, 6)),
        (lambda: tree(1, 4), (4, 1, 4)),
        (lambda: tree(2, 3), (9, 4, 12)),
        (lambda: tree(3, 1), (1, 3, 3)),
        (lambda: fat_tree(2), (2, 5, 6)),
        (lambda: fat_tree(4), (16, 20, 48)),
        (lambda: fat_tree(6), (54, 45, 162)),
        (lambda: waxman(30, seed=0), (30, 0, None)),
    ],
)
def test_shapes(build, expected):
    G = build()
    validate_substrate(G)
    got = counts(G)
    assert got[:2] == expected[:2]
    if expected[2] is not None:
        assert got[2] == expected[2]
    assert all(isinstance(n, str) for n in G)
    assert all(n.startswith("srv") for n in servers(G)) and all(n.startswith("sw") for n in switches(G))
    assert nx.is_connected(G)


@pytest.mark.parametrize("build", [line, star])
def test_capacities_are_applied(build):
    G = build(3, cpu=2, mem=512, bw=10, delay=0.5)
    assert {G.nodes[n]["cpu"] for n in servers(G)} == {2.0}
    assert {G.nodes[n]["mem"] for n in servers(G)} == {512.0}
    assert set(nx.get_edge_attributes(G, "bw").values()) == {10.0}
    assert set(nx.get_edge_attributes(G, "delay").values()) == {0.5}


def test_fat_tree_layers_and_degrees():
    G = fat_tree(4)
    layers = nx.get_node_attributes(G, "layer")
    assert sorted(layers.values()).count("core") == 4
    assert sorted(layers.values()).count("aggregation") == 8
    assert sorted(layers.values()).count("edge") == 8
    assert all(G.degree(n) == 4 for n in switches(G))
    assert all(G.degree(n) == 1 for n in servers(G))
    assert switches(G)[:4] == ["sw0", "sw1", "sw2", "sw3"] and layers["sw0"] == "core"


@pytest.mark.parametrize("k", [0, 1, 3, 5, -2, 4.0, "4", True])
def test_fat_tree_rejects_bad_k(k):
    with pytest.raises(ValueError, match="even int k >= 2"):
        fat_tree(k)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: line(0), "n must be an int >= 1, got 0"),
        (lambda: star(2.5), "n must be an int >= 1"),
        (lambda: tree(0, 2), "depth must be an int >= 1"),
        (lambda: tree(2, 0), "fanout must be an int >= 1"),
        (lambda: waxman(1), "n must be an int >= 2"),
        (lambda: waxman(5, alpha=0), "alpha must be in"),
        (lambda: waxman(5, beta=2), "beta must be in"),
        (lambda: waxman(5, max_delay=-1), "max_delay must be a finite number >= 0"),
        (lambda: line(2, cpu=0), "cpu must be a finite number > 0, got 0"),
        (lambda: star(2, bw=-5), "bw must be a finite number > 0"),
        (lambda: tree(1, 2, delay=math.nan), "delay must be a finite number >= 0"),
        (lambda: fat_tree(2, mem=math.inf), "mem must be a finite number > 0"),
    ],
)
def test_bad_arguments(call, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        call()


def test_zero_delay_is_allowed():
    assert set(nx.get_edge_attributes(line(3, delay=0), "delay").values()) == {0.0}


def test_waxman_is_reproducible_and_seed_sensitive():
    a, b = waxman(40, seed=5), waxman(40, seed=5)
    assert nx.utils.graphs_equal(a, b)
    assert not nx.utils.graphs_equal(a, waxman(40, seed=6))
    g1, g2 = waxman(40, seed=np.random.default_rng(5)), waxman(40, seed=np.random.default_rng(5))
    assert nx.utils.graphs_equal(g1, g2)
    assert nx.is_connected(waxman(40))


def test_waxman_generator_seed_advances():
    rng = np.random.default_rng(1)
    assert not nx.utils.graphs_equal(waxman(30, seed=rng), waxman(30, seed=rng))


def test_waxman_delay_from_distance():
    G = waxman(60, seed=2, max_delay=20.0)
    for u, v, d in G.edges(data="delay"):
        dist = math.dist(G.nodes[u]["pos"], G.nodes[v]["pos"])
        assert d == pytest.approx(20.0 * dist / math.sqrt(2))
        assert 0 <= d <= 20.0
    assert max(d for *_, d in waxman(60, seed=2, max_delay=0).edges(data="delay")) == 0


def test_waxman_alpha_is_link_density():
    """alpha scales the link probability (Waxman's notation, not networkx's)."""
    sparse = waxman(80, alpha=0.05, beta=0.1, seed=3)
    dense = waxman(80, alpha=1.0, beta=0.1, seed=3)
    assert dense.number_of_edges() > 2 * sparse.number_of_edges()
    short = waxman(80, alpha=1.0, beta=0.02, seed=3)
    assert short.number_of_edges() < dense.number_of_edges()


def test_waxman_joins_components():
    G = waxman(50, alpha=0.01, beta=0.01, seed=0)
    assert nx.is_connected(G)


def _plain_path():
    return nx.path_graph(["a", "b", "c", "d", "e"])


def test_assign_servers_all_int_list():
    G = _plain_path()
    for spec in (None, "all"):
        assert servers(assign_servers(G, spec)) == ["a", "b", "c", "d", "e"]
    H = assign_servers(G, 2, seed=4, cpu=3, mem=64)
    assert len(servers(H)) == 2 and len(switches(H)) == 3
    assert all(H.nodes[n]["cpu"] == 3.0 and H.nodes[n]["mem"] == 64.0 for n in servers(H))
    assert all(H.nodes[n]["cpu"] == 0.0 for n in switches(H))
    assert servers(assign_servers(G, ["e", "b"])) == ["b", "e"]


def test_assign_servers_reproducible_and_pure():
    G = _plain_path()
    before = nx.to_dict_of_dicts(G), dict(G.nodes(data=True))
    picks = {tuple(servers(assign_servers(G, 2, seed=s))) for s in range(20)}
    assert len(picks) > 1
    assert servers(assign_servers(G, 2, seed=7)) == servers(assign_servers(G, 2, seed=7))
    assert (nx.to_dict_of_dicts(G), dict(G.nodes(data=True))) == before


def test_assign_servers_overwrites_previous_kinds():
    G = assign_servers(star(3), ["sw0"])
    assert servers(G) == ["sw0"] and switches(G) == ["srv0", "srv1", "srv2"]


@pytest.mark.parametrize(
    "spec, message",
    [
        (0, "between 1 and 5"),
        (6, "between 1 and 5"),
        (["a", "zz"], r"\['zz'\] are not nodes"),
        ([], "empty"),
        ("some", "must be None, 'all', an int or a list"),
        (2.5, "must be None, 'all', an int or a list"),
    ],
)
def test_assign_servers_errors(spec, message):
    with pytest.raises(ValueError, match=message):
        assign_servers(_plain_path(), spec)
