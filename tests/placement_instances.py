"""Small placement instances and an exhaustive reference solver for the tests.

Kept tiny on purpose: :func:`brute_force` enumerates every server
assignment and every simple path of every virtual link.
"""

from __future__ import annotations

import dataclasses
import itertools
import math

import networkx as nx
import numpy as np

from placement.checks import substrate_snapshot as snapshot  # noqa: F401  (re-exported for the tests)
from placement.metrics import BANDWIDTH_WEIGHT, LATENCY_WEIGHT
from placement.model import VNF, Chain
from placement.residual import link_endpoints
from placement.substrate import servers, validate_substrate


def random_instance(
    seed, *, n_nodes=5, n_servers=3, n_chains=3, max_vnfs=2, extra_edges=2, tight=True, open_ended=False
):
    """A random connected substrate of ``n_nodes`` and up to ``n_chains`` small chains.

    Capacities and bandwidths are drawn tight enough that sharing matters;
    some chains get a finite latency bound.  Ingress/egress may be switches.
    With ``open_ended`` each chain may lack its ingress and/or egress, may ask
    for anti-affinity and may bound each virtual link's delay (VNE-style).
    """
    rng = np.random.default_rng(seed)
    names = [f"n{i}" for i in range(n_nodes)]
    G = nx.Graph()
    srv = set(rng.choice(names, size=n_servers, replace=False).tolist())
    for n in names:
        if n in srv:
            G.add_node(n, kind="server", cpu=float(rng.choice([1.0, 2.0, 3.0])), mem=1024.0)
        else:
            G.add_node(n, kind="switch", cpu=0.0, mem=0.0)
    order = rng.permutation(names)
    for i in range(1, n_nodes):  # random spanning tree, then a few extra edges
        G.add_edge(order[i], order[int(rng.integers(i))])
    candidates = [(u, v) for u, v in itertools.combinations(names, 2) if not G.has_edge(u, v)]
    for j in rng.permutation(len(candidates))[:extra_edges]:
        G.add_edge(*candidates[j])
    for u, v in G.edges:
        G.edges[u, v].update(bw=float(rng.choice([20.0, 30.0, 60.0] if tight else [1000.0])),
                             delay=float(rng.integers(1, 5)))
    validate_substrate(G)
    chains = []
    for k in range(int(rng.integers(1, n_chains + 1))):
        vnfs = tuple(
            VNF(f"t{j}", cpu=float(rng.choice([0.5, 1.0, 1.5])), mem=128.0, proc_delay=0.1)
            for j in range(int(rng.integers(1, max_vnfs + 1)))
        )
        a, b = rng.choice(names, size=2)
        bound = math.inf if rng.random() < 0.4 else float(rng.integers(4, 14))
        chain = Chain(f"c{k}", vnfs, str(a), str(b), bw=float(rng.choice([10.0, 20.0])), max_latency=bound)
        if open_ended:
            ingress = None if rng.random() < 0.7 else chain.ingress
            egress = None if rng.random() < 0.7 else chain.egress
            n_links = len(vnfs) - 1 + (ingress is not None) + (egress is not None)
            per_link = tuple(math.inf if rng.random() < 0.5 else float(rng.integers(1, 6)) for _ in range(n_links))
            chain = dataclasses.replace(
                chain,
                ingress=ingress,
                egress=egress,
                anti_affinity=bool(rng.random() < 0.6) and len(vnfs) <= n_servers,
                link_latency=per_link if rng.random() < 0.5 else None,
            )
        chains.append(chain)
    return G, chains


def _link_paths(G, a, b):
    if a == b:
        return [(a,)]
    return [tuple(p) for p in nx.all_simple_paths(G, a, b)]


def _chain_options(G, chain, lw, bww):
    """Every (cost, node use, edge use) of one chain alone within its latency bound."""
    srv = servers(G)
    proc = sum(v.proc_delay for v in chain.vnfs)
    options = []
    for placed in itertools.product(srv, repeat=len(chain.vnfs)):
        if chain.anti_affinity and len(set(placed)) < len(placed):
            continue
        per_link = [_link_paths(G, a, b) for a, b in link_endpoints(chain, placed)]
        for paths in itertools.product(*per_link):
            link_delays = [sum(G.edges[e]["delay"] for e in zip(p[:-1], p[1:])) for p in paths]
            if any(d > chain.link_bound(j) + 1e-9 for j, d in enumerate(link_delays)):
                continue
            edges = [frozenset(e) for p in paths for e in zip(p[:-1], p[1:])]
            delay = sum(link_delays)
            if delay + proc > chain.max_latency + 1e-9:
                continue
            node_use = {}
            for s, v in zip(placed, chain.vnfs):
                cpu, mem = node_use.get(s, (0.0, 0.0))
                node_use[s] = (cpu + v.cpu, mem + v.mem)
            edge_use = {}
            for e in edges:
                edge_use[e] = edge_use.get(e, 0.0) + chain.bw
            options.append((lw * (delay + proc) + bww * chain.bw * len(edges), node_use, edge_use))
    options.sort(key=lambda o: o[0])
    return options


def brute_force(G, chains, *, latency_weight=LATENCY_WEIGHT, bandwidth_weight=BANDWIDTH_WEIGHT):
    """Optimal :func:`placement.metrics.cost` of placing all ``chains``, or None if impossible.

    Enumerates all assignments and simple paths per chain, then combines
    chains depth-first, pruning only combinations that cannot beat the best
    found so far (exact).
    """
    options = [_chain_options(G, c, latency_weight, bandwidth_weight) for c in chains]
    if any(not o for o in options):
        return None
    floor = [sum(o[0][0] for o in options[k:]) for k in range(len(options))] + [0.0]
    best = [math.inf]
    cpu = {n: G.nodes[n]["cpu"] for n in servers(G)}
    mem = {n: G.nodes[n]["mem"] for n in servers(G)}
    bw = {frozenset((u, v)): d["bw"] for u, v, d in G.edges(data=True)}

    def fits(node_use, edge_use):
        return all(cpu[s] >= c - 1e-9 and mem[s] >= m - 1e-9 for s, (c, m) in node_use.items()) and all(
            bw[e] >= b - 1e-9 for e, b in edge_use.items()
        )

    def take(node_use, edge_use, sign):
        for s, (c, m) in node_use.items():
            cpu[s] -= sign * c
            mem[s] -= sign * m
        for e, b in edge_use.items():
            bw[e] -= sign * b

    def search(k, total):
        if total + floor[k] >= best[0] - 1e-12:
            return
        if k == len(options):
            best[0] = total
            return
        for value, node_use, edge_use in options[k]:
            if total + value + floor[k + 1] >= best[0] - 1e-12:
                break  # options are sorted by cost
            if fits(node_use, edge_use):
                take(node_use, edge_use, 1)
                search(k + 1, total + value)
                take(node_use, edge_use, -1)

    search(0, 0.0)
    return None if math.isinf(best[0]) else best[0]
