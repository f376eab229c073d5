"""Merging runs and sweeps, the summary table, and the plots (functions of the merged dataframe only)."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from matplotlib.figure import Figure

from experiments import report
from experiments.results import parquet_safe
from experiments.run import run_experiment

pytestmark = pytest.mark.usefixtures("no_testbed")


@pytest.fixture
def results(run_cfg, tmp_path):
    """A small results tree: two algorithms offline (two loads), one online, in nested directories."""
    for algo in ("greedy", "random"):
        for n in (3, 6):
            run_experiment(run_cfg(f"algo={algo}", f"workload.n={n}", results_dir=tmp_path / "sweep" / f"{algo}-{n}"))
    run_experiment(run_cfg("mode=online", "workload=online", "workload.n=10", results_dir=tmp_path / "online"))
    return tmp_path


@pytest.fixture
def merged(results):
    return report.merge([results / "sweep", results / "online"])


def with_measurements(df):
    """``df`` as if its placed chains had been measured: p50 a bit above the model round trip."""
    out = df.copy()
    placed = out["status"] == "placed"
    out.loc[placed, "measured_p50_ms"] = out.loc[placed, "model_rtt_ms"] * 1.2 + 0.5
    out.loc[placed, "measured_p95_ms"] = out.loc[placed, "measured_p50_ms"] * 1.5
    return out


def test_merge_finds_runs_recursively_one_row_per_algo_chain_run(merged):
    assert merged["run_id"].nunique() == 5
    assert len(merged) == 2 * (3 + 6) + 10
    assert not merged.duplicated(["run_id", "algorithm", "chain_id", "repetition"]).any()
    assert merged["substrate_json"].str.startswith("{").all()


def test_merge_without_results_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="no results.parquet"):
        report.merge([tmp_path])


def test_summary_table_counts_and_ratios(merged):
    table = report.summary_table(merged)
    assert list(table.index) == ["greedy", "random"]
    assert (table["chains"] == table[["placed", "rejected", "skipped", "error"]].sum(axis=1)).all()
    assert table["acceptance"].between(0, 1).all()
    assert table["measured_p50_ms"].isna().all() and (table["model_p50_ms"] > 0).all()


def test_acceptance_load_is_chains_offline_and_arrival_rate_online(merged):
    runs = report.acceptance_by_run(merged)
    offline = runs[runs["mode"] == "sequential"]
    assert sorted(offline["load"].unique()) == [3, 6]
    online = runs[runs["mode"] == "online"]
    assert list(online["load"]) == [merged.loc[merged["mode"] == "online", "w_arrival_rate"].iloc[0]]


@pytest.mark.parametrize("name", [n for n in report.PLOTS if n != "model_vs_measured"])
def test_each_plot_draws_from_the_dataframe_alone(merged, name):
    fig = report.PLOTS[name](merged)
    assert isinstance(fig, Figure) and fig.axes


def test_model_vs_measured_is_skipped_without_measurements_and_drawn_with_them(merged):
    assert report.plot_model_vs_measured(merged) is None
    fig = report.plot_model_vs_measured(with_measurements(merged))
    (ax,) = fig.axes
    assert any(line.get_label() == "measured = model" for line in ax.get_lines())
    assert len(report.plot_latency_cdf(with_measurements(merged)).axes) == 2


def test_placement_plot_picks_a_run(merged):
    run_id = merged["run_id"].iloc[-1]
    fig = report.plot_placement(merged, run_id=run_id)
    assert run_id in fig.axes[0].get_title()


def test_report_cli_writes_merged_summary_and_plots(results, tmp_path, capsys):
    out = tmp_path / "report"
    assert report.main([str(results / "sweep"), str(results / "online"), "-o", str(out)]) == 0
    names = {p.name for p in out.iterdir()}
    assert {"merged.parquet", "summary.csv"} <= names
    for plot in report.PLOTS:
        expected = plot != "model_vs_measured"
        assert ({f"{plot}.png", f"{plot}.svg"} <= names) == expected
    assert len(pd.read_parquet(out / "merged.parquet")) == 28
    assert "greedy" in capsys.readouterr().out


def test_report_defaults_to_a_report_folder_in_the_first_path(results):
    assert report.main([str(results / "sweep")]) == 0
    assert (results / "sweep" / "report" / "merged.parquet").is_file()
    assert len(report.merge([results / "sweep"])) == 18  # the report's merged.parquet is not a run


def test_parquet_safe_makes_mixed_columns_text():
    df = pd.DataFrame({"w_length": [3, "[2, 3]", None], "x": [1.0, math.nan, 2.0]})
    safe = parquet_safe(df)
    assert list(safe["w_length"][:2]) == ["3", "[2, 3]"] and pd.isna(safe["w_length"][2])
    assert safe["x"].dtype == float
    safe.to_parquet(pd.io.common.BytesIO())  # one type per column now
