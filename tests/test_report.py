"""The report: merging runs of every kind, figures that follow the sweep, matplotlib conventions,
bad input, and the one-page HTML report opened in a real headless browser."""

from __future__ import annotations

import itertools
import math
import os
import shutil

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from experiments import report
from experiments.results import TIMELINE_FILE, parquet_safe, save_results
from experiments.run import run_experiment
from tests import browser

pytestmark = pytest.mark.usefixtures("no_testbed")


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """A results tree: two algorithms offline at two loads, two online seeds, a fidelity and an isolation run."""
    from tests.conftest import CONF  # the module fixture composes by hand (run_cfg is function-scoped)
    from hydra import compose, initialize_config_dir

    import experiments.schema  # noqa: F401

    root = tmp_path_factory.mktemp("report")

    def run(*overrides, results_dir):
        with initialize_config_dir(config_dir=str(CONF), version_base=None):
            cfg = compose("config", overrides=["testbed=none", "progress=false", f"results_dir={results_dir}",
                                               *overrides], return_hydra_config=True)
        run_experiment(cfg)

    for algo in ("greedy", "random"):
        for n in (3, 6):
            run(f"algo={algo}", f"workload.n={n}", results_dir=root / "sweep" / f"{algo}-{n}")
        for seed in (0, 1):
            run("mode=online", "workload=online", "workload.n=30", f"algo={algo}", f"seed={seed}",
                results_dir=root / "online" / f"{algo}-{seed}")
    for study in ("fidelity", "isolation", "saturation"):
        (root / "studies" / study).mkdir(parents=True)
    save_results(root / "studies" / "fidelity", fidelity_rows())
    save_results(root / "studies" / "saturation", saturation_rows())
    save_results(root / "studies" / "isolation", pd.DataFrame(
        {"mode": ["process"] * 2 + ["docker"] * 2, "pattern": ["0,1,2,3"] * 2 + ["0,0,1,1"] * 2,
         "request": [0, 1, 0, 1], "server": ["A", "B", "A", "B"], "answer": [0, 1, 0, 0]}))
    return root


def fidelity_rows() -> pd.DataFrame:
    """Rows in the schema ``experiments.fidelity.run_fidelity`` writes (values made up, not measured)."""
    model = np.array([11.0, 21.0, 42.0])
    return pd.DataFrame({
        "substrate": "line", "chain_id": ["line-same-server", "line-at-ends", "line-far-apart"],
        "style": ["same-server", "at-ends", "far-apart"], "servers": ["srv1,srv1", "srv0,srv3", "srv3,srv0"],
        "hops": [3, 3, 9], "link_rtt_ms": model - 1, "proc_ms": 0.5, "endpoint_ms": 0.5, "model_rtt_ms": model,
        "measured_p50_ms": model * 1.03, "measured_p95_ms": model * 1.2, "errors": 0, "trace_ok": True,
        "delay_mechanism": "relay", "abs_error_ms": model * 0.03, "rel_error": 0.03})


def saturation_rows() -> pd.DataFrame:
    """Rows in the schema ``experiments.saturation.run_saturation`` writes (values made up, not measured)."""
    rates = [50.0, 100.0, 200.0]
    rows = []
    for placement, knee, p50s in (("co-located", 200.0, [2.0, 3.0, 900.0]), ("spread", None, [2.0, 2.2, 2.5])):
        for step, (rate, p50) in enumerate(zip(rates, p50s)):
            for chain in ("c0", "c1"):
                rows.append({"chain_id": chain, "step": step, "offered_rps": rate, "achieved_rps": rate,
                             "error_share": 0.0, "p50_ms": p50, "p90_ms": p50 * 2, "p99_ms": p50 * 3,
                             "model_rtt_ms": 1.5, "model_error": (p50 - 1.5) / 1.5, "placement": placement,
                             "saturation_rps": 100.0 if knee else 200.0, "knee_rps": knee, "servers": "srv1,srv1"})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def sweep(results):
    return report.load([results / "sweep"])


@pytest.fixture(scope="module")
def online(results):
    return report.load([results / "online"])


@pytest.fixture(scope="module")
def everything(results):
    return report.load([results])


def with_measurements(df):
    """``df`` as if its placed chains had been measured: p50 a bit above the model round trip."""
    out = df.copy()
    placed = out["status"] == "placed"
    out.loc[placed, "measured_p50_ms"] = out.loc[placed, "model_rtt_ms"] * 1.2 + 0.5
    out.loc[placed, "measured_p95_ms"] = out.loc[placed, "measured_p50_ms"] * 1.5
    return out


