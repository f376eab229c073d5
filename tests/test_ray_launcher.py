"""``hydra/launcher=ray`` (hydra_plugins/sfcbench_ray_launcher) runs a placement-only sweep on a real Ray cluster.

The cluster is Ray's own test cluster (``ray.cluster_utils.Cluster``): a head
and a second node on this machine, each with one CPU, so that the jobs spread
over two Ray nodes as they would over two machines.  Its files live in a
temporary ``RAY_TMPDIR`` (nothing in /tmp/ray, no address file another Ray
user could pick up); teardown stops exactly the processes it started and
checks that none of them, nor any Ray worker they spawned, is left.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from experiments import report
from experiments.verify import main as verify_main

ray = pytest.importorskip("ray")
core = pytest.importorskip("hydra_plugins.sfcbench_ray_launcher._core")

pytestmark = pytest.mark.usefixtures("no_testbed")

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _processes_of(tmp: str) -> list[int]:
    """Live processes started with ``RAY_TMPDIR=tmp``: every process of a Ray started with that
    variable (GCS, raylets, agents, workers) inherits it, and nothing else has it."""
    marker = f"RAY_TMPDIR={tmp}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes()
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in environ.split(b"\0") and state != "Z":
            found.append(int(entry))
    return found


def _gone(tmp: str, timeout: float = 15.0) -> list[int]:
    """Wait until no process of ``tmp``'s Ray is left; those still there after ``timeout``."""
    deadline = time.monotonic() + timeout
    while (left := _processes_of(tmp)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def _ray_env(tmp: str) -> dict:
    """The environment of a sweep (or a cluster) whose Ray keeps its files, and its address file, in ``tmp``."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAY_TMPDIR": tmp, "RAY_USAGE_STATS_ENABLED": "0"}
    env.pop("RAY_ADDRESS", None)
    return env


@pytest.fixture(scope="module")
def ray_cluster():
    """A two-node Ray cluster of this test module only, stopped (every process of it) afterwards."""
    from ray.cluster_utils import Cluster

    tmp = tempfile.mkdtemp(prefix="sfct-ray-")  # short: Ray's socket paths must fit in 107 bytes
    node = {"num_cpus": 1, "object_store_memory": 80 * 2**20}
    left = []
    with pytest.MonkeyPatch.context() as env:
        for key, value in _ray_env(tmp).items():
            env.setenv(key, value)  # workers import tests.test_ray_launcher.crash, as a machine would sfcbench
        cluster = None
        try:
            cluster = Cluster(initialize_head=True, head_node_args={
                **node, "include_dashboard": False, "dashboard_port": _free_port()})
            cluster.add_node(**node)
            cluster.wait_for_nodes()
            cluster.sfct_tmp = tmp
            yield cluster
        finally:
            if cluster is not None:
                cluster.shutdown()
            left = _gone(tmp)
            shutil.rmtree(tmp, ignore_errors=True)
    assert not left, f"processes of the test's Ray cluster left after shutdown: {left}"


def _sweep(cluster, tmp_path, *overrides):
    """A placement-only sweep sent to ``cluster`` with ``hydra/launcher=ray``; the completed process."""
    command = [sys.executable, "-m", "experiments.run", "-m", "experiment=placement_only", "testbed=none",
               "hydra/launcher=ray", f"hydra.launcher.address={cluster.address}",
               f"hydra.sweep.dir={tmp_path / 'sweep'}", "progress=false", *overrides]
    return subprocess.run(command, cwd=tmp_path, env=_ray_env(cluster.sfct_tmp), capture_output=True, text=True,
                          timeout=90)


def test_sweep_runs_every_job_on_the_ray_cluster_and_its_results_land(ray_cluster, tmp_path):
    done = _sweep(ray_cluster, tmp_path, "algo=greedy,first_fit", "seed=0,1")
    assert done.returncode == 0, done.stderr[-3000:]
    output = done.stdout + done.stderr
    assert "4 jobs on 2 Ray node(s), 2 CPUs" in output
    nodes = re.findall(r"#\d completed on Ray node (\w+)", output)
    assert len(nodes) == 4 and len(set(nodes)) == 2  # both nodes ran jobs, as two machines would
    runs = sorted((tmp_path / "sweep").glob("*/results.parquet"))
    assert len(runs) == 4
    df = report.merge([tmp_path / "sweep"])
    assert set(zip(df["algorithm"], df["seed"])) == {(a, s) for a in ("greedy", "first_fit") for s in (0, 1)}
    assert len(df) == 4 * 3 and not df.duplicated(["algorithm", "chain_id", "seed"]).any()
    assert verify_main([str(tmp_path / "sweep")]) == 0
    assert not list((tmp_path / "sweep").glob(".ray-launcher-*"))  # the launcher's marker is gone
    assert not list(tmp_path.glob("results")) and not list(tmp_path.glob("outputs"))


def test_job_directories_travel_back_when_the_driver_cannot_see_them(ray_cluster, tmp_path):
    """``outputs=always`` takes the path of a job on a machine without the sweep directory: packed, removed, unpacked."""
    done = _sweep(ray_cluster, tmp_path, "algo=greedy", "seed=0,1", "hydra.launcher.outputs=always")
    assert done.returncode == 0, done.stderr[-3000:]
    assert len(re.findall(r"its directory copied back \(\d+ bytes\)", done.stdout + done.stderr)) == 2
    df = report.merge([tmp_path / "sweep"])
    assert sorted(df["seed"].unique()) == [0, 1] and len(df) == 6
    assert all((d / "run.log").stat().st_size > 0 for d in (tmp_path / "sweep").glob("seed=*"))


def crash(cfg):
    """A job task that kills its Ray worker outright, as a node or worker failure would."""
    os._exit(70)


@pytest.mark.parametrize("task, error", [
    ("builtins.len", "TypeError: argument of type 'int' is not iterable"),  # len(cfg) is no results frame
    ("sys.exit", "'algo': {'_target_': 'placement.algorithms.greedy.Greedy'"),  # SystemExit(cfg) prints cfg
])
def test_a_failing_job_fails_the_sweep_with_its_own_error(ray_cluster, tmp_path, task, error):
    done = _sweep(ray_cluster, tmp_path, "algo=greedy", f"task={task}")
    assert done.returncode == 1
    assert error in done.stderr


def test_a_job_whose_worker_dies_is_reported_and_the_cluster_goes_on(ray_cluster, tmp_path):
    done = _sweep(ray_cluster, tmp_path, "algo=greedy", "task=tests.test_ray_launcher.crash",
                  "+hydra.launcher.remote.max_retries=0")
    assert done.returncode == 1
    assert "RuntimeError: job #0 (" in done.stderr and "task=tests.test_ray_launcher.crash) did not finish" in done.stderr
    assert "did not finish on Ray: The worker died unexpectedly" in done.stderr
    again = _sweep(ray_cluster, tmp_path, "algo=greedy", "seed=3")
    assert again.returncode == 0, again.stderr[-3000:]
    assert len(report.merge([tmp_path / "sweep"])) == 3


def test_ray_local_starts_its_own_ray_and_stops_all_of_it(tmp_path):
    tmp = tempfile.mkdtemp(prefix="sfct-ray-")
    try:
        env = _ray_env(tmp)
        command = [sys.executable, "-m", "experiments.run", "-m", "experiment=placement_only", "testbed=none",
                   "hydra/launcher=ray_local", "hydra.launcher.num_cpus=1", "+hydra.launcher.init.include_dashboard=false",
                   "algo=greedy", "seed=0,1", f"hydra.sweep.dir={tmp_path / 'sweep'}", "progress=false"]
        done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=90)
        left = _gone(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert len(report.merge([tmp_path / "sweep"])) == 6
    assert not left, f"processes of the sweep's own Ray left after it ended: {left}"


def test_an_address_nobody_answers_on_fails_at_once_and_writes_nothing(tmp_path):
    port = _free_port()  # closed again: nothing listens there
    command = [sys.executable, "-m", "experiments.run", "-m", "experiment=placement_only", "testbed=none",
               "hydra/launcher=ray", f"hydra.launcher.address=127.0.0.1:{port}", "algo=greedy",
               f"hydra.sweep.dir={tmp_path / 'sweep'}"]
    done = subprocess.run(command, cwd=tmp_path, env=_ray_env(str(tmp_path)), capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1
    assert done.stderr.startswith(f"hydra/launcher=ray: no Ray cluster answers at hydra.launcher.address='127.0.0.1:{port}'")
    assert "Traceback" not in done.stderr and not (tmp_path / "sweep").exists()


def test_unpack_refuses_an_entry_outside_the_job_directory(tmp_path):
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        data = b"x"
        info = tarfile.TarInfo("../escaped")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    with pytest.raises(core.RayLauncherError, match="'../escaped' is not a file or folder under"):
        core.unpack(buffer.getvalue(), tmp_path / "job")
    assert not (tmp_path / "escaped").exists()


def test_pack_and_unpack_keep_a_job_directory(tmp_path):
    job = tmp_path / "job"
    (job / ".hydra").mkdir(parents=True)
    (job / "results.csv").write_text("a,b\n1,2\n")
    (job / ".hydra" / "config.yaml").write_text("seed: 0\n")
    core.unpack(core.pack(job), tmp_path / "copy")
    assert (tmp_path / "copy" / "results.csv").read_text() == "a,b\n1,2\n"
    assert (tmp_path / "copy" / ".hydra" / "config.yaml").read_text() == "seed: 0\n"


def test_num_cpus_for_a_cluster_is_refused_before_connecting():
    with pytest.raises(core.RayLauncherError, match="num_cpus=4 sizes a new one-machine Ray only"):
        core.connect({"address": "auto", "num_cpus": 4})
    assert not ray.is_initialized()

