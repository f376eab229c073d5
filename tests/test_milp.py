"""The MILP is exact: it matches exhaustive enumeration and never loses to a heuristic."""

from __future__ import annotations

import math

import pytest
from placement_instances import brute_force, random_instance

from placement.algorithms.milp import _simple_path
from placement.base import available_algorithms, get_algorithm, validate_placement
from placement.errors import Infeasible
from placement.metrics import cost
from placement.model import VNF, Chain
from placement.topologies import line, star, waxman
from placement.workload import generate_chains

HEURISTICS = [name for name in available_algorithms() if name != "milp"]
SEEDS = range(24)


def _milp_or_none(G, chains, **params):
    try:
        return get_algorithm("milp", **params).place(G, chains)
    except Infeasible:
        return None


@pytest.mark.parametrize("seed", SEEDS)
def test_milp_matches_brute_force(seed):
    G, chains = random_instance(seed, n_nodes=5, n_servers=3, n_chains=3, max_vnfs=2)
    expected = brute_force(G, chains)
    placement = _milp_or_none(G, chains)
    if expected is None:
        assert placement is None
        return
    assert placement is not None, f"MILP missed a placement of cost {expected}"
    assert validate_placement(G, chains, placement) == []
    assert cost(G, chains, placement) == pytest.approx(expected, abs=1e-6)
    assert placement.info["objective"] == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("seed", range(8))
def test_milp_matches_brute_force_on_six_nodes(seed):
    G, chains = random_instance(300 + seed, n_nodes=6, n_servers=4, n_chains=3, max_vnfs=2, extra_edges=3)
    expected = brute_force(G, chains)
    placement = _milp_or_none(G, chains)
    assert (placement is None) == (expected is None)
    if expected is not None:
        assert cost(G, chains, placement) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("weights", [(1.0, 0.0), (0.0, 1.0), (2.0, 0.05)])
def test_milp_optimises_the_weighted_cost(weights):
    lw, bww = weights
    for seed in range(6):
        G, chains = random_instance(100 + seed, n_nodes=5, n_servers=3, n_chains=2, max_vnfs=2)
        expected = brute_force(G, chains, latency_weight=lw, bandwidth_weight=bww)
        placement = _milp_or_none(G, chains, latency_weight=lw, bandwidth_weight=bww)
        assert (placement is None) == (expected is None)
        if expected is not None:
            assert validate_placement(G, chains, placement) == []
            got = cost(G, chains, placement, latency_weight=lw, bandwidth_weight=bww)
            assert got == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("seed", range(12))
def test_milp_never_worse_than_a_heuristic(seed):
    G, chains = random_instance(200 + seed, n_nodes=6, n_servers=4, n_chains=3, max_vnfs=3)
    milp = _milp_or_none(G, chains)
    for name in HEURISTICS:
        try:
            heuristic = get_algorithm(name).place(G, chains, seed=seed)
        except Infeasible:
            continue
        assert milp is not None, f"{name} placed what the MILP called infeasible"
        assert cost(G, chains, milp) <= cost(G, chains, heuristic) + 1e-6


def test_milp_info_reports_the_solve():
    G = waxman(8, seed=2)
    chains = generate_chains(G, 4, seed=2)
    placement = get_algorithm("milp").place(G, chains)
    info = placement.info
    assert info["status"] == "Optimal"
    assert info["objective"] == pytest.approx(cost(G, chains, placement), abs=1e-6)
    assert info["bound"] == pytest.approx(info["objective"], abs=1e-6)
    assert 0.0 <= info["gap"] <= 1e-9
    assert info["n_vars"] > 0 and info["n_constraints"] > 0


def test_milp_batch_of_twenty_chains_is_proved_quickly():
    G = waxman(12, seed=1, cpu=4.0)
    chains = generate_chains(G, 20, bw=(10.0, 50.0), max_latency=(15.0, 40.0), seed=1)
    placement = get_algorithm("milp", time_limit=30.0).place(G, chains)
    assert placement.info["status"] == "Optimal"
    assert validate_placement(G, chains, placement) == []
    assert placement.solve_time < 10.0