# ----------------------------------------------------------------------------- merging


def test_load_merges_every_kind_of_run(everything):
    assert everything.results["run_id"].nunique() == 8
    assert len(everything.results) == 2 * (3 + 6) + 4 * 30
    assert not everything.results.duplicated(["run_id", "algorithm", "chain_id", "repetition"]).any()
    assert set(everything.studies) == {"fidelity", "isolation", "saturation"}
    assert len(everything.studies["fidelity"]) == 3 and len(everything.studies["isolation"]) == 4
    assert len(everything.studies["saturation"]) == 12
    assert sorted(everything.runs["kind"].value_counts().items()) == [("fidelity", 1), ("isolation", 1),
                                                                        ("placement", 8), ("saturation", 1)]
    assert set(everything.timeline["run_id"]) == set(everything.results.query("mode == 'online'")["run_id"])


def test_timeline_carries_its_runs_labels(online):
    tl = online.timeline
    assert {"algorithm", "seed", "w_arrival_rate", "acceptance_ratio", "time", "repetition"} <= set(tl.columns)
    assert len(tl[tl["event"] == "arrival"]) == 4 * 30
    assert tl.groupby("run_id")["algorithm"].nunique().eq(1).all()


def test_merge_keeps_runs_of_different_schemas_by_key_columns(results, tmp_path):
    shutil.copytree(results / "sweep", tmp_path / "sweep")
    old = tmp_path / "sweep" / "greedy-3" / "results.parquet"
    pd.read_parquet(old).drop(columns=["rep_solve_time_ms", "git_commit"]).to_parquet(old)
    new = tmp_path / "sweep" / "random-6" / "results.parquet"
    pd.read_parquet(new).assign(p_algo_extra=7).to_parquet(new)
    df = report.merge([tmp_path / "sweep"])
    assert len(df) == 18
    assert df.loc[df["p_algo_extra"].notna(), "run_dir"].str.endswith("random-6").all()
    assert df["git_commit"].isna().sum() == 3
    assert report.run_metrics(df)["acceptance"].between(0, 1).all()


def test_summary_table_counts_and_ratios(sweep):
    table = report.summary_table(sweep.results)
    assert list(table.index) == ["greedy", "random"]
    assert (table["chains"] == table[["placed", "rejected", "skipped", "error"]].sum(axis=1)).all()
    assert table["acceptance"].between(0, 1).all()
    assert table["measured_p50_ms"].isna().all() and (table["model_p50_ms"] > 0).all()


def test_run_metrics_one_row_per_run_and_repetition(sweep):
    metrics = report.run_metrics(sweep.results)
    assert len(metrics) == 4
    by_hand = sweep.results.groupby("run_id")["status"].apply(lambda s: (s == "placed").mean())
    assert np.allclose(metrics.set_index("run_id")["acceptance"], by_hand.loc[metrics["run_id"]])


def test_spread_table_summarises_seeds_per_algorithm_and_sweep_point(sweep, online):
    table = report.spread_table(report.run_metrics(sweep.results))
    assert list(table.index) == [("greedy", 3), ("greedy", 6), ("random", 3), ("random", 6)]
    assert (table[("runs", "count")] == 1).all() and table[("acceptance", "std")].isna().all()
    metrics = report.run_metrics(online.results)
    table = report.spread_table(metrics)
    assert (table[("runs", "count")] == 2).all()
    greedy = metrics[metrics["algorithm"] == "greedy"]["acceptance"]
    assert table.loc["greedy", ("acceptance", "mean")] == pytest.approx(greedy.mean())
    assert table.loc["greedy", ("acceptance", "min")] == greedy.min()
    shown = report.spread_display(metrics)
    assert shown.index.name == "algorithm" and shown["runs (seeds x repetitions)"].tolist() == [2, 2]


def test_sweep_axes_follow_what_varies(sweep, online, everything):
    axes = report.sweep_axes(report.run_metrics(sweep.results))
    assert axes.x == "n_chains" and axes.facets == [] and axes.varying["n_chains"] == [3, 6]
    axes = report.sweep_axes(report.run_metrics(online.results))
    assert axes.x is None and axes.facets == [] and axes.fixed["w_arrival_rate"] == 1.0
    axes = report.sweep_axes(report.run_metrics(everything.results))
    assert axes.x == "n_chains" and len(axes.facets) == 1  # offline and online runs are separate panels


