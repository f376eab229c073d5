"""Bring-up and teardown of one substrate over 1, 2 and 3 'machines' of a Ray cluster on this machine.

A Waxman graph of --servers DinD servers with two light VNFs each (one
two-forwarder chain per server, placed by greedy) is deployed by
``testbed.deploy.Testbed`` (no Ray: the baseline) and by
``testbed.cluster.ClusterTestbed`` over k machines of a
``testbed.localcluster.LocalCluster`` (partitioned as a user's run is), then
every chain answers one request, then it is torn down.  Prints the median of
--repeat runs per setting, the cut links, and the per-server costs.

All 'machines' share this host's cores, so this shows what the distribution
itself costs (actors, partition, VXLAN ends, one more control hop), never a
speed-up.  Needs root and Docker (``make setup``); run it alone.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import numpy as np  # noqa: E402

from placement.base import get_algorithm  # noqa: E402
from placement.model import VNF, Chain  # noqa: E402
from placement.topologies import waxman  # noqa: E402


def instance(n: int, seed: int = 0):
    """``n`` Waxman servers, ``n`` two-forwarder chains placed by greedy."""
    g = waxman(n, seed=seed, cpu=2.0, mem=1024.0, bw=1000.0, max_delay=1.0)
    servers = sorted(v for v, d in g.nodes(data=True) if d["kind"] == "server")
    rng = np.random.default_rng(seed)
    fwd = VNF("forwarder", 0.05, 32)
    chains = [Chain(f"c{i}", (fwd, fwd), servers[i], servers[int(rng.integers(n))]) for i in range(n)]
    placement = get_algorithm("greedy").place(g, chains, seed=seed)
    return g, chains, placement


def once(testbed, chains) -> tuple[float, float, int]:
    """Bring ``testbed`` up, send one request per chain, tear it down: (up s, teardown s, cut links)."""
    with testbed as tb:
        rows = tb.measure(requests=1, warmup=0)
        failed = [r["chain_id"] for r in rows if r["status"] != "ok"]
        if failed:
            raise SystemExit(f"chains {failed} did not answer: {[r['reason'] for r in rows if r['status'] != 'ok']}")
        up, cut = tb.info["bring_up_s"], tb.info.get("cut_links", 0)
    return up, tb.info["teardown_s"], cut


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=40)
    parser.add_argument("--machines", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    from testbed.cluster import ClusterTestbed
    from testbed.deploy import Testbed
    from testbed.localcluster import LocalCluster

    g, chains, placement = instance(args.servers)
    placed = [c for c in chains if c.id in placement.embeddings]
    print(f"{args.servers} DinD servers, {2 * len(placed)} light VNFs ({len(placed)} chains placed by greedy); "
          f"median of {args.repeat} runs")
    print(f"{'setting':<24} {'up s':>7} {'teardown s':>11} {'cut links':>10}")

    def report(name, runs):
        ups, downs, cuts = zip(*runs)
        print(f"{name:<24} {statistics.median(ups):7.1f} {statistics.median(downs):11.1f} {cuts[0]:10d}",
              flush=True)
        return statistics.median(ups), statistics.median(downs)

    base = report("one machine, no Ray", [once(Testbed(g, placed, placement, log=lambda *_: None), placed)
                                          for _ in range(args.repeat)])
    for k in args.machines:
        names = [f"m{i}" for i in range(1, k + 1)]
        t0 = time.monotonic()
        with LocalCluster(names, cpus=2):
            started = time.monotonic() - t0
            runs = [once(ClusterTestbed(g, placed, placement, machines=names, budget_override=True,
                                        log=lambda *_: None), placed)
                    for _ in range(args.repeat)]
        up, down = report(f"{k} Ray node{'s' if k > 1 else ''}", runs)
        print(f"{'':<24} (Ray nodes started in {started:.1f} s; overhead over no Ray: "
              f"up {up - base[0]:+.1f} s, teardown {down - base[1]:+.1f} s)")
    per_server = base[0] / args.servers
    print(f"per server on this machine: {per_server:.2f} s up, {base[1] / args.servers:.2f} s teardown")
    return 0


if __name__ == "__main__":
    sys.exit(main())
