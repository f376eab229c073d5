"""Launching a sweep's jobs as Ray tasks, after the pattern of Hydra's joblib launcher.

The driver (the ``python -m experiments.run -m ...`` process) composes every
job's configuration, submits one task per job and waits for all of them; each
task restores Hydra's global state and runs the job with Hydra's own
``run_job``, so a job writes the same files as under any other launcher.
When a job ran on a machine that does not see the driver's sweep directory
(no shared file system), its directory travels back in the task's result.
"""

from __future__ import annotations

import io
import logging
import shutil
import socket
import tarfile
import uuid
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from hydra.core.hydra_config import HydraConfig
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, configure_log, filter_overrides, run_job, setup_globals
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict

log = logging.getLogger(__name__)

OUTPUTS = ("auto", "always")
PROBE_TIMEOUT = 3.0  # seconds to wait for a named head to accept a connection


class RayLauncherError(RuntimeError):
    """The launcher's options or the Ray cluster they name cannot run the sweep."""


def _run_job(
    hydra_context: HydraContext,
    sweep_config: DictConfig,
    task_function: TaskFunction,
    singleton_state: Dict[Any, Any],
    marker: str,
    outputs: str,
) -> Tuple[JobReturn, Optional[bytes], str]:
    """Run one job in a Ray worker: its JobReturn, its directory as a tar.gz if the driver cannot see it, the node."""
    import ray

    node = ray.get_runtime_context().get_node_id()[:12]
    setup_globals()
    Singleton.set_state(singleton_state)
    HydraConfig.instance().set_config(sweep_config)
    try:
        ret = run_job(
            hydra_context=hydra_context,
            task_function=task_function,
            config=sweep_config,
            job_dir_key="hydra.sweep.dir",
            job_subdir_key="hydra.sweep.subdir",
        )
    except SystemExit as exc:  # a task that exits must fail its job, not the Ray worker
        ret = JobReturn(overrides=list(sweep_config.hydra.overrides.task), status=JobStatus.FAILED)
        ret.hydra_cfg = OmegaConf.create({"hydra": OmegaConf.to_container(sweep_config.hydra)})
        ret.return_value = exc
    output_dir = ret.hydra_cfg and OmegaConf.select(ret.hydra_cfg, "hydra.runtime.output_dir")
    if not output_dir or not Path(output_dir).is_dir():
        return ret, None, node
    if outputs == "always" or not Path(marker).exists():
        archive = pack(Path(output_dir))
        shutil.rmtree(output_dir)  # that machine keeps no file of the job (its empty parent folders stay)
        return ret, archive, node
    return ret, None, node


def pack(directory: Path) -> bytes:
    """``directory``'s contents as an in-memory tar.gz (paths relative to it)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(str(directory), arcname=".")
    return buffer.getvalue()


def unpack(archive: bytes, directory: Path) -> None:
    """Extract :func:`pack`'s ``archive`` into ``directory``: regular files and folders inside it only."""
    directory.mkdir(parents=True, exist_ok=True)
    root = directory.resolve()
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        members = tar.getmembers()
        for member in members:
            target = (root / member.name).resolve()
            if not (member.isfile() or member.isdir()) or (target != root and root not in target.parents):
                raise RayLauncherError(f"job archive entry {member.name!r} is not a file or folder under {root}")
        tar.extractall(str(root), members=members)


def connect(options: Dict[str, Any]) -> bool:
    """Connect to (or start) the Ray cluster that ``options`` name; True if this call did so.

    A process already connected to Ray (a notebook, a test) keeps its
    connection and the launcher leaves it open afterwards.
    """
    import ray

    if options.get("outputs", "auto") not in OUTPUTS:
        raise RayLauncherError(
            f"hydra.launcher.outputs={options.get('outputs')!r}: expected one of {', '.join(OUTPUTS)}"
        )
    if ray.is_initialized():
        return False
    address = options.get("address")
    kwargs = dict(options.get("init") or {})
    if options.get("num_cpus") is not None:
        if address != "local":
            raise RayLauncherError(
                f"hydra.launcher.num_cpus={options['num_cpus']} sizes a new one-machine Ray only "
                f"(hydra.launcher.address=local), not the cluster at address={address!r}: a cluster has the "
                "CPUs its nodes were started with (ray start --num-cpus=N)"
            )
        kwargs["num_cpus"] = options["num_cpus"]
    _probe(address)
    try:
        ray.init(address=address, **kwargs)
    except ConnectionError as exc:
        raise RayLauncherError(
            f"no Ray cluster for hydra.launcher.address={address!r} ({exc}). Start one with `ray start --head` "
            "(and `ray start --address=HEAD_IP:6379` on each other machine), or set RAY_ADDRESS, "
            "or run a one-machine Ray for this sweep with hydra/launcher=ray_local"
        ) from None
    return True


