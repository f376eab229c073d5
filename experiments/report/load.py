"""Find every run under some folders and merge them, by kind, into one :class:`Sweep`.

A folder may mix placement runs (``python -m experiments.run``), online runs
(which also hold ``timeline.parquet``) and study runs
(``experiment=fidelity``, ``experiment=isolation``, ``experiment=saturation``), whose results have other
columns and no ``substrate.json``.  Runs are told apart by their key columns
(:data:`KINDS`); runs of one kind are merged on the union of their columns
(a column a run lacks is empty there).  Whatever cannot be merged stops the
report with one :class:`ReportError` line naming the run and the fix, before
anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..results import RESULTS_FILE, TIMELINE_FILE, load_instance, ordered_columns, parquet_safe
from ..verify import find_runs
from .tables import parameters

__all__ = ["ReportError", "KINDS", "Sweep", "load", "merge"]


class ReportError(Exception):
    """Input the report cannot use; the message is one line: what is wrong and how to fix it."""


KINDS = {
    "placement": ("run_id", "algorithm", "chain_id", "repetition"),
    "fidelity": ("substrate", "chain_id", "model_rtt_ms", "measured_p50_ms"),
    "isolation": ("mode", "request", "answer"),
    "saturation": ("placement", "step", "chain_id", "offered_rps", "achieved_rps"),
}
"""Run kind -> the columns its results must have; the first kind whose columns are all present wins."""

ROW_KEYS = {
    "placement": ("run_id", "algorithm", "chain_id", "repetition"),
    "fidelity": ("run_id", "substrate", "chain_id"),
    "isolation": ("run_id", "mode", "request"),
    "saturation": ("run_id", "placement", "step", "chain_id"),
}
"""Run kind -> the columns that identify one row among all runs of that kind (study runs get their folder
name as ``run_id``)."""


def kind_of(columns) -> str | None:
    """The kind of a run from its result columns (None: no known kind).

    Examples
    --------
    >>> kind_of(["run_id", "algorithm", "chain_id", "repetition", "status"])
    'placement'
    >>> kind_of(["substrate", "chain_id", "model_rtt_ms", "measured_p50_ms"]), kind_of(["x"])
    ('fidelity', None)
    """
    columns = set(columns)
    return next((kind for kind, keys in KINDS.items() if set(keys) <= columns), None)


def _read_parquet(path: Path, what: str) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except Exception as e:  # pyarrow raises several types for a damaged file
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ReportError(
            f"{path}: {what} is corrupt ({reason}); rerun that job with redo=true or remove {path.parent}"
        ) from None


@dataclass
class Sweep:
    """Every run found under some folders, merged by kind.

    ``results``: the placement rows of all runs (result columns of
    :mod:`experiments.results`; ``run_dir`` is where the run is now).
    ``timeline``: the online runs' points over time (``timeline.parquet``)
    with their run's labels (algorithm, seed, parameters) joined on.
    ``studies``: study kind -> its rows (``run_id`` is the run's folder name).
    ``runs``: one row per run directory (``run_dir``, ``kind``, ``run_id``, ``rows``).
    """

    results: pd.DataFrame
    timeline: pd.DataFrame
    studies: dict[str, pd.DataFrame] = field(default_factory=dict)
    runs: pd.DataFrame = field(default_factory=pd.DataFrame)
    paths: list[Path] = field(default_factory=list)

    _instances: dict = field(default_factory=dict, init=False, repr=False)

    def instance(self, run_id):
        """``(substrate, chains)`` of a placement run, read from its directory (once)."""
        if run_id not in self._instances:
            run_dir = Path(self.runs.set_index("run_id").at[run_id, "run_dir"])
            try:
                self._instances[run_id] = load_instance(run_dir)
            except (OSError, ValueError, KeyError, TypeError) as e:
                raise ReportError(
                    f"{run_dir}: substrate.json or chains.json is missing or corrupt ({e}); rerun that job with redo=true"
                ) from None
        return self._instances[run_id]


def _merge_kind(kind: str, frames: list[tuple[Path, pd.DataFrame]]) -> pd.DataFrame:
    """Rows of all runs of one kind on the union of their columns; duplicate runs refused."""
    keys = list(ROW_KEYS[kind])
    merged = pd.concat([df for _, df in frames], ignore_index=True)
    dup = merged.duplicated(keys, keep=False)
    if dup.any():
        run_ids = set(merged.loc[dup, "run_id"])
        dirs = sorted({str(path) for path, df in frames if set(df["run_id"]) & run_ids})
        raise ReportError(
            f"the same {kind} run is found twice ({', '.join(dirs)}): it was copied; point the report at one copy"
        )
    return parquet_safe(merged[ordered_columns(merged.columns)])


def _timeline(run_dir: Path, results: pd.DataFrame) -> pd.DataFrame:
    """A run's ``timeline.parquet``, keyed by its run (files without ``run_id`` get the run's own)."""
    points = _read_parquet(run_dir / TIMELINE_FILE, "the timeline file")
    if "run_id" not in points and results["run_id"].nunique() == 1:
        points = points.assign(run_id=results["run_id"].iloc[0])
    missing = [c for c in ("run_id", "repetition", "time") if c not in points]
    if missing:
        raise ReportError(f"{run_dir / TIMELINE_FILE}: no {', '.join(missing)} column; rerun that job with redo=true "
                          f"or remove {TIMELINE_FILE} to report the run without its timeline")
    return points


def _labelled_timeline(timelines: list[pd.DataFrame], results: pd.DataFrame) -> pd.DataFrame:
    """Timeline points with the run-level columns of their run (algorithm, seed, parameters) joined on."""
    if not timelines:
        return pd.DataFrame()
    points = pd.concat(timelines, ignore_index=True)
    labels = results.drop_duplicates("run_id")[["run_id", "run_dir", *parameters(results)]]
    return points.merge(labels.drop(columns=[c for c in labels if c in points and c != "run_id"]), on="run_id")


def load(paths) -> Sweep:
    """Every run at or under ``paths`` (run or sweep directories), merged by kind.

    Raises :class:`ReportError` (one line) when a path does not exist, no run
    is found, a results or timeline file is corrupt (naming it), a run's
    results are of no known kind, or one run is found twice.
    """
    paths = [Path(p) for p in paths]
    try:
        run_dirs = find_runs(paths)
    except FileNotFoundError as e:
        raise ReportError(f"{e}: pass run or sweep directories written by python -m experiments.run") from None
    if not run_dirs:
        raise ReportError(
            f"no {RESULTS_FILE} under {', '.join(map(str, paths))}: pass run or sweep directories "
            "written by python -m experiments.run (a run is finished once it has written results.parquet)"
        )
    by_kind: dict[str, list] = {}
    timelines, runs = [], []
    for run_dir in run_dirs:
        df = _read_parquet(run_dir / RESULTS_FILE, "the results file")
        kind = kind_of(df.columns)
        if kind is None:
            known = "; ".join(f"{k}: {', '.join(v)}" for k, v in KINDS.items())
            raise ReportError(
                f"{run_dir / RESULTS_FILE}: results of an unknown kind (columns {', '.join(map(str, df.columns[:8]))}"
                f"{', ...' if len(df.columns) > 8 else ''}); the report reads runs with the columns of one of "
                f"{known}; move that run out of the folder"
            )
        where = str(run_dir.resolve())
        if kind != "placement":
            df = df.assign(run_id=run_dir.name)
        df = df.assign(run_dir=where)
        by_kind.setdefault(kind, []).append((run_dir, df))
        if kind == "placement" and (run_dir / TIMELINE_FILE).is_file():
            timelines.append(_timeline(run_dir, df))
        for run_id in df["run_id"].unique() if len(df) else [run_dir.name]:
            runs.append({"run_id": run_id, "kind": kind, "run_dir": where, "rows": int((df["run_id"] == run_id).sum())})
    merged = {kind: _merge_kind(kind, frames) for kind, frames in by_kind.items()}
    results = merged.pop("placement", pd.DataFrame(columns=list(KINDS["placement"]) + ["status", "mode"]))
    return Sweep(
        results=results,
        timeline=_labelled_timeline(timelines, results),
        studies=merged,
        runs=pd.DataFrame(runs),
        paths=paths,
    )


def merge(paths) -> pd.DataFrame:
    """The placement rows of every run under ``paths`` in one dataframe (:attr:`Sweep.results`)."""
    return load(paths).results

