"""The ``hydra/launcher=ray`` option (its schema and defaults), registered in Hydra's ConfigStore."""

from dataclasses import dataclass, field
from typing import Any, Dict, Optional

from hydra.core.config_store import ConfigStore


@dataclass
class RayLauncherConf:
    """Where a sweep's jobs run and what each one reserves.

    ``address``: ``auto`` is the cluster that ``RAY_ADDRESS`` or the last
    ``ray start`` on this machine points to (refused clearly if there is
    none); ``HOST:PORT`` is a given cluster; ``local`` starts a one-machine
    Ray for this sweep only, with ``num_cpus`` CPUs (all if null).
    ``outputs``: how each job's directory reaches this machine: ``auto``
    copies it back only when the job ran where this machine's sweep directory
    is not visible (no shared file system), ``always`` copies it back anyway.
    """

    _target_: str = "hydra_plugins.sfcbench_ray_launcher.ray_launcher.RayLauncher"
    address: Optional[str] = "auto"
    num_cpus: Optional[int] = None
    init: Dict[str, Any] = field(default_factory=dict)  # more ray.init arguments (runtime_env, namespace, ...)
    remote: Dict[str, Any] = field(default_factory=lambda: {"num_cpus": 1})  # ray.remote options of each job
    outputs: str = "auto"


ConfigStore.instance().store(group="hydra/launcher", name="ray", node=RayLauncherConf, provider="sfcbench")