def _probe(address: Optional[str], timeout: float = PROBE_TIMEOUT) -> None:
    """Refuse a ``HOST:PORT`` that nothing answers on: ``ray.init`` would retry it for minutes."""
    if not address or ":" not in address:
        return  # auto, local, or None: Ray resolves them itself, quickly
    host, _, port = address.split("://", 1)[-1].rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            pass
    except (OSError, ValueError) as exc:
        raise RayLauncherError(
            f"no Ray cluster answers at hydra.launcher.address={address!r} ({exc}). Start one there with "
            "`ray start --head`, or give the head's address as HOST:PORT (port 6379 unless --port said otherwise), "
            "or run a one-machine Ray for this sweep with hydra/launcher=ray_local"
        ) from None


def start(options: Dict[str, Any]) -> bool:
    """:func:`connect`, with bad input ending the process with one message (Hydra has written nothing yet)."""
    try:
        return connect(options)
    except RayLauncherError as exc:
        raise SystemExit(f"hydra/launcher=ray: {exc}\n(nothing was run or written)") from None


def _failed(overrides: Sequence[str], sweep_config: DictConfig, error: BaseException) -> JobReturn:
    """The JobReturn of a job whose Ray task itself failed (its node or worker died, it was cancelled)."""
    ret = JobReturn(overrides=list(overrides), status=JobStatus.FAILED)
    ret.hydra_cfg = OmegaConf.create({"hydra": OmegaConf.to_container(sweep_config.hydra)})
    ret.return_value = RuntimeError(
        f"job #{sweep_config.hydra.job.num} ({' '.join(overrides)}) did not finish on Ray: {error}"
    )
    return ret


def launch(launcher: Any, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
    """Run every job of the batch on Ray and return their JobReturns in order."""
    import ray

    setup_globals()
    config, hydra_context = launcher.config, launcher.hydra_context
    assert config is not None and hydra_context is not None and launcher.task_function is not None
    configure_log(config.hydra.hydra_logging, config.hydra.verbose)
    options = dict(launcher.options)
    started = start(options) or launcher.started  # setup() has connected unless ray.shutdown() came since
    launcher.started = False
    refs: List[Any] = []
    # Absolute, so that a worker started elsewhere (another cwd, machine) writes where this process reads.
    sweep_dir = Path(str(config.hydra.sweep.dir)).absolute()
    marker = sweep_dir / f".ray-launcher-{uuid.uuid4().hex}"
    try:
        sweep_dir.mkdir(parents=True, exist_ok=True)
        marker.touch()
        remote = ray.remote(**(options.get("remote") or {}))(_run_job)
        log.info(f"Ray launcher: {len(job_overrides)} jobs on {_cluster_summary()}, sweep output dir: {sweep_dir}")
        singleton_state = Singleton.get_state()
        configs = []
        for offset, overrides in enumerate(job_overrides):
            idx = initial_job_idx + offset
            log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
            sweep_config = hydra_context.config_loader.load_sweep_config(config, list(overrides))
            with open_dict(sweep_config):
                sweep_config.hydra.job.id = f"{sweep_config.hydra.job.name}_{idx}"
                sweep_config.hydra.job.num = idx
                sweep_config.hydra.sweep.dir = str(sweep_dir)
            configs.append(sweep_config)
            refs.append(
                remote.remote(
                    hydra_context,
                    sweep_config,
                    launcher.task_function,
                    singleton_state,
                    str(marker),
                    options.get("outputs", "auto"),
                )
            )
        returns = []
        for ref, overrides, sweep_config in zip(refs, job_overrides, configs):
            idx = sweep_config.hydra.job.num
            try:
                ret, archive, node = ray.get(ref)
            except ray.exceptions.RayError as exc:
                log.error(f"\t#{idx} failed on Ray: {exc}")
                returns.append(_failed(overrides, sweep_config, exc))
                continue
            if archive is not None:
                unpack(archive, Path(ret.hydra_cfg.hydra.runtime.output_dir))
            log.info(f"\t#{idx} {ret.status.name.lower()} on Ray node {node}"
                     + (f", its directory copied back ({len(archive)} bytes)" if archive is not None else ""))
            returns.append(ret)
        refs = []
        return returns
    finally:
        for ref in refs:  # interrupted: the cluster must not go on with this sweep's jobs
            ray.cancel(ref)
        marker.unlink(missing_ok=True)
        if started:
            ray.shutdown()


def _cluster_summary() -> str:
    """``N Ray nodes, C CPUs`` of the connected cluster, for the log."""
    import ray

    nodes = [node for node in ray.nodes() if node.get("Alive")]
    return f"{len(nodes)} Ray node(s), {ray.cluster_resources().get('CPU', 0):g} CPUs"
