"""Benchmark the placement algorithms: online acceptance, revenue, speed; MILP optimality.

Run ``.venv/bin/python benchmarks/placement.py [--quick]``.  Prints

1. an online table per substrate (a ~50-node Topology Zoo graph and a k=8
   fat tree) with 1000 chains arriving as a Poisson process: acceptance
   ratio, accepted revenue, revenue as a share of the online MILP's on the
   chains the MILP ran (a prefix when it is too slow for all of them; a
   prefix of an online run is exactly that run truncated, so the comparison
   is fair), and median ms per chain, each over several seeds;
2. the time and status of the MILP proving the optimum of 12-node /
   20-chain batch instances (single thread);
3. on small batch instances, each heuristic's cost against the optimum, and
   on a small online run its accepted revenue against the MILP's.

Not a test: numbers depend on the machine.  ``--quick`` shrinks everything.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import highspy  # noqa: E402
import networkx as nx  # noqa: E402
import numpy as np  # noqa: E402

from placement.base import available_algorithms, get_algorithm  # noqa: E402
from placement.errors import Infeasible  # noqa: E402
from placement.metrics import cost  # noqa: E402
from placement.online import simulate  # noqa: E402
from placement.topologies import fat_tree, waxman, zoo  # noqa: E402
from placement.workload import generate_chains  # noqa: E402

_ORDER = ["random", "first_fit", "greedy", "genetic", "milp"]
ALGORITHMS = sorted(available_algorithms(), key=lambda a: (_ORDER.index(a) if a in _ORDER else len(_ORDER), a))
HEURISTICS = [a for a in ALGORITHMS if a != "milp"]


def _topologies(quick):
    """(label, substrate, workload options, chains the online MILP runs)."""
    return [
        (
            "zoo:Bellcanada",
            zoo("Bellcanada", servers=24, seed=0),
            dict(bw=(10.0, 100.0), max_latency=(20.0, 60.0), arrival_rate=1.0, mean_lifetime=100.0),
            None,  # all chains
        ),
        (
            "fat_tree(8)",
            fat_tree(8),
            dict(bw=(20.0, 200.0), max_latency=(6.0, 15.0), arrival_rate=1.0, mean_lifetime=300.0),
            100 if quick else 500,
        ),
    ]


def _header():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    print(f"sfcbench placement benchmark, {datetime.datetime.now().isoformat(timespec='seconds')}")
    print(f"machine: {platform.platform()}, {cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"networkx {nx.__version__}, numpy {np.__version__}, HiGHS (highspy) {highspy.Highs().version()}")
    print()


def _prefix_revenue(result, n):
    """Accepted revenue among the first ``n`` arrivals of an online run."""
    return sum(r["revenue"] for r in result.rows[:n])


def online_table(label, G, options, milp_chains, n_chains, seeds):
    """Run every algorithm online on ``G`` for each seed; print one row per algorithm."""
    n_milp = n_chains if milp_chains is None else min(milp_chains, n_chains)
    print(
        f"== online: {label} ({G.number_of_nodes()} nodes, {G.number_of_edges()} links, "
        f"{sum(k == 'server' for _, k in G.nodes(data='kind'))} servers), {n_chains} chains x {len(seeds)} seeds; "
        f"workload {options}"
    )
    if n_milp < n_chains:
        print(f"   (the online MILP runs on the first {n_milp} arrivals only: too slow for all {n_chains}; "
              f"'vs MILP' compares every algorithm on those {n_milp})")
    runs = {}
    for seed in seeds:
        chains = generate_chains(G, n_chains, seed=seed, **options)
        for name in ALGORITHMS:
            subset = chains[:n_milp] if name == "milp" else chains
            skip, why = get_algorithm(name).skip(G, subset[:1])
            if skip:
                print(f"   {name}: skipped ({why})")
                continue
            start = time.perf_counter()
            result = simulate(G, subset, get_algorithm(name, **({"time_limit": 10.0} if name == "milp" else {})), seed=seed)
            runs.setdefault(name, []).append((result, time.perf_counter() - start))
    milp = runs.get("milp")
    print(f"   {'algorithm':<10} {'chains':>6} {'accept':>7} {'revenue':>10} {'vs MILP':>8} {'ms/chain':>9} {'p95 ms':>7} {'run s':>6}")
    for name, results in runs.items():
        acc = statistics.mean(r.acceptance_ratio for r, _ in results)
        rev = statistics.mean(r.accepted_revenue for r, _ in results)
        share = "n/a"
        if milp:
            shares = [_prefix_revenue(r, n_milp) / max(m.accepted_revenue, 1e-9) for (r, _), (m, _) in zip(results, milp)]
            share = f"{100 * statistics.mean(shares):.1f}%"
        ms = statistics.median(statistics.median(r.solve_ms) for r, _ in results)
        p95 = statistics.median(float(np.percentile(r.solve_ms, 95)) for r, _ in results)
        secs = statistics.mean(s for _, s in results)
        chains = len(results[0][0].rows)
        print(f"   {name:<10} {chains:>6} {acc:>7.3f} {rev:>10.0f} {share:>8} {ms:>9.2f} {p95:>7.1f} {secs:>6.1f}")
    print()


def milp_batch(seeds):
    """The MILP proves the optimum of 12-node / 20-chain batches, single-threaded."""
    print("== MILP batch: waxman(12 nodes, 4 cores/server), 20 chains of 2-4 VNFs, threads=1, mip_rel_gap=0")
    for seed in seeds:
        G = waxman(12, seed=seed, cpu=4.0)
        chains = generate_chains(G, 20, bw=(10.0, 50.0), max_latency=(15.0, 40.0), seed=seed)
        try:
            p = get_algorithm("milp", threads=1, time_limit=60.0).place(G, chains)
            i = p.info
            verdict = "OK" if i["status"] == "Optimal" and p.solve_time <= 10.0 else "MISSED TARGET"
            print(
                f"   seed {seed}: {p.solve_time:6.2f} s  status={i['status']}  objective={i['objective']:.4f} "
                f"bound={i['bound']:.4f} gap={i['gap']:.1e}  vars={i['n_vars']} rows={i['n_constraints']} "
                f"nodes={i['nodes']}  [{verdict}: target <= 10 s]"
            )
        except Infeasible as e:
            print(f"   seed {seed}: infeasible ({e.reason})")
    print()


def small_batches(n_instances):
    """Heuristic cost vs the optimum on small batches (only where both place every chain)."""
    print(f"== small batches: {n_instances} instances, waxman(8-12 nodes, 2-4 cores), 4-10 chains; "
          "quality = optimal cost / heuristic cost (1 = optimal)")
    stats = {name: [] for name in HEURISTICS}
    solved = {name: 0 for name in HEURISTICS}
    milp_solved = 0
    rng = np.random.default_rng(2024)
    for k in range(n_instances):
        G = waxman(int(rng.integers(8, 13)), seed=k, cpu=float(rng.choice([2.0, 3.0, 4.0])), bw=300.0)
        chains = generate_chains(G, int(rng.integers(4, 11)), bw=(10.0, 60.0), max_latency=(12.0, 40.0), seed=k)
        try:
            best = cost(G, chains, get_algorithm("milp").place(G, chains))
            milp_solved += 1
        except Infeasible:
            best = None
        for name in HEURISTICS:
            try:
                c = cost(G, chains, get_algorithm(name).place(G, chains, seed=k))
            except Infeasible:
                continue
            solved[name] += 1
            if best is not None:
                stats[name].append(best / c if c > 0 else 1.0)
    print(f"   MILP placed all chains in {milp_solved}/{n_instances} instances")
    ranking = sorted(HEURISTICS, key=lambda n: -statistics.mean(stats[n]) if stats[n] else 0)
    for name in ranking:
        q = stats[name]
        if q:
            print(f"   {name:<10} placed all in {solved[name]:>2}/{n_instances}; quality mean {statistics.mean(q):.3f} "
                  f"min {min(q):.3f}{'  (best heuristic; target >= 0.90)' if name == ranking[0] else ''}")
    print()


def small_online(n_chains, seeds):
    """Accepted demand of each heuristic vs the online MILP on a small substrate."""
    print(f"== small online: waxman(12 nodes), {n_chains} chains x {len(seeds)} seeds; accepted revenue vs MILP")
    shares = {name: [] for name in HEURISTICS}
    for seed in seeds:
        G = waxman(12, seed=seed, cpu=4.0, bw=300.0)
        chains = generate_chains(G, n_chains, bw=(10.0, 60.0), max_latency=(15.0, 40.0),
                                 arrival_rate=1.0, mean_lifetime=40.0, seed=seed)
        ref = simulate(G, chains, "milp", seed=seed)
        for name in HEURISTICS:
            shares[name].append(simulate(G, chains, name, seed=seed).accepted_revenue / ref.accepted_revenue)
        print(f"   seed {seed}: MILP accepts {ref.acceptance_ratio:.3f}")
    best = max(HEURISTICS, key=lambda n: statistics.mean(shares[n]))
    for name in HEURISTICS:
        mark = "  (best heuristic; target >= 90%)" if name == best else ""
        print(f"   {name:<10} {100 * statistics.mean(shares[name]):6.1f}% of the MILP's accepted revenue{mark}")
    print()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 chains, fewer instances (about a minute)")
    parser.add_argument("--seeds", type=int, default=3, help="online runs per algorithm (default 3)")
    args = parser.parse_args(argv)
    n_chains = 200 if args.quick else 1000
    seeds = list(range(args.seeds))
    _header()
    started = time.perf_counter()
    for label, G, options, milp_chains in _topologies(args.quick):
        online_table(label, G, options, milp_chains, n_chains, seeds)
    milp_batch(seeds)
    small_batches(10 if args.quick else 30)
    small_online(100 if args.quick else 300, seeds)
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
