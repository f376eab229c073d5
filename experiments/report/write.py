"""Write a sweep's report folder all at once: merged table, summary, figures (PNG, SVG) and ``report.html``.

Everything is computed before the first file is written, and written into a
temporary folder beside the output that then takes its place, so a report
that fails leaves the previous one (or nothing) behind, never half of one.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from ..results import save_figure
from .figures import FIGURES
from .load import ReportError, Sweep, load
from .page import render_page
from .tables import summary_table

__all__ = ["MERGED_FILE", "SUMMARY_FILE", "PAGE_FILE", "make_figures", "write_report", "main"]

MERGED_FILE = "merged.parquet"
SUMMARY_FILE = "summary.csv"
PAGE_FILE = "report.html"


def make_figures(sweep: Sweep, log=None, placement: dict | None = None) -> dict:
    """File stem -> matplotlib figure for every entry of :data:`FIGURES` that has data (``log`` hears the rest).

    ``placement``: keyword arguments of the placement map (``run_id``, ``top``, ``chain``).
    """
    figures = {}
    for name, plot in FIGURES.items():
        fig = plot(sweep, **(placement or {})) if name == "placement" else plot(sweep)
        if fig is None:
            if log:
                log(f"report: no data for {name}, skipped")
            continue
        figures[name] = fig
    return figures


def _write_all(sweep: Sweep, figures: dict, folder: Path, out_dir: Path) -> list[str]:
    """Every file of the report into ``folder``; the page embeds the PNGs just written (drawn once)."""
    names = []
    if len(sweep.results):
        sweep.results.to_parquet(folder / MERGED_FILE, index=False)
        summary_table(sweep.results).to_csv(folder / SUMMARY_FILE)
        names += [MERGED_FILE, SUMMARY_FILE]
    for name, fig in figures.items():
        names += [p.name for p in save_figure(fig, folder / name)]
    page = render_page(sweep, {name: (folder / f"{name}.png").read_bytes() for name in figures}, out_dir)
    (folder / PAGE_FILE).write_text(page)
    return [*names, PAGE_FILE]


def write_report(sweep: Sweep, out_dir, log=None, placement: dict | None = None) -> list[Path]:
    """Write the report of ``sweep`` into ``out_dir``; returns the files written (``placement``: see
    :func:`make_figures`).

    Figures of a previous report that have no data now are removed, so the
    folder never mixes two reports.
    """
    out_dir = Path(out_dir)
    figures = make_figures(sweep, log, placement)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = out_dir.parent / f".{out_dir.name}.tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        names = _write_all(sweep, figures, staging, out_dir)
        out_dir.mkdir(exist_ok=True)
        for name in FIGURES:
            if name not in figures:
                for suffix in (".png", ".svg"):
                    (out_dir / f"{name}{suffix}").unlink(missing_ok=True)
        for name in names:
            os.replace(staging / name, out_dir / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [out_dir / n for n in names]


def main(argv=None) -> int:
    """Command line: merge the runs under PATH... and write the report (exit 2 with one line on bad input)."""
    import matplotlib

    matplotlib.use("Agg")
    parser = argparse.ArgumentParser(
        prog="python -m experiments.report",
        description="Merge the runs under PATH... and write merged.parquet, summary.csv, figures (PNG and SVG) "
                    "and report.html, one self-contained page.")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="run or sweep directories")
    parser.add_argument("-o", "--out", help="output directory (default: FIRST_PATH/report)")
    parser.add_argument("--run", metavar="RUN_ID", help="the run whose placement is mapped (default: the first)")
    parser.add_argument("--top", type=int, default=5, metavar="K",
                        help="chains named on the placement map, by revenue (default: 5)")
    parser.add_argument("--chain", metavar="CHAIN_ID", help="name only this chain on the placement map")
    args = parser.parse_args(argv)
    if args.top < 1:
        parser.error("--top must be at least 1")
    out = Path(args.out) if args.out else Path(args.paths[0]) / "report"
    try:
        sweep = load(args.paths)
        written = write_report(sweep, out, log=lambda m: print(m, file=sys.stderr),
                               placement={"run_id": args.run, "top": args.top, "chain": args.chain})
    except ReportError as e:
        print(f"report: {e}", file=sys.stderr)
        return 2
    if len(sweep.results):
        print(summary_table(sweep.results).round(3).to_string())
    print(f"{len(sweep.results)} rows from {len(sweep.runs)} run(s); wrote {len(written)} files to {out} "
          f"(open {out / PAGE_FILE})")
    return 0