def test_sweep_axes_name_panels_and_series_of_a_two_parameter_sweep():
    grid = list(itertools.product([10, 20], [("line", 4), ("star", 5)], [3, 6], [0, 1]))
    runs = pd.DataFrame([{"run_id": f"r{i}", "algorithm": "genetic", "p_algo_population": pop, "topology": topo,
                          "n_nodes": nodes, "n_chains": n, "w_n": n, "seed": seed, "mode": "sequential"}
                         for i, (pop, (topo, nodes), n, seed) in enumerate(grid)])
    axes = report.sweep_axes(runs)
    assert axes.x == "n_chains" and axes.facets == ["topology"] and axes.series == ["algorithm", "p_algo_population"]
    assert axes.series_label(runs.iloc[0]) == "genetic (population=10)"
    assert axes.facet_label(["star"]) == "topology = star"
    assert axes.fixed == {"mode": "sequential"}


# ----------------------------------------------------------------------------- figures


def lines_with_points(fig, least=2):
    return [line for ax in fig.axes for line in ax.get_lines() if len(line.get_xdata()) >= least]


def test_varying_load_is_the_x_axis_with_a_band_per_algorithm(sweep):
    fig = report.plot_metric(sweep.results, "acceptance")
    (ax,) = fig.axes
    assert ax.get_xlabel() == "chains offered (count)"
    assert sorted({tuple(line.get_xdata()) for line in lines_with_points(fig)}) == [(3, 6)]
    assert len(lines_with_points(fig)) == 2 and len([c for c in ax.collections if isinstance(c, PolyCollection)]) == 2


def test_a_single_valued_axis_becomes_bars_with_seeds_as_dots(online):
    fig = report.plot_metric(online.results, "acceptance")
    (ax,) = fig.axes
    assert not lines_with_points(fig)  # never a one-point line
    assert len(ax.patches) == 2  # one bar per algorithm
    assert [t.get_text() for t in ax.get_xticklabels()] == ["greedy", "random"]
    dots = np.concatenate([c.get_offsets()[:, 1] for c in ax.collections])
    assert len(dots) == 4  # two seeds per algorithm
    metrics = report.run_metrics(online.results)
    assert sorted(dots) == pytest.approx(sorted(metrics["acceptance"]))


def test_over_time_has_a_band_per_algorithm_and_reads_every_timeline_metric(online):
    fig = report.plot_over_time(online.timeline)
    labels = [ax.get_ylabel() for ax in fig.axes]
    assert labels[0] == "acceptance ratio (accepted / arrived)"
    assert "long-term average revenue (per time unit)" in labels and "revenue / cost (ratio)" in labels
    for ax in fig.axes:
        assert len([line for line in ax.get_lines() if len(line.get_xdata()) > 2]) == 2  # one per algorithm
        assert len(ax.collections) == 2  # and its band
    band = report.timeline_bands(online.timeline, "acceptance_ratio")
    assert (band["min"] <= band["mean"]).all() and (band["mean"] <= band["max"]).all() and (band["runs"] == 2).all()
    richer = online.timeline.assign(cpu_peak=online.timeline["time"] * 0 + 5.0)
    assert "cpu_peak (as recorded)" in [ax.get_ylabel() for ax in report.plot_over_time(richer).axes]


def test_placement_labels_only_the_top_chains_by_revenue(online):
    results = online.results
    run_id = results["run_id"].iloc[0]
    substrate, chains = online.instance(run_id)
    fig = report.plot_placement(results, substrate, chains, run_id=run_id, top=3)
    (legend,) = fig.legends
    labels = [t.get_text() for t in legend.get_texts()]
    alive, _ = report.figures.active_at_peak(results[(results["run_id"] == run_id) & (results["repetition"] == 0)])
    assert len(alive) > 3 and len(labels) == 3
    assert [label.split(":")[0] for label in labels] == list(alive.nlargest(3, "revenue")["chain_id"])
    chosen = alive["chain_id"].iloc[-1]
    fig = report.plot_placement(results, substrate, chains, run_id=run_id, chain=chosen)
    assert [t.get_text().split(":")[0] for t in fig.legends[0].get_texts()] == [chosen]
    cbar_labels = {ax.get_xlabel() for ax in fig.axes}
    assert {"server CPU in use (%)", "link bandwidth in use (%), also as width"} <= cbar_labels


