"""Every registered algorithm passes placement.checks.check_algorithm, and the rules it does not cover.

:func:`placement.checks.check_algorithm` is the contract (valid placements,
typed infeasibility, determinism per seed, inputs and parameters unchanged,
pickling); this module runs each of its checks on every registered
algorithm, shows that each check catches the bug it is meant for, and adds
the cases the public check leaves to this project (larger and open-ended
instances, malformed chains, residual graphs, random instances).
"""

from __future__ import annotations

import dataclasses
import itertools
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from placement_instances import random_instance, snapshot

from placement.algorithms.greedy import Greedy
from placement.base import algorithm_class, available_algorithms, get_algorithm, validate_placement
from placement.checks import CHECKS, REASONS, check_algorithm
from placement.errors import ChainError, Infeasible
from placement.model import VNF, Chain
from placement.topologies import line, star, waxman
from placement.workload import generate_chains

ALGORITHMS = available_algorithms()


def _instances():
    """Instances beyond those of check_algorithm: larger, random, and VNE-style requests."""
    G = waxman(10, seed=3)
    yield "waxman", G, generate_chains(G, 5, bw=(10.0, 50.0), max_latency=(15.0, 30.0), seed=4)
    G, chains = random_instance(15, n_nodes=6, n_servers=4, tight=False)
    yield "random-small", G, chains
    G = waxman(10, seed=5)
    yield "waxman-vne", G, _vne_style(generate_chains(G, 5, length=(2, 4), bw=(5.0, 20.0), seed=6))


def _vne_style(chains):
    """``chains`` as VNE requests: no endpoints, anti-affinity, a loose bound on each virtual link."""
    return [
        dataclasses.replace(c, ingress=None, egress=None, anti_affinity=True, link_latency=(10.0,) * (len(c.vnfs) - 1))
        for c in chains
    ]


INSTANCES = list(_instances())
IDS = [name for name, _, _ in INSTANCES]


@pytest.mark.parametrize("check", CHECKS, ids=[c.__name__ for c in CHECKS])
@pytest.mark.parametrize("name", ALGORITHMS)
def test_algorithm_passes_check(name, check):
    check(algorithm_class(name))


# --------------------------------------------- check_algorithm catches what it promises to


class MutatesSubstrate(Greedy):
    """Marks the caller's graph: a bug check_inputs_unchanged must see."""

    def place(self, substrate, chains, *, seed=None):
        placement = super().place(substrate, chains, seed=seed)
        substrate.graph["touched"] = True
        return placement


class ChangesItsParameter(Greedy):
    """Tunes itself during a call: a parameter that place() changes."""

    def _place(self, residual, chains, rng):
        self.load_weight += 1.0
        return super()._place(residual, chains, rng)


class Nondeterministic(Greedy):
    """Takes the first feasible server on odd calls and the last on even ones, whatever the seed."""

    calls = itertools.count()

    def place(self, substrate, chains, *, seed=None):
        self._last = next(self.calls) % 2 == 0
        return super().place(substrate, chains, seed=seed)

    def _choose(self, step, rng):
        return step.candidates[-1 if self._last else 0]


class RaisesValueError(Greedy):
    """Reports an infeasible instance with a ValueError instead of Infeasible."""

    def _place(self, residual, chains, rng):
        try:
            return super()._place(residual, chains, rng)
        except Infeasible as e:
            raise ValueError(f"no room: {e}") from None


class Unpicklable(Greedy):
    """Holds a lambda as a parameter: pickle cannot send it to a joblib or submitit worker."""

    def __init__(self, *, load_weight=0.1, key=lambda server: 0):
        super().__init__(load_weight=load_weight)
        self.key = key


@pytest.mark.parametrize(
    "broken, message",
    [
        (MutatesSubstrate, "check_inputs_unchanged: instance 'star': place() modified the substrate graph"),
        (ChangesItsParameter, "check_inputs_unchanged: instance 'star': parameters {'load_weight': 0.1} became "
                              "{'load_weight': 1.1}"),
        (Nondeterministic, "check_determinism: instance 'star': a second call with seed=7 gives another placement"),
        (RaisesValueError, "check_infeasible: instance 'cpu': place() raised ValueError: no room"),
        (Unpicklable, "check_pickle: the instance cannot be pickled before place() (PicklingError"),
    ],
    ids=lambda x: x.__name__ if isinstance(x, type) else "",
)
def test_check_algorithm_catches_a_broken_algorithm(broken, message):
    with pytest.raises(AssertionError) as info:
        check_algorithm(broken)
    assert str(info.value).startswith(message), str(info.value)


def test_check_algorithm_accepts_parameters_and_refuses_a_non_algorithm():
    check_algorithm(Greedy, {"load_weight": 0.0})
    with pytest.raises(TypeError, match="PlacementAlgorithm subclass"):
        check_algorithm(Greedy())


# -------------------------------------------------------- beyond check_algorithm


@pytest.mark.parametrize("name", ALGORITHMS)
def test_unknown_parameter_is_refused(name):
    with pytest.raises(ValueError, match="no_such_parameter"):
        get_algorithm(name, no_such_parameter=1)


@pytest.mark.parametrize("name", ALGORITHMS)
@pytest.mark.parametrize("label, G, chains", INSTANCES, ids=IDS)
def test_placement_is_valid(name, label, G, chains):
    placement = get_algorithm(name).place(G, chains, seed=0)
    assert set(placement.embeddings) == {c.id for c in chains}
    assert validate_placement(G, chains, placement) == []


@pytest.mark.parametrize("name", ALGORITHMS)
def test_vnf_bigger_than_any_server_is_infeasible(name):
    G = star(3, cpu=2.0)
    chain = Chain("big", (VNF("fw", cpu=1.0), VNF("ids", cpu=4.0)), "srv0", "srv1")
    with pytest.raises(Infeasible) as info:
        get_algorithm(name).place(G, [chain], seed=0)
    assert info.value.chain_id == "big"
    assert info.value.reason == "cpu"


@pytest.mark.parametrize("name", ALGORITHMS)
def test_bad_chains_raise_chain_error(name):
    algo = get_algorithm(name)
    chain = Chain("c", (VNF("fw"),), "srv0", "nowhere")
    with pytest.raises(ChainError):
        algo.place(star(2), [chain])
    dup = Chain("c", (VNF("fw"),), "srv0", "srv1")
    with pytest.raises(ChainError):
        algo.place(star(2), [dup, dup])


def test_milp_skips_large_instances():
    label, G, chains = INSTANCES[0]
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
        assert e.reason in REASONS
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
        assert e.reason in REASONS
    else:
        assert validate_placement(G, chains, placement) == []
