"""The report's matplotlib figures: functions of merged data that follow the sweep's shape.

Every figure is made without pyplot (it works under any backend: Agg from
the command line, inline in a notebook) inside the shared style
(:data:`STYLE`, ``sfcbench.mplstyle``): axes carry units, legends sit
outside the axes, and each function returns a
:class:`~matplotlib.figure.Figure`, or None when its data is absent (nothing
measured on a testbed, no online run).  :data:`FIGURES` maps file stems to
functions of a :class:`~experiments.report.load.Sweep`.
"""

from __future__ import annotations

import functools
import json
import math
import warnings
from pathlib import Path

import matplotlib
import matplotlib.style
import networkx as nx
import numpy as np
import pandas as pd
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from placement.residual import usage

from ..results import embedding_from_row
from .load import ReportError
from .tables import METRICS, facet_label, parameter_label, run_metrics, sweep_axes

__all__ = [
    "STYLE",
    "TIMELINE_LABELS",
    "series_colors",
    "timeline_bands",
    "active_at_peak",
    "latency_points",
    "plot_metric",
    "plot_over_time",
    "plot_latency_cdf",
    "plot_placement",
    "plot_model_vs_measured",
    "plot_saturation",
    "FIGURES",
]

STYLE = Path(__file__).with_name("sfcbench.mplstyle")
"""The one matplotlib style of every report figure."""

TIMELINE_LABELS = {
    "acceptance_ratio": "acceptance ratio (accepted / arrived)",
    "long_term_average_revenue": "long-term average revenue (per time unit)",
    "revenue_cost_ratio": "revenue / cost (ratio)",
    "mean_solve_ms": "time per request, running mean (ms)",
    "active": "active chains (count)",
}
"""Timeline column (:attr:`placement.online.OnlineResult.timeline`) -> axis label with unit; these are
drawn in this order (``active`` excepted), then any other numeric column, labelled ``<name> (as recorded)``."""


def timeline_label(column: str) -> str:
    """Axis label of a timeline column."""
    return TIMELINE_LABELS.get(column, f"{column} (as recorded)")


_TIMELINE_SKIP = {"time", "repetition", "arrived", "accepted", "seed", "n_chains", "n_nodes", "n_servers",
                  "n_edges", "algo_seed"}
_GRID_POINTS = 200


def styled(plot):
    """Run a figure function inside the shared style (rcParams apply when artists are made)."""

    @functools.wraps(plot)
    def wrapper(*args, **kwargs):
        with matplotlib.style.context(STYLE):
            return plot(*args, **kwargs)

    return wrapper


def _panels(n: int, ncols: int | None = None, width=4.0, height=3.0, min_width=5.5):
    """A figure with ``n`` panels in rows of ``ncols`` (the legend goes below them)."""
    ncols = ncols or min(n, 3)
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(max(width * ncols, min_width), height * nrows + 0.8), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[n:]:
        fig.delaxes(ax)
    return fig, list(axes[:n])


def series_colors(labels) -> dict:
    """One colour per series label, the same in every panel and figure of a report."""
    with matplotlib.style.context(STYLE):
        cycle = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    return {label: cycle[i % len(cycle)] for i, label in enumerate(sorted(set(labels)))}


_DASHES = ("-", "--", "-.", ":")


def series_styles(labels) -> dict:
    """Colour and line style per series label: algorithms that draw the same line stay visible."""
    colors = series_colors(labels)
    return {label: {"color": c, "linestyle": _DASHES[i % len(_DASHES)]} for i, (label, c) in enumerate(colors.items())}


def _facet_groups(df: pd.DataFrame, facets: list[str]):
    if not facets:
        return [((), df)]
    return [(k if isinstance(k, tuple) else (k,), g) for k, g in df.groupby(facets, dropna=False, sort=True)]


def _legend(fig, styles: dict, title="algorithm", extra=()):
    """One legend for all panels, below them (outside every axes, so it never hides data)."""
    handles = [Line2D([], [], marker="o", label=label, **style) for label, style in styles.items()] + list(extra)
    fig.legend(handles=handles, loc="outside lower center", title=title, ncols=min(len(handles), 5))


# ----------------------------------------------------------------------------- per-run metrics


