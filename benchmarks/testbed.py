"""Testbed bring-up and teardown times (a benchmark script, not a test).

Prints median seconds over --repeat runs for
- N Docker hosts on one router, up and each answering a ping (N = 5, 10, 20);
- S DinD servers with V = 2S VNFs (two per server, one chain each), up and answering;
- the same with real VNF software (--real S ...: HAProxy, nginx+ModSecurity, Varnish, nftables, nDPI in turn);
- a large Waxman substrate (--large N): bring-up, teardown and memory per server.
Needs root and Docker; run ``make setup`` first.  Run alone: only one testbed at a time.
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

# Run as a script, this file's folder comes first on sys.path and its name
# would shadow the testbed package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from mininet.log import setLogLevel

from placement.model import VNF, Chain, Embedding, Placement
from placement.base import get_algorithm
from placement.topologies import star, waxman
from testbed.deploy import Testbed
from testbed.images import ImageNames, ensure_images
from testbed.nodes import DockerHost, ProcessHost, SfcLink
from testbed.runtime import Run
from testbed.system import parallel


def docker_hosts(n: int, image: str) -> tuple[float, float]:
    """Bring up ``n`` Docker hosts linked to a router until each answers a ping; tear down."""
    t0 = time.monotonic()
    run = Run()
    router = ProcessHost("r0", run)
    containers = parallel(lambda i: DockerHost.create(run, f"d{i}", image, ["sleep", "infinity"]), range(n))
    hosts = [DockerHost(f"d{i}", run, container=c) for i, c in enumerate(containers)]
    for i, host in enumerate(hosts):
        link = SfcLink(host, router, run=run)
        link.intf1.setIP(f"10.0.{i}.2/24")
        link.intf2.setIP(f"10.0.{i}.1/24")
    for i in range(n):
        out = router.cmd(f"ping -c 1 -W 2 10.0.{i}.2")
        assert " 0% packet loss" in out, out
    up = time.monotonic() - t0
    t1 = time.monotonic()
    parallel(lambda h: h.terminate(), hosts + [router])
    run.close()
    return up, time.monotonic() - t1


REAL = [("load_balancer", "haproxy"), ("waf", "nginx-modsecurity"), ("cache", "varnish"),
        ("firewall", "nftables"), ("monitor", "ndpi")]


def dind_servers(s: int, real: bool = False) -> tuple[float, float]:
    """``s`` DinD servers, each hosting a two-VNF chain, up and answering; then torn down.

    ``real``: the VNFs are real software, the five kinds in turn (HAProxy, nginx+ModSecurity, Varnish,
    nftables, nDPI), instead of light forwarders.
    """
    g = star(s, cpu=2, mem=1024, bw=1000, delay=0.0)
    servers = sorted(n for n, d in g.nodes(data=True) if d["kind"] == "server")
    chains, embeddings = [], {}
    for i, srv in enumerate(servers):
        types = [REAL[(2 * i + k) % len(REAL)][0] for k in range(2)] if real else ["forwarder", "forwarder"]
        c = Chain(f"c{i}", tuple(VNF(t, 0.1, 128) for t in types), srv, srv)
        chains.append(c)
        embeddings[c.id] = Embedding(c.id, (srv, srv), ((srv,), (srv,), (srv,)))
    tb = Testbed(g, chains, Placement(embeddings), host_kind="dind", log=lambda *_: None,
                 vnf_impl=dict(REAL) if real else None)
    with tb:
        up = tb.info["bring_up_s"]
        assert all(r["status"] == 200 for c in chains for r in tb.request(c.id, 1))
    return up, tb.info["teardown_s"]


def mem_available_mib() -> float:
    """The machine's available memory (MemAvailable), MiB."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no MemAvailable in /proc/meminfo")


def container_mib(container_id: str) -> float:
    """Memory charged to a container's cgroup (its inner containers included, as they nest in it), MiB."""
    for pattern in (f"memory/**/{container_id}/memory.usage_in_bytes", f"**/{container_id}/memory.current"):
        for path in Path("/sys/fs/cgroup").glob(pattern):
            return int(path.read_text()) / 2**20
    return float("nan")


