"""Every registered algorithm obeys the contract of PlacementAlgorithm.place."""

from __future__ import annotations

import dataclasses
import math

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from placement_instances import random_instance, snapshot

from placement.base import available_algorithms, get_algorithm, validate_placement
from placement.errors import ChainError, Infeasible, UnknownAlgorithm
from placement.model import KIND, SERVER, VNF, Chain, Placement
from placement.topologies import line, star, tree, waxman
from placement.workload import generate_chains

ALGORITHMS = available_algorithms()


def _instances():
    G = star(4, cpu=4.0)
    yield "star", G, generate_chains(G, 4, length=(1, 3), bw=(1.0, 10.0), seed=1)
    G = line(5)
    yield "line-latency", G, generate_chains(G, 3, max_latency=(8.0, 12.0), seed=2)
    G = tree(2, 3, cpu=2.0)
    yield "tree-any-endpoints", G, generate_chains(G, 4, endpoints="any", seed=3)
    G = waxman(10, seed=3)
    yield "waxman", G, generate_chains(G, 5, bw=(10.0, 50.0), max_latency=(15.0, 30.0), seed=4)
    G, chains = random_instance(15, n_nodes=6, n_servers=4, tight=False)
    yield "random-small", G, chains
    G = waxman(10, seed=5)
    yield "waxman-vne", G, _vne_style(generate_chains(G, 5, length=(2, 4), bw=(5.0, 20.0), seed=6))
    G = star(4, cpu=4.0)
    chains = generate_chains(G, 4, length=(1, 3), seed=8)
    yield "star-mixed-ends", G, [
        dataclasses.replace(c, ingress=None if k % 2 else c.ingress, egress=None if k > 1 else c.egress,
                            anti_affinity=k % 3 == 0)
        for k, c in enumerate(chains)
    ]


def _vne_style(chains):
    """``chains`` as VNE requests: no endpoints, anti-affinity, a loose bound on each virtual link."""
    return [
        dataclasses.replace(c, ingress=None, egress=None, anti_affinity=True, link_latency=(10.0,) * (len(c.vnfs) - 1))
        for c in chains
    ]


INSTANCES = list(_instances())
IDS = [name for name, _, _ in INSTANCES]


def test_registry_lists_the_builtin_algorithms():
    assert {"random", "first_fit", "greedy", "milp", "genetic"} <= set(ALGORITHMS)


def test_unknown_algorithm_names_the_choices():
    with pytest.raises(UnknownAlgorithm) as info:
        get_algorithm("simulated_annealing")
    for name in ALGORITHMS:
        assert name in str(info.value)


@pytest.mark.parametrize("name", ALGORITHMS)
def test_params_round_trip(name):
    algo = get_algorithm(name)
    clone = get_algorithm(name, **algo.get_params())
    assert clone.get_params() == algo.get_params()
    assert repr(clone) == repr(algo)
    with pytest.raises(ValueError):
        get_algorithm(name, no_such_parameter=1)


@pytest.mark.parametrize("name", ALGORITHMS)
@pytest.mark.parametrize("label, G, chains", INSTANCES, ids=IDS)
def test_placement_is_valid(name, label, G, chains):
    placement = get_algorithm(name).place(G, chains, seed=0)
    assert isinstance(placement, Placement)
    assert set(placement.embeddings) == {c.id for c in chains}
    assert validate_placement(G, chains, placement) == []
    assert placement.solve_time > 0
    for chain in chains:  # spelled out, although validate_placement covers it
        e = placement.embeddings[chain.id]
        assert all(G.nodes[s][KIND] == SERVER for s in e.servers)
        ends = [*([chain.ingress] if chain.ingress is not None else []), *e.servers]
        ends += [chain.egress] if chain.egress is not None else []
        assert len(e.paths) == len(ends) - 1 == chain.n_links
        for i, path in enumerate(e.paths):
            assert (path[0], path[-1]) == (ends[i], ends[i + 1])
            assert all(G.has_edge(u, v) for u, v in zip(path[:-1], path[1:]))
        if chain.anti_affinity:
            assert len(set(e.servers)) == len(e.servers)


@pytest.mark.parametrize("name", ALGORITHMS)
@pytest.mark.parametrize("label, G, chains", INSTANCES[:4], ids=IDS[:4])
def test_same_seed_same_answer(name, label, G, chains):
    algo = get_algorithm(name)
    first = algo.place(G, chains, seed=7)
    again = algo.place(G, chains, seed=7)
    assert first.embeddings == again.embeddings
    with_generator = algo.place(G, chains, seed=np.random.default_rng(7))
    assert with_generator.embeddings == algo.place(G, chains, seed=np.random.default_rng(7)).embeddings


