"""Calibrate VNF processing delays on the real testbed.

Each VNF type runs alone in a chain on one server, under its CPU limit; its
processing delay is the median request latency through it minus the median of
a chain with no VNF at all (client -> egress through the same server).  The
placement model can then use measured values (``VNF.proc_delay``).

``python -m testbed.calibrate [--host-kind dind] [--requests 50] [--out FILE.json]``
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

import networkx as nx

from placement.model import CPU, KIND, MEM, SERVER, Chain, Embedding, Placement
from placement.workload import DEFAULT_CATALOGUE
from testbed.deploy import Testbed
from testbed.images import ImageNames


@dataclasses.dataclass(frozen=True)
class Calibration:
    """Measured processing delay (ms) per VNF type, and the fixed overhead of every chain.

    ``endpoint_ms`` is the median latency of a chain with no VNF (client to
    egress through one server): what every request pays besides links and VNFs.
    """

    proc_delay: dict[str, float]
    endpoint_ms: float


def calibrate(catalogue=DEFAULT_CATALOGUE, *, host_kind="dind", requests=50, images=ImageNames(),
              log=print) -> Calibration:
    """Measure each VNF type of ``catalogue`` alone on one server under its CPU limit."""
    g = nx.Graph()
    g.add_node("srv0", **{KIND: SERVER, CPU: 2.0, MEM: 4096.0})
    chains = [Chain("base", (), "srv0", "srv0")]
    chains += [Chain(f"t-{t}", (vnf,), "srv0", "srv0") for t, vnf in sorted(catalogue.items())]
    placement = Placement({c.id: Embedding(c.id, ("srv0",) * len(c.vnfs), (("srv0",),) * (len(c.vnfs) + 1))
                           for c in chains})
    with Testbed(g, chains, placement, host_kind=host_kind, images=images, log=log) as tb:
        p50 = {row["chain_id"]: row["p50_ms"] for row in tb.measure(requests, warmup=3)}
    return Calibration({t: max(0.0, p50[f"t-{t}"] - p50["base"]) for t in sorted(catalogue)}, p50["base"])


def calibrated_catalogue(catalogue, delays: dict[str, float]) -> dict:
    """``catalogue`` with each type's ``proc_delay`` replaced by its measured value."""
    return {t: dataclasses.replace(v, proc_delay=delays.get(t, v.proc_delay)) for t, v in catalogue.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m testbed.calibrate", description=__doc__.splitlines()[0])
    parser.add_argument("--host-kind", default="dind", choices=["dind", "docker", "process"])
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--out", help="write the calibration as JSON here")
    args = parser.parse_args(argv)
    result = calibrate(host_kind=args.host_kind, requests=args.requests)
    for t, ms in result.proc_delay.items():
        print(f"{t:<16}{ms:8.2f} ms")
    print(f"{'(endpoints)':<16}{result.endpoint_ms:8.2f} ms")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(dataclasses.asdict(result), f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
