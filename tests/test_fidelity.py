"""A small `experiment=fidelity`: the model's latency is within 10% of the measured one."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.testbed_helpers import project_leftovers, skip_without_testbed

pytestmark = [pytest.mark.testbed, skip_without_testbed]
ROOT = Path(__file__).resolve().parents[1]


def test_model_matches_measured_latency_within_ten_percent(tmp_path):
    out = tmp_path / "fidelity"
    proc = subprocess.run(
        [sys.executable, "-m", "experiments.run", "experiment=fidelity", "study.substrates=[line]",
         "testbed.requests=30", "study.calibration_requests=30", f"hydra.run.dir={out}"],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    df = pd.read_parquet(out / "results.parquet")
    assert set(df["style"]) == {"same-server", "at-ends", "far-apart"}
    assert df["trace_ok"].all() and (df["errors"] == 0).all()
    # The styles really differ: far apart costs two more crossings of the line.
    assert df.set_index("style").loc["far-apart", "link_rtt_ms"] == 3 * df.set_index("style").loc["at-ends", "link_rtt_ms"]
    assert (df["abs_error_ms"] / df["model_rtt_ms"]).median() <= 0.10, df[["chain_id", "model_rtt_ms", "measured_p50_ms"]]
    assert (out / "fidelity.png").is_file()
    assert project_leftovers() == {}
