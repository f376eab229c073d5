"""Numbers of a sweep: one row per run and repetition, what varies across runs, and summaries.

Every figure and table of the report is drawn from these frames, so the
PNG/SVG figures, the HTML page and the notebook show the same numbers.
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "METRICS",
    "PARAMETER_LABELS",
    "run_metrics",
    "SweepAxes",
    "sweep_axes",
    "summary_table",
    "spread_table",
    "parameter_label",
    "parameters",
    "facet_label",
]

METRICS = {
    "acceptance": "acceptance ratio (placed / decided)",
    "revenue": "accepted revenue (Mbit/s·links + cores)",
    "revenue_cost": "revenue / cost (ratio)",
    "model_latency_ms": "model latency, median (ms)",
    "solve_ms": "time per place() call (ms)",
    "measured_p50_ms": "measured latency, median p50 (ms)",
}
"""Per-run metric column -> axis label with its unit (columns of :func:`run_metrics`)."""

PARAMETER_LABELS = {
    "n_chains": "chains offered (count)",
    "w_n": "chains offered (count)",
    "w_arrival_rate": "arrival rate (chains per time unit)",
    "w_mean_lifetime": "mean lifetime (time units)",
    "n_nodes": "substrate nodes (count)",
    "n_servers": "servers (count)",
    "n_edges": "substrate links (count)",
    "t_servers": "servers (count)",
    "t_n": "substrate nodes (count)",
    "t_cpu": "server CPU (cores)",
    "t_bw": "link bandwidth (Mbit/s)",
    "t_delay": "link delay (ms)",
    "w_bw": "chain bandwidth (Mbit/s)",
    "w_max_latency": "chain latency bound (ms)",
    "w_length": "VNFs per chain (count)",
    "repetitions": "repetitions (count)",
}
"""Parameter column -> axis label with its unit; other parameters are labelled by their name."""

_FIXED_RUN_COLUMNS = ("algorithm", "topology", "n_nodes", "n_servers", "n_edges", "workload", "n_chains", "mode", "seed")
_PREFIXES = ("p_algo_", "t_", "w_")
_PREFERENCE = ("n_chains", "w_arrival_rate", "w_mean_lifetime", "n_nodes", "n_servers", "n_edges",
               "mode", "topology", "workload")
"""Which of several parameters that vary together names them (the x-axis or facet)."""


def parameter_label(name: str) -> str:
    """Axis label of a parameter column.

    Examples
    --------
    >>> parameter_label("w_arrival_rate"), parameter_label("t_foo")
    ('arrival rate (chains per time unit)', 't_foo')
    """
    return PARAMETER_LABELS.get(name, name)


def parameters(df: pd.DataFrame) -> list[str]:
    """The configuration columns of placement rows: fixed run columns and ``p_algo_*``, ``t_*``, ``w_*``."""
    return [c for c in df.columns if c in _FIXED_RUN_COLUMNS or c.startswith(_PREFIXES)]


def run_metrics(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (run, repetition): its parameters and :data:`METRICS`.

    ``acceptance`` is placed over placed + rejected chains (skipped and
    failed chains count in neither; NaN if there are only such chains);
    ``revenue`` the sum of the accepted chains' revenue, ``revenue_cost``
    its ratio to their ``resource_cost`` (when rows have it); latencies are
    medians over placed (measured: deployed) chains; ``solve_ms`` the mean
    wall time of one ``place`` call (a batch run makes one call for all its
    chains).
    """
    keys = ["run_id", "repetition"]
    if df.empty:
        return pd.DataFrame(columns=[*keys, *parameters(df), *METRICS])
    placed = df["status"] == "placed"
    rows = df.assign(
        _placed=placed,
        _decided=df["status"].isin(["placed", "rejected"]),
        _revenue=df["revenue"].where(placed, 0.0) if "revenue" in df else math.nan,
        _cost=df["resource_cost"].where(placed) if "resource_cost" in df else math.nan,
        _latency=df["model_latency_ms"].where(placed) if "model_latency_ms" in df else math.nan,
        _measured=df["measured_p50_ms"] if "measured_p50_ms" in df else math.nan,
        _solve=df["solve_time_ms"] if "solve_time_ms" in df else math.nan,
        _rep_solve=df["rep_solve_time_ms"] if "rep_solve_time_ms" in df else math.nan,
    )
    g = rows.groupby(keys, sort=False, dropna=False)
    out = g[parameters(df) + ["run_dir"] * ("run_dir" in df)].first()
    out["acceptance"] = g["_placed"].sum() / g["_decided"].sum().where(lambda n: n > 0)
    out["revenue"] = g["_revenue"].sum(min_count=1)
    out["revenue_cost"] = out["revenue"] / g["_cost"].sum(min_count=1).where(lambda c: c > 0)
    out["model_latency_ms"] = g["_latency"].median()
    out["solve_ms"] = np.where(out["mode"] == "batch", g["_rep_solve"].first(), g["_solve"].mean()) \
        if "mode" in out else g["_solve"].mean()
    out["measured_p50_ms"] = g["_measured"].median()
    return out.reset_index()