@styled
def plot_metric(df: pd.DataFrame, metric: str = "acceptance") -> Figure | None:
    """One per-run metric (:data:`~experiments.report.tables.METRICS`) across the sweep.

    The parameter that varies is the x-axis (line: mean over seeds and
    repetitions, band: their min to max); the other varying parameters are
    panels.  A panel whose x has one value is a bar per algorithm (mean)
    with each seed and repetition as a dot.  ``df``: placement result rows.
    """
    metrics = run_metrics(df)
    if metric not in metrics or metrics[metric].isna().all():
        return None
    axes = sweep_axes(metrics)
    data = metrics.assign(series=axes.series_of(metrics)).dropna(subset=[metric])
    styles = series_styles(data["series"])
    colors = {k: v["color"] for k, v in styles.items()}
    groups = _facet_groups(data, axes.facets)
    fig, panels = _panels(len(groups))
    lines = False
    for ax, (values, group) in zip(panels, groups):
        if axes.x and group[axes.x].nunique() >= 2:
            lines = True
            stats = group.groupby(["series", axes.x])[metric].agg(["mean", "min", "max"]).reset_index()
            for label, s in stats.groupby("series"):
                s = s.sort_values(axes.x)
                x = pd.to_numeric(s[axes.x])
                ax.plot(x, s["mean"], marker="o", label=label, **styles[label])
                ax.fill_between(x, s["min"], s["max"], color=colors[label], alpha=0.2, linewidth=0)
            ax.set_xlabel(parameter_label(axes.x))
            if (pd.to_numeric(group[axes.x]) % 1 == 0).all():
                ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        else:
            _bars(ax, group, metric, colors)
        ax.set_ylabel(METRICS[metric])
        if metric == "acceptance":
            ax.set_ylim(0, 1.05)
        elif metric == "solve_ms" and group[metric].max() > 20 * max(group[metric].min(), 1e-9):
            ax.set_yscale("log")
        if axes.facets:
            ax.set_title(axes.facet_label(values))
    n = data.groupby(["series", *axes.facets, *([axes.x] if axes.x else [])], dropna=False).size().max()
    spread = "line: mean, band: min to max" if lines else "bar: mean, dots: runs"
    fig.suptitle(f"{METRICS[metric].split(' (')[0].capitalize()}\n{n} run(s) per point; {spread}")
    if lines:
        _legend(fig, styles)
    return fig


def _bars(ax, group: pd.DataFrame, metric: str, colors: dict):
    """Bar per series (mean) with each run's value as a dot on it."""
    labels = sorted(group["series"].unique())
    rng = np.random.default_rng(0)
    for i, label in enumerate(labels):
        values = group.loc[group["series"] == label, metric].to_numpy(dtype=float)
        ax.bar(i, values.mean(), color=colors[label], alpha=0.6, width=0.7)
        ax.scatter(i + rng.uniform(-0.15, 0.15, len(values)), values, color="black", s=10, zorder=3)
    ax.set_xticks(range(len(labels)), labels, rotation=30 if len(labels) > 3 else 0,
                  ha="right" if len(labels) > 3 else "center")
    ax.set_xlabel("algorithm")
    ax.grid(False, axis="x")


# ----------------------------------------------------------------------------- over time


def timeline_columns(timeline: pd.DataFrame) -> list[str]:
    """The timeline metrics to draw: known ones (:data:`TIMELINE_LABELS`) first, then other numeric columns."""
    numeric = [c for c in timeline.columns if pd.api.types.is_numeric_dtype(timeline[c]) and c not in _TIMELINE_SKIP
               and not c.startswith(("p_algo_", "t_", "w_")) and not c.endswith("_version")]
    known = [c for c in TIMELINE_LABELS if c in numeric and c != "active"]
    return known + [c for c in numeric if c not in known and c != "active"]


