"""Placement-only runs end to end: files, columns, statuses, re-verification, skipping, the CLI, sweeps.

Nothing here deploys: configurations use ``testbed=none``; the one test of
the deployment wiring replaces ``testbed.deploy`` with a fake.
"""

from __future__ import annotations

import json
import math
import sys
import types

import pandas as pd
import pytest

from experiments import report
from experiments.results import COLUMNS, STATUSES, load_instance, load_results
from experiments.run import run_experiment
from experiments.schema import ConfigError
from experiments.verify import main as verify_main
from experiments.verify import verify_run
from placement.algorithms.greedy import Greedy
from placement.base import available_algorithms
from placement.substrate import servers

pytestmark = pytest.mark.usefixtures("no_testbed")

RUN_FILES = {"results.parquet", "results.csv", "substrate.json", "chains.json"}


def test_placement_only_run_writes_reloadable_verified_results(run_cfg, tmp_path):
    df = run_experiment(run_cfg())
    run = tmp_path / "run"
    assert RUN_FILES <= {p.name for p in run.iterdir()}
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]
    substrate, chains = load_instance(run)
    assert len(df) == len(chains) == 3 and len(servers(substrate)) == 4
    reloaded = load_results(run)
    pd.testing.assert_frame_equal(reloaded, df, check_dtype=False)
    assert len(pd.read_csv(run / "results.csv")) == len(df)
    assert verify_run(run) == []


def test_results_have_the_promised_columns(run_cfg):
    df = run_experiment(run_cfg())
    assert set(COLUMNS) <= set(df.columns)
    assert "p_algo_load_weight" in df and {"w_n", "w_length", "t_n"} <= set(df.columns)
    row = df.iloc[0]
    assert (row["algorithm"], row["topology"], row["workload"], row["mode"]) == ("greedy", "line", "small", "sequential")
    assert row["w_length"] == "[2, 3]" and row["n_chains"] == 3 and row["seed"] == 0
    assert set(df["status"]) <= set(STATUSES)
    placed = df[df["status"] == "placed"].iloc[0]
    mapping, paths = json.loads(placed["mapping"]), json.loads(placed["paths"])
    assert list(mapping) == [f"{i}:{t}" for i, t in enumerate(json.loads(placed["vnfs"]))]
    assert len(paths) == len(mapping) + 1 and paths[0][0] == placed["ingress"] and paths[-1][-1] == placed["egress"]
    assert placed["model_rtt_ms"] > placed["model_latency_ms"] > 0 and placed["solve_time_ms"] > 0
    assert df[["measured_p50_ms", "measured_p95_ms", "measured_p99_ms"]].isna().all().all()
    assert df["vnf_counters"].isna().all() and df["delay_mechanism"].isna().all()
    assert row["python"].count(".") == 2 and row["sfcbench_version"] and row["networkx_version"]
    assert row["kernel"] and "git_commit" in df


@pytest.mark.parametrize(
    "mode, workload", [("sequential", "small"), ("batch", "small"), ("online", "online"), ("admission", "small")]
)
def test_every_mode_places_and_verifies(run_cfg, tmp_path, mode, workload):
    df = run_experiment(run_cfg(f"mode={mode}", f"workload={workload}", "workload.n=8", "algo=greedy"))
    assert len(df) == 8 and set(df["mode"]) == {mode}
    assert (df["status"] == "placed").any()
    assert verify_run(tmp_path / "run") == []
    if mode == "online":
        placed = df[df["status"] == "placed"]
        assert (placed["departure"] > placed["arrival"]).all() and placed["departure"].map(math.isfinite).all()


def test_rejected_chains_carry_the_infeasible_reason(run_cfg, tmp_path):
    cfg = run_cfg("topology.cpu=1.0", "topology.n=2", "workload.n=6", "workload.length=3")
    df = run_experiment(cfg)
    rejected = df[df["status"] == "rejected"]
    assert len(rejected) and rejected["reason"].isin(["cpu", "mem", "bandwidth", "latency", "no-path"]).all()
    assert rejected["mapping"].isna().all() and rejected["model_latency_ms"].isna().all()
    assert verify_run(tmp_path / "run") == []


