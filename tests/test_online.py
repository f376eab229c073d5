"""Online simulation: arrivals, departures freeing resources, rejections, reproducibility."""

from __future__ import annotations

import math

import pytest
from placement_instances import snapshot

from placement.base import available_algorithms, get_algorithm
from placement.metrics import resource_cost, revenue
from placement.model import VNF, Chain
from placement.online import long_term_average_revenue, replay, simulate
from placement.topologies import line, star
from placement.vne import generate_requests, wx100
from placement.workload import generate_chains

ALGORITHMS = available_algorithms()


def _one_chain_substrate():
    """Two servers of 2 cores: room for exactly one chain of two 2-core VNFs."""
    return line(2, cpu=2.0)


def _chain(cid, arrival, lifetime):
    vnfs = (VNF("ids", cpu=2.0), VNF("ids", cpu=2.0))
    return Chain(cid, vnfs, "srv0", "srv1", bw=10.0, arrival=arrival, lifetime=lifetime)


@pytest.mark.parametrize("name", ALGORITHMS)
def test_departures_free_capacity(name):
    G = _one_chain_substrate()
    apart = simulate(G, [_chain("a", 0.0, 5.0), _chain("b", 5.0, 5.0)], name, seed=0)
    assert [r["status"] for r in apart.rows] == ["placed", "placed"]
    overlapping = simulate(G, [_chain("a", 0.0, 5.0), _chain("b", 4.0, 5.0)], name, seed=0)
    assert [r["status"] for r in overlapping.rows] == ["placed", "rejected"]
    assert overlapping.rows[1]["reason"] == "cpu"
    assert overlapping.acceptance_ratio == 0.5


def test_events_are_processed_in_time_order_not_list_order():
    G = _one_chain_substrate()
    result = simulate(G, [_chain("late", 10.0, 1.0), _chain("early", 0.0, 20.0)], "greedy")
    assert [(r["chain_id"], r["status"]) for r in result.rows] == [("early", "placed"), ("late", "rejected")]
    assert [(p["event"], p["time"]) for p in result.timeline] == [("arrival", 0.0), ("arrival", 10.0), ("end", 20.0)]


def test_result_rows_and_timeline():
    G = star(4, cpu=2.0, bw=100.0)
    chains = generate_chains(G, 60, bw=(10.0, 40.0), arrival_rate=2.0, mean_lifetime=5.0, seed=3)
    result = simulate(G, chains, "greedy", seed=1)
    df = result.to_frame()
    assert len(df) == 60 and set(df["status"]) <= {"placed", "rejected"}
    assert 0.0 < result.acceptance_ratio < 1.0  # the load forces some rejections
    placed = df[df["status"] == "placed"]
    assert result.accepted_revenue == pytest.approx(sum(revenue(c) for c in chains if c.id in set(placed["chain_id"])))
    assert result.offered_revenue == pytest.approx(sum(revenue(c) for c in chains))
    assert (df["solve_ms"] >= 0).all()
    assert df.loc[df["status"] == "rejected", "reason"].notna().all()
    assert (placed["departure"] == placed["arrival"] + [c.lifetime for c in chains if c.id in set(placed["chain_id"])]).all()
    timeline = result.timeline_frame()
    assert list(timeline["event"]) == ["arrival"] * 60 + ["end"]
    assert list(timeline["arrived"]) == list(range(1, 61)) + [60]
    assert timeline["accepted"].is_monotonic_increasing
    assert timeline["acceptance_ratio"].iloc[-1] == pytest.approx(result.acceptance_ratio)
    assert (timeline["time"].diff().dropna() >= 0).all()


@pytest.mark.parametrize("name", ["random", "genetic"])
def test_same_seed_same_run(name):
    G = star(4, cpu=2.0, bw=100.0)
    chains = generate_chains(G, 30, arrival_rate=2.0, mean_lifetime=5.0, seed=4)
    first = simulate(G, chains, name, seed=9).to_frame().drop(columns="solve_ms")
    again = simulate(G, chains, name, seed=9).to_frame().drop(columns="solve_ms")
    assert first.equals(again)


def test_substrate_is_not_modified_and_instances_work():
    G = star(3, cpu=2.0)
    before = snapshot(G)
    chains = generate_chains(G, 20, arrival_rate=1.0, mean_lifetime=3.0, seed=5)
    result = simulate(G, chains, get_algorithm("first_fit"))
    assert result.algorithm == "first_fit" and result.params == {}
    assert snapshot(G) == before