def timeline_bands(timeline: pd.DataFrame, column: str, points: int = _GRID_POINTS) -> pd.DataFrame:
    """``column`` over time per series and facet: ``mean``, ``min``, ``max`` over seeds and repetitions.

    Each (run, repetition) is a step function of time (its value after its
    latest arrival), sampled on a common grid from the latest first arrival
    to the earliest last arrival of the facet's runs, so every point of a
    band holds every run.
    """
    axes = sweep_axes(timeline)
    facets = [*([axes.x] if axes.x else []), *axes.facets]
    data = timeline.assign(series=axes.series_of(timeline))
    out = []
    for values, group in _facet_groups(data, facets):
        spans = group.groupby(["run_id", "repetition"])["time"].agg(["min", "max"])
        grid = np.linspace(float(spans["min"].max()), float(spans["max"].min()), points)
        for label, runs in group.groupby("series"):
            samples = []
            for _, run in runs.groupby(["run_id", "repetition"]):
                run = run.sort_values("time")
                idx = np.searchsorted(run["time"].to_numpy(), grid, side="right") - 1
                vals = run[column].to_numpy(dtype=float)[np.clip(idx, 0, None)]
                samples.append(np.where(idx >= 0, vals, np.nan))
            stack = np.vstack(samples)  # every column holds every run: the grid starts after all first arrivals
            with warnings.catch_warnings(action="ignore", category=RuntimeWarning):  # all-NaN columns stay NaN
                frame = pd.DataFrame({"time": grid, "mean": np.nanmean(stack, axis=0), "min": np.nanmin(stack, axis=0),
                                      "max": np.nanmax(stack, axis=0)})
            out.append(frame.assign(series=label, runs=len(samples), **dict(zip(facets, values))))
    return pd.concat(out, ignore_index=True)


@styled
def plot_over_time(timeline: pd.DataFrame) -> Figure | None:
    """Online runs: acceptance ratio (and every other timeline metric, e.g. long-term average revenue
    and revenue/cost) against time, one line per algorithm (mean) with a band (min to max) across
    seeds and repetitions; one row of panels per value of the sweep's other parameters."""
    if timeline is None or timeline.empty:
        return None
    columns = timeline_columns(timeline)
    axes = sweep_axes(timeline)
    facets = [*([axes.x] if axes.x else []), *axes.facets]
    bands = {c: timeline_bands(timeline, c) for c in columns}
    combos = _facet_groups(bands[columns[0]], facets)
    fig, panels = _panels(len(combos) * len(columns), ncols=len(columns))
    styles = series_styles(bands[columns[0]]["series"])
    for r, (values, _) in enumerate(combos):
        for c, column in enumerate(columns):
            ax = panels[r * len(columns) + c]
            band = bands[column]
            for f, v in zip(facets, values):
                band = band[band[f].isna()] if pd.isna(v) else band[band[f] == v]
            for label, s in band.groupby("series"):
                ax.plot(s["time"], s["mean"], label=label, **styles[label])
                ax.fill_between(s["time"], s["min"], s["max"], color=styles[label]["color"], alpha=0.2, linewidth=0)
            ax.set(xlabel="time (simulation time units)", ylabel=timeline_label(column))
            if column == "acceptance_ratio":
                ax.set_ylim(0, 1.05)
            if facets:
                ax.set_title(facet_label(facets, values))
    runs = int(bands[columns[0]]["runs"].max())
    fig.suptitle(f"Online runs over time\n{runs} run(s) per algorithm; line: mean, band: min to max")
    _legend(fig, styles)
    return fig


# ----------------------------------------------------------------------------- latency


@styled
def plot_latency_cdf(df: pd.DataFrame) -> Figure | None:
    """CDF of the model one-way latency of placed chains, per algorithm; a panel per sweep point
    (pooled over seeds), or one panel pooling all runs when the sweep has more than six points."""
    placed = df[df["status"] == "placed"]
    if placed.empty:
        return None
    axes = sweep_axes(run_metrics(df))
    facets = [*([axes.x] if axes.x else []), *axes.facets]
    groups = _facet_groups(placed, facets)
    if len(groups) > 6:
        groups, facets = [((), placed)], []
    labels = placed.assign(series=axes.series_of(placed))
    styles = series_styles(labels["series"])
    fig, panels = _panels(len(groups))
    for ax, (values, group) in zip(panels, groups):
        group = labels.loc[group.index]
        for label, rows in group.groupby("series"):
            x = np.sort(rows["model_latency_ms"].to_numpy(dtype=float))
            ax.step(x, np.arange(1, len(x) + 1) / len(x), where="post", label=label, **styles[label])
        ax.set(xlabel="model one-way latency (ms)", ylabel="placed chains (cumulative fraction)", ylim=(0, 1.02))
        if facets:
            ax.set_title(facet_label(facets, values))
    fig.suptitle("Model latency of placed chains\npooled over seeds and repetitions")
    _legend(fig, styles)
    return fig


