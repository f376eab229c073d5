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
import datetime
import json
import os
import platform
import sys
from pathlib import Path

import networkx as nx

from placement.fileio import atomic_write_text
from placement.metrics import chain_latency
from placement.model import CPU, KIND, MEM, SERVER, Chain, Embedding, Placement
from placement.workload import DEFAULT_CATALOGUE
from testbed.images import CACHE_DIR, ImageNames


@dataclasses.dataclass(frozen=True)
class Calibration:
    """Measured processing delay (ms) per VNF type, and the fixed overhead of every chain.

    ``endpoint_ms`` is the median latency of a chain with no VNF (client to
    egress through one server): what every request pays besides links and VNFs.
    ``host_kind`` and ``delay_mechanism`` say what it was measured with,
    ``machine`` on which machine, ``created`` when (UTC, ISO 8601).
    """

    proc_delay: dict[str, float]
    endpoint_ms: float
    host_kind: str = ""
    delay_mechanism: str = ""
    machine: str = ""
    created: str = ""

    def model_rtt(self, substrate, chain, embedding) -> float:
        """Model round trip of ``chain`` as embedded: link delays both ways, calibrated processing, endpoints.

        VNF types that were not calibrated keep their nominal ``proc_delay``.
        """
        vnfs = tuple(dataclasses.replace(v, proc_delay=self.proc_delay.get(v.type, v.proc_delay)) for v in chain.vnfs)
        return chain_latency(substrate, dataclasses.replace(chain, vnfs=vnfs), embedding, round_trip=True) \
            + self.endpoint_ms


def machine_id() -> str:
    """What a calibration holds for: host name, kernel and core count."""
    return f"{platform.node()} {platform.release()} {os.cpu_count()} cores"


def cache_path(host_kind: str, delay_mechanism: str) -> Path:
    """Where this machine keeps its calibration for a host kind and delay mechanism
    (``$SFCBENCH_CALIBRATION_DIR``, by default the image cache's directory)."""
    folder = Path(os.environ.get("SFCBENCH_CALIBRATION_DIR", CACHE_DIR))
    return folder / f"calibration-{host_kind}-{delay_mechanism}.json"


def save_cached(calibration: Calibration) -> Path:
    """Keep ``calibration`` as this machine's for its host kind and delay mechanism."""
    path = cache_path(calibration.host_kind, calibration.delay_mechanism)
    atomic_write_text(path, json.dumps(dataclasses.asdict(calibration), indent=1) + "\n")
    return path


def cached(host_kind: str, delay_mechanism: str) -> Calibration | None:
    """This machine's calibration for ``host_kind`` and ``delay_mechanism``; None if it has none
    (or one made on another machine, or unreadable)."""
    try:
        calibration = Calibration(**json.loads(cache_path(host_kind, delay_mechanism).read_text()))
    except (OSError, ValueError, TypeError):
        return None
    return calibration if calibration.machine == machine_id() else None


def calibrate(catalogue=DEFAULT_CATALOGUE, *, host_kind="dind", requests=50, images=ImageNames(),
              log=print) -> Calibration:
    """Measure each VNF type of ``catalogue`` alone on one server under its CPU limit; keep it as this
    machine's calibration (:func:`cached`)."""
    from testbed.deploy import Testbed  # lazy: reading a calibration needs neither Mininet nor Docker

    g = nx.Graph()
    g.add_node("srv0", **{KIND: SERVER, CPU: 2.0, MEM: 4096.0})
    chains = [Chain("base", (), "srv0", "srv0")]
    chains += [Chain(f"t-{t}", (vnf,), "srv0", "srv0") for t, vnf in sorted(catalogue.items())]
    placement = Placement({c.id: Embedding(c.id, ("srv0",) * len(c.vnfs), (("srv0",),) * (len(c.vnfs) + 1))
                           for c in chains})
    with Testbed(g, chains, placement, host_kind=host_kind, images=images, log=log) as tb:
        p50 = {row["chain_id"]: row["p50_ms"] for row in tb.measure(requests, warmup=3)}
        mechanism = tb.info["delay_mechanism"]
    calibration = Calibration(
        {t: max(0.0, p50[f"t-{t}"] - p50["base"]) for t in sorted(catalogue)}, p50["base"], host_kind=host_kind,
        delay_mechanism=mechanism, machine=machine_id(),
        created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
    save_cached(calibration)
    return calibration


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
    print(f"kept as this machine's calibration: {cache_path(result.host_kind, result.delay_mechanism)}")
    if args.out:
        atomic_write_text(args.out, json.dumps(dataclasses.asdict(result), indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
