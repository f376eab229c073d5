"""The admission-control optimum, its bounds and sequential admission, against brute force."""

from __future__ import annotations

import dataclasses
import itertools
import math

import networkx as nx
import pytest

from placement.admission import (
    SNDLIB_DIR,
    admission_optimum,
    admit,
    best_heuristic,
    lp_bound,
    sndlib_instance,
)
from placement.base import available_algorithms, check_placement
from placement.metrics import revenue
from placement.model import VNF, Chain
from placement.online import simulate
from placement.topologies import line
from placement.workload import generate_chains
from tests.placement_instances import brute_force, random_instance

SEEDS = range(10)
HAS_SNDLIB = (SNDLIB_DIR / "abilene.gml").is_file()
needs_sndlib = pytest.mark.skipif(not HAS_SNDLIB, reason=f"SNDlib data not found in {SNDLIB_DIR} (set SFCBENCH_SNDLIB)")


def brute_force_admission(G, chains):
    """(best accepted revenue, least cost among subsets earning it), by trying every subset."""
    best = (0.0, 0.0)
    for size in range(1, len(chains) + 1):
        for subset in itertools.combinations(chains, size):
            c = brute_force(G, subset)
            if c is None:
                continue
            earned = sum(revenue(x) for x in subset)
            if earned > best[0] + 1e-9 or (abs(earned - best[0]) <= 1e-9 and c < best[1]):
                best = (earned, c)
    return best


def _variant(chains, kind):
    if kind == "anti_affinity":
        return [dataclasses.replace(c, anti_affinity=True) for c in chains]
    if kind == "no_endpoints":
        return [dataclasses.replace(c, ingress=None, egress=None) for c in chains]
    if kind == "no_ingress":
        return [dataclasses.replace(c, ingress=None) for c in chains]
    return chains


def _check_accepted(G, chains, a):
    accepted = [c for c in chains if c.id in a.placement.embeddings]
    check_placement(G, accepted, a.placement)
    assert sorted(a.rejected) == sorted(c.id for c in chains if c.id not in a.placement.embeddings)
    assert a.revenue == pytest.approx(sum(revenue(c) for c in accepted))


@pytest.mark.parametrize("method, formulation", [("decomposition", "arc"), ("milp", "arc"), ("milp", "path")])
@pytest.mark.parametrize("kind", ["fixed", "anti_affinity", "no_endpoints", "no_ingress"])
@pytest.mark.parametrize("seed", SEEDS)
def test_admission_optimum_equals_brute_force(seed, kind, method, formulation):
    G, chains = random_instance(seed, n_chains=4, max_vnfs=2)
    chains = _variant(chains, kind)
    best, least_cost = brute_force_admission(G, chains)
    a = admission_optimum(G, chains, method=method, formulation=formulation)
    assert a.status == "Optimal"
    assert a.revenue == pytest.approx(best, abs=1e-6)
    assert a.cost == pytest.approx(least_cost, abs=1e-6)
    assert a.bound >= a.revenue - 1e-9 and a.gap <= 1e-6
    _check_accepted(G, chains, a)
    assert lp_bound(G, chains) >= best - 1e-6
    if method == "decomposition":  # without a warm start the masters' bounds and sets decide alone
        cold = admission_optimum(G, chains, warm_start=(), tie_break_time=0)
        assert cold.status == "Optimal" and cold.revenue == pytest.approx(best, abs=1e-6)
        assert cold.info["master"]["embedded_by"] != "warm start"


@pytest.mark.parametrize("seed", SEEDS)
def test_per_link_latency_is_honoured(seed):
    G, chains = random_instance(seed, n_chains=3, max_vnfs=2)
    chains = [dataclasses.replace(c, link_latency=(3.0,) * c.n_links) for c in chains]
    a = admission_optimum(G, chains)
    assert a.revenue == pytest.approx(brute_force_admission(G, chains)[0], abs=1e-6)
    _check_accepted(G, chains, a)


