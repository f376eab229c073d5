"""The shape of an experiment configuration, and the checks that run before anything else.

Two layers, so that a bad override fails at once and names what is wrong:

* **Types** come from the structured config :class:`ExperimentConfig`, stored
  in Hydra's ConfigStore as ``sfcbench_schema`` and put first in
  ``conf/config.yaml``'s defaults list.  Hydra enforces it while composing:
  ``seed=abc`` or an unknown key such as ``+sede=1`` fails before any
  directory is made, with Hydra's own message naming the key and the value.
* **Values and choices** are checked by :func:`check_config`: keys added
  with ``+key=value`` (which Hydra lets past a structured config), ranges
  (``testbed.requests=-3``), enumerations (``mode=foo``), combinations
  (``mode=online`` with a testbed) and the parameters of the ``_target_`` of
  ``algo``/``topology``/``workload`` (unknown names, a string where the
  target's default is a number).  Every problem is reported at once as a
  :class:`ConfigError`.  What only a builder can judge (``topology.n=0``)
  is caught by :func:`build_instance`, which turns the builder's complaint
  into a :class:`ConfigError` too.  The
  :class:`~experiments.callbacks.CheckConfig` Hydra callback runs both
  before Hydra creates the run directory, so a bad run writes nothing;
  :func:`experiments.run.run_experiment` runs them again for callers that
  bypass Hydra's entry point.

The values themselves live in ``conf/`` only; the dataclasses here declare
types and leave every value ``MISSING`` (``???``) so that there is one place
to read the defaults.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import numbers
from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.errors import CompactHydraException, InstantiationException
from hydra.utils import instantiate
from omegaconf import OmegaConf
from omegaconf import MISSING, DictConfig, ListConfig
from placement.numeric import is_number
from testbed.images import ImageNames  # imports neither Mininet nor Docker
from testbed.vnfs.catalogue import CATALOGUE, CatalogueError, implementation  # standard library only

__all__ = [
    "MODES",
    "TESTBED_KINDS",
    "DELAY_MECHANISMS",
    "SCHEMA_NAME",
    "HYDRA_KEYS",
    "ConfigError",
    "ImagesConfig",
    "TestbedConfig",
    "ExperimentConfig",
    "register_schema",
    "check_config",
    "build",
    "build_instance",
    "target_of",
]

MODES = ("sequential", "batch", "online", "admission")
"""How chains reach the algorithm: one at a time on the residual, all at once, over time, or as a batch
of which the operator accepts the best subset it can find (see :mod:`experiments.placing`)."""

OPTIMA = ("none", "exact", "lp")
"""``optimum``: what yardstick each row carries (see :func:`experiments.placing.instance_optimum`)."""

TESTBED_KINDS = ("none", "dind", "docker", "process")
"""``none`` only places; the others deploy on the testbed with servers of that kind."""

DELAY_MECHANISMS = ("auto", "netem", "userspace")
"""How the testbed realises link delay (see ``testbed.deploy.Testbed``)."""

SCHEMA_NAME = "sfcbench_schema"
"""ConfigStore name of :class:`ExperimentConfig` (first entry of ``conf/config.yaml``)."""

HYDRA_KEYS = frozenset({"_target_", "_recursive_", "_convert_", "_partial_", "_args_"})
"""Keys of an instantiable node that Hydra consumes itself (not parameters of the target)."""


class ConfigError(CompactHydraException, ValueError):
    """The configuration is well typed but holds bad values; ``problems`` lists each one.

    A :class:`hydra.errors.CompactHydraException`, so that Hydra prints the
    message alone (no traceback) and exits with status 1.
    """

    def __init__(self, problems):
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"invalid configuration ({len(self.problems)} problem(s)):\n{lines}")


@dataclass
class ImagesConfig:
    """Testbed image names: the fields and defaults of ``testbed.images.ImageNames``, in one place."""

    base: str = ImageNames.base
    dind: str = ImageNames.dind
    vnf: str = ImageNames.vnf
    pull: bool = ImageNames.pull


@dataclass
class TestbedConfig:
    """Where placed chains are deployed and how they are measured (``conf/testbed/*.yaml``)."""

    kind: str = MISSING
    images: ImagesConfig = field(default_factory=ImagesConfig)
    delay: str = MISSING
    requests: int = MISSING
    vnf_impl: dict[str, str] = field(default_factory=lambda: {vnf_type: "light" for vnf_type in CATALOGUE})
    """Implementation per VNF type (``testbed.vnfs.catalogue``), every known type listed so that
    ``testbed.vnf_impl.waf=nginx-modsecurity`` overrides one; types not listed run ``light``."""
    machines: Any = None
    """None: this machine alone.  ``auto``: every machine of the Ray cluster, a list: those machines, a
    mapping: substrate node -> machine (``testbed.cluster.ClusterTestbed``)."""
    address: Any = None
    """The Ray cluster of ``machines`` (None: ``RAY_ADDRESS``, then the local ``ray start``)."""
    budget_override: bool = False
    """Build a machine's share even where its cores or memory fall short (``testbed.budget``)."""


@dataclass
class ExperimentConfig:
    """Types of the whole experiment configuration (values come from ``conf/``).

    ``algo``, ``topology`` and ``workload`` are instantiable nodes
    (``_target_`` plus keyword parameters) whose parameters
    :func:`check_config` checks against the target's signature.
    """

    algo: Any = MISSING
    topology: Any = MISSING
    workload: Any = MISSING
    testbed: TestbedConfig = field(default_factory=TestbedConfig)
    task: str = MISSING
    study: Any = MISSING  # parameters of a study's own task (experiment=fidelity, ...)
    seed: int = MISSING
    repetitions: int = MISSING
    mode: str = MISSING
    results_dir: str = MISSING
    redo: bool = MISSING
    strict: bool = MISSING
    progress: bool = MISSING
    optimum: str = MISSING


def register_schema() -> None:
    """Store :class:`ExperimentConfig` and installed algorithms in Hydra's ConfigStore (idempotent).

    Called on import of this module: anything that composes ``conf/config.yaml``
    (``experiments.run``, the tests, the notebook) imports it first.  Every
    algorithm of an installed package (entry-point group
    ``sfcbench.algorithms``) becomes an option of the ``algo`` group under its
    entry-point name, so ``algo=<name>`` needs no file in ``conf/algo/``.
    """
    from placement.base import algorithm_entry_points

    store = ConfigStore.instance()
    store.store(name=SCHEMA_NAME, node=ExperimentConfig)
    for name, ep in algorithm_entry_points().items():
        store.store(group="algo", name=name, node=_installed_algorithm_node(name, ep))


def _installed_algorithm_node(name, ep) -> dict:
    """The ``algo`` option of an installed algorithm: its class and the plain defaults of its parameters.

    A package that fails to load still gets its option (the class alone), so
    that choosing it fails in :func:`check_config` with the import error
    instead of Hydra's "not found".
    """
    from placement.base import algorithm_class
    from placement.errors import AlgorithmLoadError

    node = {"_target_": f"{ep.module}.{ep.attr}"}
    try:
        params = _parameters(algorithm_class(name))
    except AlgorithmLoadError:
        return node
    plain = (bool, int, float, str, list, tuple, type(None))
    node.update({p: spec.default for p, spec in params.items() if isinstance(spec.default, plain)})
    return node


# ----------------------------------------------------------------------------- checks


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _int_problem(key, value, minimum):
    if _is_int(value) and value >= minimum:
        return None
    return f"{key}={value!r}: must be an int >= {minimum}"


def _choice_problem(key, value, choices):
    if value in choices:
        return None
    return f"{key}={value!r}: choose one of {', '.join(choices)}"


def _bool_problem(key, value):
    return None if isinstance(value, bool) else f"{key}={value!r}: must be true or false"


def _unknown_key_problems(node, schema, prefix="") -> list[str]:
    """Keys of ``node`` that ``schema`` (a dataclass) lacks: Hydra's ``+key=value`` adds them unchecked."""
    valid = [f.name for f in dataclasses.fields(schema)]
    return [
        f"{prefix}{key}={node[key]!r}: unknown key; valid: {', '.join(valid)}"
        for key in node
        if key not in valid and not (prefix == "" and key == "hydra")
    ]


def _task_problem(task) -> str | None:
    """``task`` must name an importable function (``module.function``)."""
    from hydra.utils import get_method

    try:
        get_method(task)
        return None
    except Exception as exc:  # Hydra wraps import errors in several types
        return f"task={task!r}: not an importable function ({exc})"


def _top_level_problems(cfg) -> list[str]:
    checks = [
        _task_problem(cfg.task),
        _int_problem("seed", cfg.seed, 0),
        _int_problem("repetitions", cfg.repetitions, 1),
        _choice_problem("mode", cfg.mode, MODES),
        _bool_problem("redo", cfg.redo),
        _bool_problem("strict", cfg.strict),
        _bool_problem("progress", cfg.progress),
        _choice_problem("optimum", cfg.get("optimum", "none"), OPTIMA),
    ]
    return [p for p in checks if p]


def _machines_problem(machines):
    """``testbed.machines``: None, auto, a list of machine names, or a mapping of substrate nodes to machines."""
    if machines is None or machines == "auto":
        return None
    if OmegaConf.is_list(machines) and machines and all(isinstance(m, str) and m for m in machines):
        return None
    if OmegaConf.is_dict(machines) and machines and all(isinstance(m, str) and m for m in machines.values()):
        return None
    return (f"testbed.machines={machines!r}: use null (this machine), auto (every machine of the Ray cluster), "
            "a list of machine names, or a mapping of substrate nodes to machine names")


def _testbed_problems(tb) -> list[str]:
    problems = _unknown_key_problems(tb, TestbedConfig, "testbed.")
    problems += _unknown_key_problems(tb.images, ImagesConfig, "testbed.images.")
    if problems:
        return problems
    checks = [
        _choice_problem("testbed.kind", tb.kind, TESTBED_KINDS),
        _choice_problem("testbed.delay", tb.delay, DELAY_MECHANISMS),
        _int_problem("testbed.requests", tb.requests, 1),
        _bool_problem("testbed.images.pull", tb.images.pull),
        _bool_problem("testbed.budget_override", tb.get("budget_override", False)),
        _machines_problem(tb.get("machines")),
    ]
    problems = [p for p in checks if p]
    for name in ("base", "dind", "vnf"):
        value = tb.images[name]
        if not (isinstance(value, str) and value.strip()):
            problems.append(f"testbed.images.{name}={value!r}: must be a non-empty image name")
    vnf_impl = tb.get("vnf_impl") or {}  # a configuration made without the schema may lack it
    for vnf_type, impl in vnf_impl.items():
        try:
            implementation(vnf_type, impl)
        except CatalogueError as exc:
            problems.append(f"testbed.vnf_impl.{vnf_type}={impl!r}: {exc}")
    if tb.kind not in ("dind", "none") and any(impl != "light" for impl in vnf_impl.values()):
        problems.append(f"testbed.vnf_impl: real VNF software runs in DinD servers only, not testbed={tb.kind}")
    return problems


def target_of(node, key: str):
    """The callable named by ``node._target_`` (imported), or raise :class:`ConfigError`.

    Examples
    --------
    >>> target_of({"_target_": "placement.topologies.line"}, "topology").__name__
    'line'
    >>> target_of({"_target_": "placement.topologies.ring"}, "topology")
    Traceback (most recent call last):
    ...
    experiments.schema.ConfigError: invalid configuration (1 problem(s)):
      - topology._target_='placement.topologies.ring': no such object (module placement.topologies has no 'ring')
    """
    path = node.get("_target_") if isinstance(node, (dict, DictConfig)) else None
    if not isinstance(path, str) or "." not in path:
        raise ConfigError([f"{key}._target_={path!r}: must name a callable as 'package.module.name'"])
    module_name, _, attr = path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ConfigError([f"{key}._target_={path!r}: cannot import {module_name} ({e})"]) from None
    if not hasattr(module, attr):
        raise ConfigError([f"{key}._target_={path!r}: no such object (module {module_name} has no {attr!r})"])
    return getattr(module, attr)


def _parameters(target) -> dict[str, inspect.Parameter]:
    func = target.__init__ if inspect.isclass(target) else target
    return {
        name: p
        for name, p in inspect.signature(func).parameters.items()
        if name != "self" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
    }


def _kind(value) -> str | None:
    """A coarse type ('number', 'text', 'list', 'bool') used to compare a value with a default."""
    if isinstance(value, bool):
        return "bool"
    if is_number(value):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, (list, tuple, ListConfig)):
        return "list"
    return None


def _compatible(value, default) -> bool:
    """Whether ``value`` may stand where the target's ``default`` stands.

    Only clear mismatches count: a text where the default is a number or a
    bool, a number where it is a bool.  Numbers and ``(lo, hi)`` lists are
    interchangeable (the workload accepts both), and None defaults accept
    anything.
    """
    want, got = _kind(default), _kind(value)
    if want is None or got is None or value is None:
        return True
    if want in ("number", "list"):
        return got in ("number", "list")
    return want == got


def _node_problems(cfg, key: str, *, given: tuple[str, ...] = ()) -> list[str]:
    """Unknown or ill-typed parameters of the instantiable node ``cfg[key]``.

    ``given`` names parameters the caller passes itself (the workload's
    ``substrate``), which the configuration must not set.
    """
    node = cfg[key]
    try:
        target = target_of(node, key)
    except ConfigError as e:
        return e.problems
    params = _parameters(target)
    valid = sorted(set(params) - set(given))
    problems = []
    for name in node:
        if name in HYDRA_KEYS:
            continue
        value = node[name]
        if name not in valid:
            problems.append(f"{key}.{name}={value!r}: unknown parameter of {node._target_}; valid: {', '.join(valid)}")
        elif not _compatible(value, params[name].default):
            problems.append(
                f"{key}.{name}={value!r}: wrong type, {node._target_} expects something like "
                f"{params[name].default!r}"
            )
    required = [n for n, p in params.items() if p.default is p.empty and n not in given and n not in node]
    problems += [f"{key}.{name}: missing, {node._target_} needs it" for name in required]
    return problems


def _installed_algorithm_problems(path) -> list[str]:
    """The registry's message (naming package and entry point) if ``path`` is a broken installed algorithm."""
    from placement.base import algorithm_class, algorithm_entry_points
    from placement.errors import AlgorithmLoadError

    for name, ep in algorithm_entry_points().items():
        if f"{ep.module}.{ep.attr}" == path:
            try:
                algorithm_class(name)
            except AlgorithmLoadError as e:
                return [f"algo={name}: {e}"]
    return []


def _algorithm_problems(cfg) -> list[str]:
    from placement.base import PlacementAlgorithm

    try:
        target = target_of(cfg.algo, "algo")
    except ConfigError as e:
        return _installed_algorithm_problems(cfg.algo.get("_target_")) or e.problems
    if not (inspect.isclass(target) and issubclass(target, PlacementAlgorithm)):
        return [f"algo._target_={cfg.algo._target_!r}: not a placement.base.PlacementAlgorithm subclass"]
    return _node_problems(cfg, "algo")


def _combination_problems(cfg) -> list[str]:
    problems = []
    if cfg.mode == "online" and cfg.testbed.kind != "none":
        problems.append(
            f"mode=online with testbed={cfg.testbed.kind}: an online run has chains departing, which "
            "the testbed does not replay; add testbed=none (or use mode=sequential/batch)"
        )
    if cfg.mode == "online" and cfg.get("optimum", "none") == "exact":
        problems.append(
            "mode=online with optimum=exact: the admission optimum treats all chains as present at once, "
            "which does not bound an online run; use optimum=lp (it honours arrivals and lifetimes)"
        )
    return problems


def check_config(cfg) -> None:
    """Check every value of an experiment configuration; raise :class:`ConfigError` listing all problems.

    Runs before anything is built or written.  ``cfg`` is the composed
    configuration (with or without its ``hydra`` node); interpolations such
    as ``${seed}`` are resolved, ``results_dir`` is not read.

    Examples
    --------
    >>> from omegaconf import OmegaConf
    >>> cfg = OmegaConf.create({
    ...     "algo": {"_target_": "placement.algorithms.greedy.Greedy", "load_weight": 0.1},
    ...     "topology": {"_target_": "placement.topologies.line", "n": 4},
    ...     "workload": {"_target_": "placement.workload.generate_chains", "n": 3},
    ...     "testbed": {"kind": "none", "delay": "auto", "requests": -3,
    ...                 "images": {"base": "b", "dind": "d", "vnf": "v", "pull": True}},
    ...     "seed": 0, "repetitions": 1, "mode": "foo", "redo": False, "strict": False,
    ...     "progress": False, "task": "experiments.run.run_experiment", "study": {}})
    >>> check_config(cfg)
    Traceback (most recent call last):
    ...
    experiments.schema.ConfigError: invalid configuration (2 problem(s)):
      - mode='foo': choose one of sequential, batch, online, admission
      - testbed.requests=-3: must be an int >= 1
    """
    missing = [k for k in ("algo", "topology", "workload", "testbed") if k not in cfg]  # absent or ???
    if missing:
        raise ConfigError([f"{k}: missing, choose an option of the config group {k}/" for k in missing])
    problems = _unknown_key_problems(cfg, ExperimentConfig)
    problems += _top_level_problems(cfg) + _testbed_problems(cfg.testbed)
    problems += _algorithm_problems(cfg)
    problems += _node_problems(cfg, "topology")
    problems += _node_problems(cfg, "workload", given=("substrate",))
    if not problems:
        problems += _combination_problems(cfg)
    if problems:
        raise ConfigError(problems)


def build(node, **kwargs):
    """Instantiate a config node, its lists and dicts as plain Python ones (builders check for lists)."""
    return instantiate(node, _convert_="all", **kwargs)


def _cause(error: Exception) -> str:
    """The builder's own message inside Hydra's instantiation error."""
    inner = error.__cause__ if isinstance(error, InstantiationException) and error.__cause__ else error
    return f"{type(inner).__name__}: {inner}"


def build_instance(cfg):
    """The substrate (``topology``) and the chains (``workload`` on it), or a :class:`ConfigError`.

    Builders check their own arguments (``topology.n=0``, a reversed
    ``workload.length``); their complaint becomes a configuration error that
    names the group, so that the Hydra callback can build once before the
    run directory exists and fail cleanly.
    """
    try:
        substrate = build(cfg.topology)
    except Exception as e:
        raise ConfigError([f"topology ({cfg.topology._target_}) rejects its parameters: {_cause(e)}"]) from None
    extra = {}
    if cfg.workload.get("request_rate") is not None and cfg.workload.get("cpu_per_request") is None:
        extra["cpu_per_request"] = _calibrated_costs(cfg)
    try:
        chains = build(cfg.workload, substrate=substrate, **extra)
    except Exception as e:
        raise ConfigError([f"workload ({cfg.workload._target_}) rejects its parameters: {_cause(e)}"]) from None
    return substrate, chains


def _calibrated_costs(cfg) -> dict[str, float]:
    """CPU ms per request by VNF type, from this machine's calibration for the configured testbed."""
    from testbed.calibrate import cached, cache_path
    from testbed.system import delay_mechanism

    kind = cfg.testbed.kind if cfg.testbed.kind != "none" else "dind"
    impls = dict(cfg.testbed.get("vnf_impl") or {})
    mechanism = delay_mechanism(cfg.testbed.get("delay") or "auto")
    calibration = cached(kind, mechanism, impls)
    if calibration is None or not calibration.cpu_ms_per_request:
        raise ConfigError([f"workload.request_rate needs each VNF type's CPU cost per request, and this machine "
                           f"has no calibration at {cache_path(kind, mechanism, impls)}: run `python -m "
                           f"testbed.calibrate --host-kind {kind}` (with --impl TYPE=IMPL for real software), or "
                           "give workload.cpu_per_request={firewall: 0.4, ...} (ms of CPU per request)"])
    return dict(calibration.cpu_ms_per_request)


register_schema()  # on import, once every helper above is defined
