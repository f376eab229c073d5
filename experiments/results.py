"""The files of a run directory: what they hold, how they are written, how they are read back.

A finished run directory holds

* ``substrate.json``: the substrate in networkx node-link format
  (:func:`placement.substrate.substrate_to_json`);
* ``chains.json``: the chains (:func:`placement.workload.chains_to_json`);
* ``results.csv`` and ``results.parquet``: the tidy results, one row per
  (run, algorithm, chain, repetition), columns in :data:`COLUMNS`;
* ``timeline.parquet`` (online runs only): one row per (repetition,
  arrival) and one per repetition at its last event (``event`` "end"), the
  points of :attr:`placement.online.OnlineResult.timeline` with the running
  VNE metrics (long-term average revenue, revenue/cost, time per request).

Every file is written atomically (a temporary file in the same directory,
then :func:`os.replace`), and ``results.parquet`` is written last: its
presence means the run finished, which is what a rerun checks to skip it.
Together the files let anyone re-check every placement without rerunning
anything (:mod:`experiments.verify`).
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
import math
import platform
import subprocess
from pathlib import Path

import pandas as pd

from placement.fileio import atomic_write
from placement.model import Embedding
from placement.substrate import substrate_from_json, substrate_to_json
from placement.workload import chains_from_json, chains_to_json

__all__ = [
    "RESULTS_FILE",
    "CSV_FILE",
    "SUBSTRATE_FILE",
    "CHAINS_FILE",
    "TIMELINE_FILE",
    "COLUMNS",
    "MEASURED_COLUMNS",
    "STATUSES",
    "atomic_write",
    "save_figure",
    "write_json",
    "save_instance",
    "load_instance",
    "save_results",
    "load_results",
    "results_exist",
    "environment",
    "flat_params",
    "ordered_columns",
    "parquet_safe",
    "embedding_from_row",
    "mapping_json",
]

RESULTS_FILE = "results.parquet"
CSV_FILE = "results.csv"
SUBSTRATE_FILE = "substrate.json"
CHAINS_FILE = "chains.json"
TIMELINE_FILE = "timeline.parquet"

MEASURED_COLUMNS = {
    "requests": "measured_requests",
    "warmup": "measured_warmup",  # requests sent first to open the connections (counted by VNFs, not timed)
    "errors": "measured_errors",
    "p50_ms": "measured_p50_ms",
    "p95_ms": "measured_p95_ms",
    "p99_ms": "measured_p99_ms",
    "trace_ok": "trace_ok",
}
"""Testbed ``measure()`` keys and the result columns they become (NaN when not deployed)."""

COLUMNS = [
    # the run
    "run_id", "run_dir", "config_hash", "algorithm",  # + p_algo_<parameter> columns
    "topology", "n_nodes", "n_servers", "n_edges",  # + t_<parameter> columns
    "workload", "n_chains",  # + w_<parameter> columns
    "mode", "seed", "repetition", "algo_seed",
    # the chain and its placement
    "chain_id", "status", "reason", "detail", "vnfs", "ingress", "egress", "bw", "max_latency",
    "arrival", "departure", "mapping", "paths", "hops", "cost", "demand", "revenue",
    "model_latency_ms", "model_rtt_ms", "solve_time_ms", "rep_solve_time_ms",
    # the testbed (NaN/None when not deployed)
    *MEASURED_COLUMNS.values(), "testbed_model_rtt_ms", "latency_model", "vnf_counters", "delay_mechanism",
    "host_kind", "testbed_run_id",
    # the environment
    "python", "sfcbench_version", "networkx_version", "highspy_version", "pandas_version",
    "numpy_version", "git_commit", "git_dirty", "kernel", "hostname", "created",
]
"""Fixed result columns in order; parameter columns (``p_algo_*``, ``t_*``, ``w_*``) follow their group."""

_PARAM_GROUPS = {"algorithm": "p_algo_", "n_edges": "t_", "n_chains": "w_"}
"""Parameter-column prefixes and the fixed column they follow."""


def ordered_columns(names) -> list[str]:
    """``names`` in result order: :data:`COLUMNS`, parameter columns after their group, the rest last.

    Examples
    --------
    >>> ordered_columns(["chain_id", "w_n", "zzz", "algorithm", "p_algo_b", "p_algo_a", "run_id"])
    ['run_id', 'algorithm', 'p_algo_a', 'p_algo_b', 'w_n', 'chain_id', 'zzz']
    """
    names = list(names)
    out = []
    for column in COLUMNS:
        if column in names:
            out.append(column)
        if column in _PARAM_GROUPS:
            out += sorted(n for n in names if n.startswith(_PARAM_GROUPS[column]))
    return out + sorted(set(names) - set(out))


STATUSES = ("placed", "rejected", "skipped", "error")
"""``skipped``: the algorithm declined the instance (``skip()``, e.g. MILP too large)."""


FIGURE_FORMATS = ("png", "svg")


def save_figure(fig, stem) -> list[Path]:
    """Write a matplotlib figure as ``stem.png`` and ``stem.svg`` (atomically), then close it."""
    import matplotlib.pyplot as plt

    paths = []
    for fmt in FIGURE_FORMATS:
        path = Path(stem).with_suffix(f".{fmt}")
        atomic_write(path, lambda tmp: fig.savefig(tmp, format=fmt, dpi=120))
        paths.append(path)
    plt.close(fig)
    return paths


def write_json(path, data) -> None:
    """``data`` as indented JSON at ``path``, atomically."""
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(data, indent=1) + "\n"))


def save_instance(run_dir, substrate, chains) -> None:
    """Write ``substrate.json`` and ``chains.json`` into ``run_dir``."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(run_dir / SUBSTRATE_FILE, substrate_to_json(substrate))
    write_json(run_dir / CHAINS_FILE, chains_to_json(chains))


