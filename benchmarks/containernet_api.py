"""Containernet's scripting API on sfcbench: bring-up and ``net.stop()`` times (a benchmark, not a test).

Runs exactly the script measured against Containernet's own code (issue 12):
``addSwitch``, N x (``addDocker`` + ``addLink``), ``start``, ``pingAll``,
``stop``, for N = 10, 20 and 50, and prints the median over ``--repeat`` runs
of *up* (construction until ``pingAll`` is done) and *stop* (``net.stop()``).
Needs root and Docker (``make setup``); run it alone: one testbed at a time.
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

from testbed.containernet import Containernet
from testbed.images import ImageNames, ensure_images

CONTAINERNET = {10: (None, 1.8), 20: (12.3, 3.45)}
"""Containernet's own code on this machine (issue 12: medians of its two runs), seconds: up, stop."""


def script(n: int, image: str) -> tuple[float, float]:
    """The measured script with ``n`` Docker hosts; (up, stop) in seconds."""
    t0 = time.monotonic()
    net = Containernet()
    try:
        s1 = net.addSwitch("s1")
        for i in range(n):
            d = net.addDocker(f"d{i}", ip=f"10.0.{i // 250}.{i % 250 + 1}", dimage=image)
            net.addLink(d, s1)
        net.start()
        loss = net.pingAll()
        up = time.monotonic() - t0
    finally:
        t1 = time.monotonic()
        net.stop()
    if loss != 0:
        raise SystemExit(f"pingAll lost {loss}% with {n} hosts")
    return up, time.monotonic() - t1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 20, 50])
    args = parser.parse_args()
    setLogLevel("error")
    image = ensure_images(ImageNames(), log=lambda *_: None).base
    print(f"# Containernet API on sfcbench, {datetime.date.today()}, {platform.node()}, "
          f"{os.cpu_count()} cores, kernel {platform.release()}, median of {args.repeat} runs")
    print(f"{'hosts':>6}{'up (s)':>10}{'stop (s)':>10}{'Containernet up':>17}{'Containernet stop':>19}")
    for n in args.sizes:
        runs = [script(n, image) for _ in range(args.repeat)]
        ref_up, ref_stop = CONTAINERNET.get(n, (None, None))
        print(f"{n:>6}{statistics.median(r[0] for r in runs):>10.2f}{statistics.median(r[1] for r in runs):>10.2f}"
              f"{ref_up if ref_up else '-':>17}{ref_stop if ref_stop else '-':>19}", flush=True)


if __name__ == "__main__":
    main()