def test_infeasible_batch_raises_with_reason():
    G = star(2, cpu=1.0)
    chains = [Chain(f"c{i}", (VNF("fw", cpu=1.0),), "srv0", "srv1") for i in range(3)]
    with pytest.raises(Infeasible) as info:
        get_algorithm("milp").place(G, chains)
    assert info.value.reason == "infeasible"
    assert info.value.chain_id is None


def test_time_limit_is_reported():
    G = waxman(12, seed=1, cpu=4.0)
    chains = generate_chains(G, 20, bw=(10.0, 50.0), max_latency=(15.0, 40.0), seed=1)
    try:
        placement = get_algorithm("milp", time_limit=1e-6).place(G, chains)
    except Infeasible as e:
        assert e.reason == "time-limit"
    else:  # HiGHS found a solution (or proved one) before noticing the limit
        assert placement.info["status"] in ("Time limit reached", "Optimal")
        assert validate_placement(G, chains, placement) == []


def test_paths_are_simple_even_with_cycles_in_the_flow():
    # Flow a->b->c->e plus a detached cycle b->c->d->b: the path skips the cycle.
    flows = {("a", "b"): 0, ("b", "c"): 1, ("c", "d"): 2, ("d", "b"): 3, ("c", "e"): 4, ("a", "x"): 5}
    values = [1.0, 1.0, 1.0, 1.0, 1.0, 0.0]
    assert _simple_path(flows, values, "a", "e", "c0") == ("a", "b", "c", "e")
    assert _simple_path(flows, values, "a", "a", "c0") == ("a",)


def test_colocated_vnfs_use_one_node_paths():
    G = line(3)
    chain = Chain("c", (VNF("a"), VNF("b")), "srv1", "srv1")
    e = get_algorithm("milp").place(G, [chain]).embeddings["c"]
    assert e.servers == ("srv1", "srv1")
    assert e.paths == (("srv1",), ("srv1",), ("srv1",))
    assert math.isclose(cost(G, [chain], get_algorithm("milp").place(G, [chain])), 0.0)


@pytest.mark.parametrize("seed", range(16))
def test_milp_matches_brute_force_without_endpoints(seed):
    # Chains may lack ingress and/or egress, ask for anti-affinity and bound each virtual link.
    G, chains = random_instance(500 + seed, n_nodes=5, n_servers=3, n_chains=3, max_vnfs=3, open_ended=True)
    expected = brute_force(G, chains)
    placement = _milp_or_none(G, chains)
    assert (placement is None) == (expected is None)
    if expected is not None:
        assert validate_placement(G, chains, placement) == []
        assert cost(G, chains, placement) == pytest.approx(expected, abs=1e-6)


def test_open_ended_instances_exercise_every_option():
    chains = [c for seed in range(16) for c in random_instance(500 + seed, max_vnfs=3, open_ended=True)[1]]
    assert any(c.ingress is None for c in chains) and any(c.egress is None for c in chains)
    assert any(c.anti_affinity for c in chains) and any(c.link_latency for c in chains)
    assert any(c.ingress is not None for c in chains)


def test_milp_anti_affinity_costs_what_separation_costs():
    G = line(3)  # 1 ms per hop: two VNFs apart cost one hop more than together
    together = Chain("c", (VNF("a"), VNF("b")), "srv1", "srv1", bw=10.0)
    apart = Chain("c", (VNF("a"), VNF("b")), "srv1", "srv1", bw=10.0, anti_affinity=True)
    assert cost(G, [together], get_algorithm("milp").place(G, [together])) == pytest.approx(0.0)
    placement = get_algorithm("milp").place(G, [apart])
    assert len(set(placement.embeddings["c"].servers)) == 2
    assert cost(G, [apart], placement) == pytest.approx(2.0 + 0.01 * 10.0 * 2)  # there and back, 1 ms each
