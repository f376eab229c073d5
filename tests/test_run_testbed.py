"""The default experiment, `python -m experiments.run algo=greedy`, on the real testbed."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.testbed_helpers import project_leftovers, skip_without_testbed

pytestmark = [pytest.mark.testbed, skip_without_testbed]
ROOT = Path(__file__).resolve().parents[1]


def test_default_run_deploys_measures_and_writes_results(tmp_path):
    from testbed.calibrate import Calibration, machine_id, save_cached

    # This machine "has" a calibration: every chain pays 1000 ms of endpoint overhead in that model.
    env = {**os.environ, "SFCBENCH_CALIBRATION_DIR": str(tmp_path / "calibration")}
    os.environ["SFCBENCH_CALIBRATION_DIR"] = env["SFCBENCH_CALIBRATION_DIR"]
    try:
        for mechanism in ("netem", "userspace"):
            save_cached(Calibration({}, 1000.0, host_kind="dind", delay_mechanism=mechanism, machine=machine_id(),
                                    created="2026-01-01T00:00:00+00:00"))
    finally:
        del os.environ["SFCBENCH_CALIBRATION_DIR"]
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "experiments.run", "algo=greedy", "progress=false", f"hydra.run.dir={out}",
         "testbed.requests=20"],
        cwd=ROOT, capture_output=True, text=True, timeout=900, env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "measured p50 against the calibrated on this machine (2026-01-01" in proc.stdout + proc.stderr
    df = pd.read_parquet(out / "results.parquet")
    placed = df[df.status == "placed"]
    assert len(placed) >= 1
    assert (placed.measured_requests == 20).all() and (placed.measured_errors == 0).all()
    assert placed.trace_ok.all()
    assert (placed.measured_p50_ms > 0).all()
    for counters, warmup in zip(placed.vnf_counters, placed.measured_warmup):
        assert set(json.loads(counters).values()) == {20 + warmup}
    assert set(placed.host_kind) == {"dind"}
    assert (placed.testbed_model_rtt_ms - placed.model_rtt_ms).round(6).eq(1000.0).all()
    assert placed.latency_model.str.startswith("calibrated on this machine").all()
    assert project_leftovers() == {}
