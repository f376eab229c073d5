"""Calibrate VNF processing delays and CPU costs on the real testbed.

Each VNF type runs alone in a chain on one server, under its CPU limit, in
the implementation chosen for it (``light`` or real software).  Its
processing delay is the median request latency through it minus the median of
a chain with no VNF at all (client -> egress through the same server); its
CPU cost is the CPU its container used per request answered under a constant
open-loop load (telemetry at 10 Hz).  The placement model can then use
measured delays (``VNF.proc_delay``), and a workload that states a chain's
request rate reserves ``rate x cost`` of CPU for each of its VNFs.

``python -m testbed.calibrate [--host-kind dind] [--impl waf=nginx-modsecurity ...] [--out FILE.json]``
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
from placement.model import CPU, KIND, MEM, SERVER, VNF, Chain, Embedding, Placement
from placement.workload import DEFAULT_CATALOGUE
from testbed.images import CACHE_DIR, ImageNames


@dataclasses.dataclass(frozen=True)
class Calibration:
    """Measured processing delay (ms) per VNF type, and the fixed overhead of every chain.

    ``endpoint_ms`` is the median latency of a chain with no VNF (client to
    egress through one server): what every request pays besides links and VNFs.
    ``host_kind`` and ``delay_mechanism`` say what it was measured with,
    ``machine`` on which machine, ``created`` when (UTC, ISO 8601).
    ``cpu_ms_per_request`` is each type's CPU time per request (ms), at
    ``load_rps``; ``vnf_impl`` the implementation of each type that is not
    ``light``.
    """

    proc_delay: dict[str, float]
    endpoint_ms: float
    host_kind: str = ""
    delay_mechanism: str = ""
    machine: str = ""
    created: str = ""
    cpu_ms_per_request: dict[str, float] = dataclasses.field(default_factory=dict)
    vnf_impl: dict[str, str] = dataclasses.field(default_factory=dict)  # types not named: light
    load_rps: float = 0.0  # the constant rate the CPU costs were measured at

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


def _real_only(vnf_impl) -> dict[str, str]:
    return {t: i for t, i in sorted((vnf_impl or {}).items()) if i != "light"}


def cache_path(host_kind: str, delay_mechanism: str, vnf_impl=None) -> Path:
    """Where this machine keeps its calibration for a host kind, delay mechanism and choice of real VNF
    software (``$SFCBENCH_CALIBRATION_DIR``, by default the image cache's directory)."""
    folder = Path(os.environ.get("SFCBENCH_CALIBRATION_DIR", CACHE_DIR))
    real = "".join(f"-{t}={i}" for t, i in _real_only(vnf_impl).items())
    return folder / f"calibration-{host_kind}-{delay_mechanism}{real}.json"


def save_cached(calibration: Calibration) -> Path:
    """Keep ``calibration`` as this machine's for its host kind, delay mechanism and implementations."""
    path = cache_path(calibration.host_kind, calibration.delay_mechanism, calibration.vnf_impl)
    atomic_write_text(path, json.dumps(dataclasses.asdict(calibration), indent=1) + "\n")
    return path


def cached(host_kind: str, delay_mechanism: str, vnf_impl=None, types=()) -> Calibration | None:
    """This machine's calibration for ``host_kind``, ``delay_mechanism`` and ``vnf_impl`` that covers
    ``types``; None if it has none (or one made on another machine, older than CPU costs, or unreadable)."""
    try:
        calibration = Calibration(**json.loads(cache_path(host_kind, delay_mechanism, vnf_impl).read_text()))
    except (OSError, ValueError, TypeError):
        return None
    if calibration.machine != machine_id() or not set(types) <= set(calibration.cpu_ms_per_request):
        return None
    return calibration


def calibrate(catalogue=DEFAULT_CATALOGUE, *, host_kind="dind", requests=50, images=ImageNames(), vnf_impl=None,
              load_rps: float = 100.0, load_s: float = 4.0, log=print) -> Calibration:
    """Measure each VNF type of ``catalogue`` alone on one server under its CPU limit, in the implementation
    ``vnf_impl`` names (default: light); keep it as this machine's calibration (:func:`cached`).

    Processing delay: sequential requests on a kept-alive connection.  CPU
    cost: the VNF's container CPU per request answered at ``load_rps`` for
    ``load_s`` seconds, one type at a time (its first half second left out).
    """
    from testbed.deploy import Testbed  # lazy: reading a calibration needs neither Mininet nor Docker
    from testbed.loadgen import constant
    from testbed.telemetry import mean_by_entity

    g = nx.Graph()
    g.add_node("srv0", **{KIND: SERVER, CPU: 2.0, MEM: 4096.0})
    chains = [Chain("base", (), "srv0", "srv0")]
    chains += [Chain(f"t-{t}", (vnf,), "srv0", "srv0") for t, vnf in sorted(catalogue.items())]
    placement = Placement({c.id: Embedding(c.id, ("srv0",) * len(c.vnfs), (("srv0",),) * (len(c.vnfs) + 1))
                           for c in chains})
    real = {t: i for t, i in _real_only(vnf_impl).items() if t in catalogue}
    cost = {}
    with Testbed(g, chains, placement, host_kind=host_kind, images=images, vnf_impl=real, log=log) as tb:
        p50 = {row["chain_id"]: row["p50_ms"] for row in tb.measure(requests, warmup=3)}
        mechanism = tb.info["delay_mechanism"]
        for t in sorted(catalogue):
            with tb.sampler(hz=10) as sampler:
                result = tb.drive(constant(load_rps, load_s), chains=[f"t-{t}"], connections=8)[f"t-{t}"]
            frame = sampler.frame(t0=result.summary["started_monotonic"])
            vnf = next(s.name for s in tb.plan.vnfs if s.chain_id == f"t-{t}")
            cpu = mean_by_entity(frame, "cpu_cores", 0.5, load_s).get(vnf, float("nan"))
            served = result.seconds["ok"].sum() / load_s
            cost[t] = float(cpu * 1000 / served) if served else float("nan")
    calibration = Calibration(
        {t: max(0.0, p50[f"t-{t}"] - p50["base"]) for t in sorted(catalogue)}, p50["base"], host_kind=host_kind,
        delay_mechanism=mechanism, machine=machine_id(),
        created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        cpu_ms_per_request=cost, vnf_impl=real, load_rps=load_rps)
    save_cached(calibration)
    return calibration


def calibrated_catalogue(catalogue, delays: dict[str, float]) -> dict:
    """``catalogue`` with each type's ``proc_delay`` replaced by its measured value."""
    return {t: dataclasses.replace(v, proc_delay=delays.get(t, v.proc_delay)) for t, v in catalogue.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m testbed.calibrate", description=__doc__.splitlines()[0])
    parser.add_argument("--host-kind", default="dind", choices=["dind", "docker", "process"])
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--impl", action="append", default=[], metavar="TYPE=IMPL",
                        help="real VNF software for a type, e.g. waf=nginx-modsecurity (repeatable)")
    parser.add_argument("--types", nargs="+", help="VNF types to calibrate (default: the nominal catalogue, "
                        "plus every type given --impl)")
    parser.add_argument("--rate", type=float, default=100.0, help="requests/s at which CPU costs are measured")
    parser.add_argument("--out", help="write the calibration as JSON here")
    args = parser.parse_args(argv)
    try:
        impls = dict(item.split("=", 1) for item in args.impl)
    except ValueError:
        parser.error(f"--impl takes TYPE=IMPL, e.g. waf=nginx-modsecurity, not {args.impl}")
    types = args.types or sorted({*DEFAULT_CATALOGUE, *impls})
    catalogue = {t: DEFAULT_CATALOGUE.get(t, VNF(t, 0.5, 256.0)) for t in types}
    result = calibrate(catalogue, host_kind=args.host_kind, requests=args.requests, vnf_impl=impls,
                       load_rps=args.rate)
    print(f"{'type':<16}{'impl':<20}{'delay ms':>9}{'CPU ms/req':>11}")
    for t, ms in result.proc_delay.items():
        print(f"{t:<16}{result.vnf_impl.get(t, 'light'):<20}{ms:9.2f}{result.cpu_ms_per_request[t]:11.3f}")
    print(f"{'(endpoints)':<36}{result.endpoint_ms:9.2f}")
    print(f"kept as this machine's calibration: {cache_path(result.host_kind, result.delay_mechanism, impls)}")
    if args.out:
        atomic_write_text(args.out, json.dumps(dataclasses.asdict(result), indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
