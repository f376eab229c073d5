"""Every option of every config group composes, instantiates and passes the checks; bad values are named."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import networkx as nx
import pytest
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from experiments.callbacks import sweep_size
from experiments.placing import OPTIMA, PLACERS
from experiments.schema import MODES, ConfigError, build, build_instance, check_config
from placement.algorithms import BUILTIN
from placement.base import PlacementAlgorithm, available_algorithms
from placement.model import Chain
from placement.substrate import validate_substrate
from placement.topologies import zoo_names

pytestmark = pytest.mark.usefixtures("no_testbed")

CONF = Path(__file__).resolve().parents[1] / "conf"


def options(group):
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def test_algo_options_are_the_builtin_algorithms():
    assert options("algo") == sorted(BUILTIN)  # installed packages' algorithms need no file


def test_every_packaged_zoo_topology_has_an_option():
    assert {f"zoo_{name.lower().rstrip('0123456789')}" for name in zoo_names()} <= set(options("topology"))


@pytest.mark.parametrize("name", options("algo"))
def test_algo_option_instantiates_its_registered_class(compose, name):
    cfg = compose(f"algo={name}")
    check_config(cfg)
    algo = build(cfg.algo)
    assert isinstance(algo, PlacementAlgorithm) and algo.name == name
    configured = {k: v for k, v in OmegaConf.to_container(cfg.algo).items() if k != "_target_"}
    assert algo.get_params() == {**algo.get_params(), **configured}  # every key is a parameter, values kept


VIRNE_DUMP = Path(__file__).resolve().parent / "data" / "virne_small"
PARTNERS = {  # options that need a matching option of the other group
    ("topology", "virne"): [f"topology.path={VIRNE_DUMP}", "workload=virne"],
    ("workload", "virne"): ["topology=virne", f"topology.path={VIRNE_DUMP}"],
    ("workload", "vne_like"): ["topology=vne_geant", "workload.n=50"],
}


def file_overrides(group, name, tmp_path) -> list[str]:
    """The ``path`` override of a ``file`` option, with a file written for it (none otherwise).

    Options that read a dump or need a matching substrate get their partner
    options instead (:data:`PARTNERS`).
    """
    if (group, name) in PARTNERS:
        return PARTNERS[group, name]
    if name != "file":
        return []
    from placement.substrate import substrate_to_json
    from placement.topologies import line
    from placement.workload import DEFAULT_CATALOGUE, chains_to_json

    if group == "topology":
        path = tmp_path / "substrate.json"
        path.write_text(json.dumps(substrate_to_json(line(3))))
    else:  # chains on the default topology, a line of 4 servers
        path = tmp_path / "chains.json"
        chains = [Chain(f"c{i}", (DEFAULT_CATALOGUE["firewall"],), "srv0", f"srv{i + 1}") for i in range(3)]
        path.write_text(json.dumps(chains_to_json(chains)))
    return [f"{group}.path={path}"]


@pytest.mark.parametrize("name", options("topology"))
def test_topology_option_builds_a_valid_substrate(compose, name, tmp_path):
    cfg = compose(f"topology={name}", *file_overrides("topology", name, tmp_path))
    check_config(cfg)
    substrate, chains = build_instance(cfg)
    validate_substrate(substrate)
    assert isinstance(substrate, nx.Graph) and chains


@pytest.mark.parametrize("name", options("workload"))
def test_workload_option_generates_chains_on_the_substrate(compose, name, tmp_path):
    cfg = compose(f"workload={name}", *file_overrides("workload", name, tmp_path))
    check_config(cfg)
    substrate, chains = build_instance(cfg)
    assert len(chains) == cfg.workload.get("n", len(chains) if name == "virne" else 3)
    assert all(isinstance(c, Chain) for c in chains)
    assert all(end is None or end in substrate for c in chains for end in (c.ingress, c.egress))


@pytest.mark.parametrize("name", options("testbed"))
def test_testbed_option_has_every_field(compose, name):
    cfg = compose(f"testbed={name}")
    check_config(cfg)
    assert cfg.testbed.kind == name
    assert set(cfg.testbed) == {"kind", "images", "delay", "requests", "vnf_impl", "machines", "address",
                                "budget_override"}
    assert cfg.testbed.machines is None  # this machine alone, unless a cluster is asked for
    assert set(cfg.testbed.images) == {"base", "dind", "vnf", "pull"}
    assert set(cfg.testbed.vnf_impl.values()) == {"light"}  # real software only when asked for
    images = importlib.import_module("testbed.images").ImageNames(**OmegaConf.to_container(cfg.testbed.images))
    assert images.vnf


TESTBED_STUDIES = {"isolation": "experiments.isolation.run_isolation",
                   "fidelity": "experiments.fidelity.run_fidelity",
                   "saturation": "experiments.saturation.run_saturation"}


@pytest.mark.parametrize("name", options("experiment"))
def test_experiment_bundle_composes_and_checks(compose, name):
    """Placement bundles never deploy; the testbed studies swap in their own task."""
    cfg = compose(f"experiment={name}")
    check_config(cfg)
    if name in TESTBED_STUDIES:
        assert cfg.task == TESTBED_STUDIES[name] and cfg.testbed.kind != "none"
    else:
        assert cfg.task == "experiments.run.run_experiment" and cfg.testbed.kind == "none"


def test_default_config_is_the_small_testbed_run(compose):
    cfg = compose("testbed=dind", hydra=True)
    choices = cfg.hydra.runtime.choices
    assert (choices.algo, choices.topology, choices.workload, choices.testbed) == ("greedy", "line", "small", "dind")
    assert (cfg.seed, cfg.mode, cfg.redo) == (0, "sequential", False)
    assert cfg.topology.n <= 6 and cfg.workload.n <= 5  # minutes on the testbed, not hours


def test_outputs_go_under_results_and_jobs_do_not_chdir(compose):
    cfg = compose(hydra=True).hydra
    assert cfg.run.dir.startswith("results/runs/") and cfg.sweep.dir.startswith("results/sweeps/")
    assert cfg.job.chdir is False
    assert cfg.sweep.subdir == cfg.job.override_dirname == "testbed=none"  # job dirs named by overrides
    assert {"redo", "progress", "results_dir"} <= set(cfg.job.config.override_dirname.exclude_keys)


@pytest.mark.parametrize("launcher", ["joblib_local", "slurm", "submitit_local", "ray_local"])
def test_launcher_configs_compose(compose, launcher):
    plugin = {"joblib_local": "hydra_joblib_launcher", "ray_local": "sfcbench_ray_launcher"}.get(
        launcher, "hydra_submitit_launcher"
    )
    pytest.importorskip(f"hydra_plugins.{plugin}", reason=f"{plugin} is not installed")
    cfg = compose(f"hydra/launcher={launcher}", hydra=True).hydra.launcher
    module, _, cls = cfg._target_.rpartition(".")
    assert hasattr(importlib.import_module(module), cls)
    if launcher == "joblib_local":
        assert cfg.n_jobs == 2
    if launcher == "ray_local":  # a one-machine Ray of its own, not a cluster found on the machine
        assert (cfg.address, cfg.num_cpus) == ("local", 2)


# ------------------------------------------------------------------- bad values


@pytest.mark.parametrize(
    "override, expected",
    [
        ("mode=foo", ["mode='foo'", "sequential, batch, online"]),
        ("testbed.requests=-3", ["testbed.requests=-3", "int >= 1"]),
        ("testbed.kind=vm", ["testbed.kind='vm'", "none, dind, docker, process"]),
        ("testbed.delay=slow", ["testbed.delay='slow'", "auto, netem, userspace"]),
        ("repetitions=0", ["repetitions=0", "int >= 1"]),
        ("+sede=1", ["sede=1", "unknown key", "seed"]),
        ("+testbed.foo=2", ["testbed.foo=2", "unknown key", "requests"]),
        ("testbed.vnf_impl.waf=modsec", ["testbed.vnf_impl.waf='modsec'", "nginx-modsecurity"]),
        ("+algo.foo=1", ["algo.foo=1", "unknown parameter", "load_weight"]),
        ("algo.load_weight=abc", ["algo.load_weight='abc'", "wrong type"]),
        ("+workload.substrate=x", ["workload.substrate='x'", "unknown parameter"]),
        ("algo._target_=placement.topologies.line", ["not a placement.base.PlacementAlgorithm"]),
        ("topology._target_=placement.topologies.ring", ["topology._target_", "no such object"]),
    ],
)
def test_check_config_names_key_value_and_choices(compose, override, expected):
    cfg = compose(override)
    with pytest.raises(ConfigError) as info:
        check_config(cfg)
    for text in expected:
        assert text in str(info.value)


def test_online_mode_refuses_a_testbed(compose):
    with pytest.raises(ConfigError, match="mode=online with testbed=process.*testbed=none"):
        check_config(compose("mode=online", "testbed=process"))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("optimum", OPTIMA)
def test_every_mode_takes_every_yardstick_that_bounds_it(compose, mode, optimum):
    cfg = compose(f"mode={mode}", f"optimum={optimum}")
    if (mode, optimum) == ("online", "exact"):  # the batch optimum does not bound an online run
        with pytest.raises(ConfigError, match="mode=online with optimum=exact.*optimum=lp"):
            check_config(cfg)
    else:
        check_config(cfg)


def test_modes_are_placers_and_the_config_comment_lists_them():
    assert set(MODES) == set(PLACERS)
    comment = next(line for line in (CONF / "config.yaml").read_text().splitlines() if line.startswith("mode:"))
    assert all(f" {mode}" in comment.partition("#")[2] for mode in MODES)


def test_check_config_reports_every_problem_at_once(compose):
    with pytest.raises(ConfigError) as info:
        check_config(compose("mode=foo", "testbed.requests=0", "seed=-1"))
    assert len(info.value.problems) == 3


@pytest.mark.parametrize(
    "override, expected",
    [
        ("topology.n=0", "topology (placement.topologies.line) rejects its parameters: ValueError: n must be"),
        ("workload.length=[3,2]", "workload (placement.workload.generate_chains) rejects its parameters"),
    ],
)
def test_builder_complaints_become_config_errors(compose, override, expected):
    cfg = compose(override)
    check_config(cfg)
    with pytest.raises(ConfigError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        build_instance(cfg)


@pytest.mark.parametrize("override, key", [("seed=abc", "seed"), ("testbed.requests=many", "testbed.requests")])
def test_type_errors_fail_while_composing(compose, override, key):
    with pytest.raises(ConfigCompositionException) as info:
        compose(override)
    message = f"{info.value} {info.value.__cause__}"
    assert override.split("=")[1] in message and key in message


def test_unknown_group_option_lists_the_choices(compose):
    with pytest.raises(ConfigCompositionException) as info:
        compose("algo=nope")
    assert all(name in str(info.value) for name in available_algorithms())


def test_sweep_size_counts_jobs_of_configured_and_command_line_sweeps():
    cfg = OmegaConf.create(
        {"hydra": {"sweeper": {"params": {"algo": "a,b,c", "seed": "0,1"}},
                   "overrides": {"task": ["seed=0,1,2,3", "mode=batch"]}}}
    )
    assert sweep_size(cfg) == 12


def test_a_stated_request_rate_reserves_rate_times_cost(compose):
    costs = {"firewall": 0.5, "ids": 2.0, "forwarder": 0.1, "nat": 0.1, "load_balancer": 0.3}
    cfg = compose("+workload.request_rate=200", f"+workload.cpu_per_request={costs}".replace("'", ""))
    check_config(cfg)
    _, chains = build_instance(cfg)
    cpu = {v.type: v.cpu for c in chains for v in c.vnfs}
    assert cpu and all(cpu[t] == pytest.approx(200 * costs[t] / 1000) for t in cpu), cpu


def test_a_request_rate_without_a_calibration_says_how_to_get_one(compose, tmp_path, monkeypatch):
    monkeypatch.setenv("SFCBENCH_CALIBRATION_DIR", str(tmp_path))
    cfg = compose("+workload.request_rate=200")
    with pytest.raises(ConfigError, match=r"request_rate needs each VNF type's CPU cost .*python -m testbed.calibrate"):
        build_instance(cfg)


def test_a_request_rate_takes_the_costs_from_this_machines_calibration(compose, tmp_path, monkeypatch):
    from testbed.calibrate import Calibration, machine_id, save_cached
    from testbed.system import delay_mechanism

    monkeypatch.setenv("SFCBENCH_CALIBRATION_DIR", str(tmp_path))
    costs = {"firewall": 0.5, "ids": 2.0, "forwarder": 0.1, "nat": 0.1, "load_balancer": 0.3}
    save_cached(Calibration({}, 1.0, host_kind="dind", delay_mechanism=delay_mechanism("auto"),
                            machine=machine_id(), cpu_ms_per_request=costs))
    _, chains = build_instance(compose("+workload.request_rate=100"))
    ids = [v.cpu for c in chains for v in c.vnfs if v.type == "ids"]
    assert ids and ids == pytest.approx([0.2] * len(ids))


@pytest.mark.parametrize("machines, ok", [("auto", True), ("[m1,m2]", True), ("{srv0:m1,srv1:m2}", True),
                                          ("5", False), ("[]", False), ("everything", False)])
def test_testbed_machines_takes_auto_a_list_or_a_mapping(compose, machines, ok):
    cfg = compose(f"testbed.machines={machines}")
    if ok:
        check_config(cfg)
    else:
        with pytest.raises(ConfigError, match="testbed.machines=.*use null \\(this machine\\), auto"):
            check_config(cfg)

