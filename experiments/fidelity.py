"""The testbed's fidelity: model end-to-end latency against measured latency, chain by chain.

Chains are placed by hand on substrates whose links have real delays (a line
of servers, and a small Topology Zoo graph with delays from distance), from
all VNFs on one server to consecutive VNFs far apart, routed by least delay.
The model of a chain is its round trip: twice the link delays along its paths
plus the VNF processing delays calibrated on this testbed
(:mod:`testbed.calibrate`), plus the measured endpoint overhead (client and
egress with no VNF between them).  ``python -m experiments.run experiment=fidelity``
writes one row per chain and a model-against-measured scatter.
"""

from __future__ import annotations

import logging
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd

from placement.model import DELAY, Chain, Embedding, Placement
from placement.substrate import servers
from placement.topologies import line, zoo
from placement.workload import DEFAULT_CATALOGUE

from .report.figures import styled
from .results import save_figure, save_results

log = logging.getLogger(__name__)
VNF_TYPES = ("firewall", "ids")
SUBSTRATES = {
    "line": lambda p: line(p.get("line_servers", 4), cpu=2.0, mem=4096.0, bw=1000.0, delay=p.get("line_delay", 5.0)),
    "abilene": lambda p: zoo("Abilene", cpu=2.0, mem=4096.0, bw=1000.0),
}


def route(g, nodes) -> tuple:
    """Least-delay path per consecutive pair of ``nodes`` (one-node path where they coincide)."""
    return tuple(tuple(nx.shortest_path(g, a, b, weight=DELAY)) for a, b in zip(nodes, nodes[1:]))


def styles(g) -> dict[str, tuple]:
    """Placements from compact to scattered: (ingress, VNF servers, egress) by style name."""
    dist = dict(nx.all_pairs_dijkstra_path_length(g, weight=DELAY))
    hosts = servers(g)
    ingress, egress = max(((a, b) for a in hosts for b in hosts), key=lambda ab: dist[ab[0]][ab[1]])
    mid = min(hosts, key=lambda s: abs(dist[ingress][s] - dist[s][egress]))
    return {
        "same-server": (ingress, (mid, mid), egress),  # consecutive VNFs together, half-way
        "at-ends": (ingress, (ingress, egress), egress),  # one VNF at each end
        "far-apart": (ingress, (egress, ingress), egress),  # there and back before leaving
    }


def instance(g, name, catalogue):
    """Chains (one per style) on ``g`` and their hand-made placement."""
    chains, embeddings = [], {}
    vnfs = tuple(catalogue[t] for t in VNF_TYPES)
    for style, (ingress, where, egress) in styles(g).items():
        chain = Chain(f"{name}-{style}", vnfs, ingress, egress, bw=1.0)
        chains.append(chain)
        embeddings[chain.id] = Embedding(chain.id, where, route(g, (ingress, *where, egress)))
    return chains, Placement(embeddings)


def measure_instance(g, name, catalogue, calibration, testbed_cfg) -> list[dict]:
    from testbed.deploy import Testbed
    from testbed.images import ImageNames

    chains, placement = instance(g, name, catalogue)
    with Testbed(g, chains, placement, host_kind=testbed_cfg.kind, delay=testbed_cfg.delay,
                 images=ImageNames(**testbed_cfg.images), log=log.info) as tb:
        measured = {row["chain_id"]: row for row in tb.measure(requests=testbed_cfg.requests, warmup=3)}
        mechanism = tb.info["delay_mechanism"]
    rows = []
    for chain in chains:
        emb = placement.embeddings[chain.id]
        model = calibration.model_rtt(g, chain, emb)
        m = measured[chain.id]
        rows.append({
            "substrate": name, "chain_id": chain.id, "style": chain.id.split("-", 1)[1],
            "servers": ",".join(map(str, emb.servers)), "hops": sum(len(p) - 1 for p in emb.paths),
            "link_rtt_ms": 2 * sum(g.edges[u, v][DELAY] for p in emb.paths for u, v in zip(p, p[1:])),
            "proc_ms": sum(calibration.proc_delay.get(v.type, v.proc_delay) for v in chain.vnfs),
            "endpoint_ms": calibration.endpoint_ms,
            "model_rtt_ms": model, "measured_p50_ms": m["p50_ms"], "measured_p95_ms": m["p95_ms"],
            "errors": m["errors"], "trace_ok": m["trace_ok"], "delay_mechanism": mechanism,
        })
    return rows


@styled  # the report's shared style (constrained layout included)
def plot(df: pd.DataFrame, path_stem: Path) -> None:
    """Model against measured latency, identity line, and the error of each chain."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 4))
    for name, rows in df.groupby("substrate"):
        ax.scatter(rows["model_rtt_ms"], rows["measured_p50_ms"], label=name)
    top = 1.1 * max(df["model_rtt_ms"].max(), df["measured_p50_ms"].max())
    ax.plot([0, top], [0, top], "k--", lw=1, label="identity")
    ax.set(xlabel="model round trip (ms)", ylabel="measured p50 (ms)", xlim=(0, top), ylim=(0, top),
           title="Model vs measured latency")
    ax.legend()
    bx.barh(df["chain_id"], 100 * df["rel_error"])
    bx.axvline(10, color="r", ls=":"), bx.axvline(-10, color="r", ls=":")
    bx.set(xlabel="(measured - model) / model (%)", title="Error per chain")
    save_figure(fig, path_stem)


def run_fidelity(cfg) -> pd.DataFrame:
    """Hydra task of ``experiment=fidelity``: calibrate, deploy each substrate, compare, plot."""
    from testbed.calibrate import calibrate
    from testbed.images import ImageNames

    params = dict(cfg.study)
    run_dir = Path(cfg.results_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    catalogue = {t: DEFAULT_CATALOGUE[t] for t in VNF_TYPES}
    calibration = calibrate(catalogue, host_kind=cfg.testbed.kind, requests=params.get("calibration_requests", 50),
                            images=ImageNames(**cfg.testbed.images), log=log.info)
    log.info("calibrated processing delays (ms): %s; endpoint overhead %.2f ms", calibration.proc_delay,
             calibration.endpoint_ms)
    rows = []
    for name in params.get("substrates", list(SUBSTRATES)):
        rows += measure_instance(SUBSTRATES[name](params), name, catalogue, calibration, cfg.testbed)
    df = pd.DataFrame(rows)
    df["abs_error_ms"] = (df["measured_p50_ms"] - df["model_rtt_ms"]).abs()
    df["rel_error"] = (df["measured_p50_ms"] - df["model_rtt_ms"]) / df["model_rtt_ms"]
    save_results(run_dir, df)
    plot(df, run_dir / "fidelity")
    median = float((df["abs_error_ms"] / df["model_rtt_ms"]).median())
    log.info("fidelity (delay by %s):\n%s\nmedian |error| = %.1f%% of the model (goal: within 10%%)",
             df["delay_mechanism"].iloc[0],
             df[["chain_id", "model_rtt_ms", "measured_p50_ms", "rel_error"]].round(3).to_string(index=False),
             100 * median)
    return df
