"""Deploy a repetition's placed chains on the testbed and merge what it measured into the rows.

The testbed is imported only here and only when ``testbed.kind`` is not
``none``, so placement-only runs need neither root, Mininet nor Docker.
The contract used is ``testbed.deploy.Testbed`` (a context manager whose
``measure(requests=N)`` returns one dict per placed chain and whose ``info``
names the run and the delay mechanism).
"""

from __future__ import annotations

import json
import math

from omegaconf import OmegaConf

from placement.metrics import chain_latency
from placement.model import Placement

from .results import MEASURED_COLUMNS

__all__ = ["not_measured", "preflight", "deploy_and_measure", "latency_model", "latency_comparison"]


def not_measured() -> dict:
    """The testbed columns of a row that was not deployed (NaN numbers, None otherwise)."""
    row = {column: math.nan for column in MEASURED_COLUMNS.values()}
    row.update(trace_ok=None, vnf_counters=None, delay_mechanism=None, host_kind=None, testbed_run_id=None,
               testbed_model_rtt_ms=math.nan, latency_model=None)
    return row


def latency_model(substrate, chains, placement, host_kind: str, delay_mechanism: str, vnf_impl=None):
    """The model a deployment's measured latency is compared with: ``(name, round trip by chain id)``.

    This machine's calibration (:func:`testbed.calibrate.cached`) when it has
    one for the host kind, delay mechanism and VNF implementations; else the nominal model
    (``model_rtt_ms``: catalogue processing delays, no endpoint overhead).
    """
    from testbed.calibrate import cached  # lazy, as above

    calibration = cached(host_kind, delay_mechanism, vnf_impl)
    by_id = {c.id: c for c in chains}
    if calibration is None:
        return ("nominal (no calibration on this machine: python -m testbed.calibrate)",
                {cid: chain_latency(substrate, by_id[cid], e, round_trip=True)
                 for cid, e in placement.embeddings.items()})
    return (f"calibrated on this machine ({calibration.created})",
            {cid: calibration.model_rtt(substrate, by_id[cid], e) for cid, e in placement.embeddings.items()})


def latency_comparison(df) -> str | None:
    """Measured p50 against the deployment's latency model, one line per deployed chain (None if none)."""
    deployed = df[df["testbed_model_rtt_ms"].notna() & df["measured_p50_ms"].notna()] \
        if "testbed_model_rtt_ms" in df else df.iloc[:0]
    if deployed.empty:
        return None
    lines = [f"measured p50 against the {deployed['latency_model'].iloc[0]} model round trip (ms):"]
    for row in deployed.itertuples():
        error = (row.measured_p50_ms - row.testbed_model_rtt_ms) / row.testbed_model_rtt_ms
        lines.append(f"  {row.chain_id}: measured {row.measured_p50_ms:.2f}, model {row.testbed_model_rtt_ms:.2f} "
                     f"({100 * error:+.1f}%)")
    return "\n".join(lines)


def _measured_columns(measured: dict | None, info: dict) -> dict:
    """The testbed columns of one row from its ``measure()`` dict (None: chain not deployed)."""
    row = not_measured()
    row.update(
        delay_mechanism=info.get("delay_mechanism"),
        host_kind=info.get("host_kind"),
        testbed_run_id=info.get("run_id"),
    )
    if "machine_util" in info:  # a run over several machines: where each VNF ran, and how busy each machine was
        row["machines"] = json.dumps(measured.get("machines") if measured else None)
        row["machine_util"] = json.dumps(info["machine_util"])
    if measured is not None:
        row.update({column: measured.get(key, row[column]) for key, column in MEASURED_COLUMNS.items()})
        row["vnf_counters"] = json.dumps(measured.get("vnf_counters") or {})
        if measured.get("status") == "error":  # placed, but the testbed found it broken
            row.update(status="error", reason=measured["reason"])
    return row


def preflight(testbed_cfg) -> None:
    """Raise :class:`testbed.system.TestbedError` now if the configured testbed cannot run here."""
    if testbed_cfg.kind == "none":
        return
    from testbed.deploy import preflight as testbed_preflight  # lazy, as above

    testbed_preflight(testbed_cfg.kind)


def deploy_and_measure(substrate, chains, rows, placement: Placement, testbed_cfg, log=print) -> list[dict]:
    """``rows`` with the testbed's measurements merged in (by ``chain_id``).

    Deploys ``placement`` (the placed chains of one repetition) with
    ``testbed.deploy.Testbed`` (servers of kind ``testbed_cfg.kind``, images
    ``testbed_cfg.images``, link delay by ``testbed_cfg.delay``), sends
    ``testbed_cfg.requests`` requests per chain, and tears the testbed down
    (also on failure).  With ``testbed_cfg.machines`` set, the testbed spans
    the machines of a Ray cluster (``testbed.cluster.ClusterTestbed``) and
    rows also get each VNF's machine (``machines``) and each machine's
    utilisation while measuring (``machine_util``).  With nothing placed,
    nothing is deployed.
    """
    if not placement.embeddings:
        return [{**row, **not_measured()} for row in rows]
    from testbed.deploy import Testbed  # lazy: root, Mininet and Docker only when deploying
    from testbed.images import ImageNames

    deployed = [c for c in chains if c.id in placement.embeddings]
    options = dict(host_kind=testbed_cfg.kind, delay=testbed_cfg.delay, vnf_impl=dict(testbed_cfg.vnf_impl), log=log,
                   images=ImageNames(**OmegaConf.to_container(testbed_cfg.images, resolve=True)))
    machines, machine_lost = testbed_cfg.get("machines"), ()  # () catches nothing
    if machines is not None:  # over the machines of a Ray cluster
        from testbed.cluster import ClusterTestbed, MachineLost

        machine_lost = MachineLost

        machines = OmegaConf.to_container(machines) if OmegaConf.is_config(machines) else machines
        testbed = ClusterTestbed(substrate, deployed, placement, machines=machines, address=testbed_cfg.get("address"),
                                 budget_override=testbed_cfg.get("budget_override", False), **options)
    else:
        testbed = Testbed(substrate, deployed, placement, **options)
    try:
        with testbed as tb:
            measured = {m["chain_id"]: m for m in tb.measure(requests=testbed_cfg.requests)}
            info = dict(tb.info)
    except machine_lost as exc:  # a machine died mid-run: the others were torn down and cleaned up
        log(f"testbed: {exc}; every chain of this repetition is recorded as failed")
        lost = {**not_measured(), "status": "error", "reason": str(exc), "testbed_run_id": testbed.info.get("run_id")}
        return [{**row, **(lost if row["chain_id"] in placement.embeddings else not_measured())} for row in rows]
    model, rtt = latency_model(substrate, deployed, placement, info["host_kind"], info["delay_mechanism"],
                               dict(testbed_cfg.vnf_impl))
    out = []
    for row in rows:
        columns = _measured_columns(measured.get(row["chain_id"]), info)
        if row["chain_id"] in rtt:
            columns.update(testbed_model_rtt_ms=rtt[row["chain_id"]], latency_model=model)
        out.append({**row, **columns})
    return out