def latency_points(df: pd.DataFrame, studies: dict | None = None) -> pd.DataFrame:
    """Every chain measured on a testbed: ``source`` (algorithm, or the fidelity study's substrate),
    ``run_id``, ``chain_id``, ``model_rtt_ms`` and ``measured_p50_ms``.

    A deployed run's model is the one its testbed compared against
    (``testbed_model_rtt_ms``, calibrated when the machine has a
    calibration) where it recorded one, else the nominal ``model_rtt_ms``.
    """
    cols = ["source", "run_id", "chain_id", "model_rtt_ms", "measured_p50_ms"]
    frames = []
    if "measured_p50_ms" in df:
        rows = df[df["measured_p50_ms"].notna()]
        if "testbed_model_rtt_ms" in rows:  # the testbed's own (calibrated) model, where the run made one
            rows = rows.assign(model_rtt_ms=rows["testbed_model_rtt_ms"].fillna(rows["model_rtt_ms"]))
        frames.append(rows.assign(source=rows["algorithm"])[cols])
    fidelity = (studies or {}).get("fidelity")
    if fidelity is not None and len(fidelity):
        frames.append(fidelity.assign(source="fidelity: " + fidelity["substrate"].astype(str))[cols])
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)


@styled
def plot_model_vs_measured(df: pd.DataFrame, studies: dict | None = None) -> Figure | None:
    """Measured median latency against the model round trip per deployed chain, with the identity line.

    Placement runs deployed on a testbed and fidelity study runs; None when
    nothing was measured.
    """
    points = latency_points(df, studies).dropna(subset=["model_rtt_ms", "measured_p50_ms"])
    if points.empty:
        return None
    fig, (ax,) = _panels(1, width=5.0, height=4.4)
    styles = series_styles(points["source"])
    for label, rows in points.groupby("source"):
        ax.scatter(rows["model_rtt_ms"], rows["measured_p50_ms"], color=styles[label]["color"], s=14, alpha=0.8)
    top = float(np.nanmax(points[["model_rtt_ms", "measured_p50_ms"]].to_numpy())) * 1.05
    identity = Line2D([0, top], [0, top], color="grey", linestyle="--", label="measured = model")
    ax.add_line(identity)
    ax.set(xlabel="model round-trip latency (ms)", ylabel="measured p50 latency (ms)", xlim=(0, top), ylim=(0, top),
           aspect="equal")
    fig.suptitle(f"Testbed vs model: {len(points)} chain(s)")
    styles = {k: {"color": v["color"], "linestyle": "none"} for k, v in styles.items()}
    _legend(fig, styles, title="source", extra=[Line2D([], [], color="grey", linestyle="--", label="measured = model")])
    return fig


# ----------------------------------------------------------------------------- placement map


def _layout(G) -> dict:
    """Node positions: geographic for Topology Zoo graphs, stored ``pos`` if any, else a seeded spring layout."""
    if all("Longitude" in a and "Latitude" in a for _, a in G.nodes(data=True)):
        return {n: (float(a["Longitude"]), float(a["Latitude"])) for n, a in G.nodes(data=True)}
    if all("pos" in a for _, a in G.nodes(data=True)):
        return {n: tuple(a["pos"]) for n, a in G.nodes(data=True)}
    return nx.spring_layout(G, seed=0)


def active_at_peak(rows: pd.DataFrame) -> tuple[pd.DataFrame, float | None]:
    """The placed rows of one repetition alive at the instant most were (all placed rows if none leaves).

    Returns the rows and that instant (None when no chain departs).
    """
    placed = rows[rows["status"] == "placed"]
    departure = pd.to_numeric(placed["departure"], errors="coerce") if "departure" in placed else None
    if departure is None or not np.isfinite(departure).any():
        return placed, None
    arrival = pd.to_numeric(placed["arrival"]).to_numpy()
    alive = [(arrival <= t) & (t < departure.to_numpy()) for t in arrival]
    best = int(np.argmax([a.sum() for a in alive]))
    return placed[alive[best]], float(arrival[best])


def _ends(row) -> str:
    """``ingress → egress`` of a result row, or its number of VNFs when it has no fixed endpoints."""
    if pd.notna(row.get("ingress")) and pd.notna(row.get("egress")):
        return f"{row['ingress']} \u2192 {row['egress']}"
    return f"{len(json.loads(row['vnfs']))} VNFs, no fixed endpoints"


