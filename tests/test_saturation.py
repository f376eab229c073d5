"""experiment=saturation: its analysis on known numbers, its bad input, and one real run on the testbed."""

import json

import numpy as np
import pandas as pd
import pytest

from experiments.saturation import (
    LATENCY_FILE,
    TELEMETRY_FILE,
    SaturationError,
    instance,
    knee,
    merged_percentiles,
    placements,
    step_table,
    step_windows,
)
from testbed.loadgen import LoadResult, ProfileError, bucket_width
from tests.testbed_helpers import skip_without_testbed


def _hist(latencies_ms):
    """Histogram pairs as the generator writes them, from exact latencies (bucket lows found by search)."""
    lows, low = [], 0
    while low < 10_000_000:
        lows.append(low)
        low += bucket_width(low)
    counts = {}
    for ms in latencies_ms:
        i = np.searchsorted(lows, int(ms * 1000), side="right") - 1
        counts[lows[i]] = counts.get(lows[i], 0) + 1
    return [[k, v] for k, v in sorted(counts.items())]


def test_merged_percentiles_agree_with_the_generators_own_quantiles():
    rng = np.random.default_rng(0)
    seconds = pd.DataFrame({"second": [0, 1, 2], "hist": [_hist(rng.exponential(5, 400)) for _ in range(3)]})
    result = LoadResult(seconds, {})
    p50, p99 = merged_percentiles(seconds["hist"], qs=(0.5, 0.99))
    assert p50 == pytest.approx(result.quantile(0.5)) and p99 == pytest.approx(result.quantile(0.99))
    assert 2.5 < p50 < 5.0 and p99 > 15  # an exponential of mean 5 ms: median 3.5, p99 23
    assert np.isnan(merged_percentiles([[]])[0])


def _seconds(rates, served, p50s, per_step=4):
    """Per-second rows of one chain: each step ``per_step`` s at its rate, answering ``served`` of it."""
    rows = []
    for step, (rate, share, ms) in enumerate(zip(rates, served, p50s)):
        for k in range(per_step):
            ok = int(rate * share)
            rows.append({"chain_id": "c0", "second": step * per_step + k, "offered": rate, "ok": ok, "blocked": 0,
                         "errors": 0, "timeouts": rate - ok, "hist": _hist([ms] * max(ok, 1))})
    return pd.DataFrame(rows)


def test_step_table_and_knee_find_the_first_step_not_served():
    rates = [100, 200, 400, 800]
    windows = step_windows(rates, 4, 1)
    assert windows[1] == (1, 200.0, 5.0, 8.0)
    steps = step_table(_seconds(rates, [1, 1, 1, 0.5], [2, 2, 30, 900]), windows)
    assert list(steps.achieved_rps) == [100, 200, 400, 400] and list(steps.errors) == [0, 0, 0, 1200]
    assert steps.p50_ms.iloc[0] == pytest.approx(2, rel=0.05)
    # p99 at 400/s is 15x the first step's: the knee is there, although every request was answered.
    assert knee(steps, knee_factor=5) == (200.0, 400.0)
    assert knee(steps, knee_factor=20) == (400.0, 800.0)
    assert knee(steps[steps.step < 2], knee_factor=5) == (200.0, None)  # never saturated


def test_placements_from_mappings_and_algorithms():
    params = {"servers": 3, "server_cpu": 2.0, "chains": 2, "vnf_types": ["firewall", "ids"], "vnf_cpu": 0.25}
    g, chains = instance(params)
    plans = placements(g, chains, {"together": {"c0": ["srv1", "srv1"], "c1": ["srv1", "srv1"]},
                                   "greedy": "greedy"})
    together = plans["together"].embeddings["c0"]
    assert together.servers == ("srv1", "srv1") and together.paths == (("srv0", "srv1"), ("srv1",), ("srv1", "srv2"))
    assert set(plans["greedy"].embeddings) == {"c0", "c1"}


