"""Least privilege on the real stack: no Docker API on TCP, unprivileged VNFs, no secrets in results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from placement.model import Chain, Embedding, Placement
from placement.topologies import line
from placement.workload import DEFAULT_CATALOGUE
from testbed.deploy import Testbed
from tests.testbed_helpers import skip_without_testbed

ROOT = Path(__file__).resolve().parents[1]
DOCKER_PORTS = (2375, 2376)


def one_chain():
    g = line(2, cpu=2, mem=2048, delay=0.0)
    c = Chain("c0", (DEFAULT_CATALOGUE["firewall"], DEFAULT_CATALOGUE["ids"]), "srv0", "srv1")
    return g, [c], Placement({"c0": Embedding("c0", ("srv0", "srv1"), (("srv0",), ("srv0", "srv1"), ("srv1",)))})


def listening_ports(netcmd) -> set[int]:
    out = netcmd("ss -Hltn")
    return {int(line.split()[3].rsplit(":", 1)[1]) for line in out.splitlines() if line.strip()}


@pytest.mark.testbed
@skip_without_testbed
def test_dind_servers_expose_no_docker_api_and_vnfs_run_unprivileged():
    assert not set(DOCKER_PORTS) & listening_ports(
        lambda c: subprocess.run(c.split(), capture_output=True, text=True).stdout)
    g, chains, placement = one_chain()
    with Testbed(g, chains, placement, host_kind="dind", log=lambda *_: None) as tb:
        for name in tb.plan.servers:
            server = tb.nodes[name]
            assert not set(DOCKER_PORTS) & listening_ports(server.netcmd)
            daemon = server.cmd("cat /proc/$(cat /run/sfcbench-dockerd.pid)/cmdline | tr '\\0' ' '")
            assert "--host=unix:///var/run/docker.sock" in daemon and "tcp://" not in daemon
            for vnf in (v for v in tb.plan.vnfs if v.server == name):
                info = json.loads(server.docker("inspect", vnf.name))[0]
                assert info["Config"]["User"] == "65534:65534"
                assert not info["HostConfig"]["CapAdd"] and not info["HostConfig"]["Privileged"]
                assert not any("docker.sock" in m["Source"] for m in info["Mounts"])


@pytest.mark.testbed
@skip_without_testbed
@pytest.mark.parametrize("host_kind", ["docker", "process"])
def test_vnf_processes_run_as_nobody(host_kind):
    g, chains, placement = one_chain()
    with Testbed(g, chains, placement, host_kind=host_kind, log=lambda *_: None) as tb:
        assert [r["status"] for r in tb.request("c0", 2)] == [200, 200]  # port 80 without root
        for name in tb.plan.servers:
            out = tb.nodes[name].cmd("ps -eo uid=,args= | grep '[v]nf.py'")
            uids = {line.split()[0] for line in out.splitlines() if line.strip()}
            assert uids == {"65534"}, out


def test_results_and_logs_hold_no_environment(tmp_path):
    secret = "s3cr3t-token-do-not-leak"
    out = tmp_path / "run"
    env = {**os.environ, "SFCBENCH_TEST_SECRET": secret, "AWS_SECRET_ACCESS_KEY": secret}
    proc = subprocess.run([sys.executable, "-m", "experiments.run", "experiment=placement_only", "progress=false",
                           f"hydra.run.dir={out}"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    for path in out.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
