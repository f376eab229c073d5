"""Real VNF software alone on a one-core DinD server: saturation rate, latency at half of it, CPU per request.

For each VNF type and implementation, a chain of that one VNF (its inner
container limited to the server's one core) is driven by the open-loop
generator at doubling rates, 3 s each, until a step is not served (below 95%
of the offered rate, more than 1% errors, or p99 above 5x the lowest
step's): the last served rate is its saturation rate.  It is then driven at
half that rate for 5 s: p50, p99 and the VNF's CPU per request (telemetry).
The first row, a chain with no VNF, is the generator's own ceiling on the
same path (client -> server -> nginx egress).  Prints medians over --runs.
Needs root and Docker; run alone.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
from pathlib import Path

# Run as a script, this folder would shadow the testbed package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from mininet.log import setLogLevel  # noqa: E402

from experiments.saturation import served  # noqa: E402
from placement.model import VNF, Chain, Embedding, Placement  # noqa: E402
from placement.topologies import line  # noqa: E402
from testbed.deploy import Testbed  # noqa: E402
from testbed.loadgen import constant  # noqa: E402
from testbed.telemetry import mean_by_entity  # noqa: E402

CASES = [(None, "none"), ("load_balancer", "haproxy"), ("waf", "nginx-modsecurity"), ("cache", "varnish"),
         ("firewall", "nftables"), ("monitor", "ndpi"), ("firewall", "light")]


def step(tb, rate: float, seconds: float, connections: int) -> dict:
    """One constant-rate step: served rate, errors, latency, and the VNF's CPU (cores)."""
    with tb.sampler(hz=10) as sampler:
        result = tb.drive(constant(rate, seconds), connections=connections)["c0"]
    frame = sampler.frame(t0=result.summary["started_monotonic"])
    sec = result.seconds
    cpu = mean_by_entity(frame[frame.entity_kind == "vnf"], "cpu_cores", 0.5, seconds).mean()
    failed = int(sec.errors.sum() + sec.timeouts.sum() + sec.other.sum())
    return {"rate": rate, "achieved": sec.ok.sum() / seconds, "error_share": failed / max(sec.offered.sum(), 1),
            "p50": result.quantile(0.5), "p99": result.quantile(0.99), "cpu": cpu, "late": int(sec.late.sum())}


def measure(vnf_type, impl, args) -> dict:
    """Saturation rate, and p50/p99/CPU per request at half of it, for one VNF implementation."""
    g = line(2, cpu=1.0, mem=4096.0, bw=10_000.0, delay=0.0)
    s0, s1 = sorted(g.nodes)
    vnfs = () if vnf_type is None else (VNF(vnf_type, 1.0, 512.0),)
    chain = Chain("c0", vnfs, ingress=s0, egress=s1)
    placement = Placement({"c0": Embedding("c0", (s0,) * len(vnfs), ((s0,),) * len(vnfs) + ((s0, s1),))})
    impls = {vnf_type: impl} if vnf_type else {}
    with Testbed(g, [chain], placement, vnf_impl=impls, sink="nginx", log=lambda *_: None) as tb:
        tb.measure(requests=5)
        rate, base, saturation = args.start, None, None
        while rate <= args.max_rate:
            row = step(tb, rate, args.step, args.connections)
            base = base or row["p99"]
            if not served(row["rate"], row["achieved"], row["error_share"], row["p99"], base):
                break
            saturation, rate = rate, rate * 2
        half = step(tb, (saturation or args.start) / 2, 5.0, args.connections)
    return {"saturation": saturation, "p50": half["p50"], "p99": half["p99"],
            "cpu_ms": half["cpu"] * 1000 / half["achieved"] if vnf_type and half["achieved"] else float("nan"),
            "capped": saturation is not None and saturation * 2 > args.max_rate}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--start", type=float, default=250.0, help="first rate (requests/s)")
    parser.add_argument("--max-rate", type=float, default=64_000.0)
    parser.add_argument("--step", type=float, default=3.0, help="seconds per rate")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--only", nargs="*", help="implementations to run (e.g. haproxy varnish)")
    args = parser.parse_args()
    setLogLevel("error")
    print(f"# sfcbench real-VNF benchmark, {datetime.date.today()}, {platform.node()}, {os.cpu_count()} cores; "
          f"one VNF on a 1-core DinD server, nginx egress, doubling rates from {args.start:g}/s, "
          f"{args.step:g} s each; medians of {args.runs} runs")
    print(f"{'VNF type':<14} {'implementation':<18} {'saturation/s':>12} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'CPU ms/req':>10}   (latency at half the saturation rate)")
    for vnf_type, impl in CASES:
        if args.only and impl not in args.only:
            continue
        runs = [measure(vnf_type, impl, args) for _ in range(args.runs)]
        sat = [r["saturation"] for r in runs if r["saturation"] is not None]
        med = {k: statistics.median(r[k] for r in runs) for k in ("p50", "p99", "cpu_ms")}
        shown = f"{statistics.median(sat):>12g}" if sat else f"{'< ' + str(args.start):>12}"
        note = "  (>= the highest rate tried)" if any(r["capped"] for r in runs) else ""
        label = "(no VNF: the generator's ceiling on this path)" if vnf_type is None else ""
        print(f"{vnf_type or '-':<14} {impl:<18} {shown} {med['p50']:>8.2f} {med['p99']:>8.2f} "
              f"{med['cpu_ms']:>10.3f}{note} {label}", flush=True)


if __name__ == "__main__":
    main()