@dataclass
class SweepAxes:
    """How a sweep is drawn: ``x`` (a numeric parameter that varies, or None), ``facets`` (the other
    varying parameters, one panel per combination), ``series`` (the parameters naming a line: the
    algorithm and any of its parameters that vary), and the ``fixed`` parameters and their one value."""

    x: str | None
    facets: list[str]
    series: list[str]
    fixed: dict
    varying: dict

    def series_label(self, row) -> str:
        """``algorithm`` or ``algorithm (param=value, ...)`` of one run."""
        extra = [f"{c.removeprefix('p_algo_')}={row[c]}" for c in self.series[1:] if pd.notna(row[c])]
        return f"{row['algorithm']} ({', '.join(extra)})" if extra else str(row["algorithm"])

    def series_of(self, df: pd.DataFrame) -> pd.Series:
        """The series label of each row of ``df`` (rows of runs: results, metrics or timeline points)."""
        runs = df.drop_duplicates("run_id").set_index("run_id")
        return df["run_id"].map({run_id: self.series_label(row) for run_id, row in runs.iterrows()})

    def facet_label(self, values) -> str:
        """Panel title of one combination of facet values."""
        return facet_label(self.facets, values)


def facet_label(facets, values) -> str:
    """Panel title of parameters ``facets`` at ``values``, wrapped to fit a panel.

    Examples
    --------
    >>> facet_label(["n_chains", "mode"], [30, "online"])
    'chains offered = 30, mode = online'
    """
    text = ", ".join(f"{parameter_label(f).split(' (')[0]} = {_show(v)}" for f, v in zip(facets, values))
    return textwrap.fill(text, 42)


def _show(value) -> str:
    return "none" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:g}" \
        if isinstance(value, float) else str(value)


def _order(value):
    """Sort key: numbers by value, before anything else by its text."""
    try:
        return (0, float(value), "")
    except (TypeError, ValueError):
        return (1, 0.0, str(value))


def _numeric(values: pd.Series) -> bool:
    present = values.dropna()
    return len(present.unique()) >= 2 and pd.to_numeric(present, errors="coerce").notna().all()


def _together(runs, a, b) -> bool:
    """Whether parameters ``a`` and ``b`` determine each other across ``runs``."""
    pairs = runs[[a, b]].astype(str).drop_duplicates()
    return not pairs[a].duplicated().any() and not pairs[b].duplicated().any()