@pytest.mark.parametrize("spec, message", [
    ({"x": {"c0": ["srv1"], "c1": ["srv1", "srv1"]}}, r"placements.x.c0: give one server per VNF \(2\)"),
    ({"x": {"c0": ["srv1", "nowhere"], "c1": ["srv1", "srv1"]}}, r"placements.x.c0: .* not \['srv1', 'nowhere'\]"),
    ({"x": "best_fit"}, "placements.x: unknown algorithm 'best_fit'"),
    ({}, "study.placements is empty"),
])
def test_bad_placements_are_named(spec, message):
    g, chains = instance({"servers": 3, "chains": 2})
    with pytest.raises(SaturationError, match=message):
        placements(g, chains, spec)


def test_an_unplaceable_chain_and_an_unknown_vnf_type_are_named():
    g, chains = instance({"servers": 3, "server_cpu": 0.1, "vnf_cpu": 0.5})
    with pytest.raises(SaturationError, match="greedy could not place the chains: .*study.server_cpu"):
        placements(g, chains, {"x": "greedy"})
    with pytest.raises(SaturationError, match=r"unknown VNF type\(s\) \['nope'\]"):
        instance({"vnf_types": ["firewall", "nope"]})


def test_an_impossible_staircase_is_refused_before_anything_starts(run_cfg):
    from experiments.saturation import run_saturation

    cfg = run_cfg("experiment=saturation", "study.rates=[100,-5]")
    with pytest.raises(ProfileError, match="rate -5"):
        run_saturation(cfg)
    cfg = run_cfg("experiment=saturation", "study.settle_s=9")
    with pytest.raises(SaturationError, match="settle_s"):
        run_saturation(cfg)


@pytest.mark.testbed
@skip_without_testbed
def test_saturation_study_on_the_testbed(run_cfg, tmp_path):
    """Two placements, three steps: rows, telemetry and figures written; the co-located chains saturate
    at the top step, and at the lowest one every request is answered."""
    from experiments.saturation import run_saturation

    cfg = run_cfg("experiment=saturation", "study.rates=[40,120,1500]", "study.step_s=2", "study.settle_s=0.5",
                  results_dir=tmp_path)
    df = run_saturation(cfg)
    assert len(df) == 2 * 3 * 2 and set(df.placement) == {"co-located", "spread"}
    low = df[df.step == 0]
    assert (low.error_share == 0).all() and (abs(low.achieved_rps - 40) <= 2).all(), low
    co = df[df.placement == "co-located"]
    assert co.knee_rps.iloc[0] in (120.0, 1500.0)  # 1500/s per chain is far past 0.5 core for four VNFs
    cpu = json.loads(co[(co.step == 1) & (co.chain_id == "c0")].vnf_cpu_cores.iloc[0])
    assert set(cpu) == {"c0-1-firewall", "c0-2-ids"} and all(v > 0.01 for v in cpu.values()), cpu
    assert ((df.machine_cpu_cores > 0) & (df.machine_cpu_cores <= df.machine_cores + 0.1)).all()
    telemetry = pd.read_parquet(tmp_path / TELEMETRY_FILE)
    assert {"run_id", "time_s", "entity_kind", "entity", "metric", "value", "placement"} <= set(telemetry.columns)
    assert set(telemetry.entity_kind) == {"vnf", "server", "client", "machine"}
    assert len(pd.read_parquet(tmp_path / LATENCY_FILE)) >= 2 * 2 * 6
    for stem in ("load_over_time", "latency_vs_load"):
        assert (tmp_path / f"{stem}.png").stat().st_size > 10_000


def test_a_placement_only_configuration_is_refused(run_cfg):
    from experiments.saturation import run_saturation

    with pytest.raises(SaturationError, match="measures on the testbed: choose testbed=dind"):
        run_saturation(run_cfg("experiment=saturation", "testbed=none"))