def test_decomposition_forbids_a_set_the_master_accepts_but_no_embedding_holds():
    """The master routes a chain whose ends coincide nowhere, so it misses that the detour to the only
    server with room crosses each link twice; the check proves the set infeasible and a no-good row
    sends the master to the next best set."""
    G = line(3, cpu=0.5, bw=1.5)
    G.nodes["srv2"]["cpu"] = 2.0
    far = Chain("far", (VNF("a", cpu=2.0),), "srv0", "srv0", bw=1.0)  # revenue 2 + 2 x 1: only srv2 fits a
    near = Chain("near", (VNF("a", cpu=0.5),), "srv0", "srv1", bw=0.25)  # revenue 0.5 + 2 x 0.25
    a = admission_optimum(G, [far, near])
    assert a.status == "Optimal" and a.rejected == ["far"] and a.revenue == pytest.approx(1.0)
    # the routes-only master, then the master with servers: {far, near}, {far}, {near}
    assert a.info["master"]["iterations"] == 4 and a.bound == pytest.approx(1.0)
    G.edges["srv0", "srv1"]["bw"] = G.edges["srv1", "srv2"]["bw"] = 2.5  # now the detour fits too
    a = admission_optimum(G, [far, near])
    assert a.rejected == [] and a.status == "Optimal"
    _check_accepted(G, [far, near], a)


def test_anti_affinity_spreads_vnfs():
    G = line(2, cpu=2.0)
    c = Chain("c", (VNF("a", cpu=1.0), VNF("b", cpu=1.0)), "srv0", "srv0", anti_affinity=True)
    assert sorted(admission_optimum(G, [c]).placement.embeddings["c"].servers) == ["srv0", "srv1"]
    G.nodes["srv1"]["cpu"] = 0.5  # both VNFs now fit on srv0 only
    assert admission_optimum(G, [c]).rejected == ["c"]
    assert admission_optimum(G, [dataclasses.replace(c, anti_affinity=False)]).rejected == []


@pytest.mark.parametrize("seed", range(4))
def test_every_heuristic_admits_at_most_the_optimum(seed):
    G, chains = random_instance(seed, n_chains=4, max_vnfs=2)
    best = admission_optimum(G, chains).revenue
    for name in available_algorithms():
        a = admit(G, chains, name, seed)
        _check_accepted(G, chains, a)
        assert a.revenue <= best + 1e-6, name


def test_admit_is_the_sequential_mode():
    """admit() accepts what fits in order, like experiments' sequential mode (and simulate without departures)."""
    G = line(2, cpu=1.0)
    cs = [Chain(f"c{i}", (VNF("a", cpu=0.6),), "srv0", "srv1") for i in range(4)]
    a = admit(G, cs, "first_fit")
    assert a.accepted == ["c0", "c1"] and a.rejected == ["c2", "c3"]
    assert best_heuristic(G, cs).revenue == a.revenue


def test_warm_start_is_never_worse_than_the_heuristic():
    G, chains = random_instance(3, n_chains=4, max_vnfs=2)
    a = admission_optimum(G, chains, time_limit=0.0, tie_break_time=0)
    assert a.revenue >= best_heuristic(G, chains).revenue - 1e-9
    _check_accepted(G, chains, a)


@pytest.mark.parametrize("seed", range(3))
def test_lp_bound_holds_online(seed):
    """The time-aware LP bound is above what any algorithm accepts in an online run."""
    G = line(5, cpu=2.0, bw=30.0)
    chains = generate_chains(G, 40, bw=(5.0, 15.0), max_latency=(3.0, 8.0), arrival_rate=1.0, mean_lifetime=5.0,
                             seed=seed)
    bound = lp_bound(G, chains)
    for name in ("greedy", "first_fit", "random"):
        assert simulate(G, chains, name, seed=seed).accepted_revenue <= bound + 1e-6
    assert bound <= sum(revenue(c) for c in chains) + 1e-6


def test_lp_bound_of_a_batch_is_above_the_optimum():
    G, chains = random_instance(5, n_chains=4, max_vnfs=2, tight=True)
    assert lp_bound(G, chains) >= admission_optimum(G, chains).revenue - 1e-6
    assert lp_bound(G, []) == 0.0


def test_duplicate_ids_are_refused():
    c = Chain("c", (VNF("a"),), "srv0", "srv1")
    with pytest.raises(Exception, match="duplicate chain ids"):
        admission_optimum(line(2), [c, c])


