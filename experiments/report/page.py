"""``report.html``: one self-contained page per sweep (configuration, summary, figures, runs).

The page opens offline: plotly's JavaScript is inlined (no CDN) and the
matplotlib figures are embedded as PNG.  The interactive figures (plotly)
are drawn from the same frames as the matplotlib ones
(:func:`~experiments.report.tables.run_metrics`, :func:`~experiments.report.figures.timeline_bands`), so hovering a
point names its run.
"""

from __future__ import annotations

import base64
import datetime
import html
import os
from pathlib import Path

import pandas as pd

from .figures import latency_points, series_colors, timeline_bands, timeline_columns, timeline_label
from .load import Sweep
from .tables import METRICS, facet_label, parameter_label, run_metrics, spread_table, sweep_axes

__all__ = ["render_page", "interactive_figures", "spread_display"]

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0 auto;max-width:1400px;padding:1rem 2rem;color:#222}
h1{font-size:1.5rem}h2{font-size:1.2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}th,td{padding:.2rem .6rem;border-bottom:1px solid #eee;
text-align:right;vertical-align:top}th{background:#f6f6f6}td:first-child,th:first-child{text-align:left}
figure{margin:1rem 0}figure img{max-width:100%;height:auto;border:1px solid #eee}figcaption{font-size:.85rem;color:#555}
.note{color:#555;font-size:.9rem}nav a{margin-right:1rem}
"""


def _number(v: float) -> str:
    """``v`` to four significant digits, without exponents for everyday magnitudes.

    Examples
    --------
    >>> _number(40520.4), _number(0.98876), _number(1.5e-7)
    ('40,520', '0.9888', '1.5e-07')
    """
    return f"{v:,.0f}" if 1e4 <= abs(v) < 1e12 else f"{v:.4g}"


def _table(df: pd.DataFrame, index=True) -> str:
    return df.to_html(border=0, index=index, na_rep="", escape=True, float_format=_number)


def spread_display(metrics: pd.DataFrame) -> pd.DataFrame:
    """:func:`~experiments.report.tables.spread_table` as text: ``mean ± std [min, max]`` per metric."""
    axes = sweep_axes(metrics)
    table = spread_table(metrics, axes)
    out = pd.DataFrame(index=table.index)
    for metric in dict.fromkeys(table.columns.get_level_values(0)):
        if metric == "runs":
            continue
        s = table[metric]
        out[METRICS[metric]] = [
            f"{_number(m)} \u00b1 {_number(0 if pd.isna(sd) else sd)} [{_number(lo)}, {_number(hi)}]"
            for m, sd, lo, hi in zip(s["mean"], s["std"], s["min"], s["max"])
        ]
    out["runs (seeds x repetitions)"] = table[("runs", "count")]
    out.index.names = ["algorithm" if n == "series" else parameter_label(n) for n in out.index.names]
    return out


def interactive_figures(sweep: Sweep) -> dict:
    """Title -> plotly figure: per-run metrics (hover: the run), metrics over time, testbed vs model."""
    import plotly.express as px
    import plotly.graph_objects as go

    figures = {}
    if len(sweep.results):
        metrics = run_metrics(sweep.results)
        axes = sweep_axes(metrics)
        present = [m for m in METRICS if metrics[m].notna().any()]
        long = metrics.assign(series=axes.series_of(metrics)).melt(
            id_vars=[c for c in metrics.columns if c not in METRICS] + ["series"], value_vars=present,
            var_name="metric", value_name="value")
        long["metric"] = long["metric"].map(METRICS)
        long["panel"] = [axes.facet_label(v).replace("\n", " ") for v in zip(*(long[f] for f in axes.facets))] if axes.facets else ""
        x = axes.x or "series"
        fig = px.scatter(long, x=x, y="value", color="series", facet_col="metric", facet_row="panel" if axes.facets
                         else None, facet_col_wrap=0 if axes.facets else 3,
                         hover_data={"run_id": True, "seed": True, "repetition": True, "run_dir": True},
                         color_discrete_map=series_colors(long["series"]), labels={x: parameter_label(x) if axes.x
                                                                                 else "algorithm", "series": "algorithm"},
                         facet_row_spacing=0.08, facet_col_spacing=0.06)
        fig.update_yaxes(matches=None, showticklabels=True, title_text="")
        fig.for_each_annotation(lambda a: a.update(text=a.text.split("=", 1)[-1]))
        fig.update_traces(marker={"size": 9, "opacity": 0.8})
        fig.update_layout(height=330 * max(1, len(long["panel"].unique())) * (1 if axes.facets else
                                                                             -(-len(present) // 3)))
        figures["Every run (hover a point for its run)"] = fig
    if len(sweep.timeline):
        figures["Online runs over time (mean, band: min to max over seeds)"] = _over_time(sweep.timeline)
    points = latency_points(sweep.results, sweep.studies).dropna(subset=["model_rtt_ms", "measured_p50_ms"])
    if len(points):
        top = float(points[["model_rtt_ms", "measured_p50_ms"]].max().max()) * 1.05
        fig = px.scatter(points, x="model_rtt_ms", y="measured_p50_ms", color="source",
                         hover_data=["run_id", "chain_id"],
                         labels={"model_rtt_ms": "model round-trip latency (ms)",
                                 "measured_p50_ms": "measured p50 latency (ms)"})
        fig.add_trace(go.Scatter(x=[0, top], y=[0, top], mode="lines", name="measured = model",
                                 line={"dash": "dash", "color": "grey"}))
        fig.update_layout(height=480, width=620)
        figures["Testbed vs model latency per chain (hover: chain and run)"] = fig
    return figures


def _over_time(timeline: pd.DataFrame):
    """Plotly twin of :func:`~experiments.report.figures.plot_over_time`: a row per facet, a column per metric."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    columns = timeline_columns(timeline)
    bands = {c: timeline_bands(timeline, c) for c in columns}
    facets = [c for c in bands[columns[0]].columns if c not in ("time", "mean", "min", "max", "series", "runs")]
    combos = list(bands[columns[0]].groupby(facets, dropna=False).groups) if facets else [()]
    titles = [facet_label(facets, k if isinstance(k, tuple) else (k,)).replace("\n", " ") if facets else ""
              for k in combos for _ in columns]
    fig = make_subplots(rows=len(combos), cols=len(columns), subplot_titles=titles)
    colors = series_colors(bands[columns[0]]["series"])
    for r, combo in enumerate(combos, start=1):
        combo = combo if isinstance(combo, tuple) else (combo,)
        for c, column in enumerate(columns, start=1):
            band = bands[column]
            for f, v in zip(facets, combo):
                band = band[band[f].isna()] if pd.isna(v) else band[band[f] == v]
            for label, s in band.groupby("series"):
                fig.add_trace(go.Scatter(x=s["time"], y=s["max"], line={"width": 0}, showlegend=False,
                                         hoverinfo="skip", mode="lines", legendgroup=label), row=r, col=c)
                fig.add_trace(go.Scatter(x=s["time"], y=s["min"], line={"width": 0}, fill="tonexty", mode="lines",
                                         fillcolor=_rgba(colors[label], 0.2), showlegend=False, hoverinfo="skip",
                                         legendgroup=label), row=r, col=c)
                fig.add_trace(go.Scatter(x=s["time"], y=s["mean"], mode="lines", name=label, legendgroup=label,
                                         line={"color": colors[label]}, showlegend=r == 1 and c == 1,
                                         hovertemplate=f"{label}<br>t=%{{x:.1f}}<br>mean %{{y:.3g}}<extra></extra>"),
                              row=r, col=c)
            fig.update_xaxes(title_text="time (simulation time units)", row=r, col=c)
            fig.update_yaxes(title_text=timeline_label(column).replace(" (", "<br>("), row=r, col=c)
    fig.update_layout(height=340 * len(combos) + 40)
    return fig


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def _sweep_overrides(paths) -> list[str]:
    """The command-line overrides of the Hydra sweeps at ``paths`` (their ``multirun.yaml``)."""
    from omegaconf import OmegaConf

    found = []
    for path in paths:
        file = Path(path) / "multirun.yaml"
        if file.is_file():
            try:
                found += [str(o) for o in OmegaConf.load(file).hydra.overrides.task]
            except Exception:  # a hand-edited or foreign file: the page still shows the parameters
                continue
    return found


def render_page(sweep: Sweep, images: dict, out_dir) -> str:
    """The HTML of ``report.html``; ``images`` maps figure file stems to their PNG bytes (embedded)."""
    from plotly.offline import get_plotlyjs

    out_dir = Path(out_dir)
    esc = html.escape
    parts = [f"<h1>sfcbench report: {esc(', '.join(str(p) for p in sweep.paths))}</h1>",
             f"<p class=note>Generated {datetime.datetime.now().isoformat(timespec='seconds')} from "
             f"{len(sweep.runs)} run(s) ({', '.join(f'{n} {k}' for k, n in sweep.runs['kind'].value_counts().items())})"
             f". Files beside this page: merged.parquet, summary.csv, every figure as PNG and SVG.</p>",
             "<nav><a href='#configuration'>Configuration</a><a href='#summary'>Summary</a>"
             "<a href='#interactive'>Interactive</a><a href='#figures'>Figures</a><a href='#runs'>Runs</a></nav>"]
    if len(sweep.results):
        metrics = run_metrics(sweep.results)
        axes = sweep_axes(metrics)
        fixed = pd.DataFrame({"parameter": list(axes.fixed), "value": [str(v) for v in axes.fixed.values()]})
        varying = pd.DataFrame({"parameter": [parameter_label(k) for k in axes.varying],
                                "column": list(axes.varying),
                                "values": [", ".join(map(str, v)) for v in axes.varying.values()]})
        overrides = _sweep_overrides(sweep.paths)
        parts += ["<h2 id=configuration>Configuration</h2>",
                  f"<p>Algorithms: {esc(', '.join(sorted(metrics['algorithm'].astype(str).unique())))}; "
                  f"seeds: {esc(', '.join(map(str, sorted(metrics['seed'].unique()))))}.</p>"]
        if overrides:
            parts.append(f"<p>Sweep overrides: <code>{esc(' '.join(overrides))}</code></p>")
        parts += ["<h3>Varying</h3>" + (_table(varying, index=False) if len(varying) else
                                        "<p class=note>Nothing but the algorithm and the seed varies.</p>"),
                  "<h3>Fixed</h3>" + _table(fixed, index=False),
                  "<h2 id=summary>Summary per algorithm</h2>"
                  "<p class=note>Each cell: mean \u00b1 standard deviation [min, max] over seeds and repetitions.</p>",
                  _table(spread_display(metrics))]
    else:
        parts.append("<h2 id=configuration>Configuration</h2><p class=note>No placement runs.</p>")
    interactive = interactive_figures(sweep)
    parts.append("<h2 id=interactive>Interactive</h2>")
    for title, fig in interactive.items():
        fig.update_layout(template="plotly_white", margin={"t": 60})
        parts += [f"<h3>{esc(title)}</h3>",
                  fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False})]
    parts.append("<h2 id=figures>Figures</h2>")
    for name, png in images.items():
        parts.append(f"<figure><img alt='{esc(name)}' src='data:image/png;base64,{base64.b64encode(png).decode()}'>"
                     f"<figcaption>{esc(name)} (<a href='{esc(name)}.svg'>SVG</a>, "
                     f"<a href='{esc(name)}.png'>PNG</a>)</figcaption></figure>")
    for kind, rows in sweep.studies.items():
        shown = rows.drop(columns=[c for c in ("run_dir",) if c in rows])
        parts += [f"<h2 id='{esc(kind)}'>Study: {esc(kind)}</h2>", _table(shown, index=False)]
    runs = sweep.runs.assign(run_dir=[f"<a href='{esc(_link(d, out_dir))}'>{esc(d)}</a>" for d in sweep.runs["run_dir"]])
    parts += ["<h2 id=runs>Runs</h2>", runs.to_html(border=0, index=False, escape=False)]
    body = "\n".join(parts)
    return (f"<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8><title>sfcbench report</title>"
            f"<style>{_CSS}</style><script>{get_plotlyjs()}</script></head><body>\n{body}\n</body></html>\n")


def _link(run_dir: str, out_dir: Path) -> str:
    """A link from the page to a run directory: relative where possible, so a moved sweep keeps working."""
    try:
        return os.path.relpath(run_dir, out_dir.resolve()) + "/"
    except ValueError:  # another drive
        return Path(run_dir).as_uri()