def test_everything_departs_then_a_big_chain_fits():
    G = _one_chain_substrate()
    chains = [_chain(f"c{i}", float(i), 0.5) for i in range(5)]
    result = simulate(G, chains, "greedy")
    assert result.acceptance_ratio == 1.0
    assert all(math.isfinite(r["departure"]) for r in result.rows)


def test_chains_that_never_leave_fill_the_substrate():
    G = _one_chain_substrate()
    result = simulate(G, [_chain("a", 0.0, math.inf), _chain("b", 100.0, 1.0)], "milp")
    assert [r["status"] for r in result.rows] == ["placed", "rejected"]
    assert result.rows[0]["departure"] == math.inf


# ------------------------------------------------------------------- VNE metrics over time


def test_running_metrics_match_a_recount_at_every_point():
    G = wx100(n=15, seed=2)
    chains = generate_requests(G, 80, length=(2, 5), arrival_rate=0.2, mean_lifetime=40.0, seed=2)
    result = simulate(G, chains, "greedy", seed=2)
    assert 0.0 < result.acceptance_ratio < 1.0
    points = [p for p in result.timeline if p["event"] == "arrival"]
    for k, point in enumerate(points, start=1):
        seen = result.rows[:k]  # what has arrived by this point
        placed = [r for r in seen if r["status"] == "placed"]
        assert point["accepted"] == len(placed)
        assert point["long_term_average_revenue"] == pytest.approx(long_term_average_revenue(seen, point["time"]))
        assert point["revenue_cost_ratio"] == pytest.approx(
            sum(r["revenue"] for r in placed) / sum(r["resource_cost"] for r in placed)
        )
        assert point["mean_solve_ms"] == pytest.approx(sum(r["solve_ms"] for r in seen) / k)
    end = result.timeline[-1]
    assert end["event"] == "end" and end["time"] == result.end_time == max(r["departure"] for r in result.rows
                                                                            if r["status"] == "placed")
    summary = result.summary()
    for key in ("acceptance_ratio", "long_term_average_revenue", "revenue_cost_ratio", "mean_solve_ms"):
        assert end[key] == pytest.approx(summary[key])


def test_long_term_average_revenue_is_virnes_when_everything_departs():
    # Virne: sum over accepted requests of revenue x lifetime, over the time of the last event.
    G = wx100(n=15, seed=5)
    chains = generate_requests(G, 40, length=(2, 4), seed=5)
    result = simulate(G, chains, "first_fit", seed=5)
    by_id = {c.id: c for c in chains}
    placed = [r for r in result.rows if r["status"] == "placed"]
    expected = sum(revenue(by_id[r["chain_id"]]) * by_id[r["chain_id"]].lifetime for r in placed) / result.end_time
    assert result.long_term_average_revenue == pytest.approx(expected)


def test_revenue_cost_ratio_counts_substrate_hops():
    # Anti-affinity on a line whose middle node is a switch: the two VNFs sit two hops apart.
    G = line(3, cpu=4.0)
    G.nodes["srv1"].update(kind="switch", cpu=0.0, mem=0.0)
    chain = Chain("r", (VNF("a", cpu=1.0), VNF("b", cpu=3.0)), bw=10.0, anti_affinity=True, lifetime=2.0)
    result = simulate(G, [chain], "greedy")
    (row,) = result.rows
    assert row["resource_cost"] == 4.0 + 10.0 * 2 == resource_cost(chain, _embedding(result))
    assert result.revenue_cost_ratio == pytest.approx(revenue(chain) / 24.0) == pytest.approx(14.0 / 24.0)
    assert result.long_term_average_revenue == pytest.approx(14.0)  # served the whole horizon, [0, 2]


def _embedding(result):
    from placement.model import Embedding

    row = result.rows[0]
    return Embedding(row["chain_id"], [row["servers"][i] for i in range(len(row["servers"]))], row["paths"])


def test_replay_with_nothing_to_replay_and_an_empty_run():
    assert replay([], lambda t, item: None, lambda t, item: None) == 0.0
    result = simulate(line(2), [], "greedy")
    assert result.timeline == [] and math.isnan(result.long_term_average_revenue)
    assert math.isnan(result.revenue_cost_ratio) and math.isnan(result.mean_solve_ms)
