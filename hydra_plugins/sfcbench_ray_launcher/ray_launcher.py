"""The launcher object Hydra instantiates for ``hydra/launcher=ray``; Ray is imported only by a sweep that uses it."""

from __future__ import annotations

from typing import Any, Optional, Sequence

from hydra.core.utils import JobReturn
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


class RayLauncher(Launcher):
    """Runs each job of a sweep as one Ray task (see :class:`.config.RayLauncherConf` for the options)."""

    def __init__(self, **options: Any) -> None:
        self.options = options
        self.config: Optional[DictConfig] = None
        self.task_function: Optional[TaskFunction] = None
        self.hydra_context: Optional[HydraContext] = None
        self.started = False  # whether this launcher connected (or started) Ray, and so must shut it down

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config = config
        self.task_function = task_function
        self.hydra_context = hydra_context
        from . import _core  # connect now, before the sweeper writes anything: no cluster, no sweep directory

        self.started = _core.start(self.options)

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        from . import _core  # Hydra imports every plugin module on each run: keep Ray out of that

        return _core.launch(self, job_overrides, initial_job_idx)
