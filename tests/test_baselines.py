"""The literature baselines: ranks equal their papers' fixed points, searches find optima, improvers improve."""

from __future__ import annotations

import pickle

import networkx as nx
import numpy as np
import pytest
from networkx.algorithms.link_analysis.pagerank_alg import _pagerank_python
from placement_instances import brute_force, random_instance

from placement.algorithms.grc import grc_vector
from placement.algorithms.pagerank import pagerank_vector
from placement.algorithms.rw_rank import random_walk_rank
from placement.base import get_algorithm, validate_placement
from placement.errors import Infeasible, UnknownAlgorithm
from placement.metrics import cost
from placement.model import VNF, Chain
from placement.topologies import line, star

RANKINGS = ["grc", "rw_rank", "pagerank"]
SEARCHES = ["annealing", "tabu", "local_search"]


def _hand_graph():
    """Four servers: a triangle a-b-c with a pendant d on c; CPU and bandwidth all different."""
    G = nx.Graph()
    for n, cpu in zip("abcd", (10.0, 20.0, 30.0, 40.0)):
        G.add_node(n, kind="server", cpu=cpu, mem=1024.0)
    for u, v, bw in (("a", "b", 100.0), ("b", "c", 50.0), ("a", "c", 25.0), ("c", "d", 200.0)):
        G.add_edge(u, v, bw=bw, delay=1.0)
    return G


def _matrices(G):
    nodes = list(G)
    cpu = np.array([G.nodes[n]["cpu"] for n in nodes])
    A = nx.to_numpy_array(G, nodelist=nodes, weight="bw")
    return nodes, cpu, A


def test_grc_is_the_papers_fixed_point():
    # Gong et al.: r = (1 - d) c + d M r, c_i = cpu_i / sum cpu, M_ij = bw_ij / sum_k bw_kj.
    G, d = _hand_graph(), 0.85
    nodes, cpu, A = _matrices(G)
    c = cpu / cpu.sum()
    M = A / A.sum(axis=0, keepdims=True)
    expected = np.linalg.solve(np.eye(len(nodes)) - d * M, (1 - d) * c)
    got = grc_vector(G, d=d, tol=1e-12)
    assert [got[n] for n in nodes] == pytest.approx(expected.tolist(), abs=1e-10)
    assert sum(got.values()) == pytest.approx(1.0)


def test_grc_damping_zero_is_the_cpu_share():
    G = _hand_graph()
    assert list(grc_vector(G, d=0.0).values()) == pytest.approx([0.1, 0.2, 0.3, 0.4])


def test_random_walk_rank_is_the_papers_stationary_distribution():
    # Cheng et al.: H(u) = CPU(u) x sum of its link bandwidths; jump to v w.p. p_J H(v) / sum H,
    # forward to neighbour v w.p. p_F H(v) / sum over u's neighbours of H.
    G, p_jump = _hand_graph(), 0.15
    nodes, cpu, A = _matrices(G)
    H = cpu * A.sum(axis=1)
    h = H / H.sum()
    adjacency = (A > 0).astype(float)
    F = adjacency * H[None, :] / (adjacency * H[None, :]).sum(axis=1, keepdims=True)
    P = p_jump * np.tile(h, (len(nodes), 1)) + (1 - p_jump) * F  # row-stochastic transition matrix
    # the stationary distribution: left eigenvector of P for eigenvalue 1
    values, vectors = np.linalg.eig(P.T)
    stationary = np.real(vectors[:, np.argmin(abs(values - 1.0))])
    stationary /= stationary.sum()
    got = random_walk_rank(G, p_jump=p_jump, tol=1e-12)
    assert [got[n] for n in nodes] == pytest.approx(stationary.tolist(), abs=1e-9)


