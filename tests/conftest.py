"""Shared fixtures of the experiment tests: composing ``conf/`` and keeping the testbed out.

The experiment tests never deploy: every configuration they compose uses
``testbed=none``, and the ``no_testbed`` fixture (used by their modules)
replaces ``testbed.deploy`` with a module that fails loudly if imported
anyway.  Tests of the testbed itself (marker ``testbed``) do not use it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"


@pytest.fixture
def no_testbed(monkeypatch):
    """Make ``import testbed.deploy`` fail: a placement-only test must never reach the testbed."""
    guard = types.ModuleType("testbed.deploy")

    def __getattr__(name):
        raise RuntimeError("experiment tests must not start the testbed (use testbed=none)")

    guard.__getattr__ = __getattr__
    monkeypatch.setitem(sys.modules, "testbed.deploy", guard)


@pytest.fixture
def compose():
    """``compose(*overrides, hydra=False)``: the experiment configuration, as Hydra would compose it.

    ``testbed=none`` is added unless an override chooses a testbed, so that
    nothing composed here can deploy.
    """
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    import experiments.schema  # noqa: F401  (registers the structured schema)

    def _compose(*overrides, hydra=False):
        overrides = list(overrides)
        if not any(o.startswith(("testbed=", "experiment=")) for o in overrides):
            overrides.append("testbed=none")
        with initialize_config_dir(config_dir=str(CONF), version_base=None):
            return hydra_compose("config", overrides=overrides, return_hydra_config=hydra)

    return _compose


@pytest.fixture
def run_cfg(compose, tmp_path):
    """``run_cfg(*overrides, results_dir=...)``: a placement-only run configuration writing into tmp_path."""

    def _run_cfg(*overrides, results_dir=None):
        results_dir = results_dir or tmp_path / "run"
        return compose("progress=false", f"results_dir={results_dir}", *overrides, hydra=True)

    return _run_cfg


DEPLOYING = {"dind", "docker", "process"}


def _without_testbed(args):
    """``args`` with ``testbed=none`` added; a test asking to deploy fails at once."""
    chosen = [a.split("=", 1)[1] for a in args if a.startswith("testbed=")]
    assert not DEPLOYING & set(chosen), f"experiment tests must not deploy: {args}"
    return args if chosen else [*args, "testbed=none"]


@pytest.fixture
def cli():
    """``cli(*args, cwd=..., module="experiments.run")``: run a module as a command; the completed process.

    Output is captured as text; ``HYDRA_FULL_ERROR`` is unset so that errors
    look as a user sees them.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.pop("HYDRA_FULL_ERROR", None)

    def _cli(*args, cwd, module="experiments.run", timeout=120):
        args = [str(a) for a in args]
        if module == "experiments.run":
            args = _without_testbed(args)
        command = [sys.executable, "-m", module, *args]
        return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)

    return _cli


@pytest.fixture(scope="session", autouse=True)
def testbed_leaves_nothing(request):
    """After the whole suite nothing of the project is left: containers, volumes, namespaces,
    cgroups, processes, manifests, root-namespace veths and bridges (checked where Docker runs).

    Checked only when the session runs testbed tests: a placement-only session
    (``-m "not testbed"``) may run beside a testbed that is up.
    """
    from tests.testbed_helpers import dangling_volumes, project_leftovers, requirements_missing, root_links

    if requirements_missing() or not any(item.get_closest_marker("testbed") for item in request.session.items):
        yield
        return
    volumes, links = dangling_volumes(), root_links()
    yield
    assert project_leftovers() == {}
    assert dangling_volumes() <= volumes
    assert root_links() <= links


@pytest.fixture(autouse=True)
def testbed_test_leaves_nothing(request):
    """A testbed test that leaves a run behind fails at teardown, and what it left is removed.

    Without this, one leak fails every later test that first checks the
    machine is clean, and hides which test leaked.  Runs that existed before
    the test (a module's fixture) are compared, not removed.
    """
    from tests.testbed_helpers import project_leftovers, requirements_missing

    if request.node.get_closest_marker("testbed") is None or requirements_missing():
        yield
        return
    from testbed.cleanup import remove_run, run_ids_here

    def runs():
        return set(_run_ids_with_containers()) | set(run_ids_here())

    before = runs()
    yield
    leaked = sorted(runs() - before)
    if leaked:
        left = {run_id: project_leftovers(run_id) for run_id in leaked}
        for run_id in leaked:
            remove_run(run_id)
        pytest.fail(f"the test left runs behind (now removed): {left}")


def _run_ids_with_containers() -> list[str]:
    """Run ids labelled on the project's containers (a run may have nothing else left)."""
    from testbed.manifest import LABEL

    out = subprocess.run(["docker", "ps", "-a", "--filter", f"label={LABEL}", "--format", f'{{{{.Label "{LABEL}"}}}}'],
                         capture_output=True, text=True).stdout
    return [line for line in out.split() if line]