@pytest.mark.parametrize("name", ALGORITHMS)
def test_input_graph_and_chains_unchanged(name):
    label, G, chains = INSTANCES[3]
    before, chains_before = snapshot(G), list(chains)
    get_algorithm(name).place(G, chains, seed=1)
    with pytest.raises(Infeasible):
        get_algorithm(name).place(G, [Chain("huge", (VNF("ids", cpu=1e6),), "srv0", "srv1")], seed=1)
    assert snapshot(G) == before
    assert chains == chains_before


@pytest.mark.parametrize("name", ALGORITHMS)
def test_vnf_bigger_than_any_server_is_infeasible(name):
    G = star(3, cpu=2.0)
    chain = Chain("big", (VNF("fw", cpu=1.0), VNF("ids", cpu=4.0)), "srv0", "srv1")
    with pytest.raises(Infeasible) as info:
        get_algorithm(name).place(G, [chain], seed=0)
    assert info.value.chain_id == "big"
    assert info.value.reason == "cpu"


@pytest.mark.parametrize("name", ALGORITHMS)
def test_latency_bound_below_minimum_is_infeasible(name):
    G = line(4, delay=1.0)  # srv0 to srv3 takes at least 3 ms
    chain = Chain("fast", (VNF("fw", proc_delay=0.1),), "srv0", "srv3", max_latency=3.05)
    with pytest.raises(Infeasible) as info:
        get_algorithm(name).place(G, [chain], seed=0)
    assert info.value.chain_id == "fast"
    assert info.value.reason == "latency"


@pytest.mark.parametrize("name", ALGORITHMS)
def test_disconnected_ingress_is_infeasible(name):
    G = star(3)
    G.add_node("island", kind="switch", cpu=0.0, mem=0.0)  # no links at all
    chain = Chain("lost", (VNF("fw"),), "island", "srv1")
    with pytest.raises(Infeasible) as info:
        get_algorithm(name).place(G, [chain], seed=0)
    assert info.value.chain_id == "lost"
    assert info.value.reason == "no-path"


@pytest.mark.parametrize("name", ALGORITHMS)
def test_bandwidth_too_small_is_infeasible(name):
    G = line(3, bw=5.0)
    chain = Chain("wide", (VNF("fw"),), "srv0", "srv2", bw=10.0)
    with pytest.raises(Infeasible) as info:
        get_algorithm(name).place(G, [chain], seed=0)
    assert info.value.reason in ("bandwidth", "infeasible")


@pytest.mark.parametrize("name", ALGORITHMS)
def test_all_chains_jointly_or_infeasible(name):
    G = star(2, cpu=4.0)  # room for two 4-core VNFs, not three
    chains = [Chain(f"c{i}", (VNF("ids", cpu=4.0),), "srv0", "srv1") for i in range(3)]
    placement = get_algorithm(name).place(G, chains[:2], seed=0)
    assert validate_placement(G, chains[:2], placement) == []
    with pytest.raises(Infeasible):
        get_algorithm(name).place(G, chains, seed=0)


@pytest.mark.parametrize("name", ALGORITHMS)
def test_shared_links_respect_bandwidth(name):
    # Two chains of 60 Mbit/s between the ends of a 100 Mbit/s line cannot
    # share it; the ring offers a second, longer way round.
    G = nx.cycle_graph(["srv0", "srv1", "srv2", "srv3"])
    nx.set_node_attributes(G, {n: {"kind": "server", "cpu": 8.0, "mem": 8192.0} for n in G})
    nx.set_edge_attributes(G, 100.0, "bw")
    nx.set_edge_attributes(G, 1.0, "delay")
    chains = [Chain(f"c{i}", (VNF("fw"),), "srv0", "srv1", bw=60.0) for i in range(2)]
    placement = get_algorithm(name).place(G, chains, seed=0)
    assert validate_placement(G, chains, placement) == []


@pytest.mark.parametrize("name", ALGORITHMS)
def test_empty_batch_and_bad_chains(name):
    algo = get_algorithm(name)
    assert algo.place(star(2), []).embeddings == {}
    chain = Chain("c", (VNF("fw"),), "srv0", "nowhere")
    with pytest.raises(ChainError):
        algo.place(star(2), [chain])
    dup = Chain("c", (VNF("fw"),), "srv0", "srv1")
    with pytest.raises(ChainError):
        algo.place(star(2), [dup, dup])


@pytest.mark.parametrize("name", ALGORITHMS)
def test_skip_answers_a_reason(name):
    label, G, chains = INSTANCES[0]
    skip, reason = get_algorithm(name).skip(G, chains)
    assert skip is False and isinstance(reason, str)


def test_milp_skips_large_instances():
    label, G, chains = INSTANCES[3]
    skip, reason = get_algorithm("milp", max_variables=10).skip(G, chains)
    assert skip and "max_variables" in reason


@pytest.mark.parametrize("name", ALGORITHMS)
def test_residual_with_zero_capacity_is_accepted(name):
    G = star(3)
    G.nodes["srv2"]["cpu"] = 0.0  # consumed by an earlier chain of an online run
    G.edges["sw0", "srv2"]["bw"] = 0.0
    chain = Chain("c", (VNF("fw"),), "srv0", "srv1", max_latency=math.inf)
    placement = get_algorithm(name).place(G, [chain], seed=0)
    assert validate_placement(G, [chain], placement) == []
    assert "srv2" not in placement.embeddings["c"].servers