def test_pagerank_equals_networkx_reference():
    G = _hand_graph()
    G.add_node("sw", kind="switch", cpu=0.0, mem=0.0)
    G.add_edge("sw", "a", bw=10.0, delay=1.0)
    h = {n: G.nodes[n]["cpu"] * sum(b for _, _, b in G.edges(n, data="bw")) for n in G}
    expected = _pagerank_python(G, alpha=0.85, personalization=h, weight="bw", tol=1e-12, max_iter=1000)
    got = pagerank_vector(G, tol=1e-12, max_iter=1000)
    assert got == pytest.approx(expected, abs=1e-9)


def test_ranks_follow_the_residual():
    G = _hand_graph()
    before = grc_vector(G)
    G.nodes["d"]["cpu"] = 0.0  # an online run consumed d
    after = grc_vector(G)
    assert after["d"] < before["d"] and max(after, key=after.get) != "d"


@pytest.mark.parametrize("name", RANKINGS)
def test_ranking_maps_on_the_best_ranked_feasible_server(name):
    G = star(4, cpu=4.0)
    G.nodes["srv3"]["cpu"] = 40.0  # srv3 ranks first...
    chain = Chain("c", (VNF("fw", cpu=1.0),), "srv0", "srv1")
    assert get_algorithm(name).place(G, [chain]).embeddings["c"].servers == ("srv3",)
    big = Chain("c", (VNF("fw", cpu=1.0), VNF("ids", cpu=40.0)), "srv0", "srv1")
    # ...and VNF 0 must leave it to VNF 1, which fits nowhere else: only backtracking finds that
    with pytest.raises(Infeasible):
        get_algorithm(name, backtracks=0).place(G, [big])
    placement = get_algorithm(name).place(G, [big])
    assert validate_placement(G, [big], placement) == []
    assert placement.embeddings["c"].servers[1] == "srv3"


def _unit_delay_instance(seed):
    """A small instance where shortest-delay routes are also least-hop: the optimum is an assignment's.

    With every delay 1 ms and bandwidth to spare, routing each virtual link on
    a shortest-delay path is optimal for any server assignment, so a search
    over assignments can reach the optimum that brute_force computes.
    """
    G, chains = random_instance(500 + seed, n_nodes=6, n_servers=4, n_chains=3, max_vnfs=2, extra_edges=2, tight=False)
    nx.set_edge_attributes(G, 1.0, "delay")
    return G, chains


def _cost_or_none(name, G, chains, seed=0):
    try:
        return cost(G, chains, get_algorithm(name).place(G, chains, seed=seed))
    except Infeasible:
        return None


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("name", ["annealing", "tabu"])
def test_search_finds_the_brute_force_optimum(name, seed):
    G, chains = _unit_delay_instance(seed)
    expected = brute_force(G, chains)
    found = _cost_or_none(name, G, chains, seed)
    assert (found is None) == (expected is None)
    if expected is not None:
        assert found == pytest.approx(expected, abs=1e-6)


def test_greedy_misses_the_optimum_of_several_of_those_instances():
    # Otherwise the test above would not show that the searches search.
    missed = 0
    for seed in range(40):
        G, chains = _unit_delay_instance(seed)
        expected, found = brute_force(G, chains), _cost_or_none("greedy", G, chains)
        missed += expected is not None and (found is None or found > expected + 1e-6)
    assert missed >= 5


@pytest.mark.parametrize("name", ["annealing", "tabu", "local_search"])
def test_search_repairs_what_greedy_cannot_place(name):
    # Greedy puts c0 on srv1 (next to its ends), leaving no room for c1, which only fits there.
    G = line(3, cpu=2.0, delay=1.0)
    G.nodes["srv1"]["cpu"] = 3.0
    chains = [
        Chain("c0", (VNF("a", cpu=2.0),), "srv1", "srv1"),
        Chain("c1", (VNF("b", cpu=3.0),), "srv0", "srv2"),
    ]
    with pytest.raises(Infeasible):
        get_algorithm("greedy").place(G, chains)
    placement = get_algorithm(name).place(G, chains, seed=0)
    assert validate_placement(G, chains, placement) == []
    assert placement.embeddings["c1"].servers == ("srv1",)


