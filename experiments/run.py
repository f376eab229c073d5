"""The experiment app: build a substrate and chains, place them, optionally deploy, record everything.

``python -m experiments.run [group=option ...] [key=value ...]`` (Hydra; add
``-m`` for a sweep).  :func:`main` is a thin Hydra entry point around
:func:`run_experiment`, a plain function of the composed configuration that
tests and notebooks call directly.  Steps:

1. check the configuration (:func:`experiments.schema.check_config`);
2. skip the run if its directory already holds results made from the same
   configuration (unless ``redo=true``);
3. build the substrate (``topology``), the chains (``workload``, given the
   substrate) and the algorithm (``algo``) with :func:`hydra.utils.instantiate`;
4. for each repetition, place the chains in the configured ``mode``
   (:mod:`experiments.placing`) and, unless ``testbed=none``, deploy and
   measure them (:mod:`experiments.measure`);
5. re-verify every placement (:mod:`experiments.verify`) and write the run
   directory (:mod:`experiments.results`).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import uuid
from pathlib import Path

import hydra
import numpy as np
import pandas as pd
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf
from tqdm.auto import tqdm

from placement.errors import InvalidPlacement
from placement.substrate import servers
from testbed.system import TestbedError  # standard library only: no Mininet or Docker needed

from .measure import deploy_and_measure, latency_comparison, not_measured, preflight
from .placing import PLACERS, instance_optimum, with_optimum
from .report import summary_table
from .results import (
    environment,
    flat_params,
    load_results,
    ordered_columns,
    results_exist,
    save_instance,
    save_results,
)
from .schema import HYDRA_KEYS, ConfigError, build, build_instance, check_config
from .verify import verify_frame

__all__ = ["run_experiment", "config_hash", "group_choices", "run_labels", "main"]

log = logging.getLogger(__name__)

_NOT_HASHED = ("hydra", "results_dir", "redo", "progress", "strict")
"""Keys that do not change what a run computes (left out of its fingerprint)."""


def group_choices(cfg) -> dict:
    """The option chosen in each config group (``{"topology": "line", ...}``), empty if unknown.

    From the ``hydra`` node when the configuration carries one (compose API
    with ``return_hydra_config=True``), else from the running Hydra app.
    """
    if "hydra" in cfg:
        return dict(cfg.hydra.runtime.choices)
    if HydraConfig.initialized():
        return dict(HydraConfig.get().runtime.choices)
    return {}


def config_hash(cfg) -> str:
    """A fingerprint of everything that determines a run's results (resolved, sorted JSON).

    Stored with the results, so that a rerun into the same directory can tell
    whether the results there are its own.
    """
    data = {key: _resolved(cfg, key) for key in sorted(cfg) if key not in _NOT_HASHED and not _default_off(cfg, key)}
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _default_off(cfg, key) -> bool:
    """``optimum=none`` leaves the fingerprint as it was before the key existed (old runs stay valid)."""
    return key == "optimum" and cfg[key] == "none"


def _resolved(cfg, key):
    value = cfg[key]
    return OmegaConf.to_container(value, resolve=True) if isinstance(value, DictConfig) else value


def _params(node) -> dict:
    """The keyword parameters of an instantiable node (Hydra's own keys left out)."""
    return {k: v for k, v in OmegaConf.to_container(node, resolve=True).items() if k not in HYDRA_KEYS}


def _option(cfg, choices, group) -> str:
    """The name of the chosen option of ``group``, else the name of its target."""
    return choices.get(group) or cfg[group]._target_.rpartition(".")[2]


def run_labels(cfg, run_dir, fingerprint, algo, substrate, chains) -> dict:
    """The columns shared by every row of a run: what ran, on what, where and with what."""
    choices = group_choices(cfg)
    return {
        "run_id": f"{datetime.datetime.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}",
        "run_dir": str(Path(run_dir).resolve()),
        "config_hash": fingerprint,
        "algorithm": algo.name or type(algo).__name__,
        **flat_params("p_algo_", algo.get_params()),
        "topology": _option(cfg, choices, "topology"),
        "n_nodes": substrate.number_of_nodes(),
        "n_servers": len(servers(substrate)),
        "n_edges": substrate.number_of_edges(),
        **flat_params("t_", _params(cfg.topology), skip={"seed"}),
        "workload": _option(cfg, choices, "workload"),
        "n_chains": len(chains),
        **flat_params("w_", _params(cfg.workload), skip={"seed"}),
        "mode": cfg.mode,
        "seed": cfg.seed,
        **environment(),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def _repetition(cfg, substrate, chains, algo, rep: int, bar) -> tuple[list[dict], list[dict]]:
    """Rows and timeline points (online mode) of one repetition: placed in ``cfg.mode``,
    then deployed unless ``testbed=none``.

    The algorithm's seed is drawn from ``(seed, rep)``: repetitions differ
    only in the algorithm's random choices (and in timing), the instance is
    the run's.
    """
    algo_seed = int(np.random.default_rng([cfg.seed, rep]).integers(2**63 - 1))
    outcome = PLACERS[cfg.mode](substrate, chains, algo, seed=algo_seed, bar=bar)
    rows = [
        {**row, "repetition": rep, "algo_seed": algo_seed, "rep_solve_time_ms": outcome.solve_time_ms}
        for row in outcome.rows
    ]
    timeline = [{"repetition": rep, **point} for point in outcome.timeline]
    if cfg.testbed.kind == "none":
        return [{**row, **not_measured()} for row in rows], timeline
    return deploy_and_measure(substrate, chains, rows, outcome.placement, cfg.testbed, log=log.info), timeline


def _existing(run_dir: Path, fingerprint: str) -> pd.DataFrame:
    """The results already in ``run_dir`` if this configuration made them; else a ConfigError."""
    df = load_results(run_dir)
    found = set(df["config_hash"]) if "config_hash" in df else set()
    if found - {fingerprint}:
        raise ConfigError(
            [
                f"results_dir={str(run_dir)!r} holds results of another configuration "
                f"(fingerprint {', '.join(sorted(found))}, now {fingerprint}): add redo=true to "
                "replace them, or run into another directory"
            ]
        )
    log.info("skipping: %s already holds this run's results (redo=true to run again)", run_dir)
    return df


def run_experiment(cfg: DictConfig) -> pd.DataFrame:
    """Run the experiment ``cfg`` describes and return its tidy results (also written to ``cfg.results_dir``).

    One row per (algorithm, chain, repetition); columns in
    :data:`experiments.results.COLUMNS` plus ``p_algo_*``, ``t_*`` and
    ``w_*`` parameter columns.  Raises
    :class:`~experiments.schema.ConfigError` before building or writing
    anything when the configuration is bad, and
    :class:`~placement.errors.InvalidPlacement` (writing no results) if a
    recorded placement fails re-verification.
    """
    check_config(cfg)
    preflight(cfg.testbed)
    run_dir = Path(cfg.results_dir)
    fingerprint = config_hash(cfg)
    if results_exist(run_dir) and not cfg.redo:
        return _existing(run_dir, fingerprint)
    substrate, chains = build_instance(cfg)
    optimum = instance_optimum(substrate, chains, cfg.get("optimum", "none"))  # once per instance
    algo = build(cfg.algo)
    labels = run_labels(cfg, run_dir, fingerprint, algo, substrate, chains)
    rows, timeline = [], []
    progress = dict(desc=f"{labels['algorithm']} ({cfg.mode})", unit="chain", disable=None if cfg.progress else True)
    with tqdm(total=cfg.repetitions * len(chains), **progress) as bar:
        for rep in range(cfg.repetitions):
            rep_rows, rep_timeline = _repetition(cfg, substrate, chains, algo, rep, bar)
            rows += rep_rows
            timeline += rep_timeline
    df = pd.DataFrame([{**labels, **row} for row in with_optimum(rows, optimum)])
    df = df[ordered_columns(df.columns)] if len(df) else df
    problems = verify_frame(substrate, chains, df) if len(df) else []
    if problems:
        raise InvalidPlacement(problems)
    save_instance(run_dir, substrate, chains)  # inputs and results land together, or not at all
    save_results(run_dir, df, timeline=pd.DataFrame(timeline).assign(run_id=labels["run_id"]) if timeline else None)
    return df


@hydra.main(config_path="../conf", config_name="config", version_base=None)
def main(cfg: DictConfig) -> float | None:
    """Hydra entry point: run, log a summary, and say where the results are (also after a failure).

    Returns the acceptance ratio, the value an optimising sweeper would use.
    """
    try:
        try:
            df = hydra.utils.get_method(cfg.task)(cfg)
        except TestbedError as exc:
            # The machine, not the code, is at fault: one clear line, no traceback.
            log.error("%s", exc)
            raise SystemExit(1) from exc
        if "algorithm" not in df:  # a study of its own (experiment=isolation, ...) logged its summary
            return None
        table = summary_table(df)
        log.info("summary (latencies in ms, solve time per repetition):\n%s", table.round(3).to_string())
        comparison = latency_comparison(df)
        if comparison:
            log.info("%s", comparison)
        errors = df[df["status"] == "error"]
        for row in errors.itertuples():
            log.warning("chain %s: error: %s", row.chain_id, row.reason)
        if cfg.strict and len(errors):
            log.error("%d chain(s) ended in error and strict=true", len(errors))
            raise SystemExit(3)
        return float(table["acceptance"].mean()) if len(table) else None
    finally:
        log.info("run directory: %s", Path(cfg.results_dir).resolve())


if __name__ == "__main__":
    main()
