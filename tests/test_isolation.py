"""The article's isolation experiment, `python -m experiments.run experiment=isolation`, on the real stack."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.testbed_helpers import project_leftovers, skip_without_testbed

pytestmark = [pytest.mark.testbed, skip_without_testbed]
ROOT = Path(__file__).resolve().parents[1]


def test_shared_filesystem_only_for_plain_mininet_hosts(tmp_path):
    out = tmp_path / "isolation"
    proc = subprocess.run([sys.executable, "-m", "experiments.run", "experiment=isolation", f"hydra.run.dir={out}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    df = pd.read_parquet(out / "results.parquet")
    summary = df.drop_duplicates("mode").set_index("mode")
    assert summary.loc["process", "pattern"] == "0,1,2,3"
    assert summary.loc["docker", "pattern"] == "0,0,1,1"
    assert summary.loc["dind", "pattern"] == "0,0,1,1"
    assert summary.loc["process", ["a_sees_b_process", "a_sees_b_file"]].tolist() == [True, True]
    for mode in ("docker", "dind"):
        assert summary.loc[mode, ["a_sees_b_process", "a_sees_b_file"]].tolist() == [False, False]
    assert (out / "isolation.png").is_file() and (out / "isolation.svg").is_file()
    assert project_leftovers() == {}