def sweep_axes(metrics: pd.DataFrame) -> SweepAxes:
    """What varies across the runs of ``metrics`` (:func:`run_metrics`) and how to draw it.

    Parameters that vary together (``n_chains`` and ``w_n``; ``topology``
    and ``n_nodes``) count once, named by the first in a preference order
    (numeric load and size first).  The first numeric one becomes ``x``,
    the rest facets; ``seed`` is never an axis: seeds and repetitions are
    the spread.  An algorithm's own parameters (``p_algo_*``) name series.

    Examples
    --------
    >>> m = pd.DataFrame({"algorithm": ["a", "a", "b", "b"], "seed": [0, 1, 0, 1],
    ...                   "n_chains": [5, 10, 5, 10], "w_n": [5, 10, 5, 10], "mode": ["online"] * 4})
    >>> axes = sweep_axes(m)
    >>> axes.x, axes.facets, axes.series, axes.fixed
    ('n_chains', [], ['algorithm'], {'mode': 'online'})
    """
    runs = metrics.drop_duplicates("run_id") if "run_id" in metrics else metrics
    params = [c for c in parameters(runs) if c not in ("algorithm", "seed")]
    fixed = {c: runs[c].iloc[0] for c in params if runs[c].nunique(dropna=False) <= 1 and len(runs)}
    algo_params = [c for c in params if c.startswith("p_algo_") and c not in fixed]
    series = ["algorithm"] + [c for c in algo_params
                              if (runs.groupby("algorithm")[c].nunique(dropna=False) > 1).any()]
    varying = [c for c in params if c not in fixed and not c.startswith("p_algo_")]
    order = sorted(varying, key=lambda c: (_PREFERENCE.index(c) if c in _PREFERENCE else len(_PREFERENCE),
                                           not _numeric(runs[c]), c))
    chosen = []
    for c in order:
        if not any(_together(runs, c, other) for other in chosen):
            chosen.append(c)
    numeric = [c for c in chosen if _numeric(runs[c])]
    x = numeric[0] if numeric else None
    named = ("topology", "mode", "workload")  # a panel is better titled by a name than by a count
    facets = [next((n for n in named if n in varying and _together(runs, c, n)), c) for c in chosen if c != x]
    return SweepAxes(
        x=x,
        facets=facets,
        series=series,
        fixed=fixed,
        varying={c: sorted(runs[c].dropna().unique().tolist(), key=_order) for c in [*([x] if x else []), *facets]},
    )


def summary_table(df: pd.DataFrame, by=("algorithm",)) -> pd.DataFrame:
    """Per group (default: per algorithm): chains by status, acceptance, latencies, solve time.

    Latencies in ms: model one-way and round-trip percentiles over placed
    chains; measured medians of the per-chain p50 and p95 (NaN when nothing
    was deployed).  ``acceptance`` is the mean over runs and repetitions of
    :func:`run_metrics`' acceptance, ``solve_ms`` the mean time of all
    ``place`` calls of one repetition.
    """
    by = list(by)
    counts = df.groupby(by)["status"].value_counts().unstack(fill_value=0)
    counts = counts.reindex(columns=["placed", "rejected", "skipped", "error"], fill_value=0).rename_axis(columns=None)
    table = counts.assign(chains=counts.sum(axis=1))
    table["acceptance"] = run_metrics(df).groupby(by)["acceptance"].mean()
    placed = df[df["status"] == "placed"].groupby(by)
    table["model_p50_ms"] = placed["model_latency_ms"].median()
    table["model_p95_ms"] = placed["model_latency_ms"].quantile(0.95)
    table["model_rtt_p50_ms"] = placed["model_rtt_ms"].median()
    measured = df[df["measured_p50_ms"].notna()] if "measured_p50_ms" in df else df.iloc[0:0]
    table["measured_p50_ms"] = measured.groupby(by)["measured_p50_ms"].median() if len(measured) else math.nan
    table["measured_p95_ms"] = measured.groupby(by)["measured_p95_ms"].median() if len(measured) else math.nan
    table["solve_ms"] = df.drop_duplicates(["run_id", "repetition"]).groupby(by)["rep_solve_time_ms"].mean()
    return table[["chains", "placed", "rejected", "skipped", "error", "acceptance", "model_p50_ms",
                  "model_p95_ms", "model_rtt_p50_ms", "measured_p50_ms", "measured_p95_ms", "solve_ms"]]


def spread_table(metrics: pd.DataFrame, axes: SweepAxes | None = None) -> pd.DataFrame:
    """Per series and sweep point: each metric's mean, std, min and max over seeds and repetitions.

    Columns ``(metric, stat)`` plus ``("runs", "count")`` (how many (run,
    repetition) values each row summarises); metrics that are NaN everywhere are left out.
    """
    axes = axes or sweep_axes(metrics)
    by = ["series", *([axes.x] if axes.x else []), *axes.facets]
    data = metrics.assign(series=axes.series_of(metrics))
    present = [m for m in METRICS if m in data and data[m].notna().any()]
    g = data.groupby(by, dropna=False, sort=True)
    table = g[present].agg(["mean", "std", "min", "max"])
    table[("runs", "count")] = g.size()
    return table