@styled
def plot_placement(df: pd.DataFrame, substrate, chains, run_id=None, repetition=0, top: int = 5,
                   chain=None) -> Figure | None:
    """One run's placement on its substrate, readable at any size.

    Server colour is its CPU in use, link colour and width its bandwidth in
    use (online runs: at the instant the most chains were alive).  Only the
    ``top`` placed chains by revenue are drawn and named (or the one chain
    ``chain``); the tables have the rest.  ``substrate`` and ``chains`` are
    the run's instance (:meth:`Sweep.instance`).
    """
    run_id = df["run_id"].iloc[0] if run_id is None else run_id
    rows = df[(df["run_id"] == run_id) & (df["repetition"] == repetition)]
    if rows.empty:
        return None
    alive, instant = active_at_peak(rows)
    by_id = {c.id: c for c in chains}
    embeddings = {r["chain_id"]: embedding_from_row(r) for _, r in alive.iterrows()}
    node_use, edge_use = usage([by_id[c] for c in embeddings], embeddings)
    G = substrate
    pos = _layout(G)
    servers = [n for n, k in G.nodes(data="kind") if k == "server"]
    switches = [n for n in G if n not in set(servers)]
    cpu = [node_use.get(s, {}).get("cpu", 0.0) / G.nodes[s]["cpu"] if G.nodes[s]["cpu"] else 0.0 for s in servers]
    edges = list(G.edges)
    bw = [edge_use.get(frozenset((u, v)), 0.0) / G.edges[u, v]["bw"] if G.edges[u, v]["bw"] else 0.0 for u, v in edges]
    norm = Normalize(0, 100)
    fig = Figure(figsize=(8.0, 7.0), layout="constrained")
    ax = fig.subplots()
    link_cmap, cpu_cmap = matplotlib.colormaps["YlOrRd"], matplotlib.colormaps["Blues"]
    nx.draw_networkx_edges(G, pos, ax=ax, edgelist=edges, width=[0.8 + 5 * b for b in bw],
                           edge_color=[link_cmap(norm(100 * b) * 0.85 + 0.15) for b in bw])
    nx.draw_networkx_nodes(G, pos, ax=ax, nodelist=switches, node_size=30, node_color="#bbbbbb")
    nx.draw_networkx_nodes(G, pos, ax=ax, nodelist=servers, node_shape="s", node_size=120, edgecolors="#333333",
                           linewidths=0.6, node_color=[cpu_cmap(norm(100 * c)) for c in cpu])
    if G.number_of_nodes() <= 60:
        for s in servers:
            ax.annotate(str(s), pos[s], xytext=(0, 7), textcoords="offset points", ha="center", va="bottom",
                        fontsize=6, color="#333333")
    shown = alive[alive["chain_id"] == chain] if chain is not None else alive.nlargest(top, "revenue")
    handles = []
    for i, (_, row) in enumerate(shown.iterrows()):
        color = f"C{i}"
        path_edges = [(u, v) for path in json.loads(row["paths"]) for u, v in zip(path[:-1], path[1:])]
        nx.draw_networkx_edges(G, pos, ax=ax, edgelist=path_edges, edge_color=color, width=1.4, style="--")
        hosts = list(dict.fromkeys(json.loads(row["mapping"]).values()))
        ax.scatter([pos[h][0] for h in hosts], [pos[h][1] for h in hosts], marker="o", s=55, facecolors="none",
                   edgecolors=color, linewidths=1.5, zorder=4)
        handles.append(Line2D([], [], color=color, linestyle="--", marker="o", markerfacecolor="none",
                              label=f"{row['chain_id']}: {_ends(row)} (revenue {row['revenue']:.0f})"))
    ax.set_axis_off()
    when = f" at t = {instant:.1f}" if instant is not None else ""
    first = rows.iloc[0]
    drawn = f"chain {chain}" if chain is not None else f"the {len(shown)} with the most revenue"
    fig.suptitle(f"{first['algorithm']} on {first['topology']} (run {run_id}, repetition {repetition})")
    ax.set_title(f"{len(alive)} chain(s) in place{when}; drawn: {drawn}")
    fig.colorbar(ScalarMappable(norm, cpu_cmap), ax=ax, location="bottom", shrink=0.45, pad=0.01,
                 label="server CPU in use (%)")
    fig.colorbar(ScalarMappable(norm, link_cmap), ax=ax, location="bottom", shrink=0.45, pad=0.01,
                 label="link bandwidth in use (%), also as width")
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncols=2 if len(handles) > 2 else 1,
                   title="chain: route (dashed), servers of its VNFs (circled)")
    return fig