@pytest.mark.parametrize("name", ALGORITHMS)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), tight=st.booleans())
def test_any_answer_is_valid_or_infeasible(name, seed, tight):
    G, chains = random_instance(seed, n_nodes=6, n_servers=3, n_chains=3, max_vnfs=3, tight=tight)
    before = snapshot(G)
    try:
        placement = get_algorithm(name).place(G, chains, seed=seed)
    except Infeasible as e:
        assert e.reason in {"cpu", "mem", "bandwidth", "latency", "no-path", "infeasible", "anti-affinity"}
        assert e.chain_id is None or e.chain_id in {c.id for c in chains}
    else:
        assert validate_placement(G, chains, placement) == []
    assert snapshot(G) == before


# ------------------------------------------------ chains without endpoints, anti-affinity, link bounds


@pytest.mark.parametrize("name", ALGORITHMS)
def test_anti_affinity_spreads_what_would_share_a_server(name):
    G = line(3, cpu=8.0)  # every VNF fits on any server; without the rule they would share one
    free = Chain("free", (VNF("a"), VNF("b"), VNF("c")), "srv1", "srv1")
    apart = dataclasses.replace(free, id="apart", anti_affinity=True)
    assert len(set(get_algorithm(name).place(G, [free], seed=0).embeddings["free"].servers)) < 3
    placement = get_algorithm(name).place(G, [apart], seed=0)
    assert validate_placement(G, [apart], placement) == []
    assert sorted(placement.embeddings["apart"].servers) == ["srv0", "srv1", "srv2"]


@pytest.mark.parametrize("name", ALGORITHMS)
def test_anti_affinity_with_too_few_big_servers_is_infeasible(name):
    G = star(3, cpu=2.0)
    G.nodes["srv2"]["cpu"] = 0.5  # only two servers can host a 1-core VNF
    chain = Chain("c", (VNF("a", cpu=1.0),) * 3, anti_affinity=True)
    with pytest.raises(Infeasible) as info:
        get_algorithm(name).place(G, [chain], seed=0)
    assert info.value.chain_id == "c"
    assert info.value.reason in ("anti-affinity", "infeasible")


@pytest.mark.parametrize("name", ALGORITHMS)
def test_chain_without_endpoints_has_only_inner_links(name):
    G = star(3)
    single = Chain("one", (VNF("a"),))
    pair = Chain("two", (VNF("a"), VNF("b")), anti_affinity=True, bw=5.0)
    placement = get_algorithm(name).place(G, [single, pair], seed=0)
    assert validate_placement(G, [single, pair], placement) == []
    assert placement.embeddings["one"].paths == ()
    (path,) = placement.embeddings["two"].paths
    assert (path[0], path[-1]) == placement.embeddings["two"].servers


@pytest.mark.parametrize("name", ALGORITHMS)
def test_per_link_latency_bound_is_honoured(name):
    G = line(4, delay=1.0, cpu=1.0)
    G.nodes["srv0"]["cpu"] = 0.0
    vnfs = (VNF("a", cpu=1.0), VNF("b", cpu=1.0))
    # From srv0 (full), each virtual link at most 1 ms: VNF a on srv1, VNF b on srv2.
    chain = Chain("c", vnfs, ingress="srv0", link_latency=(1.0, 1.0))
    placement = get_algorithm(name).place(G, [chain], seed=0)
    assert validate_placement(G, [chain], placement) == []
    assert placement.embeddings["c"].servers == ("srv1", "srv2")
    # The last link into the egress: within 1 ms of srv3 (full), so on srv2.
    G.nodes["srv3"]["cpu"] = 0.0
    last = Chain("last", vnfs[:1], egress="srv3", link_latency=(1.0,))
    assert get_algorithm(name).place(G, [last], seed=0).embeddings["last"].servers == ("srv2",)
    tight = dataclasses.replace(chain, link_latency=(0.5, 1.0))  # only srv0 is that close, and it is full
    with pytest.raises(Infeasible) as info:
        get_algorithm(name).place(G, [tight], seed=0)
    assert info.value.reason in ("latency", "infeasible")


@pytest.mark.parametrize("name", ALGORITHMS)
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), tight=st.booleans())
def test_any_open_ended_answer_is_valid_or_infeasible(name, seed, tight):
    G, chains = random_instance(seed, n_nodes=6, n_servers=3, n_chains=3, max_vnfs=3, tight=tight, open_ended=True)
    try:
        placement = get_algorithm(name).place(G, chains, seed=seed)
    except Infeasible as e:
        assert e.reason in {"cpu", "mem", "bandwidth", "latency", "no-path", "infeasible", "anti-affinity"}
    else:
        assert validate_placement(G, chains, placement) == []
