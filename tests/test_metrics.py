"""The cost, latency and utilisation metrics, and the shared placement checker."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from placement.base import check_placement, validate_placement
from placement.errors import InvalidPlacement
from placement.metrics import (
    acceptance_ratio,
    chain_latency,
    chain_rows,
    cost,
    hops,
    revenue,
    utilisation,
)
from placement.model import VNF, Chain, Embedding, Placement
from placement.topologies import line, star


@pytest.fixture
def ring():
    """srv0 - srv1 - srv2 in a line, delays 1 and 2 ms, 100 Mbit/s, 4 cores each."""
    G = line(3, cpu=4.0, mem=1024.0, bw=100.0)
    G.edges["srv1", "srv2"]["delay"] = 2.0
    return G


def _chain(cid="c", bw=10.0, max_latency=math.inf, cpu=1.0):
    vnfs = (VNF("fw", cpu=cpu, mem=256.0, proc_delay=0.5), VNF("ids", cpu=cpu, mem=256.0, proc_delay=1.0))
    return Chain(cid, vnfs, "srv0", "srv2", bw=bw, max_latency=max_latency)


def _spread(cid="c"):
    return Embedding(cid, ("srv1", "srv2"), (("srv0", "srv1"), ("srv1", "srv2"), ("srv2",)))


def test_latency_one_way_and_round_trip(ring):
    c, e = _chain(), _spread()
    assert chain_latency(ring, c, e) == pytest.approx(1.0 + 2.0 + 0.5 + 1.0)
    assert chain_latency(ring, c, e, round_trip=True) == pytest.approx(2 * 3.0 + 1.5)


def test_cost_is_weighted_latency_plus_bandwidth_hops(ring):
    c, e = _chain(bw=10.0), _spread()
    p = Placement({"c": e})
    assert hops(e) == 2
    assert cost(ring, [c], p) == pytest.approx(4.5 + 0.01 * 10.0 * 2)
    assert cost(ring, [c], p, latency_weight=0.0, bandwidth_weight=1.0) == pytest.approx(20.0)
    two = [c, _chain("d")]
    both = Placement({"c": e, "d": _spread("d")})
    assert cost(ring, two, both) == pytest.approx(2 * cost(ring, [c], p))
    assert cost(ring, two, p) == pytest.approx(cost(ring, [c], p))  # rejected chains add nothing


def test_revenue_and_acceptance():
    c = _chain(bw=5.0)
    assert revenue(c) == pytest.approx(5.0 * 3 + 2.0)
    p = Placement({"c": _spread()})
    assert acceptance_ratio([c, _chain("d")], p) == 0.5
    assert math.isnan(acceptance_ratio([], p))


def test_utilisation_counts_all_chains(ring):
    chains = [_chain("c", cpu=1.0), _chain("d", cpu=1.0)]
    p = Placement({"c": _spread("c"), "d": _spread("d")})
    u = utilisation(ring, chains, p)
    assert u["cpu_max"] == pytest.approx(2.0 / 4.0)  # srv1 and srv2 each host two VNFs
    assert u["cpu_mean"] == pytest.approx((0 + 0.5 + 0.5) / 3)
    assert u["mem_max"] == pytest.approx(512.0 / 1024.0)
    assert u["bw_max"] == pytest.approx(20.0 / 100.0)
    assert u["bw_mean"] == pytest.approx(20.0 / 100.0)


def test_chain_rows_make_a_dataframe(ring):
    chains = [_chain("c"), _chain("d")]
    rows = chain_rows(ring, chains, Placement({"c": _spread()}), rejected={"d": "cpu"})
    df = pd.DataFrame(rows)
    assert list(df["status"]) == ["placed", "rejected"]
    assert list(df["reason"].fillna("-")) == ["-", "cpu"]
    assert df.loc[0, "servers"] == {0: "srv1", 1: "srv2"}
    assert df.loc[0, "model_latency_ms"] == pytest.approx(4.5)
    assert df.loc[0, "hops"] == 2
    assert df.loc[1, "revenue"] == 0.0 and df.loc[1, "demand"] == revenue(chains[1])
    assert math.isnan(df.loc[1, "model_latency_ms"])
    for column in ("chain_id", "paths", "cost", "vnfs", "bw", "max_latency"):
        assert column in df


def test_valid_placement_has_no_violations(ring):
    assert validate_placement(ring, [_chain()], Placement({"c": _spread()})) == []


@pytest.mark.parametrize(
    "embedding, fragment",
    [
        (Embedding("c", ("srv1",), (("srv0", "srv1"), ("srv1", "srv2"))), "1 servers for 2 VNFs"),
        (Embedding("c", ("srv1", "sw9"), (("srv0", "srv1"), ("srv1", "srv2"), ("srv2",))), "not a server"),
        (Embedding("c", ("srv1", "srv2"), (("srv0", "srv1"), ("srv1", "srv2"))), "2 paths for 3"),
        (Embedding("c", ("srv1", "srv2"), (("srv0", "srv2"), ("srv1", "srv2"), ("srv2",))), "must run from"),
        (Embedding("c", ("srv1", "srv2"), (("srv0", "srv1"), ("srv1", "srv0", "srv2"), ("srv2",))), "not an edge"),
        (
            Embedding("c", ("srv1", "srv2"), (("srv0", "srv1"), ("srv1", "srv2", "srv1", "srv2"), ("srv2",))),
            "not a simple path",
        ),
        (Embedding("x", ("srv1", "srv2"), (("srv0", "srv1"), ("srv1", "srv2"), ("srv2",))), "labelled"),
    ],
)
def test_structural_violations(ring, embedding, fragment):
    problems = validate_placement(ring, [_chain()], Placement({"c": embedding}))
    assert any(fragment in p for p in problems), problems


def test_capacity_violations_are_cumulative(ring):
    # Each chain alone fits; together they overload srv1's CPU and the links.
    chains = [_chain("c", bw=60.0, cpu=1.5), _chain("d", bw=60.0, cpu=1.5)]

    def colocated(cid):
        return Embedding(cid, ("srv1", "srv1"), (("srv0", "srv1"), ("srv1",), ("srv1", "srv2")))

    for c in chains:
        assert validate_placement(ring, [c], Placement({c.id: colocated(c.id)})) == []
    both = Placement({c.id: colocated(c.id) for c in chains})
    problems = validate_placement(ring, chains, both)
    assert "server 'srv1': cpu over capacity (6 used of 4)" in problems
    assert sum("bw over capacity (120 used of 100)" in p for p in problems) == 2


def test_latency_bound_violation(ring):
    problems = validate_placement(ring, [_chain(max_latency=4.0)], Placement({"c": _spread()}))
    assert problems == ["chain 'c': latency 4.5 ms over its bound 4 ms"]


def test_missing_and_unknown_embeddings(ring):
    problems = validate_placement(ring, [_chain()], Placement({"zz": _spread("zz")}))
    assert "embedding for unknown chain 'zz'" in problems
    assert "chain 'c': not embedded" in problems


def test_check_placement_raises_with_every_violation():
    G = star(2, cpu=1.0)
    c = Chain("c", (VNF("fw", cpu=2.0),), "srv0", "srv1")
    bad = Placement({"c": Embedding("c", ("srv0",), (("srv0",), ("srv0", "sw0", "srv1")))})
    with pytest.raises(InvalidPlacement) as info:
        check_placement(G, [c], bad)
    assert info.value.violations == ["server 'srv0': cpu over capacity (2 used of 1)"]


def test_open_ended_chains_count_only_their_links():
    G = line(3, delay=1.5)
    chain = Chain("r", (VNF("a", cpu=1.0), VNF("b", cpu=2.0), VNF("c", cpu=3.0)), bw=4.0, anti_affinity=True)
    e = Embedding("r", ("srv0", "srv1", "srv2"), (("srv0", "srv1"), ("srv1", "srv2")))
    assert chain.n_links == 2
    assert revenue(chain) == 4.0 * 2 + 6.0
    assert chain_latency(G, chain, e) == 3.0
    assert cost(G, [chain], Placement({"r": e})) == pytest.approx(3.0 + 0.01 * 4.0 * 2)
    assert validate_placement(G, [chain], Placement({"r": e})) == []
    with_ingress = Chain("r", chain.vnfs, ingress="srv0", bw=4.0)
    assert with_ingress.n_links == 3 and revenue(with_ingress) == 4.0 * 3 + 6.0


def test_anti_affinity_and_link_bound_violations(ring):
    chain = Chain("r", (VNF("a"), VNF("b"), VNF("c")), anti_affinity=True, link_latency=(1.0, 1.5))
    e = Embedding("r", ("srv0", "srv0", "srv2"), (("srv0",), ("srv0", "srv1", "srv2")))
    assert validate_placement(ring, [chain], Placement({"r": e})) == [
        "chain 'r': VNFs [0, 1] share server 'srv0' but the chain asks for anti-affinity",
        "chain 'r': virtual link 1 delay 3 ms over its bound 1.5 ms",
    ]
    wrong = Embedding("r", ("srv0", "srv1", "srv2"), (("srv0", "srv1"), ("srv1", "srv2"), ("srv2",)))
    assert validate_placement(ring, [chain], Placement({"r": wrong})) == ["chain 'r': 3 paths for 2 virtual links"]