# ----------------------------------------------------------------------------- registry


def _placement_of(sweep, run_id=None, top: int = 5, chain=None):
    """The placement map of one run of ``sweep`` (default: the first), checking the run and chain asked for."""
    if sweep.results.empty:
        return None
    run_ids = list(dict.fromkeys(sweep.results["run_id"]))
    if run_id is not None and run_id not in run_ids:
        raise ReportError(f"--run {run_id}: no placement run of that id here (there are {', '.join(run_ids[:5])}"
                          f"{', ...' if len(run_ids) > 5 else ''}); copy one from the Runs table of report.html")
    run_id = run_ids[0] if run_id is None else run_id
    rows = sweep.results[sweep.results["run_id"] == run_id]
    if chain is not None and chain not in set(rows.loc[rows["status"] == "placed", "chain_id"]):
        raise ReportError(f"--chain {chain}: not a placed chain of run {run_id}; pick one whose status is placed "
                          "in merged.parquet")
    substrate, chains = sweep.instance(run_id)
    return plot_placement(sweep.results, substrate, chains, run_id=run_id, top=top, chain=chain)


def plot_saturation(steps: pd.DataFrame) -> Figure | None:
    """Latency (p50, p99: worst chain) against offered load per placement of ``experiment=saturation`` runs,
    with each placement's knee and load-free model marked; None without such rows."""
    if steps is None or not len(steps):
        return None
    runs = steps["run_id"].nunique() if "run_id" in steps else 1
    label = (lambda k: f"{k[0]}: {k[1]}") if runs > 1 else (lambda k: str(k[1]))
    keys = ["run_id", "placement"] if "run_id" in steps else ["placement"]
    with matplotlib.style.context(STYLE):
        fig = Figure(figsize=(7, 4.4), layout="constrained")
        ax = fig.subplots()
        for key, rows in steps.groupby(keys, sort=False):
            key = key if isinstance(key, tuple) and len(key) == 2 else (None, key[0] if isinstance(key, tuple) else key)
            worst = rows.groupby("offered_rps").agg(p50=("p50_ms", "max"), p99=("p99_ms", "max"),
                                                    model=("model_rtt_ms", "max"))
            line, = ax.plot(worst.index, worst.p50, marker="o", label=f"{label(key)} p50")
            ax.plot(worst.index, worst.p99, marker="^", ls=":", color=line.get_color(), label=f"{label(key)} p99")
            ax.axhline(worst.model.iloc[0], color=line.get_color(), ls="--", lw=0.8, label=f"{label(key)} model")
            knee = rows["knee_rps"].iloc[0]
            if knee == knee and knee is not None:
                ax.axvline(knee, color=line.get_color(), lw=1.5, alpha=0.6)
                ax.annotate(f"knee {knee:g}/s", (knee, worst.p50.min()), rotation=90, fontsize="small",
                            xytext=(3, 0), textcoords="offset points", color=line.get_color())
        ax.set(xlabel="offered load per chain (requests/s)", ylabel="latency (ms), worst chain", yscale="log",
               title="Latency against offered load")
        ax.legend(fontsize="small")
    return fig


FIGURES = {
    "acceptance": lambda s: plot_metric(s.results, "acceptance") if len(s.results) else None,
    "revenue": lambda s: plot_metric(s.results, "revenue") if len(s.results) else None,
    "revenue_cost": lambda s: plot_metric(s.results, "revenue_cost") if len(s.results) else None,
    "model_latency": lambda s: plot_metric(s.results, "model_latency_ms") if len(s.results) else None,
    "solve_time": lambda s: plot_metric(s.results, "solve_ms") if len(s.results) else None,
    "measured_latency": lambda s: plot_metric(s.results, "measured_p50_ms") if len(s.results) else None,
    "over_time": lambda s: plot_over_time(s.timeline),
    "latency_cdf": lambda s: plot_latency_cdf(s.results) if len(s.results) else None,
    "placement": _placement_of,
    "model_vs_measured": lambda s: plot_model_vs_measured(s.results, s.studies),
    "saturation": lambda s: plot_saturation(s.studies.get("saturation")),
}
"""File stem -> figure function of a :class:`~experiments.report.load.Sweep` (None: no data for it)."""
