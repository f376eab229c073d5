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


def test_analysis_notebook_executes_on_fresh_results(run_cfg, tmp_path, monkeypatch):
    for algo in ("greedy", "first_fit"):
        run_experiment(run_cfg(f"algo={algo}", results_dir=tmp_path / "results" / algo))
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
    assert len(images) >= 4  # latency CDF, acceptance, solve time, placement
    text = "".join(o.get("text", "") for o in outputs)
    assert "6 rows from 2 run(s)" in text and "model_vs_measured: no data" in text