def load_instance(run_dir):
    """The ``(substrate, chains)`` saved by :func:`save_instance`, validated."""
    run_dir = Path(run_dir)
    substrate = substrate_from_json(json.loads((run_dir / SUBSTRATE_FILE).read_text()))
    chains = chains_from_json(json.loads((run_dir / CHAINS_FILE).read_text()))
    return substrate, chains


def parquet_safe(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with every object column that mixes value types turned into strings.

    Parameter columns can hold an int in one run and a ``[lo, hi]`` range (as
    JSON text) in another; Parquet needs one type per column.
    """
    out = df.copy()
    for name in out.columns[out.dtypes == object]:
        kinds = {type(v) for v in out[name] if v is not None and not (isinstance(v, float) and math.isnan(v))}
        if len(kinds) > 1:
            out[name] = out[name].map(lambda v: v if v is None or isinstance(v, str) else str(v))
    return out


def save_results(run_dir, df: pd.DataFrame, timeline: pd.DataFrame | None = None) -> None:
    """Write ``results.csv``, ``timeline.parquet`` if given, then ``results.parquet`` (the completion mark)."""
    run_dir = Path(run_dir)
    df = parquet_safe(df)
    atomic_write(run_dir / CSV_FILE, lambda tmp: df.to_csv(tmp, index=False))
    if timeline is not None:
        atomic_write(run_dir / TIMELINE_FILE, lambda tmp: timeline.to_parquet(tmp, index=False))
    atomic_write(run_dir / RESULTS_FILE, lambda tmp: df.to_parquet(tmp, index=False))


def results_exist(run_dir) -> bool:
    """Whether ``run_dir`` holds a finished run."""
    return (Path(run_dir) / RESULTS_FILE).is_file()


def load_results(run_dir) -> pd.DataFrame:
    """The results of the run in ``run_dir``."""
    return pd.read_parquet(Path(run_dir) / RESULTS_FILE)


def mapping_json(chain, servers) -> str:
    """The ``mapping`` column: JSON ``{"<position>:<vnf type>": server}`` in chain order.

    Examples
    --------
    >>> from placement.model import VNF, Chain
    >>> mapping_json(Chain("c", (VNF("nat"), VNF("ids")), "a", "b"), ["srv1", "srv2"])
    '{"0:nat": "srv1", "1:ids": "srv2"}'
    """
    return json.dumps({f"{i}:{vnf.type}": server for i, (vnf, server) in enumerate(zip(chain.vnfs, servers))})


def embedding_from_row(row) -> Embedding:
    """The :class:`~placement.model.Embedding` a placed result row describes (mapping + paths)."""
    servers = list(json.loads(row["mapping"]).values())
    return Embedding(row["chain_id"], servers, json.loads(row["paths"]))


def _scalar(value):
    """A parameter value as one cell: scalars as they are, containers as JSON."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return json.dumps(value, default=str)


def flat_params(prefix: str, params: dict, skip=()) -> dict:
    """``{prefix + name: value}`` for each parameter, containers as JSON text.

    Examples
    --------
    >>> flat_params("w_", {"n": 3, "length": [2, 3], "seed": 0}, skip={"seed"})
    {'w_n': 3, 'w_length': '[2, 3]'}
    """
    return {f"{prefix}{k}": _scalar(v) for k, v in params.items() if k not in skip}


def _version(dist: str):
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _git(*args):
    repo = Path(__file__).resolve().parents[1]
    try:
        out = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


@functools.cache
def environment() -> dict:
    """Where and with what the run ran: Python, package versions, git commit, kernel.

    Cached: it does not change within a process.
    """
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "python": platform.python_version(),
        "sfcbench_version": _version("sfcbench"),
        "networkx_version": _version("networkx"),
        "highspy_version": _version("highspy"),
        "pandas_version": _version("pandas"),
        "numpy_version": _version("numpy"),
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": None if status is None else bool(status),
        "kernel": platform.release(),
        "hostname": platform.node(),
    }
