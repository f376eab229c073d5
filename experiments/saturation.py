"""Saturation: the same chains at stepped load under two or more placements, where the load-free model stops.

Every chain is driven at once by its own open-loop generator
(:mod:`testbed.loadgen`) through a staircase of request rates; telemetry
(:mod:`testbed.telemetry`) samples every VNF, server and client at 10 Hz
meanwhile.  Per placement, step and chain the results hold offered and
achieved rate, p50/p90/p99 (from the generator's per-second histograms of
the step, its first ``settle_s`` left out), errors, the CPU of each VNF, and
the model's round trip (calibrated, load-free) with its error at that load,
the capacity the calibrated CPU costs predict (:func:`predicted_capacity`), and
the CPU the whole machine used (was the host itself the bottleneck?).
The *knee* of a placement is its first step where the chains are no longer
served: achieved below 95% of offered, more than 1% errors, or p99 above
``knee_factor`` times the lowest step's (or than ``knee_factor`` x 2 ms).  Its *saturation rate* is the step
before.  ``python -m experiments.run experiment=saturation`` writes
``results.parquet`` (one row per placement, step and chain),
``telemetry.parquet``, ``latency.parquet`` (per second and chain) and three
figures.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd

from placement.errors import Infeasible
from placement.model import DELAY, VNF, Chain, Embedding, Placement
from placement.topologies import line
from placement.workload import DEFAULT_CATALOGUE
from testbed.telemetry import mean_by_entity
from testbed.vnfs.catalogue import CATALOGUE

from .report.figures import plot_saturation, styled
from .results import atomic_write, parquet_safe, save_figure, save_results

log = logging.getLogger(__name__)

TELEMETRY_FILE = "telemetry.parquet"
LATENCY_FILE = "latency.parquet"


class SaturationError(ValueError):
    """A saturation study that cannot run as configured (said before anything starts)."""


# -- the instance --------------------------------------------------------------------


def instance(params: dict):
    """The substrate (a line of servers, ingress at one end and egress at the other) and the chains."""
    n = int(params.get("servers", 3))
    g = line(n, cpu=float(params.get("server_cpu", 1.0)), mem=4096.0, bw=1000.0,
             delay=float(params.get("link_delay", 0.0)))
    nodes = sorted(g.nodes)
    types = list(params.get("vnf_types", ["firewall", "ids"]))
    unknown = [t for t in types if t not in CATALOGUE]
    if unknown:
        raise SaturationError(f"study.vnf_types: unknown VNF type(s) {unknown}; known: {sorted(CATALOGUE)}")
    cpu = float(params.get("vnf_cpu", 0.25))
    nominal = {t: DEFAULT_CATALOGUE[t].proc_delay if t in DEFAULT_CATALOGUE else 0.1 for t in types}
    vnfs = tuple(VNF(t, cpu, 256.0, proc_delay=nominal[t]) for t in types)
    chains = [Chain(f"c{i}", vnfs, nodes[0], nodes[-1], bw=1.0) for i in range(int(params.get("chains", 2)))]
    return g, chains


def route(g, stops) -> tuple:
    """Least-delay path per consecutive pair of ``stops`` (one-node path where they coincide)."""
    return tuple(tuple(nx.shortest_path(g, a, b, weight=DELAY)) for a, b in zip(stops, stops[1:]))


def placements(g, chains, spec: dict, seed: int = 0) -> dict[str, Placement]:
    """The placements to compare, by name: a mapping (chain -> servers of its VNFs, in order) or an algorithm name."""
    from placement.base import available_algorithms, get_algorithm

    if len(spec) < 1:
        raise SaturationError("study.placements is empty: give two or more (a mapping or an algorithm name each)")
    result = {}
    for name, how in spec.items():
        if isinstance(how, str):
            if how not in available_algorithms():
                raise SaturationError(f"study.placements.{name}: unknown algorithm {how!r}; "
                                      f"known: {', '.join(sorted(available_algorithms()))}")
            hint = "(give the servers more CPU, or the VNFs less: study.server_cpu, study.vnf_cpu)"
            try:
                placed = get_algorithm(how).place(g, chains, seed=seed)
            except Infeasible as exc:
                raise SaturationError(f"study.placements.{name}: {how} could not place the chains: {exc} {hint}") from None
            missing = [c.id for c in chains if c.id not in placed.embeddings]
            if missing:
                raise SaturationError(f"study.placements.{name}: {how} could not place chain(s) {missing} {hint}")
            result[name] = placed
            continue
        embeddings = {}
        for chain in chains:
            where = list((how or {}).get(chain.id, []))
            if len(where) != len(chain.vnfs) or any(s not in g for s in where):
                raise SaturationError(
                    f"study.placements.{name}.{chain.id}: give one server per VNF ({len(chain.vnfs)}) from "
                    f"{sorted(g.nodes)}, not {where}")
            embeddings[chain.id] = Embedding(chain.id, tuple(where), route(g, (chain.ingress, *where, chain.egress)))
        result[name] = Placement(embeddings)
    return result


# -- analysis (pure functions of the generator's and the sampler's output) -----------


def step_windows(rates, step_s: float, settle_s: float) -> list[tuple[int, float, float, float]]:
    """(step, rate, from, to) per step: seconds of the run that count, the first ``settle_s`` of each left out."""
    return [(i, float(r), i * step_s + settle_s, (i + 1) * step_s) for i, r in enumerate(rates)]


def merged_percentiles(hists, qs=(0.5, 0.9, 0.99)) -> list[float]:
    """Percentiles (ms) of the union of per-second histograms (the generator's ``[bucket low µs, count]`` pairs)."""
    from testbed.loadgen import hist_quantiles

    return hist_quantiles(hists, qs)


def step_table(seconds: pd.DataFrame, windows) -> pd.DataFrame:
    """Per chain and step: offered and achieved rate, errors, p50/p90/p99 over the step's counted seconds.

    ``seconds`` has one row per chain and second (``second``, ``offered``,
    ``ok``, ``blocked``, ``errors``, ``timeouts``, ``hist``).
    """
    rows = []
    for chain_id, per_chain in seconds.groupby("chain_id"):
        for step, rate, t_from, t_to in windows:
            sel = per_chain[(per_chain.second >= t_from) & (per_chain.second < t_to)]
            span = max(len(sel), 1)
            answered = sel.ok.sum() + sel.blocked.sum()
            p50, p90, p99 = merged_percentiles(sel["hist"])
            rows.append({"chain_id": chain_id, "step": step, "offered_rps": rate,
                         "scheduled_rps": sel.offered.sum() / span, "achieved_rps": answered / span,
                         "errors": int(sel.errors.sum() + sel.timeouts.sum()),
                         "error_share": float((sel.errors.sum() + sel.timeouts.sum()) / max(sel.offered.sum(), 1)),
                         "p50_ms": p50, "p90_ms": p90, "p99_ms": p99})
    return pd.DataFrame(rows)


P99_FLOOR_MS = 2.0
"""A lowest-load p99 below this counts as this: sub-millisecond tails jitter by milliseconds on a busy
machine without any queue building up."""


def served(offered_rps, achieved_rps, error_share, p99_ms, base_p99_ms, knee_factor: float = 5.0) -> bool:
    """Whether a load step was served: >= 95% of the offered rate, at most 1% errors, and a p99 within
    ``knee_factor`` times the lowest load's (at least :data:`P99_FLOOR_MS`; works on columns too)."""
    limit = knee_factor * np.maximum(base_p99_ms, P99_FLOOR_MS)
    return (achieved_rps >= 0.95 * offered_rps) & (error_share <= 0.01) & (p99_ms <= limit)


def knee(steps: pd.DataFrame, knee_factor: float = 5.0) -> tuple[float | None, float | None]:
    """(saturation rate, knee rate) per chain of one placement's steps: the last rate :func:`served` for
    every chain, and the first that is not."""
    base = steps[steps.step == steps.step.min()].set_index("chain_id")["p99_ms"]
    served_rate = None
    for _, rows in steps.sort_values("step").groupby("step"):
        rows = rows.set_index("chain_id")
        ok = served(rows.offered_rps, rows.achieved_rps, rows.error_share, rows.p99_ms, base.reindex(rows.index),
                    knee_factor).all()
        rate = float(rows.offered_rps.iloc[0])
        if not ok:
            return served_rate, rate
        served_rate = rate
    return served_rate, None


def predicted_capacity(g, chains, placement, cpu_ms_per_request: dict, vnf_cpu: float) -> float:
    """The request rate per chain at which the first CPU limit is reached, by the calibrated CPU costs:
    a server's cores over the cost of all the VNFs it hosts, or one VNF's own limit over its cost.

    >>> from placement.topologies import line
    >>> g = line(2, cpu=0.5)
    >>> chains = [Chain(f"c{i}", (VNF("firewall", 0.25, 1.0),) * 2, "srv0", "srv1") for i in range(2)]
    >>> together = Placement({c.id: Embedding(c.id, ("srv0", "srv0"), (("srv0",),) * 2 + (("srv0", "srv1"),))
    ...                       for c in chains})
    >>> predicted_capacity(g, chains, together, {"firewall": 1.0}, 0.25)  # 0.5 core / (4 x 1 ms)
    125.0
    """
    load: dict = {}
    rate = float("inf")
    for chain in chains:
        for vnf, server in zip(chain.vnfs, placement.embeddings[chain.id].servers):
            cost = cpu_ms_per_request.get(vnf.type, float("nan")) / 1000.0
            load[server] = load.get(server, 0.0) + cost
            rate = min(rate, vnf_cpu / cost)
    for server, cost in load.items():
        rate = min(rate, g.nodes[server]["cpu"] / cost)
    return rate


def machine_cpu_per_step(telemetry: pd.DataFrame, windows) -> dict[int, float]:
    """Mean CPU (cores) the whole machine used in each step's counted seconds: was the host the bottleneck?"""
    machine = telemetry[telemetry.entity_kind == "machine"]
    return {step: float(mean_by_entity(machine, "cpu_cores", t_from, t_to).mean())
            for step, _, t_from, t_to in windows}


def vnf_cpu_per_step(telemetry: pd.DataFrame, windows) -> pd.DataFrame:
    """Mean CPU (cores) of every VNF in each step's counted seconds."""
    vnfs = telemetry[telemetry.entity_kind == "vnf"]
    rows = [{"step": step, "vnf": entity, "cpu_cores": float(value)}
            for step, _, t_from, t_to in windows
            for entity, value in mean_by_entity(vnfs, "cpu_cores", t_from, t_to).items()]
    return pd.DataFrame(rows, columns=["step", "vnf", "cpu_cores"])


# -- figures ---------------------------------------------------------------------------


@styled
def plot_over_time(latency: pd.DataFrame, telemetry: pd.DataFrame, path_stem: Path) -> None:
    """Per placement: offered and served load, p50 and p99, and CPU per VNF, over time, per chain."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(latency["placement"]))
    fig, axes = plt.subplots(3, len(names), figsize=(4.5 * len(names), 8), sharex=True, squeeze=False)
    for col, name in enumerate(names):
        ax_load, ax_lat, ax_cpu = axes[:, col]
        for chain_id, rows in latency[latency.placement == name].groupby("chain_id"):
            line_, = ax_load.plot(rows.second, rows.offered, ls="--", lw=1)
            ax_load.plot(rows.second, rows.ok + rows.blocked, color=line_.get_color(), label=f"{chain_id} served")
            ax_lat.plot(rows.second, rows.p50_ms, color=line_.get_color(), label=f"{chain_id} p50")
            ax_lat.plot(rows.second, rows.p99_ms, color=line_.get_color(), ls=":", label=f"{chain_id} p99")
        cpu = telemetry[(telemetry.placement == name) & (telemetry.metric == "cpu_cores")
                        & (telemetry.entity_kind == "vnf")]
        for entity, rows in cpu.groupby("entity"):
            ax_cpu.plot(rows.time_s, rows.value, lw=1, label=entity)
        ax_load.set(title=name, ylabel="requests/s (dashed: offered)")
        ax_lat.set(ylabel="latency (ms)", yscale="log")
        ax_cpu.set(ylabel="VNF CPU (cores)", xlabel="time (s)")
        for ax in (ax_load, ax_lat, ax_cpu):
            ax.legend(fontsize="x-small", ncols=2)
    save_figure(fig, path_stem)


# -- the study ---------------------------------------------------------------------------


def _calibration(cfg, catalogue, vnf_impl, log_fn):
    """This machine's calibration for the testbed and the VNF software configured, measured first if
    there is none."""
    from testbed.calibrate import cached, calibrate
    from testbed.images import ImageNames
    from testbed.system import delay_mechanism

    found = cached(cfg.testbed.kind, delay_mechanism(cfg.testbed.delay), vnf_impl, types=catalogue)
    if found is not None:
        return found
    log_fn("no calibration of %s on this machine yet: calibrating first" % ", ".join(sorted(catalogue)))
    return calibrate(catalogue, host_kind=cfg.testbed.kind, images=ImageNames(**cfg.testbed.images),
                     vnf_impl=vnf_impl, log=log_fn)


def run_saturation(cfg) -> pd.DataFrame:
    """Hydra task of ``experiment=saturation``: every placement deployed in turn, driven up the staircase."""
    from testbed.deploy import Testbed
    from testbed.images import ImageNames
    from testbed.loadgen import steps as step_profile

    params = dict(cfg.study)
    run_dir = Path(cfg.results_dir)
    if cfg.testbed.kind == "none":
        raise SaturationError("experiment=saturation measures on the testbed: choose testbed=dind (or docker, process)")
    rates = [float(r) for r in params.get("rates", [50, 100, 200, 400])]
    step_s, settle_s = float(params.get("step_s", 4.0)), float(params.get("settle_s", 1.0))
    if not 0 <= settle_s < step_s:
        raise SaturationError(f"study.settle_s ({settle_s}) must be >= 0 and below study.step_s ({step_s})")
    profile = step_profile(rates, step_s)  # ProfileError (a ValueError) for an impossible staircase
    g, chains = instance(params)
    plans = placements(g, chains, dict(params.get("placements", {})), seed=cfg.seed)
    catalogue = {v.type: v for v in chains[0].vnfs}
    vnf_impl = {t: i for t, i in dict(cfg.testbed.get("vnf_impl") or {}).items() if t in catalogue}
    calibration = _calibration(cfg, catalogue, vnf_impl, log.info)
    windows = step_windows(rates, step_s, settle_s)
    all_steps, all_latency, all_telemetry = [], [], []
    for name, placement in plans.items():
        log.info("placement %s: %s", name, {c: e.servers for c, e in placement.embeddings.items()})
        with Testbed(g, chains, placement, host_kind=cfg.testbed.kind, delay=cfg.testbed.delay,
                     images=ImageNames(**cfg.testbed.images), vnf_impl=vnf_impl, log=log.info) as tb:
            tb.measure(requests=5, warmup=2)  # every connection along every chain open
            with tb.sampler(hz=float(params.get("telemetry_hz", 10.0))) as sampler:
                results = tb.drive(profile, connections=int(params.get("connections", 64)),
                                   new_connection=bool(params.get("new_connection", False)), sampler=sampler)
            telemetry = sampler.frame(t0=next(iter(results.values())).summary["started_monotonic"])
            instance_of = {s.name: s.chain_id for s in tb.plan.vnfs}
            run_id = tb.info["run_id"]
        latency = pd.concat([r.seconds.assign(chain_id=c) for c, r in results.items()], ignore_index=True)
        steps = step_table(latency, windows)
        cpu = vnf_cpu_per_step(telemetry, windows)
        cpu["chain_id"] = cpu.vnf.map(instance_of)
        model = {c.id: calibration.model_rtt(g, c, placement.embeddings[c.id]) for c in chains}
        steps["model_rtt_ms"] = steps.chain_id.map(model)
        steps["model_error"] = (steps.p50_ms - steps.model_rtt_ms) / steps.model_rtt_ms
        steps["vnf_cpu_cores"] = [json.dumps(
            {r.vnf: round(r.cpu_cores, 4) for r in cpu[(cpu.step == s) & (cpu.chain_id == c)].itertuples()})
            for s, c in zip(steps.step, steps.chain_id)]
        steps["servers"] = steps.chain_id.map(lambda c: ",".join(placement.embeddings[c].servers))
        steps["machine_cpu_cores"] = steps.step.map(machine_cpu_per_step(telemetry, windows))
        steps["machine_cores"] = os.cpu_count()
        saturation, knee_rate = knee(steps, float(params.get("knee_factor", 5.0)))
        capacity = predicted_capacity(g, chains, placement, calibration.cpu_ms_per_request,
                                      float(params.get("vnf_cpu", 0.25)))
        steps = steps.assign(placement=name, saturation_rps=saturation, knee_rps=knee_rate,
                             predicted_capacity_rps=capacity, testbed_run_id=run_id)
        all_steps.append(steps)
        all_latency.append(latency.assign(placement=name))
        all_telemetry.append(telemetry.assign(placement=name, run_id=run_id))
        log.info("placement %s: saturates at %s requests/s per chain (knee %s)", name, saturation, knee_rate)
    df = pd.concat(all_steps, ignore_index=True)
    df["vnf_impl"] = ",".join(f"{k}={v}" for k, v in sorted(vnf_impl.items()) if v != "light") or "light"
    df["cpu_ms_per_request"] = df.chain_id.map(lambda _: json.dumps(calibration.cpu_ms_per_request))
    df["delay_mechanism"] = calibration.delay_mechanism
    latency = pd.concat(all_latency, ignore_index=True)
    telemetry = pd.concat(all_telemetry, ignore_index=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(run_dir / TELEMETRY_FILE, lambda p: telemetry.to_parquet(p, index=False))
    atomic_write(run_dir / LATENCY_FILE, lambda p: parquet_safe(latency).to_parquet(p, index=False))
    save_results(run_dir, df)
    plot_over_time(latency, telemetry, run_dir / "load_over_time")
    save_figure(plot_saturation(df), run_dir / "latency_vs_load")
    log.info("saturation (per chain, requests/s):\n%s", summary(df).to_string(index=False))
    return df


def summary(df: pd.DataFrame) -> pd.DataFrame:
    """One line per placement: saturation and knee, and p50/p99 and the model's error at the lowest and the last
    served step (worst chain)."""
    rows = []
    for name, rows_ in df.groupby("placement", sort=False):
        low = rows_[rows_.step == rows_.step.min()]
        sat = rows_.saturation_rps.iloc[0]
        at = rows_[rows_.offered_rps == sat] if pd.notna(sat) else low
        rows.append({"placement": name, "servers": " | ".join(sorted(set(rows_.servers))),
                     "predicted_rps": rows_.predicted_capacity_rps.iloc[0],
                     "saturation_rps": sat, "knee_rps": rows_.knee_rps.iloc[0],
                     "low_p50_ms": low.p50_ms.max(), "low_p99_ms": low.p99_ms.max(),
                     "low_model_error": low.model_error.abs().max(),
                     "sat_p50_ms": at.p50_ms.max(), "sat_p99_ms": at.p99_ms.max(),
                     "sat_model_error": at.model_error.abs().max()})
    return pd.DataFrame(rows).round(3)
