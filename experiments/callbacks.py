"""Hydra callbacks of ``experiments.run`` (listed under ``hydra.callbacks`` in ``conf/config.yaml``).

* :class:`CheckConfig` checks the configuration's values before Hydra makes
  the run (or sweep) directory, so that a bad override writes nothing.
* :class:`SweepProgress` shows one progress bar over the jobs of a sweep,
  whatever the launcher: it counts the ``results.parquet`` files appearing
  in the sweep directory, which works equally for in-process, joblib,
  submitit or Ray jobs.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException
from tqdm.auto import tqdm

from .results import RESULTS_FILE
from .schema import ConfigError, build_instance, check_config

__all__ = ["CheckConfig", "SweepProgress", "sweep_size"]


class CheckConfig(Callback):
    """Check the configuration and build its instance once, before a run or a sweep starts.

    Runs :func:`experiments.schema.check_config` then
    :func:`experiments.schema.build_instance` (a dry build: topologies and
    workloads take milliseconds), so that bad values, including those only
    the builders can judge, fail before Hydra creates ``hydra.run.dir``.  For
    a sweep the configuration without the swept values is checked before the
    sweep directory exists; each job is checked again by ``run_experiment``.

    Hydra turns an exception raised by a callback into a mere warning and
    goes on, so a bad configuration ends the process here instead: its
    message on stderr, exit status 1 (:class:`SystemExit`, which Hydra does
    not catch).
    """

    def on_run_start(self, config: DictConfig, **kwargs) -> None:
        self._check(config)

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        self._check(config, sweep=True)

    @staticmethod
    def _check(config: DictConfig, sweep=False) -> None:
        try:
            check_config(config)
            build_instance(config)
            for variant in _single_value_variants(config) if sweep else ():
                check_config(variant)
        except ConfigError as e:
            raise SystemExit(f"{e}\n(nothing was run or written)") from None


def _sweep_overrides(config: DictConfig) -> list:
    """The sweep overrides of a multirun: ``hydra.sweeper.params`` then the command line (which wins)."""
    params = config.hydra.sweeper.get("params") or {}
    arguments = [f"{k}={v}" for k, v in params.items()] + list(config.hydra.overrides.task)
    last = {o.get_key_element(): o for o in OverridesParser.create().parse_overrides(arguments)}
    return [o for o in last.values() if o.is_sweep_override()]


def _single_value_variants(config: DictConfig):
    """``config`` with each swept value of each plain (non-group) key set in turn.

    Checking these before the sweep starts catches ``testbed.requests=5,-3``
    at once; config-group sweeps are composed and checked by the sweeper.
    """
    groups = set(config.hydra.runtime.choices)
    for override in _sweep_overrides(config):
        key = override.key_or_group
        if key in groups or override.value_type.name.startswith("GLOB"):
            continue
        for value in override.sweep_iterator():
            variant = config.copy()
            try:
                OmegaConf.update(variant, key, value, merge=True, force_add=override.is_add())
            except OmegaConfBaseException as e:
                raise ConfigError([f"{key}={value!r}: {str(e).splitlines()[0]}"]) from None
            yield variant


def sweep_size(config: DictConfig) -> int | None:
    """Number of jobs the basic sweeper makes from ``hydra.sweeper.params`` and the command line.

    The product of the lengths of the sweep overrides (a command-line
    override replaces a configured parameter of the same key); None when it
    cannot be told without the config repository (``glob(...)`` sweeps).

    Examples
    --------
    >>> from omegaconf import OmegaConf
    >>> cfg = OmegaConf.create({"hydra": {"sweeper": {"params": {"algo": "greedy,milp", "seed": "0,1"}},
    ...                                   "overrides": {"task": ["seed=range(0,3)", "mode=batch"]}}})
    >>> sweep_size(cfg)
    6
    """
    try:
        return math.prod(len(list(o.sweep_string_iterator())) for o in _sweep_overrides(config))
    except Exception:  # glob sweeps need the config loader; a bar without total is fine
        return None


def _finished(sweep_dir: Path) -> int:
    return sum(1 for _ in sweep_dir.rglob(RESULTS_FILE))


class SweepProgress(Callback):
    """A tqdm bar over a sweep's jobs, updated every ``interval`` seconds from the sweep directory.

    Shown on a terminal only (tqdm's automatic mode) and when the
    configuration's ``progress`` is true.  Jobs skipped because their results
    exist count as done from the start.
    """

    def __init__(self, interval: float = 1.0):
        self.interval = interval
        self._bar = self._stop = self._thread = None

    def __getstate__(self):
        # Launchers pickle the callbacks to their workers: the bar stays here.
        return {"interval": self.interval}

    def __setstate__(self, state):
        self.__init__(**state)

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        if not config.get("progress", True):
            return
        sweep_dir = Path(config.hydra.sweep.dir)
        self._bar = tqdm(total=sweep_size(config), desc="sweep", unit="job", disable=None)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, args=(sweep_dir,), daemon=True)
        self._thread.start()

    def _poll(self, sweep_dir: Path) -> None:
        while not self._stop.wait(self.interval):
            self._update(sweep_dir)

    def _update(self, sweep_dir: Path) -> None:
        if sweep_dir.is_dir():
            self._bar.n = _finished(sweep_dir)
            self._bar.refresh()

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        if self._bar is None:
            return
        self._stop.set()
        self._thread.join()
        self._update(Path(config.hydra.sweep.dir))
        self._bar.close()
