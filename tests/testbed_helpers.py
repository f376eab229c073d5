"""Shared helpers for tests that build real networks."""

import os
import subprocess

import pytest

from testbed import system
from testbed.manifest import LABEL, PREFIX, Manifest


def requirements_missing() -> str | None:
    """Why the real testbed cannot run here (None if it can)."""
    if os.geteuid() != 0:
        return "testbed tests need root"
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        return "no Docker daemon: run `make setup`"
    return None


def project_leftovers(run_id: str | None = None) -> dict:
    """Everything of this project (or of one run) present on the machine now."""
    mark = f"{PREFIX}-{run_id}" if run_id else f"{PREFIX}-"
    label = f"{LABEL}={run_id}" if run_id else LABEL
    containers = subprocess.run(["docker", "ps", "-aq", "--filter", f"label={label}"],
                                capture_output=True, text=True).stdout.split()
    volumes = subprocess.run(["docker", "volume", "ls", "-q", "--filter", f"label={label}"],
                             capture_output=True, text=True).stdout.split()
    netns = [n for n in system.netns_list() if n.startswith(mark)]
    cgroups = [str(p) for p in system.cgroup_dirs(mark)]
    procs = [pid for p in system.cgroup_dirs(mark) for pid in system.cgroup_procs(p)]
    manifests = [r for r in Manifest.run_ids() if run_id in (None, r)]
    return {k: v for k, v in {"containers": containers, "volumes": volumes, "netns": netns, "cgroups": cgroups,
                              "processes": procs, "manifests": manifests}.items() if v}


def root_links() -> set[str]:
    """Names of the veths and bridges in the root network namespace."""
    names = set()
    for kind in ("veth", "bridge"):
        out = subprocess.run(["ip", "-o", "link", "show", "type", kind], capture_output=True, text=True).stdout
        names |= {line.split(":")[1].strip().split("@")[0] for line in out.splitlines()}
    return names


def dangling_volumes() -> set[str]:
    """Docker volumes no container uses (an anonymous volume left behind shows up here)."""
    out = subprocess.run(["docker", "volume", "ls", "-q", "--filter", "dangling=true"],
                         capture_output=True, text=True).stdout
    return set(out.split())


skip_without_testbed = pytest.mark.skipif(requirements_missing() is not None,
                                          reason=requirements_missing() or "")
