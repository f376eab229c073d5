"""Load on the testbed: N chains driven at a request rate each (a benchmark script, not a test).

For each offered rate, every chain is driven at once for --duration seconds
(open loop, latency from each request's scheduled time).  Prints served
requests, errors, lost requests (must be 0: every request answered or counted
as an error), latency percentiles, whether the VNF counters add up end to end,
and the rate at which the chains saturate (first rate served below 95% of
offered, or with errors, or with p99 above 10x the lightest load's).
Needs root and Docker; run alone.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
from pathlib import Path

# Run as a script, this folder would shadow the testbed package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from mininet.log import setLogLevel  # noqa: E402

from placement.model import Chain, Embedding, Placement  # noqa: E402
from placement.topologies import line  # noqa: E402
from placement.workload import DEFAULT_CATALOGUE  # noqa: E402
from testbed.deploy import Testbed  # noqa: E402


def instance(n_chains: int):
    """A line of 3 servers; each chain firewall -> IDS across two servers, ingress to egress end to end."""
    g = line(3, cpu=2, mem=4096, delay=1.0)
    vnfs = (DEFAULT_CATALOGUE["firewall"], DEFAULT_CATALOGUE["ids"])
    chains, embeddings = [], {}
    for i in range(n_chains):
        c = Chain(f"c{i}", vnfs, "srv0", "srv2")
        chains.append(c)
        embeddings[c.id] = Embedding(c.id, ("srv0", "srv1"), (("srv0",), ("srv0", "srv1"), ("srv1", "srv2")))
    return g, chains, Placement(embeddings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", type=int, default=3)
    parser.add_argument("--rates", type=float, nargs="+", default=[25, 50, 100, 200, 400, 800, 1600])
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--host-kind", default="dind", choices=["dind", "docker", "process"])
    args = parser.parse_args()
    setLogLevel("error")
    g, chains, placement = instance(args.chains)
    print(f"# sfcbench load benchmark, {datetime.date.today()}, {platform.node()}, {os.cpu_count()} cores, "
          f"{args.chains} chains (firewall -> IDS, 2 hops of 1 ms), {args.host_kind} servers, "
          f"{args.duration:g} s per rate")
    print(f"{'rate/chain':>10} {'sent':>6} {'ok':>6} {'err':>5} {'lost':>5} {'served/s':>9} "
          f"{'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}  counters")
    saturated, base_p99 = None, None
    with Testbed(g, chains, placement, host_kind=args.host_kind, log=lambda *_: None) as tb:
        tb.measure(requests=5)  # warm up every chain
        for rate in args.rates:
            rows = tb.load(rate, duration=args.duration)
            sent, ok = sum(r["sent"] for r in rows), sum(r["ok"] for r in rows)
            errors, lost = sum(r["errors"] for r in rows), sum(r["lost"] for r in rows)
            served = sum(r["achieved_rps"] for r in rows)
            p50, p95, p99 = (max(r[k] for r in rows) for k in ("p50_ms", "p95_ms", "p99_ms"))
            counters = "add up" if all(r["counters_add_up"] for r in rows) else "n/a (errors)"
            print(f"{rate:>10g} {sent:>6} {ok:>6} {errors:>5} {lost:>5} {served:>9.1f} "
                  f"{p50:>8.2f} {p95:>8.2f} {p99:>8.2f}  {counters}", flush=True)
            base_p99 = base_p99 or p99
            if saturated is None and (served < 0.95 * rate * len(rows) or errors or p99 > 10 * base_p99):
                saturated = rate
    print(f"saturation: {f'{saturated:g} requests/s per chain' if saturated else 'not reached'} "
          f"(worst chain shown for latency)")


if __name__ == "__main__":
    main()