def test_placement_of_many_chains_on_a_real_map_stays_readable(run_cfg, tmp_path):
    run_experiment(run_cfg("topology=zoo_geant", "workload.n=80", results_dir=tmp_path / "geant"))
    sweep = report.load([tmp_path / "geant"])
    run_id = sweep.results["run_id"].iloc[0]
    fig = report.plot_placement(sweep.results, *sweep.instance(run_id), run_id=run_id)
    assert (sweep.results["status"] == "placed").sum() > 20
    assert len(fig.legends[0].get_texts()) == 5
    check_conventions(fig, "geant placement")  # no overlapping or cut-off text


def test_model_vs_measured_from_testbed_rows_and_fidelity_runs(everything):
    assert report.plot_model_vs_measured(everything.results) is None
    fig = report.plot_model_vs_measured(with_measurements(everything.results), everything.studies)
    ax = fig.axes[0]
    assert [tuple(line.get_xdata()) == tuple(line.get_ydata()) for line in ax.get_lines()] == [True]  # identity
    points = report.latency_points(with_measurements(everything.results), everything.studies)
    assert set(points["source"]) == {"greedy", "random", "fidelity: line"}
    calibrated = with_measurements(everything.results).assign(testbed_model_rtt_ms=lambda d: d["model_rtt_ms"] + 1.0)
    again = report.latency_points(calibrated, everything.studies)
    assert np.allclose(again["model_rtt_ms"][: len(points) - 3], points["model_rtt_ms"][: len(points) - 3] + 1.0)


def _texts(fig, renderer):
    """Every visible, non-empty text of ``fig`` with its window extent."""
    texts = [fig._suptitle] if fig._suptitle else []
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        texts += [ax.title, ax.xaxis.label, ax.yaxis.label, *ax.texts]
        if ax.axison:
            for axis in (ax.xaxis, ax.yaxis):
                low, high = sorted(axis.get_view_interval())
                texts += [t.label1 for t in axis.get_major_ticks() if low - 1e-9 <= t.get_loc() <= high + 1e-9]
    for legend in fig.legends + [ax.get_legend() for ax in fig.axes if ax.get_legend()]:
        texts += [*legend.get_texts(), legend.get_title()]
    return [(t.get_text(), t.get_window_extent(renderer)) for t in texts if t.get_visible() and t.get_text().strip()]