@pytest.mark.parametrize("start", ["first_fit", "greedy", "random", "grc"])
@pytest.mark.parametrize("seed", range(10))
def test_local_search_is_never_worse_than_its_start(start, seed):
    G, chains = random_instance(700 + seed, n_nodes=6, n_servers=4, n_chains=3, max_vnfs=3, tight=seed % 2 == 0)
    try:
        first = get_algorithm(start).place(G, chains, seed=seed)
    except Infeasible:
        first = None
    try:
        improved = get_algorithm("local_search", start=start).place(G, chains, seed=seed)
    except Infeasible:
        assert first is None
        return
    assert validate_placement(G, chains, improved) == []
    if first is not None:
        assert cost(G, chains, improved) <= cost(G, chains, first) + 1e-9


def test_local_search_strictly_improves_first_fit():
    G = line(4)
    chains = [Chain("c", (VNF("a"), VNF("b")), "srv3", "srv3")]
    start = get_algorithm("first_fit").place(G, chains)
    improved = get_algorithm("local_search", start="first_fit").place(G, chains)
    assert start.embeddings["c"].servers == ("srv0", "srv0")
    assert improved.embeddings["c"].servers == ("srv3", "srv3")
    assert cost(G, chains, improved) < cost(G, chains, start)
    assert improved.info["improved"] and improved.info["start_cost"] == pytest.approx(cost(G, chains, start))


@pytest.mark.parametrize("name", RANKINGS + SEARCHES)
def test_vne_style_requests_get_distinct_servers(name):
    G = star(4, cpu=4.0)
    chain = Chain("r", (VNF("a", cpu=1.0), VNF("b", cpu=1.0), VNF("c", cpu=1.0)), anti_affinity=True, bw=5.0)
    placement = get_algorithm(name).place(G, [chain], seed=3)
    assert validate_placement(G, [chain], placement) == []
    assert len(set(placement.embeddings["r"].servers)) == 3
    assert len(placement.embeddings["r"].paths) == 2


@pytest.mark.parametrize("name", RANKINGS + SEARCHES)
def test_pickled_algorithm_gives_the_same_answer(name):
    G, chains = random_instance(42, n_nodes=6, n_servers=4, n_chains=2, max_vnfs=2, tight=False)
    algo = get_algorithm(name)
    clone = pickle.loads(pickle.dumps(algo))
    assert clone.place(G, chains, seed=5).embeddings == algo.place(G, chains, seed=5).embeddings


@pytest.mark.parametrize(
    "name, params, message",
    [
        ("grc", {"d": 1.0}, "grc d must be a number in [0, 1)"),
        ("rw_rank", {"p_jump": 0.0}, "p_jump must be > 0"),
        ("pagerank", {"tol": -1.0}, "pagerank tol must be a positive number"),
        ("grc", {"backtracks": -1}, "backtracks must be an integer >= 0"),
        ("annealing", {"final_temperature": 2.0}, "final_temperature must not exceed initial_temperature"),
        ("tabu", {"tenure": 0}, "tabu tenure must be a positive number"),
        ("local_search", {"start": "tabu"}, "start='tabu' is a search itself"),
    ],
)
def test_bad_parameters_say_what_is_wrong(name, params, message):
    G = star(2)
    chain = Chain("c", (VNF("fw"),), "srv0", "srv1")
    with pytest.raises(ValueError) as info:
        get_algorithm(name, **params).place(G, [chain])
    assert message in str(info.value)


def test_unknown_start_algorithm_names_the_choices():
    with pytest.raises(UnknownAlgorithm) as info:
        get_algorithm("local_search", start="best_fit").place(star(2), [Chain("c", (VNF("fw"),), "srv0", "srv1")])
    assert "greedy" in str(info.value)
