"""Testbed bring-up and teardown times (a benchmark script, not a test).

Prints median seconds over --repeat runs for
- N Docker hosts on one router, up and each answering a ping (N = 5, 10, 20);
- S DinD servers with V = 2S VNFs (two per server, one chain each), up and answering.
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
from placement.topologies import star
from testbed.deploy import Testbed, _parallel
from testbed.images import ImageNames, ensure_images
from testbed.nodes import DockerHost, ProcessHost, SfcLink
from testbed.runtime import Run


def docker_hosts(n: int, image: str) -> tuple[float, float]:
    """Bring up ``n`` Docker hosts linked to a router until each answers a ping; tear down."""
    t0 = time.monotonic()
    run = Run()
    router = ProcessHost("r0", run)
    containers = _parallel(lambda i: DockerHost.create(run, f"d{i}", image, ["sleep", "infinity"]), range(n))
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
    _parallel(lambda h: h.terminate(), hosts + [router])
    run.close()
    return up, time.monotonic() - t1


def dind_servers(s: int) -> tuple[float, float]:
    """``s`` DinD servers, each hosting a two-VNF chain, up and answering; then torn down."""
    g = star(s, cpu=2, mem=1024, bw=1000, delay=0.0)
    servers = sorted(n for n, d in g.nodes(data=True) if d["kind"] == "server")
    chains, embeddings = [], {}
    for i, srv in enumerate(servers):
        c = Chain(f"c{i}", (VNF("forwarder", 0.1, 64), VNF("forwarder", 0.1, 64)), srv, srv)
        chains.append(c)
        embeddings[c.id] = Embedding(c.id, (srv, srv), ((srv,), (srv,), (srv,)))
    tb = Testbed(g, chains, Placement(embeddings), host_kind="dind", log=lambda *_: None)
    with tb:
        up = tb.info["bring_up_s"]
        assert all(r["status"] == 200 for c in chains for r in tb.request(c.id, 1))
    return up, tb.info["teardown_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=[5, 10, 20])
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


if __name__ == "__main__":
    main()
