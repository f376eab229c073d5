"""The algorithm registry: built-ins listed once, third-party packages by entry point, no import cycle.

The third-party case is tested for real: ``tests/data/sfcbench_demo_plugin``
is pip-installed into a temporary directory that is then put on the path,
so that :mod:`importlib.metadata` finds its entry points exactly as it
would for a package installed in the environment.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import networkx as nx
import pandas as pd
import pytest

from placement.algorithms import BUILTIN
from placement.algorithms.greedy import Greedy
from placement.base import (
    ENTRY_POINT_GROUP,
    algorithm_class,
    algorithm_entry_points,
    available_algorithms,
    get_algorithm,
    registered_name,
    validate_placement,
)
from placement.checks import check_algorithm
from placement.errors import AlgorithmLoadError, UnknownAlgorithm
from placement.model import VNF, Chain
from placement.topologies import star

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "tests" / "data" / "sfcbench_demo_plugin"
PLUGIN_PACKAGE = "sfcbench-demo-plugin"


def _imports(path: Path, package: str) -> set[str]:
    """Modules of ``package`` that the file at ``path`` imports anywhere (lazy imports included)."""
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
    base = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            anchor = base.rsplit(".", node.level - 1)[0] if node.level else ""
            target = ".".join(filter(None, [anchor, node.module]))
            found.add(target)
            found |= {f"{target}.{alias.name}" for alias in node.names}  # `from . import mod`
    return {m for m in found if m == package or m.startswith(package + ".")}


def import_graph(package: str) -> nx.DiGraph:
    """Module -> imported module over ``package``; importing a module also runs its parent packages."""
    files = {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
             for p in (ROOT / package).rglob("*.py")}
    G = nx.DiGraph()
    G.add_nodes_from(files)
    for module, path in files.items():
        for target in _imports(path, package):
            parts = target.split(".")
            for i in range(1, len(parts) + 1):  # the target and every package above it
                prefix = ".".join(parts[:i])
                if prefix in files and prefix != module:
                    G.add_edge(module, prefix)
    return G


def test_placement_has_no_import_cycle():
    G = import_graph("placement")
    assert G.has_edge("placement.algorithms.genetic", "placement.base")  # the graph sees real imports
    assert G.has_edge("placement.base", "placement.algorithms")
    assert list(nx.simple_cycles(G)) == []


def test_a_cycle_would_be_seen():
    """The cycle finder itself: two modules importing each other lazily form a cycle."""
    G = import_graph("placement")
    G.add_edge("placement.base", "placement.algorithms.genetic")  # what base.py did before
    assert any({"placement.base", "placement.algorithms.genetic"} <= set(c) for c in nx.simple_cycles(G))


def test_listing_the_algorithms_imports_none_of_them():
    code = (
        "import sys; from placement.base import available_algorithms; names = available_algorithms(); "
        "print(sorted(m for m in sys.modules if m.startswith('placement.algorithms.')), names)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.startswith("[] [") and all(repr(name) in out for name in BUILTIN)


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_every_builtin_loads_and_knows_its_name(name):
    cls = algorithm_class(name)
    assert f"{cls.__module__}:{cls.__qualname__}" == BUILTIN[name]
    assert registered_name(cls) == name and cls().name == name


def test_a_subclass_does_not_inherit_its_parents_name():
    class MyGreedy(Greedy):
        pass

    assert MyGreedy().name == "" and Greedy().name == "greedy"


def test_unknown_name_lists_the_choices():
    with pytest.raises(UnknownAlgorithm) as info:
        get_algorithm("best_fit")
    assert all(name in str(info.value) for name in available_algorithms())


# ------------------------------------------------------------- third-party package


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory):
    """A directory holding the demo package as ``pip install --target`` leaves it (module + dist-info)."""
    root = tmp_path_factory.mktemp("plugin")
    source = shutil.copytree(PLUGIN, root / "src")  # pip builds in place: keep tests/data clean
    site = root / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(site), str(source)],
        check=True, capture_output=True, text=True,
    )
    assert list(site.glob("sfcbench_demo_plugin-*.dist-info/entry_points.txt"))
    return site


@pytest.fixture
def plugin(plugin_site, monkeypatch):
    """The demo package importable and its entry points visible, for this test only."""
    monkeypatch.syspath_prepend(str(plugin_site))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the package's entry point named "greedy" warns: tested below
        yield plugin_site
    sys.modules.pop("sfcbench_demo_plugin", None)


def test_without_the_package_no_demo_algorithm():
    assert not any(name.startswith("demo_") for name in available_algorithms())


def test_installed_package_is_listed_and_built(plugin):
    names = available_algorithms()
    assert {"demo_spread", "demo_missing", "demo_not_algorithm"} | set(BUILTIN) == set(names)
    algo = get_algorithm("demo_spread", load_weight=2.0)
    assert type(algo).__module__ == "sfcbench_demo_plugin" and algo.get_params() == {"load_weight": 2.0}
    assert algo.name == "demo_spread"
    G = star(3)
    chains = [Chain("c", (VNF("fw"), VNF("ids")), "srv0", "srv1")]
    assert validate_placement(G, chains, algo.place(G, chains, seed=0)) == []
    check_algorithm(type(algo))  # what the package's own tests would run


@pytest.mark.parametrize(
    "name, says",
    [("demo_missing", "cannot be loaded (ModuleNotFoundError: No module named 'sfcbench_demo_plugin_missing')"),
     ("demo_not_algorithm", "names a function, not a placement.base.PlacementAlgorithm subclass")],
)
def test_broken_entry_point_names_package_and_entry_point(plugin, name, says):
    with pytest.raises(AlgorithmLoadError) as info:
        get_algorithm(name)
    message = str(info.value)
    assert f"entry point {name} = " in message and f"of package {PLUGIN_PACKAGE} 0.1.0" in message
    assert says in message and ENTRY_POINT_GROUP in message
    assert type(get_algorithm("first_fit")).__name__ == "FirstFit"  # the built-ins are still there


def test_package_cannot_take_a_builtin_name(plugin):
    import placement.base

    placement.base._WARNED.clear()
    with pytest.warns(UserWarning, match=f"entry point greedy = .* of package {PLUGIN_PACKAGE} .* is ignored") as seen:
        assert "greedy" not in algorithm_entry_points()
        algorithm_entry_points()
    assert len(seen) == 1  # once per process, not at every lookup
    assert type(get_algorithm("greedy")) is Greedy


def _run(site, *args):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(site)])}
    env.pop("HYDRA_FULL_ERROR", None)
    command = [sys.executable, "-m", "experiments.run", "experiment=placement_only", "progress=false", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)


def test_installed_algorithm_is_an_algo_option(plugin_site, tmp_path):
    """``algo=<entry point>`` works with no file in conf/algo/; its parameters are overridable."""
    done = _run(plugin_site, "algo=demo_spread", "algo.load_weight=2.5", f"results_dir={tmp_path / 'run'}")
    assert done.returncode == 0, done.stderr
    df = pd.read_parquet(tmp_path / "run" / "results.parquet")
    assert set(df["algorithm"]) == {"demo_spread"} and set(df["p_algo_load_weight"]) == {2.5}
    assert set(df["status"]) == {"placed"}


def test_broken_installed_algorithm_fails_the_config_check(plugin_site, tmp_path):
    done = _run(plugin_site, "algo=demo_missing", f"results_dir={tmp_path / 'run'}")
    assert done.returncode == 1
    assert f"algo=demo_missing: entry point demo_missing = 'sfcbench_demo_plugin_missing:Anything' of package " \
           f"{PLUGIN_PACKAGE}" in done.stderr
    assert not (tmp_path / "run").exists()