def large_substrate(n: int, seed: int = 0) -> tuple[float, float, float, float, bool]:
    """A Waxman graph of ``n`` DinD servers with ``2n`` light VNFs (``n`` two-forwarder chains placed
    by greedy), deployed, measured and torn down: (up s, teardown s, MiB per server on the machine,
    MiB per server in the servers' own cgroups, all answered)."""
    g = waxman(n, seed=seed, cpu=2.0, mem=1024.0, bw=1000.0, max_delay=1.0)
    servers = sorted(v for v, d in g.nodes(data=True) if d["kind"] == "server")
    rng = __import__("numpy").random.default_rng(seed)
    fwd = VNF("forwarder", 0.05, 32)
    chains = [Chain(f"c{i}", (fwd, fwd), servers[i], servers[int(rng.integers(n))]) for i in range(n)]
    placement = get_algorithm("greedy").place(g, chains, seed=seed)
    before = mem_available_mib()
    with Testbed(g, chains, placement, host_kind="dind", log=lambda *_: None) as tb:
        per_server = (before - mem_available_mib()) / n
        own = statistics.mean(container_mib(tb.nodes[s].container.id) for s in tb.plan.servers)
        rows = tb.measure(requests=3, warmup=1)
        answered = all(r["status"] == "ok" for r in rows) and len(rows) == n
        up = tb.info["bring_up_s"]
    return up, tb.info["teardown_s"], per_server, own, answered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="*", default=[5, 10, 20])
    parser.add_argument("--real", type=int, nargs="*", default=[20],
                        help="DinD server counts to run with 2 real VNFs each (none: skip)")
    parser.add_argument("--large", type=int, default=100,
                        help="servers of the large Waxman run (2 light VNFs each; 0 skips it)")
    args = parser.parse_args()
    setLogLevel("error")
    names = ensure_images(ImageNames(), log=lambda *_: None)
    print(f"# sfcbench testbed benchmark, {datetime.date.today()}, {platform.node()}, "
          f"{os.cpu_count()} cores, kernel {platform.release()}, median of {args.repeat} runs")
    print(f"{'what':<32}{'up (s)':>10}{'teardown (s)':>14}")
    for n in args.sizes:
        runs = [docker_hosts(n, names.base) for _ in range(args.repeat)]
        print(f"{f'{n} Docker hosts, pinging':<32}{statistics.median(r[0] for r in runs):>10.2f}"
              f"{statistics.median(r[1] for r in runs):>14.2f}", flush=True)
    for s in args.sizes:
        runs = [dind_servers(s) for _ in range(args.repeat)]
        print(f"{f'{s} DinD servers, {2 * s} VNFs':<32}{statistics.median(r[0] for r in runs):>10.2f}"
              f"{statistics.median(r[1] for r in runs):>14.2f}", flush=True)
    for s in args.real:
        runs = [dind_servers(s, real=True) for _ in range(args.repeat)]
        print(f"{f'{s} DinD servers, {2 * s} real VNFs':<32}{statistics.median(r[0] for r in runs):>10.2f}"
              f"{statistics.median(r[1] for r in runs):>14.2f}", flush=True)
    if args.large:
        runs = [large_substrate(args.large, seed=r) for r in range(args.repeat)]
        print(f"{f'Waxman {args.large} DinD, {2 * args.large} VNFs':<32}{statistics.median(r[0] for r in runs):>10.2f}"
              f"{statistics.median(r[1] for r in runs):>14.2f}   {statistics.median(r[2] for r in runs):.0f} MiB/server "
              f"on the machine ({statistics.median(r[3] for r in runs):.0f} in the server's own cgroup, the rest "
              f"clients, sinks, relays), all chains answered: {all(r[4] for r in runs)}", flush=True)


if __name__ == "__main__":
    main()