def check_conventions(fig: Figure, name: str):
    """Units on every axis, legends outside the axes, no overlapping or clipped text."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    figure_box = fig.bbox
    for ax in fig.axes:
        if not ax.axison:
            continue
        for label in (ax.get_xlabel(), ax.get_ylabel()):
            assert label == "" or label == "algorithm" or "(" in label, f"{name}: axis label without unit: {label!r}"
        assert ax.get_xlabel() or ax.get_ylabel(), f"{name}: unlabelled axes"
        for legend in fig.legends:
            box = legend.get_window_extent(renderer)
            assert not box.overlaps(ax.get_window_extent(renderer)), f"{name}: legend over the axes"
    texts = _texts(fig, renderer)
    for text, box in texts:
        assert box.x0 >= -1 and box.y0 >= -1 and box.x1 <= figure_box.x1 + 1 and box.y1 <= figure_box.y1 + 1, \
            f"{name}: {text!r} is cut off"
    for (a, box_a), (b, box_b) in itertools.combinations(texts, 2):
        assert not box_a.shrunk(0.95, 0.9).overlaps(box_b.shrunk(0.95, 0.9)), f"{name}: {a!r} overlaps {b!r}"


@pytest.mark.parametrize("kind", ["sweep", "online", "everything"])
def test_every_figure_follows_the_conventions(kind, request):
    data = request.getfixturevalue(kind)
    data = report.Sweep(with_measurements(data.results), data.timeline, data.studies, data.runs, data.paths)
    figures = report.make_figures(data)
    assert {"acceptance", "solve_time", "latency_cdf", "placement", "model_vs_measured"} <= set(figures)
    assert ("over_time" in figures) == (kind != "sweep")
    for name, fig in figures.items():
        check_conventions(fig, f"{kind}/{name}")


def test_convention_check_catches_a_label_without_unit_and_an_inner_legend():
    fig = Figure()
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], label="x")
    ax.set(xlabel="time", ylabel="latency (ms)")
    with pytest.raises(AssertionError, match="without unit"):
        check_conventions(fig, "bad")
    ax.set_xlabel("time (s)")
    fig.legend(loc="center")
    with pytest.raises(AssertionError, match="legend over the axes"):
        check_conventions(fig, "bad")


# ----------------------------------------------------------------------------- command line and page


def test_report_cli_writes_tables_figures_and_one_page(results, tmp_path, capsys):
    out = tmp_path / "report"
    assert report.main([str(results), "-o", str(out)]) == 0
    names = {p.name for p in out.iterdir()}
    assert {"merged.parquet", "summary.csv", "report.html"} <= names
    for name in ("acceptance", "revenue", "model_latency", "solve_time", "over_time", "latency_cdf", "placement",
                 "model_vs_measured", "saturation"):
        assert {f"{name}.png", f"{name}.svg"} <= names, name
    assert "measured_latency.png" not in names  # placement-only runs measured nothing
    assert len(pd.read_parquet(out / "merged.parquet")) == 138
    assert "greedy" in capsys.readouterr().out
    page = (out / "report.html").read_text()
    assert script_sources(page) == []  # self-contained: opens offline
    assert "Summary per algorithm" in page and "Study: fidelity" in page and "Study: isolation" in page
    assert "Study: saturation" in page
    assert page.count("<img alt=") == sum(n.endswith(".png") for n in names)
    assert f"href='{os.path.relpath(results / 'online' / 'greedy-0', out)}/'" in page  # links relative to the page
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".report")]  # no staging left


def script_sources(page: str) -> list:
    """The ``src`` of every ``<script>`` tag of an HTML page (script bodies are not parsed as markup)."""
    from html.parser import HTMLParser

    found = []

    class Parser(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.extend(v for k, v in attrs if tag in ("script", "link", "img", "iframe") and k in ("src", "href")
                         and not (v or "").startswith(("data:", "#", "..", "./")) and tag != "img")

    Parser().feed(page)
    return found


def test_report_cli_maps_the_run_and_chain_asked_for(results, tmp_path, capsys):
    sweep = report.load([results / "online"])
    run_id = sweep.results["run_id"].iloc[-1]
    placed = sweep.results[(sweep.results["run_id"] == run_id) & (sweep.results["status"] == "placed")]
    out = tmp_path / "out"
    args = [str(results / "online"), "-o", str(out), "--run", run_id]
    assert report.main([*args, "--chain", placed["chain_id"].iloc[0]]) == 0
    assert report.main([*args, "--chain", "no-such-chain"]) == 2
    assert "--chain no-such-chain: not a placed chain of run" in capsys.readouterr().err
    assert report.main([str(results / "online"), "-o", str(tmp_path / "other"), "--run", "nope"]) == 2
    assert "--run nope: no placement run of that id here" in capsys.readouterr().err
    assert not (tmp_path / "other").exists()


def test_report_defaults_to_a_report_folder_in_the_first_path(results, tmp_path):
    shutil.copytree(results / "sweep", tmp_path / "sweep")
    assert report.main([str(tmp_path / "sweep")]) == 0
    assert (tmp_path / "sweep" / "report" / "report.html").is_file()
    assert len(report.merge([tmp_path / "sweep"])) == 18  # the report folder holds no run


def test_report_of_study_runs_alone(results, tmp_path):
    out = tmp_path / "out"
    assert report.main([str(results / "studies"), "-o", str(out)]) == 0
    assert {"report.html", "model_vs_measured.png"} <= {p.name for p in out.iterdir()}
    assert not (out / "merged.parquet").exists()


def bad_input_cases(results, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    corrupt = tmp_path / "corrupt"
    shutil.copytree(results / "sweep", corrupt)
    (corrupt / "random-3" / "results.parquet").write_bytes(b"PAR1 not really")
    corrupt_timeline = tmp_path / "corrupt_timeline"
    shutil.copytree(results / "online", corrupt_timeline)
    (corrupt_timeline / "greedy-1" / TIMELINE_FILE).write_text("garbage")
    timeless = tmp_path / "timeless"
    shutil.copytree(results / "online", timeless)
    pd.read_parquet(timeless / "random-0" / TIMELINE_FILE).drop(columns="time").to_parquet(
        timeless / "random-0" / TIMELINE_FILE)
    foreign = tmp_path / "foreign"
    (foreign / "x").mkdir(parents=True)
    save_results(foreign / "x", pd.DataFrame({"a": [1], "b": [2]}))
    twice = tmp_path / "twice"
    shutil.copytree(results / "sweep" / "greedy-3", twice / "one")
    shutil.copytree(results / "sweep" / "greedy-3", twice / "two")
    return {
        "no runs": (empty, "no results.parquet under"),
        "missing path": (tmp_path / "nowhere", "no such file or directory"),
        "corrupt results": (corrupt, "random-3/results.parquet: the results file is corrupt"),
        "corrupt timeline": (corrupt_timeline, f"greedy-1/{TIMELINE_FILE}: the timeline file is corrupt"),
        "timeline without time": (timeless, f"random-0/{TIMELINE_FILE}: no time column"),
        "unknown schema": (foreign, "results of an unknown kind"),
        "one run twice": (twice, "is found twice"),
    }


@pytest.mark.parametrize("case", ["no runs", "missing path", "corrupt results", "corrupt timeline",
                                  "timeline without time", "unknown schema", "one run twice"])
def test_bad_input_gets_one_line_and_nothing_is_written(results, tmp_path, capsys, case):
    path, message = bad_input_cases(results, tmp_path)[case]
    out = tmp_path / "out"
    assert report.main([str(path), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("report: ") and message in err and "\n" not in err, err
    assert not out.exists()


def test_a_failed_report_leaves_the_previous_one_whole(results, tmp_path, capsys):
    shutil.copytree(results / "sweep", tmp_path / "sweep")
    out = tmp_path / "out"
    assert report.main([str(tmp_path / "sweep"), "-o", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    (tmp_path / "sweep" / "greedy-6" / "results.parquet").write_bytes(b"broken")
    assert report.main([str(tmp_path / "sweep"), "-o", str(out)]) == 2
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_parquet_safe_makes_mixed_columns_text():
    df = pd.DataFrame({"w_length": [3, "[2, 3]", None], "x": [1.0, math.nan, 2.0]})
    safe = parquet_safe(df)
    assert list(safe["w_length"][:2]) == ["3", "[2, 3]"] and pd.isna(safe["w_length"][2])
    assert safe["x"].dtype == float
    safe.to_parquet(pd.io.common.BytesIO())  # one type per column now


needs_chromium = pytest.mark.skipif(
    browser.chromium() is None,
    reason="Chromium is not installed (scripts/setup-system.sh installs Debian's chromium)")


@needs_chromium
def test_browser_check_sees_console_errors_exceptions_and_remote_requests(tmp_path):
    pytest.importorskip("websocket", reason="websocket-client is in the test extra")
    page = tmp_path / "bad.html"
    page.write_text("<html><body><script>console.error('boom'); notDefined();</script>"
                    "<img src='https://cdn.example.invalid/x.png'></body></html>")
    seen = browser.render(page)
    assert any("boom" in e for e in seen.errors) and any("notDefined" in e for e in seen.errors)
    assert seen.remote_requests == ["https://cdn.example.invalid/x.png"]


@needs_chromium
def test_report_page_renders_in_a_real_browser_offline(results, tmp_path):
    pytest.importorskip("websocket", reason="websocket-client is in the test extra")
    out = tmp_path / "report"
    assert report.main([str(results), "-o", str(out)]) == 0
    shot = out / "screenshot.png"
    seen = browser.render(out / "report.html", screenshot=shot, evaluate={
        "plots": "document.querySelectorAll('.js-plotly-plot .main-svg').length",
        "points": "document.querySelectorAll('.js-plotly-plot .point').length",
        "images": "Array.from(document.images).filter(i => i.complete && i.naturalWidth > 0).length",
        "all_images": "document.images.length",
        "tables": "document.querySelectorAll('table').length",
    })
    assert seen.errors == []
    assert seen.remote_requests == []
    assert seen.values["plots"] >= 3 and seen.values["points"] > 0
    assert seen.values["images"] == seen.values["all_images"] >= 8
    assert seen.values["tables"] >= 5
    from PIL import Image

    with Image.open(shot) as image:
        width, height = image.size
        colours = len(image.convert("RGB").resize((200, 200)).getcolors(maxcolors=200 * 200))
    assert width >= 1000 and height >= 2000 and colours > 50  # a drawn page, not a blank one
