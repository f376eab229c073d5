"""The load generator's own ceiling: sfcload against nginx over a veth pair (a benchmark script, not a test).

Two network namespaces (``sfct-*``, deleted at the end) joined by a veth
pair; nginx in one answers ``return 200 "ok"`` (access log off), sfcload in
the other offers constant rates, rising, for --step seconds each.  A rate
passes when answers arrive within 5% of it, nothing fails, the p99 latency
stays under --p99-ms and at most --late-share of the requests are dispatched
more than 1 ms after their due time (the generator keeps up).  A failed rate
is tried once more, since a stall of this shared machine can fail one try;
the ceiling is the highest rate passed before one fails twice.  The median
of --runs runs is printed for keep-alive and new-connection mode.  Generator and server share this
machine's cores (and the kernel's TCP work), so the ceiling is a lower bound
on what the generator alone sustains; its CPU per request, nginx's, and the
machine's idle share show which of them ran out.  Needs root and nginx; run alone.
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


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds the processes ``pids`` have used so far."""
    total = 0.0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def machine_times() -> list[int]:
    """The machine's CPU time counters (user, nice, system, idle, iowait, irq, softirq, ...)."""
    return [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]


def step(net, url: str, rate: float, args, new_connection: bool, server_pids: list[int]) -> dict:
    """One constant-rate run, whether it passed, and who used the CPU meanwhile."""
    server0, machine0 = cpu_seconds(server_pids), machine_times()
    r = lg.run(url, lg.constant(rate, args.step), netns=net.client_ns, source=net.client_ip,
               connections=args.connections, new_connection=new_connection, timeout=1.0, threads=args.threads)
    server_cpu = cpu_seconds(server_pids) - server0
    delta = [b - a for a, b in zip(machine0, machine_times())]
    idle = (delta[3] + delta[4]) / max(1, sum(delta))
    rows = r.seconds[r.seconds.second < args.step]
    s = r.summary
    achieved = rows.completed.sum() / args.step
    p99 = r.quantile(0.99)
    late_ms = float(rows.late_max_ms.max())
    late_share = s["late"] / max(1, s["offered"])
    failed = s["errors"] + s["timeouts"] + s["other"]
    ok = achieved >= 0.95 * rate and failed == 0 and p99 <= args.p99_ms and late_share <= args.late_share
    cpu_us = (s["cpu_user_s"] + s["cpu_sys_s"]) / max(1, s["offered"]) * 1e6
    return {"rate": rate, "achieved": achieved, "p99_ms": p99, "late_ms": late_ms, "late_share": late_share,
            "failed": failed, "passed": ok, "cpu_us": cpu_us,
            "server_cpu_us": server_cpu / max(1, s["offered"]) * 1e6, "idle": idle}


def ceiling(net, url: str, rates: list[float], args, new_connection: bool,
            server_pids: list[int]) -> tuple[float, list[dict]]:
    """Highest rate passed before one fails twice (0 if none), and every try's figures."""
    best, steps = 0.0, []
    for rate in rates:
        tries = [step(net, url, rate, args, new_connection, server_pids)]
        if not tries[0]["passed"]:
            tries.append(step(net, url, rate, args, new_connection, server_pids))
        steps += tries
        if not tries[-1]["passed"]:
            break
        best = rate
    return best, steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--step", type=float, default=2.0, help="seconds per rate")
    parser.add_argument("--p99-ms", type=float, default=20.0, help="a passing rate's p99 latency bound")
    parser.add_argument("--late-share", type=float, default=0.1,
                        help="a passing rate's bound on the share of requests dispatched > 1 ms late")
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
          f"p99 <= {args.p99_ms:g} ms, <= {args.late_share:.0%} late; {args.step:g} s per rate")
    if load > 1:
        print(f"# the machine is busy (load {load:.2f}): other work takes CPU from nginx and the generator, "
              "so the ceilings below are low")
    modes = [m for m in ("keep-alive", "new-connection") if args.mode in (m, "both")]
    with veth_pair("sfct-lgb") as net, tempfile.TemporaryDirectory(prefix="sfct-nginx-") as folder:
        conf = nginx_conf(folder, net.server_ip, args.workers)
        server = subprocess.Popen(net.server(["nginx", "-p", folder, "-c", str(conf), "-e", f"{folder}/error.log"]))
        try:
            time.sleep(0.5)
            if server.poll() is not None:
                sys.exit(f"nginx did not start: {Path(folder, 'error.log').read_text()[-500:]}")
            url = f"http://{net.server_ip}:8080/"
            master = Path(folder, "nginx.pid").read_text().split()[0]
            workers = [int(p) for p in subprocess.run(["pgrep", "-P", master], capture_output=True,
                                                      text=True).stdout.split()]
            print(f"{'mode':>15} {'run':>3} {'ceiling/s':>10} {'p99 ms':>7} {'late':>6} {'gen us/req':>10} "
                  f"{'nginx us/req':>12} {'idle':>5}")
            for mode in modes:
                rates = NEW_CONNECTION_RATES if mode == "new-connection" else KEEP_ALIVE_RATES
                found, cpu_at_ceiling = [], []
                for run in range(args.runs):
                    best, steps = ceiling(net, url, rates, args, mode == "new-connection", workers)
                    found.append(best)
                    at = [s for s in steps if s["rate"] == best and s["passed"]] or steps[:1]
                    if best:
                        cpu_at_ceiling.append(at[0]["cpu_us"])
                    print(f"{mode:>15} {run + 1:>3} {best:>10.0f} {at[0]['p99_ms']:>7.2f} {at[0]['late_share']:>6.1%} "
                          f"{at[0]['cpu_us']:>10.1f} {at[0]['server_cpu_us']:>12.1f} {at[0]['idle']:>5.0%}")
                    if args.verbose:
                        for s in steps:
                            print(f"{'':>19} rate {s['rate']:>6} achieved {s['achieved']:>8.0f} p99 {s['p99_ms']:7.2f} "
                                  f"late {s['late_share']:6.1%} (max {s['late_ms']:6.2f} ms) failed {s['failed']:>5} "
                                  f"idle {s['idle']:4.0%} {'pass' if s['passed'] else 'FAIL'}")
                cpu = statistics.median(cpu_at_ceiling) if cpu_at_ceiling else None
                print(f"{mode:>15} median ceiling {statistics.median(found):.0f} requests/s" + (
                    f"; at its ceilings the generator used {cpu:.0f} us of CPU per request (median; kernel TCP work "
                    f"done in its context included): about {1e6 / cpu:.0f} requests/s per core it has to itself"
                    if cpu else ""))
        finally:
            server.terminate()
            server.wait(10)
    print(f"# load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