@needs_sndlib
def test_sndlib_instance_follows_the_recipe():
    G, chains = sndlib_instance("abilene", 20, seed=1)
    assert all(k == "server" for _, k in G.nodes(data="kind"))
    assert all(50 <= G.nodes[n]["cpu"] <= 100 for n in G)
    assert all(50 <= d["bw"] <= 100 and d["delay"] == pytest.approx(d["km"] * 0.005) for *_, d in G.edges(data=True))
    dist = dict(nx.all_pairs_dijkstra_path_length(G, weight="delay"))
    for c in chains:
        assert 2 <= len(c.vnfs) <= 5 and 5 <= c.bw <= 25 and c.ingress != c.egress
        assert all(5 <= v.cpu <= 20 for v in c.vnfs)
        assert c.max_latency == pytest.approx(1.5 * dist[c.ingress][c.egress] + 2.0)
    assert sndlib_instance("abilene", 20, seed=1)[1] == chains
    with pytest.raises(FileNotFoundError, match="no SNDlib topology"):
        sndlib_instance("atlantis", 3, seed=0)


@needs_sndlib
def test_abilene_20_chains_proved_optimal():
    G, chains = sndlib_instance("abilene", 20, seed=0)
    a = admission_optimum(G, chains, time_limit=600.0)
    assert a.status == "Optimal" and a.gap <= 1e-6
    _check_accepted(G, chains, a)
    assert a.revenue >= best_heuristic(G, chains).revenue - 1e-9
    assert math.isfinite(a.bound) and lp_bound(G, chains) >= a.revenue - 1e-6


@needs_sndlib
def test_geant_30_chains_proved_optimal_by_the_decomposition():
    G, chains = sndlib_instance("geant", 30, seed=3)
    a = admission_optimum(G, chains, time_limit=120.0, tie_break_time=0)
    assert a.status == "Optimal" and a.gap <= 1e-6 and a.info["master"]["embedded_by"] == "master routes"
    _check_accepted(G, chains, a)
    assert a.revenue > best_heuristic(G, chains).revenue  # the heuristics miss it
    assert lp_bound(G, chains) >= a.revenue - 1e-6


@pytest.mark.parametrize("mode, optimum", [("sequential", "exact"), ("batch", "lp"), ("online", "lp")])
def test_experiment_rows_carry_the_optimum(run_cfg, mode, optimum):
    from experiments.run import run_experiment

    workload = "online" if mode == "online" else "small"
    df = run_experiment(run_cfg(f"mode={mode}", f"workload={workload}", "workload.n=6", f"optimum={optimum}"))
    assert (df["opt_kind"] == optimum).all() and df["opt_bound"].notna().all()
    earned = df.groupby("repetition")["revenue"].sum()
    reference = df["opt_revenue"] if optimum == "exact" else df["opt_bound"]
    assert df["revenue_ratio"].iloc[0] == pytest.approx(earned.iloc[0] / reference.iloc[0])
    assert (df["revenue_ratio"] <= 1 + 1e-6).all()


def test_experiment_rows_without_optimum_are_unchanged(run_cfg):
    from experiments.run import run_experiment

    df = run_experiment(run_cfg("workload.n=3"))
    assert not {"opt_kind", "revenue_ratio"} & set(df.columns)


def test_online_exact_optimum_is_a_config_error(compose):
    from experiments.schema import ConfigError, check_config

    with pytest.raises(ConfigError, match="optimum=lp"):
        check_config(compose("mode=online", "workload=online", "optimum=exact"))
    with pytest.raises(ConfigError, match="optimum='best'"):
        check_config(compose("optimum=best"))


@pytest.mark.parametrize("seed", range(3))
def test_both_lp_bounds_hold_online_for_vne_requests(seed):
    from placement.vne import generate_requests, wx100

    G = wx100(n=12, seed=seed)
    requests = generate_requests(G, 60, length=(2, 5), arrival_rate=0.2, mean_lifetime=60.0, seed=seed)
    flow, aggregate = lp_bound(G, requests), lp_bound(G, requests, relaxation="aggregate")
    for name in ("greedy", "first_fit"):
        assert simulate(G, requests, name, seed=seed).accepted_revenue <= min(flow, aggregate) + 1e-6
