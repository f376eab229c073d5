"""The analysis notebook runs top to bottom on a small results set made here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from experiments.run import run_experiment

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOK = Path(__file__).resolve().parents[1] / "experiments" / "notebooks" / "analysis.ipynb"

pytestmark = pytest.mark.usefixtures("no_testbed")


def kernel_name() -> str:
    """``python3``, installing this interpreter's kernelspec into its prefix if Jupyter lacks one."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec("python3")
    except NoSuchKernel:
        subprocess.run([sys.executable, "-m", "ipykernel", "install", "--sys-prefix"], check=True)
    return "python3"


def test_analysis_notebook_draws_the_reports_figures_on_fresh_results(run_cfg, tmp_path, monkeypatch):
    for algo in ("greedy", "first_fit"):
        for n in (3, 5):
            run_experiment(run_cfg(f"algo={algo}", f"workload.n={n}", results_dir=tmp_path / "results" / f"{algo}-{n}"))
    monkeypatch.setenv("SFCBENCH_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("PYTHONPATH", str(NOTEBOOK.parents[2]))  # the kernel imports this checkout
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        nb, kernel_name=kernel_name(), timeout=120, resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    from experiments import report

    drawn = report.make_figures(report.load([tmp_path / "results"]))
    assert len(images) == len(drawn) + 1  # every figure of the report, and one chain on the map
    text = "".join(o.get("text", "") for o in outputs)
    assert "16 rows from 4 run(s)" in text and "x-axis: n_chains" in text
    assert "report: no data for model_vs_measured, skipped" in text and "no data for over_time" in text
    source = "".join(cell.source for cell in nb.cells)
    assert "def plot" not in source and "Figure(" not in source  # the report's functions, not copies
