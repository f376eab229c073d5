"""Merge runs and sweeps, summarise them, draw figures that follow the sweep, and write one page.

``python -m experiments.report PATH... [-o OUT]`` finds every run under the
given run or sweep directories (each ``results.parquet``: placement, online
and study runs alike), merges them (:func:`load`) and writes into ``OUT``
(default ``PATH/report`` for the first ``PATH``): ``merged.parquet``,
``summary.csv``, every figure as PNG and SVG, and ``report.html``, one
self-contained page (configuration, summary per algorithm with the spread
over seeds, interactive and static figures, links to the runs) that opens
offline.

Figures are functions of merged data (:data:`FIGURES`); the notebook
``experiments/notebooks/analysis.ipynb`` calls the same functions.
"""

from .figures import (
    FIGURES,
    STYLE,
    latency_points,
    plot_latency_cdf,
    plot_metric,
    plot_model_vs_measured,
    plot_saturation,
    plot_over_time,
    plot_placement,
    timeline_bands,
)
from .load import KINDS, ReportError, Sweep, load, merge
from .page import interactive_figures, render_page, spread_display
from .tables import METRICS, run_metrics, spread_table, summary_table, sweep_axes
from .write import MERGED_FILE, PAGE_FILE, SUMMARY_FILE, make_figures, main, write_report

__all__ = [
    "FIGURES",
    "KINDS",
    "MERGED_FILE",
    "METRICS",
    "PAGE_FILE",
    "STYLE",
    "SUMMARY_FILE",
    "ReportError",
    "Sweep",
    "interactive_figures",
    "latency_points",
    "load",
    "main",
    "make_figures",
    "merge",
    "plot_latency_cdf",
    "plot_metric",
    "plot_model_vs_measured",
    "plot_saturation",
    "plot_over_time",
    "plot_placement",
    "render_page",
    "run_metrics",
    "spread_display",
    "spread_table",
    "summary_table",
    "sweep_axes",
    "timeline_bands",
    "write_report",
]
