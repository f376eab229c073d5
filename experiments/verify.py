"""Re-check every placement of saved runs from their files alone.

``python -m experiments.verify PATH...`` finds every run under the given run
or sweep directories (each ``results.parquet``), reloads its
``substrate.json`` and ``chains.json`` and replays each repetition in time
order: every placed chain's embedding must pass the placement validator
(:func:`placement.base.validate_placement`) on what the substrate has left
at its arrival, and its recorded model latency must match the recomputed
one.  Chains of an online run give their resources back at ``departure``;
in the other modes they never leave, so the replay is the joint check of
all placed chains.  Exit status 1 if any problem is found.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from placement.base import TOLERANCE, validate_placement
from placement.metrics import chain_latency
from placement.model import Placement
from placement.online import replay
from placement.residual import release_embedding, reserve_embedding
from placement.substrate import residual_copy

from .results import RESULTS_FILE, STATUSES, embedding_from_row, load_instance, load_results

__all__ = ["verify_rows", "verify_frame", "verify_run", "find_runs", "main"]

def _row_problems(substrate, chain, row, embedding) -> list[str]:
    """Problems of a placed row that the validator does not see: the recorded latency."""
    latency = chain_latency(substrate, chain, embedding)
    if not math.isclose(latency, row["model_latency_ms"], rel_tol=1e-9, abs_tol=TOLERANCE):
        return [f"chain {chain.id!r}: recorded model latency {row['model_latency_ms']:g} ms, recomputed {latency:g} ms"]
    return []


def verify_rows(substrate, chains, rows) -> list[str]:
    """Problems of one repetition's result rows (dicts), replayed in time on ``substrate``."""
    by_id = {c.id: c for c in chains}
    problems = [f"unknown chain {r['chain_id']!r}" for r in rows if r["chain_id"] not in by_id]
    problems += [f"chain {r['chain_id']!r}: unknown status {r['status']!r}" for r in rows if r["status"] not in STATUSES]
    placed = [r for r in rows if r["status"] == "placed" and r["chain_id"] in by_id]
    residual = residual_copy(substrate)
    embeddings = [embedding_from_row(r) for r in placed]

    def arrive(_, i):
        chain, embedding = by_id[placed[i]["chain_id"]], embeddings[i]
        problems.extend(validate_placement(residual, [chain], Placement({chain.id: embedding})))
        problems.extend(_row_problems(substrate, chain, placed[i], embedding))
        reserve_embedding(residual, chain, embedding)
        return float(placed[i]["departure"])

    def depart(_, i):
        release_embedding(residual, by_id[placed[i]["chain_id"]], embeddings[i])

    replay(((float(r["arrival"]), i) for i, r in enumerate(placed)), arrive, depart)
    return problems


def verify_frame(substrate, chains, df) -> list[str]:
    """Problems of a run's results (all repetitions), each prefixed by its repetition."""
    problems = []
    for rep, group in df.groupby("repetition", sort=True):
        problems += [f"repetition {rep}: {p}" for p in verify_rows(substrate, chains, group.to_dict("records"))]
    return problems


def verify_run(run_dir) -> list[str]:
    """Problems of the run saved in ``run_dir`` (empty: every placement checks out)."""
    substrate, chains = load_instance(run_dir)
    return verify_frame(substrate, chains, load_results(run_dir))


def find_runs(paths) -> list[Path]:
    """Every run directory (holding ``results.parquet``) at or under ``paths``, sorted."""
    runs = set()
    for path in map(Path, paths):
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such file or directory")
        runs.update(p.parent for p in path.rglob(RESULTS_FILE))
    return sorted(runs)


def main(argv=None) -> int:
    """Command line: verify the runs under each PATH; print one line per run."""
    parser = argparse.ArgumentParser(prog="python -m experiments.verify", description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", metavar="PATH", help="run or sweep directories")
    args = parser.parse_args(argv)
    runs = find_runs(args.paths)
    if not runs:
        print(f"no {RESULTS_FILE} under {' '.join(args.paths)}", file=sys.stderr)
        return 1
    failed = 0
    for run in runs:
        problems = verify_run(run)
        failed += bool(problems)
        print(f"{'FAIL' if problems else 'ok  '} {run}")
        for problem in problems:
            print(f"     {problem}")
    print(f"{len(runs) - failed} of {len(runs)} run(s) verified")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
