"""The load generator's own ceiling: sfcload against nginx over a veth pair (a benchmark script, not a test).

Two network namespaces (``sfct-*``, deleted at the end) joined by a veth
pair; nginx in one answers ``return 200 "ok"`` (access log off), sfcload in
the other offers constant rates, rising, for --step seconds each.  A rate
passes when answers arrive within 5% of it, nothing fails, the p99 latency
stays under --p99-ms and no request is dispatched more than --late-ms after
its due time (the generator keeps up).  The ceiling is the highest rate
passed before two failures in a row; the median of --runs runs is printed for
keep-alive and new-connection mode.  Generator and server share this
machine's cores (and the kernel's TCP work), so the ceiling is a lower bound
on what the generator alone sustains; its CPU per request says how much of
the machine it used.  Needs root and nginx; run alone.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Run as a script, this folder would shadow the testbed package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from testbed import loadgen as lg  # noqa: E402
from testbed.loadgen.veth import veth_pair  # noqa: E402

KEEP_ALIVE_RATES = [2000, 4000, 6000, 8000, 10000, 12000, 15000, 18000, 21000, 25000, 30000, 35000, 40000, 50000]
NEW_CONNECTION_RATES = [500, 1000, 1500, 2000, 3000, 4000, 5000, 6000, 8000, 10000, 12000, 15000]


def nginx_conf(folder: str, address: str, workers: int) -> Path:
    """A trivial nginx: one location answering 200 ``ok``, everything kept in ``folder``."""
    conf = Path(folder, "nginx.conf")
    conf.write_text(f"""worker_processes {workers};
daemon off;
pid {folder}/nginx.pid;
error_log {folder}/error.log;
events {{ worker_connections 16384; }}
http {{
    access_log off;
    keepalive_requests 10000000;
    client_body_temp_path {folder}/body;
    server {{
        listen {address}:8080 backlog=4096;
        location / {{ return 200 "ok"; }}
    }}
}}
""")
    return conf


def step(net, url: str, rate: float, args, new_connection: bool) -> dict:
    """One constant-rate run and whether it passed."""
    r = lg.run(url, lg.constant(rate, args.step), netns=net.client_ns, source=net.client_ip,
               connections=args.connections, new_connection=new_connection, timeout=1.0, threads=args.threads)
    rows = r.seconds[r.seconds.second < args.step]
    s = r.summary
    achieved = rows.completed.sum() / args.step
    p99 = r.quantile(0.99)
    late_ms = float(rows.late_max_ms.max())
    failed = s["errors"] + s["timeouts"] + s["other"]
    ok = achieved >= 0.95 * rate and failed == 0 and p99 <= args.p99_ms and late_ms <= args.late_ms
    cpu_us = (s["cpu_user_s"] + s["cpu_sys_s"]) / max(1, s["offered"]) * 1e6
    return {"rate": rate, "achieved": achieved, "p99_ms": p99, "late_ms": late_ms, "failed": failed, "passed": ok,
            "cpu_us": cpu_us}


def ceiling(net, url: str, rates: list[float], args, new_connection: bool) -> tuple[float, list[dict]]:
    """Highest rate passed before two failures in a row (0 if none), and every step's figures."""
    best, misses, steps = 0.0, 0, []
    for rate in rates:
        st = step(net, url, rate, args, new_connection)
        steps.append(st)
        if st["passed"]:
            best, misses = rate, 0
        else:
            misses += 1
            if misses == 2:
                break
    return best, steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--step", type=float, default=2.0, help="seconds per rate")
    parser.add_argument("--p99-ms", type=float, default=20.0, help="a passing rate's p99 latency bound")
    parser.add_argument("--late-ms", type=float, default=10.0, help="a passing rate's bound on dispatch lateness")
    parser.add_argument("--connections", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--workers", type=int, default=1, help="nginx worker processes")
    parser.add_argument("--mode", choices=["keep-alive", "new-connection", "both"], default="both")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every rate's figures")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("benchmarks/loadgen.py creates network namespaces: run it as root")
    if shutil.which("nginx") is None:
        sys.exit("benchmarks/loadgen.py needs nginx as its trivial server: apt-get install nginx-light")
    lg.binary()  # compile before timing anything
    load = os.getloadavg()[0]
    print(f"# sfcload ceiling, {datetime.date.today()}, {platform.node()}, {os.cpu_count()} cores, "
          f"load average {load:.2f} at start; nginx {args.workers} worker(s), {args.connections} connections, "
          f"{args.threads} generator thread(s); pass: answers >= 95% of offered, no failure, "
          f"p99 <= {args.p99_ms:g} ms, lateness <= {args.late_ms:g} ms; {args.step:g} s per rate")
    modes = [m for m in ("keep-alive", "new-connection") if args.mode in (m, "both")]
    with veth_pair("sfct-lgb") as net, tempfile.TemporaryDirectory(prefix="sfct-nginx-") as folder:
        conf = nginx_conf(folder, net.server_ip, args.workers)
        server = subprocess.Popen(net.server(["nginx", "-p", folder, "-c", str(conf), "-e", f"{folder}/error.log"]))
        try:
            time.sleep(0.5)
            if server.poll() is not None:
                sys.exit(f"nginx did not start: {Path(folder, 'error.log').read_text()[-500:]}")
            url = f"http://{net.server_ip}:8080/"
            print(f"{'mode':>15} {'run':>3} {'ceiling/s':>10} {'p99 ms':>7} {'late ms':>7} {'cpu us/req':>10}")
            for mode in modes:
                rates = NEW_CONNECTION_RATES if mode == "new-connection" else KEEP_ALIVE_RATES
                found = []
                for run in range(args.runs):
                    best, steps = ceiling(net, url, rates, args, mode == "new-connection")
                    found.append(best)
                    at = next((s for s in steps if s["rate"] == best), steps[0])
                    print(f"{mode:>15} {run + 1:>3} {best:>10.0f} {at['p99_ms']:>7.2f} {at['late_ms']:>7.2f} "
                          f"{at['cpu_us']:>10.1f}")
                    if args.verbose:
                        for s in steps:
                            print(f"{'':>19} rate {s['rate']:>6} achieved {s['achieved']:>8.0f} p99 {s['p99_ms']:7.2f} "
                                  f"late {s['late_ms']:7.2f} failed {s['failed']:>5} {'pass' if s['passed'] else 'FAIL'}")
                print(f"{mode:>15} median ceiling {statistics.median(found):.0f} requests/s")
        finally:
            server.terminate()
            server.wait(10)
    print(f"# load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
