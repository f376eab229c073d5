"""Merge runs and sweeps into one table, summarise it, and plot it.

``python -m experiments.report PATH... [-o OUT]`` finds every run under the
given run or sweep directories (each ``results.parquet``), merges them into
``OUT/merged.parquet`` (``OUT`` defaults to ``PATH/report`` for the first
``PATH``), writes ``summary.csv`` and the plots as PNG and SVG.

Each plot is a function of the merged dataframe only, returning a
:class:`matplotlib.figure.Figure` (or None when the data for it is absent,
e.g. nothing was measured on the testbed); figures are made without pyplot,
so they work under any backend (Agg from the command line, inline in a
notebook).  The merged frame carries each run's substrate as node-link JSON
(``substrate_json``) so that :func:`plot_placement` needs nothing else.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .results import SUBSTRATE_FILE, atomic_write, load_results, ordered_columns, parquet_safe, save_figure
from .verify import find_runs

__all__ = [
    "merge",
    "summary_table",
    "acceptance_by_run",
    "plot_latency_cdf",
    "plot_acceptance_vs_load",
    "plot_model_vs_measured",
    "plot_solve_time_vs_size",
    "plot_placement",
    "PLOTS",
    "write_report",
    "main",
]

MERGED_FILE = "merged.parquet"
SUMMARY_FILE = "summary.csv"


# ----------------------------------------------------------------------------- data


def merge(paths) -> pd.DataFrame:
    """Every run under ``paths`` (run or sweep directories) in one dataframe.

    Adds ``substrate_json`` (the run's ``substrate.json``, compact) for
    drawing placements.  Raises ``FileNotFoundError`` when no run is found.
    """
    runs = find_runs(paths)
    if not runs:
        raise FileNotFoundError(f"no results.parquet under {', '.join(map(str, paths))}")
    frames = []
    for run in runs:
        df = load_results(run)
        substrate = json.loads((run / SUBSTRATE_FILE).read_text())
        frames.append(df.assign(substrate_json=json.dumps(substrate, separators=(",", ":"))))
    merged = pd.concat(frames, ignore_index=True)
    return parquet_safe(merged[ordered_columns(merged.columns)])


def _placed(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["status"] == "placed"]


def _measured(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["measured_p50_ms"].notna()] if "measured_p50_ms" in df else df.iloc[0:0]


def acceptance_by_run(df: pd.DataFrame, by=("algorithm",)) -> pd.DataFrame:
    """Acceptance ratio of each (run, repetition): placed over placed + rejected.

    Chains skipped or failed by the algorithm count in neither (the ratio is
    NaN if there are only such chains).  Columns: ``by``, ``run_id``,
    ``repetition``, ``mode``, ``n_chains``, ``load``, ``acceptance``.
    ``load`` is the number of chains offered, or the arrival rate in online
    runs.
    """
    keys = [*by, "run_id", "repetition", "mode"]
    status = df.assign(
        placed=df["status"] == "placed",
        decided=df["status"].isin(["placed", "rejected"]),
        arrival_rate=df["w_arrival_rate"] if "w_arrival_rate" in df else math.nan,
    )
    out = status.groupby(keys, dropna=False).agg(
        placed=("placed", "sum"), decided=("decided", "sum"), n_chains=("n_chains", "first"),
        arrival_rate=("arrival_rate", "first"),
    ).reset_index()
    out["acceptance"] = out["placed"] / out["decided"].where(out["decided"] > 0)
    online = out["mode"] == "online"
    out["load"] = np.where(online, out["arrival_rate"], out["n_chains"])
    return out.drop(columns=["placed", "decided", "arrival_rate"])


def summary_table(df: pd.DataFrame, by=("algorithm",)) -> pd.DataFrame:
    """Per group (default: per algorithm): chains by status, acceptance, latencies, solve time.

    Latencies in ms: model one-way and round-trip percentiles over placed
    chains; measured medians of the per-chain p50 and p95 (NaN when nothing
    was deployed).  ``solve_ms`` is the mean time of all ``place`` calls of
    one repetition.
    """
    by = list(by)
    counts = df.groupby(by)["status"].value_counts().unstack(fill_value=0)
    counts = counts.reindex(columns=["placed", "rejected", "skipped", "error"], fill_value=0).rename_axis(columns=None)
    table = counts.assign(chains=counts.sum(axis=1))
    table["acceptance"] = acceptance_by_run(df, by).groupby(by)["acceptance"].mean()
    placed = _placed(df).groupby(by)
    table["model_p50_ms"] = placed["model_latency_ms"].median()
    table["model_p95_ms"] = placed["model_latency_ms"].quantile(0.95)
    table["model_rtt_p50_ms"] = placed["model_rtt_ms"].median()
    measured = _measured(df).groupby(by)
    table["measured_p50_ms"] = measured["measured_p50_ms"].median() if len(_measured(df)) else math.nan
    table["measured_p95_ms"] = measured["measured_p95_ms"].median() if len(_measured(df)) else math.nan
    reps = df.drop_duplicates(["run_id", "repetition"]).groupby(by)["rep_solve_time_ms"]
    table["solve_ms"] = reps.mean()
    return table[["chains", "placed", "rejected", "skipped", "error", "acceptance", "model_p50_ms",
                  "model_p95_ms", "model_rtt_p50_ms", "measured_p50_ms", "measured_p95_ms", "solve_ms"]]


# ----------------------------------------------------------------------------- plots


def _figure(ncols=1, width=5.5, height=4.0):
    fig = Figure(figsize=(width * ncols, height), layout="constrained")
    return fig, fig.subplots(1, ncols, squeeze=False)[0]


def _algorithms(df):
    return sorted(df["algorithm"].dropna().unique())


def _cdf(ax, values, label, **style):
    values = np.sort(np.asarray(values, dtype=float))
    if len(values):
        ax.step(values, np.arange(1, len(values) + 1) / len(values), where="post", label=label, **style)


def plot_latency_cdf(df: pd.DataFrame) -> Figure | None:
    """CDF of the model one-way latency of placed chains, one line per algorithm.

    A second panel shows the measured per-chain median (and the model
    round-trip latency it should be compared with) when chains were deployed.
    """
    placed = _placed(df)
    if placed.empty:
        return None
    measured = _measured(df)
    fig, axes = _figure(2 if len(measured) else 1)
    for algo in _algorithms(placed):
        _cdf(axes[0], placed.loc[placed["algorithm"] == algo, "model_latency_ms"], algo)
    axes[0].set(xlabel="model one-way latency (ms)", ylabel="fraction of placed chains", title="Model latency")
    if len(measured):
        for i, algo in enumerate(_algorithms(measured)):
            rows = measured[measured["algorithm"] == algo]
            _cdf(axes[1], rows["measured_p50_ms"], f"{algo} measured p50", color=f"C{i}")
            _cdf(axes[1], rows["model_rtt_ms"], f"{algo} model RTT", color=f"C{i}", linestyle="--")
        axes[1].set(xlabel="latency (ms)", ylabel="fraction of deployed chains", title="Measured vs model RTT")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    return fig


def plot_acceptance_vs_load(df: pd.DataFrame) -> Figure | None:
    """Mean acceptance ratio (± std over runs and repetitions) against load, per algorithm.

    Load is the number of chains offered; online runs get their own panel
    against the arrival rate.
    """
    runs = acceptance_by_run(df).dropna(subset=["acceptance", "load"])
    if runs.empty:
        return None
    panels = [(m, g) for m, g in runs.groupby(runs["mode"] == "online")]
    fig, axes = _figure(len(panels))
    for ax, (online, group) in zip(axes, panels):
        stats = group.groupby(["algorithm", "load"])["acceptance"].agg(["mean", "std"]).reset_index()
        for algo in _algorithms(stats):
            s = stats[stats["algorithm"] == algo].sort_values("load")
            ax.errorbar(s["load"], s["mean"], yerr=s["std"].fillna(0), marker="o", capsize=3, label=algo)
        ax.set(xlabel="arrival rate (chains per time unit)" if online else "number of chains",
               ylabel="acceptance ratio", ylim=(-0.02, 1.02), title="Online" if online else "Offline")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    return fig


def plot_model_vs_measured(df: pd.DataFrame) -> Figure | None:
    """Measured median latency against model round-trip latency per deployed chain, with y = x.

    None when nothing was measured (placement-only runs).
    """
    measured = _measured(df)
    if measured.empty:
        return None
    fig, (ax,) = _figure()
    for algo in _algorithms(measured):
        rows = measured[measured["algorithm"] == algo]
        ax.scatter(rows["model_rtt_ms"], rows["measured_p50_ms"], label=algo, alpha=0.7)
    top = float(np.nanmax(measured[["model_rtt_ms", "measured_p50_ms"]].to_numpy())) * 1.05
    ax.plot([0, top], [0, top], color="grey", linestyle="--", label="measured = model")
    ax.set(xlabel="model round-trip latency (ms)", ylabel="measured p50 latency (ms)",
           xlim=(0, top), ylim=(0, top), title="Model vs testbed")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return fig


def _calls(df: pd.DataFrame) -> pd.DataFrame:
    """One row per ``place`` call: every chain row, except one per repetition in batch mode."""
    batch = df["mode"] == "batch"
    return pd.concat([df[~batch], df[batch].drop_duplicates(["run_id", "repetition"])])


def plot_solve_time_vs_size(df: pd.DataFrame) -> Figure | None:
    """Wall time of one ``place`` call against substrate size, per algorithm and mode (log y).

    A call places one chain (sequential, online) or all of them (batch).
    Points are calls, lines their medians.
    """
    calls = _calls(df)
    calls = calls[calls["solve_time_ms"] > 0]
    if calls.empty:
        return None
    fig, (ax,) = _figure()
    groups = list(calls.groupby(["algorithm", "mode"]))
    for i, ((algo, mode), rows) in enumerate(groups):
        label = algo if calls["mode"].nunique() == 1 else f"{algo} ({mode})"
        ax.scatter(rows["n_nodes"], rows["solve_time_ms"], color=f"C{i}", alpha=0.3, s=10)
        median = rows.groupby("n_nodes")["solve_time_ms"].median()
        ax.plot(median.index, median.to_numpy(), color=f"C{i}", marker="o", label=label)
    ax.set(xlabel="substrate nodes", ylabel="solve time per place() call (ms)", yscale="log",
           title="Solve time vs substrate size")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small")
    return fig


def _layout(G) -> dict:
    """Node positions: geographic for Topology Zoo graphs, stored ``pos`` if any, else a seeded spring layout."""
    if all("Longitude" in a and "Latitude" in a for _, a in G.nodes(data=True)):
        return {n: (float(a["Longitude"]), float(a["Latitude"])) for n, a in G.nodes(data=True)}
    if all("pos" in a for _, a in G.nodes(data=True)):
        return {n: tuple(a["pos"]) for n, a in G.nodes(data=True)}
    return nx.spring_layout(G, seed=0)


def plot_placement(df: pd.DataFrame, run_id=None, repetition=0) -> Figure | None:
    """The placed chains of one run (default: the first) drawn on its substrate.

    Servers are squares labelled with the VNFs they host, switches circles;
    each chain's route (all its virtual links) is drawn in its own colour.
    ``run_id`` picks the run, ``repetition`` the repetition within it.
    """
    if "substrate_json" not in df or df.empty:
        return None
    run_id = df["run_id"].iloc[0] if run_id is None else run_id
    rows = df[(df["run_id"] == run_id) & (df["repetition"] == repetition)]
    G = nx.node_link_graph(json.loads(rows["substrate_json"].iloc[0]), edges="edges")
    pos = _layout(G)
    fig, (ax,) = _figure(width=7, height=5.5)
    kinds = nx.get_node_attributes(G, "kind")
    nx.draw_networkx_edges(G, pos, ax=ax, edge_color="lightgrey", width=2)
    for kind, shape, color in (("server", "s", "#9ecae1"), ("switch", "o", "#d9d9d9")):
        nodes = [n for n in G if kinds.get(n) == kind]
        nx.draw_networkx_nodes(G, pos, nodelist=nodes, node_shape=shape, node_color=color, ax=ax, node_size=320)
    hosted = {}  # server -> chain -> VNF types
    for i, row in enumerate(_placed(rows).itertuples()):
        edges = [(u, v) for path in json.loads(row.paths) for u, v in zip(path[:-1], path[1:])]
        nx.draw_networkx_edges(G, pos, edgelist=edges, ax=ax, edge_color=f"C{i}", width=1.5 + 0.8 * (i % 4),
                               alpha=0.8, label=f"{row.chain_id}: {row.ingress} \u2192 {row.egress}")
        for key, server in json.loads(row.mapping).items():
            hosted.setdefault(server, {}).setdefault(row.chain_id, []).append(key.split(":", 1)[1])
    nx.draw_networkx_labels(G, pos, ax=ax, font_size=7)
    for server, chains in hosted.items():
        text = "\n".join(f"{c}: {', '.join(types)}" for c, types in chains.items())
        ax.annotate(text, pos[server], xytext=(0, -12), textcoords="offset points", ha="center", va="top",
                    fontsize=6, color="#333333")
    ax.margins(0.15)
    first = rows.iloc[0]
    ax.set_title(f"{first['algorithm']} on {first['topology']} (run {run_id}, repetition {repetition})")
    ax.legend(fontsize="small", title="chain")
    ax.set_axis_off()
    return fig


PLOTS = {
    "latency_cdf": plot_latency_cdf,
    "acceptance_vs_load": plot_acceptance_vs_load,
    "model_vs_measured": plot_model_vs_measured,
    "solve_time_vs_size": plot_solve_time_vs_size,
    "placement": plot_placement,
}
"""File stem -> plot function of the merged dataframe."""


def write_report(df: pd.DataFrame, out_dir) -> list[Path]:
    """Write ``merged.parquet``, ``summary.csv`` and every plot (PNG and SVG) into ``out_dir``.

    Returns the files written; plots without data are skipped (and said so).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / MERGED_FILE, out_dir / SUMMARY_FILE]
    atomic_write(written[0], lambda tmp: df.to_parquet(tmp, index=False))
    atomic_write(written[1], lambda tmp: summary_table(df).to_csv(tmp))
    for name, plot in PLOTS.items():
        fig = plot(df)
        if fig is None:
            print(f"report: no data for {name}, skipped", file=sys.stderr)
            continue
        written += save_figure(fig, out_dir / name)
    return written


def main(argv=None) -> int:
    """Command line: merge the runs under PATH... and write the report."""
    import matplotlib

    matplotlib.use("Agg")
    parser = argparse.ArgumentParser(prog="python -m experiments.report", description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", metavar="PATH", help="run or sweep directories")
    parser.add_argument("-o", "--out", help="output directory (default: FIRST_PATH/report)")
    args = parser.parse_args(argv)
    df = merge(args.paths)
    out = Path(args.out) if args.out else Path(args.paths[0]) / "report"
    written = write_report(df, out)
    print(summary_table(df).round(3).to_string())
    print(f"{len(df)} rows from {df['run_id'].nunique()} run(s); wrote {len(written)} files to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