def test_batch_mode_is_all_or_nothing(run_cfg, tmp_path):
    tight = ("topology.cpu=1.0", "topology.n=2", "workload.n=6")
    df = run_experiment(run_cfg("mode=batch", *tight, results_dir=tmp_path / "batch"))
    _, chains = load_instance(tmp_path / "batch")
    assert sum(v.cpu for c in chains for v in c.vnfs) > 2 * 1.0  # more than both servers hold: known infeasible
    assert set(df["status"]) == {"rejected"}
    assert df["solve_time_ms"].nunique() == 1 and df["rep_solve_time_ms"].iloc[0] == df["solve_time_ms"].iloc[0]
    one_by_one = run_experiment(run_cfg("mode=sequential", *tight, results_dir=tmp_path / "sequential"))
    assert set(one_by_one["status"]) == {"placed", "rejected"}  # the same chains, taken singly, partly fit
    roomy = run_experiment(run_cfg("mode=batch", "topology.cpu=64.0", "topology.n=2", "workload.n=6",
                                   results_dir=tmp_path / "roomy"))
    assert set(roomy["status"]) == {"placed"} and roomy["solve_time_ms"].nunique() == 1


def test_admission_mode_chooses_chains_and_carries_the_optimum(run_cfg, tmp_path):
    tight = ("topology.cpu=3.0", "topology.n=3", "workload.n=8", "algo=first_fit", "optimum=exact")
    df = run_experiment(run_cfg("mode=admission", *tight, results_dir=tmp_path / "admission"))
    assert set(df["status"]) == {"placed", "rejected"} and set(df["mode"]) == {"admission"}
    assert set(df.loc[df["status"] == "rejected", "reason"]) == {"not admitted"}
    assert df["solve_time_ms"].nunique() == 1 and json.loads(df["detail"].iloc[0])["algorithm"] == "first_fit"
    earned = df["revenue"].sum()
    assert (df["opt_kind"] == "exact").all() and (df["opt_status"] == "Optimal").all()
    assert earned <= df["opt_revenue"].iloc[0] + 1e-6
    assert df["revenue_ratio"].iloc[0] == pytest.approx(earned / df["opt_revenue"].iloc[0])
    assert verify_run(tmp_path / "admission") == []
    # The same chains in arrival order on the residual: admission never earns less (it tries that order too).
    sequential = run_experiment(run_cfg("mode=sequential", *tight, results_dir=tmp_path / "sequential"))
    assert earned >= sequential["revenue"].sum() - 1e-9
    assert sequential["revenue_ratio"].iloc[0] <= df["revenue_ratio"].iloc[0] + 1e-9


def test_repetitions_vary_the_algorithm_seed_not_the_instance(run_cfg):
    df = run_experiment(run_cfg("algo=random", "repetitions=3"))
    assert len(df) == 9 and sorted(df["repetition"].unique()) == [0, 1, 2]
    assert df.groupby("repetition")["algo_seed"].first().nunique() == 3
    assert df.groupby("chain_id")["ingress"].nunique().max() == 1


def test_an_algorithm_failure_is_an_error_row_not_a_crash(run_cfg, monkeypatch):
    def broken(self, residual, chains, rng):
        raise RuntimeError("boom")

    monkeypatch.setattr(Greedy, "_place", broken)
    df = run_experiment(run_cfg())
    assert set(df["status"]) == {"error"} and set(df["reason"]) == {"RuntimeError"}
    assert df["detail"].str.contains("boom").all()


def test_declined_instances_are_skipped(run_cfg):
    df = run_experiment(run_cfg("algo=milp", "algo.max_variables=1"))
    assert set(df["status"]) == {"skipped"} and df["detail"].str.contains("max_variables").all()


def test_rerun_skips_existing_results_unless_redo(run_cfg, tmp_path):
    first = run_experiment(run_cfg())
    again = run_experiment(run_cfg())
    assert set(again["run_id"]) == set(first["run_id"])
    redone = run_experiment(run_cfg("redo=true"))
    assert set(redone["run_id"]) != set(first["run_id"])
    with pytest.raises(ConfigError, match="another configuration.*redo=true"):
        run_experiment(run_cfg("workload.n=2"))


def test_verify_finds_a_tampered_placement(run_cfg, tmp_path, capsys):
    run_experiment(run_cfg("workload.n=4"))
    run = tmp_path / "run"
    df = load_results(run)
    placed = df.index[df["status"] == "placed"][0]
    df.loc[placed, "model_latency_ms"] += 1.0
    df.loc[placed, "paths"] = json.dumps([["nowhere"]] * len(json.loads(df.loc[placed, "paths"])))
    df.to_parquet(run / "results.parquet")
    problems = verify_run(run)
    assert any("must run from" in p for p in problems)
    assert verify_main([str(run)]) == 1 and "FAIL" in capsys.readouterr().out


