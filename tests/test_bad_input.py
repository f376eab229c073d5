"""Bad input gets one clear error naming what is wrong and where, a non-zero exit, and no output.

Topology files, chain files, configuration values and a machine without a
Docker daemon, Mininet or root are each tried through the real command line;
hypothesis then generates malformed substrates and configurations.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from experiments.schema import ConfigError, build_instance, check_config
from placement.errors import SubstrateError
from placement.model import VNF, Chain
from placement.substrate import substrate_to_json, validate_substrate
from placement.topologies import from_file, line, star
from placement.workload import DEFAULT_CATALOGUE, chains_to_json

ROOT = Path(__file__).resolve().parents[1]


def run_cli(args, tmp_path, env=None, user=None):
    """``python -m experiments.run ARGS`` with its run directory in tmp; (process, run dir)."""
    run_dir = tmp_path / "run"
    full_env = {**os.environ, **(env or {})}
    full_env.pop("HYDRA_FULL_ERROR", None)
    proc = subprocess.run([sys.executable, "-m", "experiments.run", *args, f"hydra.run.dir={run_dir}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, env=full_env, user=user)
    return proc, run_dir


def assert_failed_cleanly(proc, run_dir, *needles):
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert "Traceback" not in out, out
    for needle in needles:
        assert needle in out, out
    written = sorted(p.name for p in run_dir.glob("*")) if run_dir.exists() else []
    assert set(written) <= {"run.log", ".hydra"}, written  # logs only: no results, no instance files


def graphml(tmp_path, g, name="substrate.graphml"):
    path = tmp_path / name
    nx.write_graphml(g, path)
    return path


def substrate_with(change):
    g = line(3)
    change(g)
    return g


TOPOLOGY_CASES = {
    "empty file": (lambda p: p.write_text(""), "not a readable GraphML"),
    "not GraphML": (lambda p: p.write_text("srv0 -- srv1\n"), "not a readable GraphML"),
    "negative capacity": (lambda p: nx.write_graphml(substrate_with(lambda g: g.nodes["srv1"].update(cpu=-2.0)), p),
                          "srv1"),
    "missing capacity": (lambda p: nx.write_graphml(substrate_with(lambda g: g.nodes["srv0"].pop("mem")), p),
                         "mem"),
    "unknown node kind": (lambda p: nx.write_graphml(substrate_with(lambda g: g.nodes["srv2"].update(kind="router")),
                                                     p), "router"),
    "disconnected servers": (lambda p: nx.write_graphml(substrate_with(lambda g: g.remove_edge("srv1", "srv2")), p),
                             "srv2"),
}


@pytest.mark.parametrize("case", TOPOLOGY_CASES)
def test_malformed_topology_file(case, tmp_path):
    write, needle = TOPOLOGY_CASES[case]
    path = tmp_path / "substrate.graphml"
    write(path)
    proc, run_dir = run_cli(["experiment=placement_only", "topology=file", f"topology.path={path}"], tmp_path)
    assert_failed_cleanly(proc, run_dir, str(path), needle)


def chains_file(tmp_path, chain):
    path = tmp_path / "chains.json"
    path.write_text(json.dumps(chains_to_json([chain])))
    return path


CHAIN_CASES = {
    "unknown VNF type": (Chain("c0", (VNF("teleporter", 0.5, 64),), "srv0", "srv1"), "teleporter"),
    "demand larger than any server": (Chain("c0", (VNF("ids", 64.0, 256),), "srv0", "srv1"), "largest server"),
    "ingress not in the graph": (Chain("c0", (DEFAULT_CATALOGUE["firewall"],), "nowhere", "srv1"), "nowhere"),
}


@pytest.mark.parametrize("case", CHAIN_CASES)
def test_malformed_chains_file(case, tmp_path):
    chain, needle = CHAIN_CASES[case]
    path = chains_file(tmp_path, chain)
    proc, run_dir = run_cli(["experiment=placement_only", "workload=file", f"workload.path={path}"], tmp_path)
    assert_failed_cleanly(proc, run_dir, "chains.json", needle)


CONFIG_CASES = {
    "wrong type": (["seed=abc"], "seed"),
    "unknown key": (["+sede=1"], "sede"),
    "unknown algorithm": (["algo=nope"], "greedy"),  # the message lists the valid choices
    "bad value": (["testbed.requests=-3"], "testbed.requests"),
}


@pytest.mark.parametrize("case", CONFIG_CASES)
def test_bad_configuration(case, tmp_path):
    args, needle = CONFIG_CASES[case]
    proc, run_dir = run_cli(["testbed=none", *args], tmp_path)
    assert_failed_cleanly(proc, run_dir, needle)


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")


@needs_root
def test_missing_docker_daemon(tmp_path):
    proc, run_dir = run_cli(["testbed=dind"], tmp_path, env={"DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"})
    assert_failed_cleanly(proc, run_dir, "no Docker daemon answers", "start-docker.sh")


def test_missing_mininet(tmp_path):
    fake = tmp_path / "fake" / "mininet"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('mininet is absent')\n")
    proc, run_dir = run_cli(["testbed=process"], tmp_path, env={"PYTHONPATH": str(fake.parent)})
    assert_failed_cleanly(proc, run_dir, "Mininet is not importable", "make setup")


@needs_root
def test_not_root():
    scratch = Path(tempfile.mkdtemp(prefix="sfcbench-nobody-"))  # pytest's own tmp is root-only
    try:
        scratch.chmod(0o777)
        proc, run_dir = run_cli(["testbed=process"], scratch, user="nobody")
        assert_failed_cleanly(proc, run_dir, "needs root", "testbed=none")
    finally:
        shutil.rmtree(scratch)


# -- generated malformed input ---------------------------------------------------------

CORRUPTIONS = ["drop-node-attr", "negative", "nan", "text", "unknown-kind", "isolated-server", "drop-edge-attr",
               "self-loop"]


def corrupt(g: nx.Graph, how: str, data) -> nx.Graph:
    """``g`` with one defect of kind ``how`` (``data`` draws which node or edge)."""
    g = g.copy()
    servers = sorted(n for n, k in g.nodes(data="kind") if k == "server")
    node = data.draw(st.sampled_from(servers))
    edge = data.draw(st.sampled_from(sorted(g.edges)))
    attr = data.draw(st.sampled_from(["cpu", "mem"]))
    eattr = data.draw(st.sampled_from(["bw", "delay"]))
    if how == "drop-node-attr":
        del g.nodes[node][attr]
    elif how == "negative":
        g.nodes[node][attr] = -data.draw(st.floats(0.1, 100))
    elif how == "nan":
        g.edges[edge][eattr] = math.nan
    elif how == "text":
        g.nodes[node][attr] = "lots"
    elif how == "unknown-kind":
        g.nodes[node]["kind"] = data.draw(st.sampled_from(["router", "", "Server", "vm"]))
    elif how == "isolated-server":
        g.add_node("lonely", kind="server", cpu=1.0, mem=1.0)
    elif how == "drop-edge-attr":
        del g.edges[edge][eattr]
    elif how == "self-loop":
        g.add_edge(node, node, bw=1.0, delay=1.0)
    return g


@settings(max_examples=60, deadline=None)
@given(st.data(), st.sampled_from(CORRUPTIONS), st.integers(2, 6), st.booleans())
def test_generated_malformed_substrates_fail_cleanly(data, how, n, use_star):
    g = corrupt(star(n) if use_star else line(n), how, data)
    with pytest.raises(SubstrateError) as err:
        validate_substrate(g)
    assert err.value.problems and all(isinstance(p, str) and p for p in err.value.problems)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data(), st.sampled_from(CORRUPTIONS))
def test_generated_malformed_substrate_files_fail_cleanly(tmp_path, data, how):
    g = corrupt(line(4), how, data)
    path = tmp_path / f"bad-{how}.json"
    path.write_text(json.dumps(substrate_to_json(g), default=str))
    with pytest.raises(SubstrateError) as err:
        from_file(path)
    assert str(path) in str(err.value)


BAD_VALUES = {
    "seed": [-1, "abc", 1.5, True],
    "repetitions": [0, -2, "x"],
    "mode": ["foo", "", 3],
    "testbed.requests": [0, -3, "many"],
    "testbed.delay": ["netem2", 5],
    "testbed.kind": ["vm", ""],
    "algo.load_weight": ["heavy"],
    "topology.n": [0, -4, "four"],
}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_generated_bad_configurations_fail_cleanly(compose, data):
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    key = data.draw(st.sampled_from(sorted(BAD_VALUES)))
    value = data.draw(st.sampled_from(BAD_VALUES[key]))
    try:
        cfg = compose(f"{key}={json.dumps(value) if isinstance(value, str) else value}")
        check_config(cfg)
        build_instance(cfg)  # what only a builder can judge, checked before the run writes anything
    except ConfigError as exc:
        assert key.split(".")[-1] in str(exc)
    except (HydraException, OmegaConfBaseException) as exc:  # Hydra's own type checks
        assert key.split(".")[-1] in str(exc)
    else:
        pytest.fail(f"{key}={value!r} was accepted")