def test_deployment_wiring_with_a_fake_testbed(run_cfg, monkeypatch):
    """The testbed contract as used by the run: constructor arguments in, measured columns out."""
    seen = {}

    class FakeTestbed:
        def __init__(self, substrate, chains, placement, *, host_kind, images, delay, vnf_impl, log):
            seen.update(chains=[c.id for c in chains], host_kind=host_kind, images=images, delay=delay,
                        vnf_impl=vnf_impl)
            self.placement = placement
            self.info = {"run_id": "fake01", "delay_mechanism": "netem", "host_kind": host_kind}

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            seen["closed"] = True

        def measure(self, requests):
            seen["requests"] = requests
            return [
                {"chain_id": cid, "requests": requests, "errors": 0, "p50_ms": 5.0, "p95_ms": 7.0, "p99_ms": 9.0,
                 "trace_ok": True, "vnf_counters": {f"{cid}-vnf0": requests}}
                for cid in self.placement.embeddings
            ]

    monkeypatch.setitem(sys.modules, "testbed.deploy",
                        types.SimpleNamespace(Testbed=FakeTestbed, preflight=lambda kind: None))
    cfg = run_cfg("testbed.requests=7", "testbed.delay=netem")
    cfg.testbed.kind = "process"  # a deploying kind, set after composing (the fake stands in for it)
    df = run_experiment(cfg)
    assert seen["host_kind"] == "process" and seen["requests"] == 7 and seen["delay"] == "netem" and seen["closed"]
    assert seen["images"].vnf == cfg.testbed.images.vnf
    assert set(seen["vnf_impl"].values()) == {"light"}
    placed = df[df["status"] == "placed"]
    assert sorted(seen["chains"]) == sorted(placed["chain_id"])
    assert (placed["measured_p50_ms"] == 5.0).all() and (placed["measured_requests"] == 7).all()
    assert placed["trace_ok"].all() and set(df["delay_mechanism"]) == {"netem"}
    assert json.loads(placed["vnf_counters"].iloc[0]) == {f"{placed['chain_id'].iloc[0]}-vnf0": 7}


# ----------------------------------------------------------------------------- the command line


@pytest.mark.parametrize(
    "override, expected",
    [
        ("testbed.requests=-3", ["testbed.requests=-3", "must be an int >= 1"]),
        ("mode=foo", ["mode='foo'", "choose one of sequential, batch, online"]),
        ("seed=abc", ["seed", "'abc'"]),
        ("algo=nope", ["algo/nope", "greedy", "milp"]),
    ],
)
def test_bad_override_fails_at_once_and_writes_nothing(cli, tmp_path, override, expected):
    done = cli(override, f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert done.returncode != 0
    for text in expected:
        assert text in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_sweep_over_every_algorithm_merges_to_one_row_per_algo_chain_seed(cli, tmp_path):
    algos = ",".join(available_algorithms())
    args = ["-m", "experiment=placement_only", f"algo={algos}", "seed=0,1", f"hydra.sweep.dir={tmp_path / 'sweep'}"]
    done = cli(*args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    df = report.merge([tmp_path / "sweep"])
    assert len(df) == len(available_algorithms()) * 2 * 3
    assert not df.duplicated(["algorithm", "chain_id", "seed"]).any()
    assert set(df["algorithm"]) == set(available_algorithms())
    assert verify_main([str(tmp_path / "sweep")]) == 0
    again = cli(*args, cwd=tmp_path)
    assert again.returncode == 0 and again.stdout.count("skipping:") == 2 * len(available_algorithms())
    assert set(report.merge([tmp_path / "sweep"])["run_id"]) == set(df["run_id"])
    assert not list(tmp_path.glob("results")) and not list(tmp_path.glob("outputs"))


def test_sweep_with_the_submitit_local_launcher(cli, tmp_path):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    args = ["-m", "experiment=placement_only", "hydra/launcher=submitit_local", "algo=greedy,first_fit",
            f"hydra.sweep.dir={tmp_path / 'sweep'}"]
    done = cli(*args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    df = report.merge([tmp_path / "sweep"])
    assert sorted(df["algorithm"].unique()) == ["first_fit", "greedy"] and len(df) == 6


def test_highs_banner_goes_to_the_job_log_not_stdout(cli, tmp_path):
    args = ["-m", "experiment=placement_only", "algo=milp", "seed=0,1", f"hydra.sweep.dir={tmp_path / 'sweep'}"]
    done = cli(*args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Running HiGHS" not in done.stdout and "Running HiGHS" not in done.stderr
    logs = sorted((tmp_path / "sweep").glob("*/run.log"))
    assert len(logs) == 2 and any("[placement.highs][INFO] - Running HiGHS" in log.read_text() for log in logs)
