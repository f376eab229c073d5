"""Admission control: how much revenue a batch of chains could earn at best, and how much a heuristic earns.

All chains arrive at time 0; an operator may reject some.  The *admission
optimum* accepts the subset (and embeds it) that maximises accepted
:func:`~placement.metrics.revenue`, ties broken by least
:func:`~placement.metrics.cost`.  It is the yardstick for sequential and
online heuristics: the all-or-nothing MILP of :mod:`placement.algorithms.milp`
cannot say how many chains a heuristic should have accepted.

* :func:`admission_optimum`: exact, on HiGHS: a decomposition whose master
  (:class:`_RoutingMaster`) routes each chain unsplittably and bounds the
  optimum, and whose check embeds the master's accepted set with the full
  MILP (layered arc-flow, as in the milp module, with an acceptance variable
  per chain, :class:`_AdmissionModel`); warm-started from the best heuristic;
* :func:`lp_bound`: a cheap upper bound (the LP of a chain-aggregated flow
  relaxation) for instances too large for the MILP;
* :func:`admit`: sequential admission by a heuristic (chains in order on the
  residual, accept what fits), the same as the ``sequential`` mode of
  experiments and as :func:`placement.online.simulate` with no departures;
* :func:`sndlib_instance`: the admission instances on SNDlib graphs.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
import time
from collections import defaultdict
from pathlib import Path

import highspy
import networkx as nx
import numpy as np

from .algorithms._highs import binary_lp, quiet_highs
from .algorithms.milp import _simple_path
from .base import check_placement
from .admitted import Admission
from .errors import ChainError
from .metrics import BANDWIDTH_WEIGHT, LATENCY_WEIGHT, cost, revenue
from .model import BW, CPU, DELAY, MEM, VNF, Chain, Embedding, Placement
from .online import simulate
from .residual import EPS, bandwidth_weight, feasible_distances, fits, link_endpoints, path_edges
from .substrate import servers

__all__ = [
    "Admission",
    "admit",
    "admission_orders",
    "best_heuristic",
    "admission_optimum",
    "lp_bound",
    "sndlib_instance",
    "SNDLIB_DIR",
]

SNDLIB_DIR = Path(os.environ.get("SFCBENCH_SNDLIB", Path(__file__).resolve().parents[2] / "shared" / "data" / "sndlib"))
"""Where :func:`sndlib_instance` finds ``<name>.gml`` (the repository's sibling ``shared/data/sndlib``,
or ``$SFCBENCH_SNDLIB``)."""

TIE_WEIGHT = 1e-7
"""Largest share of the offered revenue the cost term may add to the MILP objective.

Small enough that revenue decides (the reported bound adds it back, so it
stays valid), large enough to steer HiGHS towards cheap embeddings.
"""


# --------------------------------------------------------------------- instances


def sndlib_instance(name, n_chains, seed, *, data_dir=None):
    """An admission instance on SNDlib graph ``name``: ``(substrate, chains)``, all chains at time 0.

    Every node is a server with CPU uniform in [50, 100] (memory 1e6 MiB, never
    binding); each link has bandwidth uniform in [50, 100] and delay its length
    (km) x 0.005 ms.  Chain ``"c<i>"`` has 2-5 VNFs of CPU uniform in [5, 20]
    (no processing delay), bandwidth uniform in [5, 25], two distinct random
    nodes as ingress and egress, and ``max_latency`` = 1.5 x the
    shortest-path delay between them + 2 ms.  The same ``seed`` gives the
    same instance.  Raises ``FileNotFoundError`` (saying where it looked)
    when the GML file is missing.
    """
    from .topologies import load_gml  # topologies imports nothing of this module; keep the import local

    path = Path(data_dir or SNDLIB_DIR) / f"{name}.gml"
    if not path.is_file():
        raise FileNotFoundError(
            f"no SNDlib topology {str(path)!r}: put the SNDlib GML files in {Path(data_dir or SNDLIB_DIR)} "
            "or set SFCBENCH_SNDLIB to their directory"
        )
    rng = np.random.default_rng(seed)
    G = load_gml(path, servers="all", cpu=1.0, mem=1e6, bw=1.0)
    nodes = servers(G)
    for n in nodes:
        G.nodes[n][CPU] = float(rng.uniform(50.0, 100.0))
    for u, v in sorted(G.edges, key=lambda e: (nodes.index(e[0]), nodes.index(e[1]))):
        G.edges[u, v][BW] = float(rng.uniform(50.0, 100.0))
    dist = dict(nx.all_pairs_dijkstra_path_length(G, weight=DELAY))
    chains = []
    for i in range(n_chains):
        k = int(rng.integers(2, 6))
        vnfs = tuple(VNF(f"v{j}", cpu=float(rng.uniform(5.0, 20.0)), mem=1.0) for j in range(k))
        a, b = (nodes[j] for j in rng.choice(len(nodes), size=2, replace=False))
        bw = float(rng.uniform(5.0, 25.0))
        chains.append(Chain(f"c{i}", vnfs, a, b, bw=bw, max_latency=1.5 * dist[a][b] + 2.0))
    return G, chains


# ------------------------------------------------------------------- heuristics


def _as_batch(chains):
    """``chains`` all arriving at time 0 and never leaving (order kept)."""
    return [dataclasses.replace(c, arrival=0.0, lifetime=math.inf) for c in chains]


def admit(substrate, chains, algorithm, seed=None) -> Admission:
    """Sequential admission by ``algorithm``: chains in order on the residual, accepting what fits.

    Exactly the ``sequential`` mode of the experiments (one ``place`` call per
    chain, seeds drawn alike from ``seed``); run through
    :func:`placement.online.simulate` with every chain at time 0.
    ``algorithm`` is a registered name or a
    :class:`~placement.base.PlacementAlgorithm`.

    Examples
    --------
    >>> from placement.topologies import line
    >>> G = line(2, cpu=1.0)
    >>> cs = [Chain(f"c{i}", (VNF("a", cpu=1.0),), "srv0", "srv1") for i in range(3)]
    >>> a = admit(G, cs, "greedy")
    >>> a.accepted, a.rejected, a.revenue
    (['c0', 'c1'], ['c2'], 6.0)
    """
    chains = list(chains)
    start = time.perf_counter()
    result = simulate(substrate, _as_batch(chains), algorithm, seed=seed)
    elapsed = time.perf_counter() - start
    embeddings = {
        r["chain_id"]: Embedding(r["chain_id"], [r["servers"][i] for i in range(len(r["servers"]))], r["paths"])
        for r in result.rows
        if r["status"] == "placed"
    }
    placement = Placement(embeddings, solve_time=elapsed, info={"algorithm": result.algorithm})
    return Admission(
        placement,
        [c.id for c in chains if c.id not in embeddings],
        result.accepted_revenue,
        solve_time=elapsed,
        cost=cost(substrate, chains, placement),
        info={"algorithm": result.algorithm, "ms_per_chain": 1e3 * elapsed / max(len(chains), 1)},
    )


def admission_orders(substrate, chains) -> dict[str, list]:
    """Chain orders worth trying for sequential admission: as given, by revenue, by revenue per resource.

    ``"revenue"``: largest revenue first.  ``"efficiency"``: largest revenue
    per unit of what the chain needs at least (its CPU plus its bandwidth
    times the hop distance between its endpoints, all VNFs on the way),
    a standard admission-control order.
    """
    chains = list(chains)
    hops = {}

    def least_use(c):
        if c.ingress is None or c.egress is None:
            return sum(v.cpu for v in c.vnfs)
        if c.ingress not in hops:
            hops[c.ingress] = nx.single_source_shortest_path_length(substrate, c.ingress)
        return sum(v.cpu for v in c.vnfs) + c.bw * hops[c.ingress].get(c.egress, 0)

    return {
        "given": chains,
        "revenue": sorted(chains, key=lambda c: -revenue(c)),
        "efficiency": sorted(chains, key=lambda c: -revenue(c) / max(least_use(c), EPS)),
    }


def best_heuristic(substrate, chains, algorithms=("greedy",), seed=0) -> Admission:
    """The best :func:`admit` over ``algorithms`` and the :func:`admission_orders` (most revenue, then least cost).

    ``info["order"]`` names the winning order.
    """
    runs = []
    for order, ordered in admission_orders(substrate, chains).items():
        for name in algorithms:
            run = admit(substrate, ordered, name, seed)
            run.info["order"] = order
            runs.append(run)
    return max(runs, key=lambda a: (a.revenue, -a.cost))


# ---------------------------------------------------------------------- the MILP


def _scope(G, chain, server_list):
    """What ``chain`` can use: candidate servers per VNF and arcs per virtual link, after pruning.

    A node or arc is kept only if some walk from the ingress (if any) through
    it to the egress (if any) fits the latency budget over links with the
    chain's bandwidth free; an arc of a virtual link only if its delay fits
    that link's own bound.  A virtual link's path never re-enters its fixed
    source nor leaves its fixed sink.  Returns ``(candidates, arcs, budget, lower)``
    (``arcs[l]``: list of ``(a, b, delay)``), candidates empty when a VNF fits
    nowhere.
    """
    budget = chain.max_latency - sum(v.proc_delay for v in chain.vnfs) + EPS
    ends = [chain.ingress, chain.egress]
    dist = [
        None if end is None else feasible_distances(G, end, chain.bw, cutoff=budget, paths=False)[0] for end in ends
    ]

    def lower(node, which):  # least delay between the endpoint and node (0 without that endpoint)
        return 0.0 if dist[which] is None else dist[which].get(node, math.inf)

    near = {v for v in G if lower(v, 0) + lower(v, 1) <= budget}
    candidates = [[s for s in server_list if s in near and fits(G, s, vnf)] for vnf in chain.vnfs]
    edges = [
        (a, b, attrs[DELAY])
        for u, v, attrs in G.edges(data=True)
        if attrs[BW] + EPS >= chain.bw
        for a, b in ((u, v), (v, u))
        if lower(a, 0) + attrs[DELAY] + lower(b, 1) <= budget
    ]
    has_in, has_out = chain.ingress is not None, chain.egress is not None
    last = chain.n_links - 1
    arcs = []
    for l in range(chain.n_links):
        bound = _link_bound(chain, l) + EPS
        arcs.append(
            [
                (a, b, d)
                for a, b, d in edges
                if d <= bound
                and not (l == 0 and has_in and b == chain.ingress)
                and not (l == last and has_out and a == chain.egress)
            ]
        )
    return candidates, arcs, budget, lower


def _link_bound(chain, link):
    bounds = getattr(chain, "link_latency", None)
    return math.inf if bounds is None else float(bounds[link])


class _AdmissionModel:
    """The admission MILP of a batch as sparse rows for HiGHS.

    Columns per chain ``k``: ``y[k]`` (accepted), ``x[k,i,s]`` (VNF ``i`` on
    server ``s``) and ``f[k,l,(a,b)]`` (virtual link ``l`` uses arc
    ``a->b``), all binary.  Rows: ``sum_s x[k,i,s] = y[k]``; per virtual link
    and node, flow out - flow in = [source here] - [sink here] (the source
    being the ingress times ``y[k]`` or the previous VNF's ``x``); the chain's
    link delays ``<= budget * y[k]`` (and each link's own bound); with
    anti-affinity ``sum_i x[k,i,s] <= y[k]``; server CPU/memory and
    undirected link bandwidth over all chains (left out when they cannot
    bind).  Valid inequalities: ``f[k,l,(a,b)] + f[k,l,(b,a)] <= y[k]`` for
    every link and edge (a simple path crosses an edge once; tightens the LP
    where ``y`` is fractional).

    Objective (HiGHS minimises): ``-sum revenue[k] y[k] + eps * cost`` where
    ``eps * (largest possible cost) <= tie_weight`` (:data:`TIE_WEIGHT` times
    the offered revenue), so the revenue term dominates; :func:`admission_optimum` then minimises the cost exactly with
    the accepted set fixed.
    """

    def __init__(self, G, chains, latency_weight, bandwidth_weight, edge_cuts, knapsacks):
        self.G, self.chains = G, chains
        self.revenue = np.array([revenue(c) for c in chains])
        self.cost, self.cost_true, self.integer = [], [], []
        self.rows, self.row_lo, self.row_hi = [], [], []
        self.y, self.x, self.f = [], {}, {}
        self.excluded = []  # chains that fit nowhere (y fixed to 0)
        server_list = servers(G)
        node_use = defaultdict(lambda: defaultdict(list))  # server -> resource -> [(col, demand)]
        edge_use = defaultdict(list)  # frozenset edge -> [(col, bw)]
        self._lw, self._bw = latency_weight, bandwidth_weight
        for k, chain in enumerate(chains):
            self._add_chain(k, chain, server_list, node_use, edge_use, edge_cuts)
        self._add_capacity_rows(node_use, edge_use)
        if knapsacks:
            self._add_knapsacks()
        true = np.asarray(self.cost_true)
        worst = float(true.sum()) if len(true) else 0.0
        self.tie_weight = TIE_WEIGHT * float(self.revenue.sum())
        self.eps = self.tie_weight / worst if worst > 0 else 0.0
        self.objective = np.asarray(self.cost, dtype=float) + self.eps * true

    def _column(self, objective, true_cost=0.0):
        self.cost.append(objective)
        self.cost_true.append(true_cost)
        return len(self.cost) - 1

    def _row(self, terms, lo, hi):
        if len({c for c, _ in terms}) < len(terms):  # a column twice (ingress = egress): add up
            merged = defaultdict(float)
            for c, v in terms:
                merged[c] += v
            terms = list(merged.items())
        self.rows.append(terms)
        self.row_lo.append(lo)
        self.row_hi.append(hi)

    def _add_chain(self, k, chain, server_list, node_use, edge_use, edge_cuts):
        candidates, arcs, budget, lower = _scope(self.G, chain, server_list)
        proc = self._lw * sum(v.proc_delay for v in chain.vnfs)
        y = self._column(-self.revenue[k], proc)
        self.y.append(y)
        if not all(candidates):
            self.excluded.append(k)
            candidates = [[] for _ in chain.vnfs]
            arcs = [[] for _ in arcs]
        for i, (vnf, fit) in enumerate(zip(chain.vnfs, candidates)):
            cols = self.x[k, i] = {s: self._column(0.0) for s in fit}
            self._row([(c, 1.0) for c in cols.values()] + [(y, -1.0)], 0.0, 0.0)
            for s, c in cols.items():
                node_use[s][CPU].append((c, vnf.cpu))
                node_use[s][MEM].append((c, vnf.mem))
        if getattr(chain, "anti_affinity", False):
            for s in {s for fit in candidates for s in fit}:
                terms = [(self.x[k, i][s], 1.0) for i in range(len(chain.vnfs)) if s in self.x[k, i]]
                if len(terms) > 1:
                    self._row(terms + [(y, -1.0)], -np.inf, 0.0)
        self._add_links(k, chain, y, candidates, arcs, budget, edge_use, lower, edge_cuts)

    def _add_links(self, k, chain, y, candidates, arcs, budget, edge_use, lower, edge_cuts):
        """Arc-flow columns and rows of the virtual links of chain ``k``."""
        latency = []
        for l, (source, sink) in enumerate(_link_sources(chain)):
            flows = self.f[k, l] = {}
            terms = []
            for a, b, delay in arcs[l]:
                col = flows[a, b] = self._column(0.0, self._lw * delay + self._bw * chain.bw)
                terms.append((col, delay))
                edge_use[frozenset((a, b))].append((col, chain.bw))
            latency += terms
            if _link_bound(chain, l) < budget and terms:
                self._row(terms + [(y, -_link_bound(chain, l))], -np.inf, 0.0)
            self._add_conservation(k, y, source, sink, flows)
            if edge_cuts:
                for (a, b), col in flows.items():
                    back = flows.get((b, a))
                    if back is not None and str(a) < str(b):
                        self._row([(col, 1.0), (back, 1.0), (y, -1.0)], -np.inf, 0.0)
        if budget < math.inf and latency:
            self._row(latency + [(y, -budget)], -np.inf, 0.0)

    def _add_conservation(self, k, y, source, sink, flows):
        """out-flow - in-flow - [source here] + [sink here] = 0 at every node.

        ``source``/``sink`` are ``("node", n)`` for a fixed endpoint (weighted
        by ``y``) or ``("vnf", i)`` for the server of VNF ``i``.
        """
        terms = defaultdict(list)
        for (a, b), col in flows.items():
            terms[a].append((col, 1.0))
            terms[b].append((col, -1.0))
        for (kind, what), sign in ((source, -1.0), (sink, 1.0)):
            if kind == "node":
                terms[what].append((y, sign))
            else:
                for s, col in self.x[k, what].items():
                    terms[s].append((col, sign))
        for node, row in terms.items():
            self._row(row, 0.0, 0.0)

    def _add_capacity_rows(self, node_use, edge_use):
        G = self.G
        for s, use in node_use.items():
            for resource, terms in use.items():
                if sum(d for _, d in terms) > G.nodes[s][resource] + EPS:
                    self._row(terms, -np.inf, G.nodes[s][resource] + EPS)
        for key, terms in edge_use.items():
            cap = G.edges[tuple(key)][BW]
            if sum(d for _, d in terms) > cap + EPS:
                self._row(terms, -np.inf, cap + EPS)

    def _add_knapsacks(self):
        """Aggregate capacity rows over the ``y`` alone (implied by the flows, but they let HiGHS
        derive cover cuts on which chains fit together): total CPU; per node, the bandwidth of the
        chains with both endpoints fixed and exactly one there against the capacity of its links; total
        bandwidth x hop distance between the endpoints against the total link capacity.
        """
        G, live = self.G, [k for k in range(len(self.chains)) if k not in self.excluded]

        def knapsack(demands, capacity):
            terms = [(self.y[k], d) for k, d in demands if d > 0]
            if sum(d for _, d in terms) > capacity + EPS:
                self._row(terms, -np.inf, capacity + EPS)

        knapsack([(k, sum(v.cpu for v in self.chains[k].vnfs)) for k in live], sum(G.nodes[s][CPU] for s in servers(G)))
        for node in G:
            ends = [k for k in live if _separates(self.chains[k], node)]
            if ends:
                knapsack([(k, self.chains[k].bw) for k in ends], sum(a[BW] for _, _, a in G.edges(node, data=True)))
        hops = {}
        for k in live:
            c = self.chains[k]
            if c.ingress is not None and c.egress is not None and c.ingress != c.egress:
                if c.ingress not in hops:
                    hops[c.ingress] = nx.single_source_shortest_path_length(G, c.ingress)
                hops[c.ingress].setdefault(c.egress, 0)
        knapsack(
            [(k, self.chains[k].bw * hops[self.chains[k].ingress][self.chains[k].egress]) for k in live
             if self.chains[k].ingress in hops],
            sum(a[BW] for _, _, a in G.edges(data=True)),
        )

    def lp(self, *, relax=False) -> highspy.HighsLp:
        """The model as a HiGHS LP (every column binary unless ``relax``)."""
        upper = np.ones(len(self.cost))
        upper[[self.y[k] for k in self.excluded]] = 0.0
        return binary_lp(self.objective, self.rows, self.row_lo, self.row_hi, upper=upper, integer=not relax)

    def vector(self, placement: Placement):
        """The column vector of ``placement`` (chains it embeds accepted), or None if outside the model."""
        values = np.zeros(len(self.cost))
        for k, chain in enumerate(self.chains):
            e = placement.embeddings.get(chain.id)
            if e is None:
                continue
            values[self.y[k]] = 1.0
            for i, s in enumerate(e.servers):
                if s not in self.x[k, i]:
                    return None
                values[self.x[k, i][s]] = 1.0
            for l, path in enumerate(e.paths):
                for arc in path_edges(path):
                    if arc not in self.f[k, l]:
                        return None
                    values[self.f[k, l][arc]] += 1.0
        return values

    def extract(self, values) -> Placement:
        """The accepted chains' embeddings read off a solution vector."""
        out = {}
        for k, chain in enumerate(self.chains):
            if values[self.y[k]] < 0.5:
                continue
            placed = [max(self.x[k, i], key=lambda s: values[self.x[k, i][s]]) for i in range(len(chain.vnfs))]
            paths = [
                _simple_path(self.f[k, l], values, a, b, chain.id)
                for l, (a, b) in enumerate(link_endpoints(chain, placed))
            ]
            out[chain.id] = Embedding(chain.id, placed, paths)
        return Placement(out)


def _separates(chain, node):
    """Whether ``chain``'s walk must cross the links of ``node``: both endpoints fixed, exactly one there."""
    if chain.ingress is None or chain.egress is None:
        return False
    return (chain.ingress == node) != (chain.egress == node)


def _link_sources(chain):
    """``(source, sink)`` of each virtual link: ``("node", n)`` for an endpoint, ``("vnf", i)`` for a VNF."""
    hops = [("vnf", i) for i in range(len(chain.vnfs))]
    if chain.ingress is not None:
        hops.insert(0, ("node", chain.ingress))
    if chain.egress is not None:
        hops.append(("node", chain.egress))
    return list(zip(hops[:-1], hops[1:]))


def _highs(options):
    return quiet_highs(**options)


MAX_ROUTES = 2000
"""Most simple routes per chain in the master of ``method="decomposition"``; a chain with more is
routed nowhere there (a weaker bound, still valid)."""


class _RoutingMaster:
    """The relaxation that decides acceptance in ``admission_optimum(method="decomposition")``.

    Columns per chain ``k``: ``y[k]`` (accepted); ``z[k,p]`` for every simple
    ingress-egress path ``p`` within the chain's latency budget over links with
    its bandwidth free (one of them carries the chain, unsplittably, with the
    chain's bandwidth on each of its links); ``x[k,i,s]`` (VNF ``i`` on server
    ``s`` of its latency scope, :func:`_scope`), all binary.  Rows: ``sum_p
    z = y``, ``sum_s x = y``, server CPU and memory, link bandwidth, with
    anti-affinity at most one VNF per server; nothing ties the VNFs to the
    path.  ``servers_too=False`` leaves the ``x`` columns out (routes only:
    smaller, weaker).

    Why it is a relaxation: the virtual links of an embedding, put end to
    end, form a walk from ingress to egress within the budget that takes the
    chain's bandwidth on each link it crosses (once per crossing); that walk
    contains a simple ingress-egress path on a subset of its links, no
    longer in delay, so every admission (accepted set and embeddings) is a
    solution of the master with the same revenue, and the master's optimum
    bounds the admission optimum.  Its integer routing is what the arc-flow
    LP lacks (there each chain may split its flow).  Chains without both
    endpoints, or with more than ``max_routes`` paths, get no path rows.
    :meth:`forbid` adds the no-good row of an accepted set that cannot be
    embedded (every superset fails too).
    """

    def __init__(self, G, chains, max_routes=MAX_ROUTES, servers_too=True):
        self.G, self.chains = G, chains
        self.revenue = np.array([revenue(c) for c in chains])
        cost, rows, lo, hi, upper = [], [], [], [], []
        self.y, self.z, self.x, self.shortest = [], {}, {}, {}
        node_use = defaultdict(lambda: defaultdict(list))
        edge_use = defaultdict(list)
        server_list = servers(G)

        def column(value, bound=1.0):
            cost.append(value)
            upper.append(bound)
            return len(cost) - 1

        def row(terms, low, high):
            rows.append(terms)
            lo.append(low)
            hi.append(high)

        for k, chain in enumerate(chains):
            candidates, _, budget, _ = _scope(G, chain, server_list)
            routes = None  # no path rows: a chain without both endpoints, or with too many routes
            if chain.ingress is not None and chain.egress is not None:
                routes = _enumerate_paths(G, chain.ingress, chain.egress, budget, chain.bw, max_routes)
                if routes is None:  # the checks try its shortest routes only
                    self.shortest[k] = _shortest_links(G, chain, SHORTEST_ROUTES)
            fits_nowhere = not all(candidates) or routes == []
            y = column(-self.revenue[k], 0.0 if fits_nowhere else 1.0)
            self.y.append(y)
            if fits_nowhere:
                continue
            if routes:
                self.z[k] = {path: column(0.0) for _, path in routes}
                row([(c, 1.0) for c in self.z[k].values()] + [(y, -1.0)], 0.0, 0.0)
                for path, c in self.z[k].items():
                    for u, v in path_edges(path):
                        edge_use[frozenset((u, v))].append((c, chain.bw))
            for i, (vnf, fit) in enumerate(zip(chain.vnfs, candidates) if servers_too else ()):
                self.x[k, i] = {s: column(0.0) for s in fit}
                row([(c, 1.0) for c in self.x[k, i].values()] + [(y, -1.0)], 0.0, 0.0)
                for s, c in self.x[k, i].items():
                    node_use[s][CPU].append((c, vnf.cpu))
                    node_use[s][MEM].append((c, vnf.mem))
            if servers_too and getattr(chain, "anti_affinity", False):
                for s in {s for fit in candidates for s in fit}:
                    terms = [(self.x[k, i][s], 1.0) for i in range(len(chain.vnfs)) if s in self.x[k, i]]
                    if len(terms) > 1:
                        row(terms + [(y, -1.0)], -np.inf, 0.0)
        for s, use in node_use.items():
            for resource, terms in use.items():
                if sum(d for _, d in terms) > G.nodes[s][resource] + EPS:
                    row(terms, -np.inf, G.nodes[s][resource] + EPS)
        for key, terms in edge_use.items():
            if sum(d for _, d in terms) > G.edges[tuple(key)][BW] + EPS:
                row(terms, -np.inf, G.edges[tuple(key)][BW] + EPS)
        self.n_cols = len(cost)
        self.lp = binary_lp(np.asarray(cost), rows, lo, hi, upper=np.asarray(upper), integer=True)

    def start(self, placement):
        """The master's column vector of an admission ``placement``, or None if it falls outside."""
        values = np.zeros(self.n_cols)
        for k, chain in enumerate(self.chains):
            e = placement.embeddings.get(chain.id)
            if e is None:
                continue
            values[self.y[k]] = 1.0
            if k in self.z:
                route = self.z[k].get(_route_of(e.paths))
                if route is None:
                    return None
                values[route] = 1.0
            for i, server in enumerate(e.servers):
                if (k, i) not in self.x:  # a master without servers
                    break
                if server not in self.x[k, i]:
                    return None
                values[self.x[k, i][server]] = 1.0
        return values

    def read(self, values):
        """``(accepted chain indices, {k: route})`` of a master solution."""
        accepted = [k for k, y in enumerate(self.y) if values[y] > 0.5]
        routes = {k: max(self.z[k], key=lambda p: values[self.z[k][p]]) for k in accepted if k in self.z}
        return accepted, routes

    def route_links(self, accepted, routes):
        """``{k: links}`` restricting each accepted chain to its master route (to the links of its
        :data:`SHORTEST_ROUTES` shortest routes where the master has none)."""
        out = {k: self.shortest[k] for k in accepted if k in self.shortest}
        return {**out, **{k: {frozenset(e) for e in path_edges(p)} for k, p in routes.items()}}

    def reach(self, values, routes):
        """``{k: links}``: each routed chain's route and, for every VNF the master puts off it, the
        least-delay path (over links with the chain's bandwidth free) from the route to that server."""
        out = {}
        for k, route in routes.items():
            chain = self.chains[k]
            links = {frozenset(e) for e in path_edges(route)}
            hosts = {max(self.x[k, i], key=lambda s: values[self.x[k, i][s]]) for i in range(len(chain.vnfs))
                     if self.x.get((k, i))}
            for host in hosts - set(route):
                try:
                    _, path = nx.multi_source_dijkstra(self.G, set(route), host, weight=bandwidth_weight(chain.bw))
                except nx.NetworkXNoPath:
                    continue
                links |= {frozenset(e) for e in path_edges(path)}
            out[k] = links
        return {**{k: v for k, v in self.shortest.items() if values[self.y[k]] > 0.5}, **out}

    def forbid(self, h, accepted):
        """Add to solver ``h`` the row that the set ``accepted`` (not embeddable) is not all accepted again."""
        cols = np.asarray([self.y[k] for k in accepted], dtype=np.int32)
        h.addRow(-np.inf, len(accepted) - 1.0, len(cols), cols, np.ones(len(cols)))


SHORTEST_ROUTES = 20
"""Routes per chain (the least-delay ones) that the checks of the decomposition allow a chain the
master does not route."""


def _shortest_links(G, chain, n):
    """The links of the ``n`` least-delay simple routes of ``chain`` (over links with its bandwidth free)."""
    H = G.edge_subgraph([(u, v) for u, v, free in G.edges(data=BW) if free + EPS >= chain.bw])
    links = set()
    try:
        for path in itertools.islice(nx.shortest_simple_paths(H, chain.ingress, chain.egress, weight=DELAY), n):
            links |= {frozenset(e) for e in path_edges(path)}
    except (nx.NetworkXNoPath, nx.NodeNotFound):
        pass
    return links


def _route_of(paths):
    """The simple path inside the walk that ``paths`` (an embedding's virtual links) make end to end."""
    walk = [n for path in paths for n in path]
    route = []
    for n in walk:
        if n in route:
            del route[route.index(n) + 1:]
        else:
            route.append(n)
    return tuple(route)


def admission_optimum(
    substrate,
    chains,
    *,
    time_limit=60.0,
    threads=1,
    warm_start=("greedy",),
    tie_break_time=10.0,
    method="decomposition",
    formulation="arc",
    max_paths=None,
    max_routes=MAX_ROUTES,
    check_time=None,
    edge_cuts=False,
    knapsacks=True,
    latency_weight=LATENCY_WEIGHT,
    bandwidth_weight=BANDWIDTH_WEIGHT,
    highs_options=None,
) -> Admission:
    """The revenue-maximal accepted subset of ``chains`` and its embeddings, by MILP on HiGHS.

    Maximises accepted :func:`~placement.metrics.revenue` (proved to
    ``mip_rel_gap = 0``, absolute gap :data:`TIE_WEIGHT` x the offered revenue,
    within ``time_limit`` s); then, with that accepted set fixed, minimises
    :func:`~placement.metrics.cost` (at most ``tie_break_time`` s more; 0
    skips it).  Warm-started from :func:`best_heuristic` over ``warm_start``
    and from :func:`placement.packing.admit_by_density` (empty: neither).

    ``method="decomposition"`` (default): a logic-based Benders loop.  The
    master (:class:`_RoutingMaster`: integer acceptance, one unsplittable
    latency-feasible simple route per chain, first without and then with
    VNFs on servers by CPU) is a relaxation, so its optimum bounds the
    admission optimum: the LP of the full MILP lets chains split their
    flow, the master does not, and that is where the full MILP's bound was
    weak.  The master's accepted set is then embedded by the full MILP with
    acceptance fixed: first with every chain's links restricted to its
    master route (small and fast), then (second master only) to that route
    plus least-delay paths to the servers the master chose, at most
    ``check_time / 6`` s each; then unrestricted, at most ``check_time`` s
    (default a quarter of ``time_limit``).
    Embedded: it earns the master's bound, so it is optimal.  Proved not
    embeddable: a no-good row forbids the set and the master is solved
    again.  Otherwise (time out) the full MILP runs from the best solution
    found, its bound capped by the master's.  Exact either way; but where
    two accepted sets earn exactly the same revenue, the decomposition
    keeps the first it embeds (the least cost is then within that set),
    while ``method="milp"`` prefers the cheaper set.

    ``method="milp"``: the full MILP alone.  ``formulation="arc"`` (default)
    is :class:`_AdmissionModel`; ``"path"`` is :class:`_PathModel`, exact
    when ``max_paths`` is None and restricted to the ``max_paths`` shortest
    paths per pair otherwise (then optimal only over those routes).
    ``edge_cuts`` and ``knapsacks`` switch the valid inequalities of
    :class:`_AdmissionModel`; ``highs_options`` are passed to HiGHS as they
    are.  The accepted placement passes
    :func:`~placement.base.check_placement` for the accepted chains.
    ``info`` holds ``method``, ``n_vars``, ``n_constraints``, ``nodes``
    (when the full MILP ran), ``warm_start`` (its revenue), ``master`` (the
    decomposition's iterations, bound, last master and how the set was
    embedded), ``tie_break`` (HiGHS status of the cost phase),
    ``build_s``/``solve_s`` (wall), ``cpu_s`` (this process's CPU time: on
    a busy machine the fairer measure of a single-threaded solve) and
    ``proof_cpu_s``/``warm_cpu_s`` (CPU time until proved, before the cost
    phase; of the warm start).

    Examples
    --------
    >>> from placement.topologies import line
    >>> G = line(2, cpu=1.0)
    >>> cs = [Chain("small", (VNF("a", cpu=0.4),), "srv0", "srv1", bw=1.0),
    ...       Chain("big", (VNF("a", cpu=1.0),), "srv0", "srv1", bw=1.0),
    ...       Chain("huge", (VNF("a", cpu=1.0), VNF("b", cpu=0.8)), "srv0", "srv1", bw=1.0)]
    >>> a = admission_optimum(G, cs)
    >>> sorted(a.accepted), a.rejected, a.status  # two cores: big + small beat huge alone
    (['big', 'small'], ['huge'], 'Optimal')
    >>> round(a.revenue, 6), round(a.bound, 4)
    (5.4, 5.4)
    """
    start, cpu_start = time.perf_counter(), time.process_time()
    chains = list(chains)
    if len({c.id for c in chains}) != len(chains):
        raise ChainError("duplicate chain ids: every chain of a batch needs its own id")
    if method not in ("decomposition", "milp"):
        raise ValueError(f"method must be 'decomposition' or 'milp', got {method!r}")
    if formulation == "path":
        model = _PathModel(substrate, chains, latency_weight, bandwidth_weight, edge_cuts, knapsacks, max_paths)
    elif formulation == "arc":
        model = _AdmissionModel(substrate, chains, latency_weight, bandwidth_weight, edge_cuts, knapsacks)
    else:
        raise ValueError(f"formulation must be 'path' or 'arc', got {formulation!r}")
    built = time.perf_counter()
    options = {
        "time_limit": float(time_limit),
        "threads": int(threads),
        "mip_rel_gap": 0.0,
        # The cost term adds at most tie_weight: closing the gap below that only optimises cost.
        "mip_abs_gap": model.tie_weight,
        "random_seed": 0,
        **(highs_options or {}),
    }
    warm = _warm_start(substrate, chains, warm_start)
    facts_warm_cpu = time.process_time() - cpu_start
    warm_vector = model.vector(warm.placement) if warm else None
    facts = {"method": method, "warm_start": warm.revenue if warm else None, "build_s": built - start,
             "warm_cpu_s": facts_warm_cpu}
    values, bound, status, h = None, math.inf, None, None
    if method == "decomposition":
        check = float(check_time) if check_time is not None else float(time_limit) / 4
        values, bound, status, facts["master"] = _decompose(
            substrate, chains, model, warm, options, max_routes, check, deadline=built + float(time_limit)
        )
    if status != "Optimal":
        options["time_limit"] = max(0.0, float(time_limit) - (time.perf_counter() - built))
        start_vector = values if values is not None else warm_vector
        h, found = _solve(model, options, start_vector)
        if found is not None and not _consistent(h, model, found):
            # HiGHS 1.16 can report the optimum yet hand back the MIP start (when presolve maps the start
            # to a better point); solve again without it.
            options["time_limit"] = max(0.0, float(time_limit) - (time.perf_counter() - built))
            h, found = _solve(model, options, None)
        if found is not None and (values is None or model.objective @ found <= model.objective @ values):
            values = found
        status = h.modelStatusToString(h.getModelStatus())
        info = h.getInfo()
        # HiGHS bounds -revenue + eps * cost from below, and eps * cost <= tie_weight.
        if math.isfinite(info.mip_dual_bound):
            bound = min(bound, -float(info.mip_dual_bound) + model.tie_weight)
        facts["nodes"] = int(info.mip_node_count)
    if values is None:  # no solution at all (time limit before any): the heuristic's, or nothing
        values = warm_vector if warm_vector is not None else np.zeros(len(model.cost))
    facts["n_vars"], facts["n_constraints"] = len(model.cost), len(model.rows)
    facts["proof_cpu_s"] = time.process_time() - cpu_start
    facts["tie_break"] = None
    if tie_break_time > 0:
        if h is None:
            h = _highs(options)
            h.passModel(model.lp())
        facts["tie_break"], cheaper = _minimise_cost(h, model, values, tie_break_time)
        values = values if cheaper is None else cheaper
    placement = model.extract(values)
    kept = [c for c in chains if c.id in placement.embeddings]
    check_placement(substrate, kept, placement)
    earned = float(sum(revenue(c) for c in kept))
    bound = max(bound, earned)  # the optimum is at least what was found
    elapsed = time.perf_counter() - start
    facts["solve_s"] = elapsed - facts["build_s"]
    facts["cpu_s"] = time.process_time() - cpu_start
    placement.solve_time, placement.info = elapsed, {"status": status, "objective": earned, "bound": bound, **facts}
    return Admission(
        placement,
        [c.id for c in chains if c.id not in placement.embeddings],
        earned,
        bound=bound,
        gap=(bound - earned) / bound if bound > 0 else 0.0,
        status=status,
        solve_time=elapsed,
        cost=cost(substrate, kept, placement, latency_weight=latency_weight, bandwidth_weight=bandwidth_weight),
        info=facts,
    )


def _warm_start(substrate, chains, algorithms):
    """The better of :func:`best_heuristic` over ``algorithms`` and the density packer (None if no algorithms)."""
    if not algorithms:
        return None
    from .packing import admit_by_density  # packing builds on admit(): imported where used

    runs = [best_heuristic(substrate, chains, algorithms), admit_by_density(substrate, chains, seed=0)]
    return max(runs, key=lambda a: (a.revenue, -a.cost))


MASTER_HEURISTIC_EFFORT = 0.3
"""HiGHS's ``mip_heuristic_effort`` in the masters (default 0.05): the master is proved soon after its
optimum is found (geant, 30 chains, seed 0: routing master 11.4 -> 6.3 s)."""


def _decompose(G, chains, model, warm, options, max_routes, check_time, deadline):
    """The loop of ``method="decomposition"``: ``(values or None, bound, status, facts)``.

    Two masters in turn, each a relaxation (so each bound holds): first
    routes only (:class:`_RoutingMaster` with ``servers_too=False``, small),
    whose accepted set is only tried along its routes; then routes and
    servers, with the full check and the no-good loop.  ``status`` is
    ``"Optimal"`` when ``values`` (a column vector of ``model``) is proved
    optimal, else None (the caller runs the full MILP from ``values``, with
    ``bound`` as a cap).
    """
    offered = float(sum(revenue(c) for c in chains))
    facts = {"iterations": 0, "bound": offered, "embedded_by": None, "master": None, "unrouted": None}
    best = model.vector(warm.placement) if warm is not None else None
    best_revenue = warm.revenue if warm is not None else -math.inf
    if best_revenue >= offered - options["mip_abs_gap"]:  # everything fits: nothing to prove
        facts["embedded_by"] = "warm start"
        return best, offered, "Optimal", facts
    bound = offered
    for servers_too in (False, True):
        master = _RoutingMaster(G, chains, max_routes, servers_too)
        facts["master"], facts["unrouted"] = "routes and servers" if servers_too else "routes", len(chains) - len(master.z)
        h = _highs({**options, "mip_rel_gap": 0.0, "mip_heuristic_effort": MASTER_HEURISTIC_EFFORT,
                    **{k: v for k, v in options.items() if k == "mip_heuristic_effort"}})
        h.passModel(master.lp)
        start = _better_start(master, master.start(warm.placement) if warm is not None else None, options, deadline)
        while True:
            if start is not None:  # (again after a new row: adding one drops HiGHS's incumbent)
                h.setSolution(_highs_solution(start))
            h.setOptionValue("time_limit", max(0.0, deadline - time.perf_counter()))
            h.run()
            facts["iterations"] += 1
            info = h.getInfo()
            if math.isfinite(info.mip_dual_bound):
                bound = min(bound, -float(info.mip_dual_bound))
            facts["bound"] = bound
            if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
                return best, bound, None, facts
            if best is not None and best_revenue >= bound - options["mip_abs_gap"]:
                facts["embedded_by"] = "warm start"
                return best, bound, "Optimal", facts
            values = np.asarray(h.getSolution().col_value)
            accepted, routes = master.read(values)
            checks = [("master routes", master.route_links(accepted, routes))]
            if servers_too:
                checks += [("master routes and servers", master.reach(values, routes)), ("full MILP", None)]
            for label, restrict in checks:
                # a restricted check is small: when it takes long, it is failing
                budget = check_time if restrict is None else check_time / 6
                limit = min(budget, max(0.0, deadline - time.perf_counter()))
                verdict, values = _embed_set(model, accepted, restrict, {**options, "time_limit": limit})
                if verdict == "embedded":
                    facts["embedded_by"] = label
                    return values, bound, "Optimal", facts
            if not servers_too:
                break  # on to the master with servers
            if verdict != "infeasible":  # not decided in time: the full MILP goes on from the best found
                return best, bound, None, facts
            master.forbid(h, accepted)
    return best, bound, None, facts


def _better_start(master, start, options, deadline):
    """The better master start: ``start`` (the warm start's), or the LP's rounding.

    The rounding accepts the chains the master's LP accepts whole and finds
    them routes (a small MIP, at most 2 s).  On geant, 30 chains, seed 0 it
    earns 2963.1 where the heuristics earn 2892.1, and the master then takes
    3-7 s instead of 9-10.
    """
    lp = master.lp
    relaxed = _highs({**options, "solve_relaxation": True, "time_limit": max(0.0, deadline - time.perf_counter())})
    relaxed.passModel(lp)
    relaxed.run()
    if relaxed.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return start
    values = np.asarray(relaxed.getSolution().col_value)
    lower, upper = np.array(lp.col_lower_, dtype=float), np.array(lp.col_upper_, dtype=float)
    for y in master.y:
        lower[y] = upper[y] = 1.0 if values[y] > 1 - 1e-6 else 0.0
    rounded = _highs({**options, "mip_rel_gap": 1.0, "time_limit": min(2.0, max(0.0, deadline - time.perf_counter()))})
    rounded.passModel(lp)
    rounded.changeColsBounds(len(lower), np.arange(len(lower), dtype=np.int32), lower, upper)
    rounded.run()
    if rounded.getInfo().primal_solution_status != 2:
        return start
    found = np.asarray(rounded.getSolution().col_value)
    cost = np.asarray(lp.col_cost_)
    return found if start is None or cost @ found < cost @ start else start


def _highs_solution(values):
    solution = highspy.HighsSolution()
    solution.col_value = list(values)
    solution.value_valid = True
    return solution


def _embed_set(model, accepted, links, options):
    """Embed exactly the chains ``accepted`` (indices) in ``model``; ``(verdict, values or None)``.

    ``links`` (``{k: set of frozenset edges}`` or None) keeps each such
    chain's virtual links on those links.  Verdict ``"embedded"``,
    ``"infeasible"`` (proved, only meaningful without ``links``) or
    ``"unknown"``.
    """
    lp = model.lp()
    lower, upper = np.asarray(lp.col_lower_), np.asarray(lp.col_upper_)
    chosen = set(accepted)
    for k, y in enumerate(model.y):
        lower[y] = upper[y] = 1.0 if k in chosen else 0.0
    for k, allowed in (links or {}).items():
        for l in range(model.chains[k].n_links):
            for key, col in model.f.get((k, l), {}).items():  # an arc (a, b), or a path of _PathModel
                if not all(frozenset(e) in allowed for e in path_edges(key)):
                    upper[col] = 0.0
    lp.col_lower_, lp.col_upper_ = lower, upper
    lp.col_cost_ = np.zeros(len(model.cost))  # any embedding will do: the cost phase comes later
    h = _highs({**options, "mip_rel_gap": 1.0, "mip_abs_gap": math.inf})
    h.passModel(lp)
    h.run()
    status = h.getModelStatus()
    if h.getInfo().primal_solution_status == 2:
        return "embedded", np.asarray(h.getSolution().col_value)
    if status == highspy.HighsModelStatus.kInfeasible and links is None:
        return "infeasible", None
    return "unknown", None


def _solve(model, options, start):
    """Run HiGHS on ``model`` (from the column vector ``start`` if given); the solver and its solution or None."""
    h = _highs(options)
    h.passModel(model.lp())
    if start is not None:
        solution = highspy.HighsSolution()
        solution.col_value = list(start)
        solution.value_valid = True
        h.setSolution(solution)
    h.run()
    found = h.getInfo().primal_solution_status == 2
    return h, (np.asarray(h.getSolution().col_value) if found else None)


def _consistent(h, model, values) -> bool:
    """Whether ``values`` has the objective value HiGHS reports."""
    reported = h.getInfo().objective_function_value
    return abs(float(model.objective @ values) - reported) <= 1e-6 * max(1.0, abs(reported))


def _minimise_cost(h, model, values, time_limit):
    """Phase 2: the accepted set fixed, minimise the true cost; ``(status, values or None)``."""
    accepted = values[model.y] > 0.5
    if not accepted.any():
        return "nothing accepted", None
    y = np.asarray(model.y, dtype=np.int32)
    fixed = accepted.astype(float)
    h.changeColsBounds(len(y), y, fixed, fixed)
    h.changeColsCost(len(model.cost), np.arange(len(model.cost), dtype=np.int32), np.asarray(model.cost_true))
    h.setOptionValue("time_limit", float(time_limit))
    solution = highspy.HighsSolution()
    solution.col_value = list(values)
    solution.value_valid = True
    h.setSolution(solution)
    h.run()
    status = h.modelStatusToString(h.getModelStatus())
    if h.getInfo().primal_solution_status != 2:
        return status, None
    cheaper = np.asarray(h.getSolution().col_value)
    if abs(float(np.asarray(model.cost_true) @ cheaper) - h.getInfo().objective_function_value) > 1e-6:
        return status, None  # the stale start again (see admission_optimum): keep what phase 1 found
    return status, cheaper


# ------------------------------------------------------------------- the LP bound


def _maximal_cliques(chains):
    """Sets of chains alive together, one per arrival after which the next event is a departure.

    Chain ``k`` is alive during ``[arrival, arrival + lifetime)``; capacities
    need checking only where the alive set is maximal.  A batch (all at time
    0, never leaving) is one clique.
    """
    events = sorted(
        [(c.arrival, 1, k) for k, c in enumerate(chains)]
        + [(c.arrival + c.lifetime, 0, k) for k, c in enumerate(chains) if math.isfinite(c.lifetime)]
    )
    alive, cliques, grew = set(), [], False
    for _, kind, k in events:
        if kind == 1:
            alive.add(k)
            grew = True
        else:
            if grew:
                cliques.append(sorted(alive))
            alive.discard(k)
            grew = False
    if grew:
        cliques.append(sorted(alive))
    return cliques


def lp_bound(substrate, chains, *, relaxation="flow", time_limit=600.0, threads=1) -> float:
    """An upper bound on the revenue any policy can accept from ``chains``: the LP of a flow relaxation.

    Each chain is relaxed to a fraction ``y`` accepted, one walk-flow of
    value ``y`` from its ingress to its egress (any server where it has
    none) within its latency budget, and its total CPU spread over servers
    the walk visits (each server at most the CPU of the VNFs that fit
    there; with anti-affinity, at most its largest VNF per server and one
    hop per link between VNFs).  Every embedding is such a flow, so the LP optimum bounds the
    admission optimum (and the MILP's own LP, which keeps one flow per
    virtual link, is at least as tight).  Capacities hold for every set of
    chains alive at the same time (from ``arrival``/``lifetime``), so the
    bound also holds for an online run.  Size: per chain, one column per arc
    and server in its latency scope; solved by HiGHS (interior point).

    ``relaxation="aggregate"`` is far cheaper and weaker, for long online
    runs on large substrates: per set of chains alive together, their CPU
    within the total server CPU and their bandwidth times the fewest
    substrate hops an embedding needs (:func:`_least_hops`) within the total
    link capacity.

    Examples
    --------
    >>> from placement.topologies import line
    >>> G = line(2, cpu=1.0)
    >>> cs = [Chain(f"c{i}", (VNF("a", cpu=1.0),), "srv0", "srv1", bw=1.0) for i in range(3)]
    >>> round(lp_bound(G, cs), 4)  # two cores: two of the three chains (3.0 each)
    6.0
    """
    chains = list(chains)
    if not chains:
        return 0.0
    if relaxation == "flow":
        model = _FlowRelaxation(substrate, chains)
    elif relaxation == "aggregate":
        model = _AggregateRelaxation(substrate, chains)
    else:
        raise ValueError(f"relaxation must be 'flow' or 'aggregate', got {relaxation!r}")
    h = _highs({"time_limit": float(time_limit), "threads": int(threads), "solver": "ipm", "run_crossover": "off"})
    h.passModel(model.lp())
    h.run()
    info = h.getInfo()
    if h.getModelStatus() not in (highspy.HighsModelStatus.kOptimal, highspy.HighsModelStatus.kModelEmpty):
        raise RuntimeError(f"the LP bound did not solve: HiGHS status {h.modelStatusToString(h.getModelStatus())}")
    # The dual objective bounds the LP optimum; interior point stops within its tolerance of it.
    return float(-info.objective_function_value) * (1 + 1e-6)


class _FlowRelaxation(_AdmissionModel):
    """The rows and columns of :func:`lp_bound` (shares the sparse-row plumbing of the MILP)."""

    def __init__(self, G, chains):
        self.G, self.chains = G, chains
        self.revenue = np.array([revenue(c) for c in chains])
        self.cost, self.cost_true = [], []
        self.rows, self.row_lo, self.row_hi = [], [], []
        self.y, self.excluded, self.upper = [], [], {}
        server_list = servers(G)
        node_use, edge_use = [], []
        for k, chain in enumerate(chains):
            nodes, edges = self._add_chain(k, chain, server_list)
            node_use.append(nodes)
            edge_use.append(edges)
        for clique in _maximal_cliques(chains):
            self._add_clique(clique, node_use, edge_use)
        self.objective = np.asarray(self.cost, dtype=float)

    def _add_chain(self, k, chain, server_list):
        candidates, arcs, budget, _ = _scope(self.G, chain, server_list)
        y = self._column(-self.revenue[k])
        self.y.append(y)
        if not all(candidates):
            self.excluded.append(k)
            return {}, {}
        arcs = {(a, b): d for link in arcs for a, b, d in link}
        flow = {arc: self._column(0.0) for arc in arcs}
        for arc in flow:
            self.upper[flow[arc]] = math.inf
        total = sum(v.cpu for v in chain.vnfs)
        hosts = {s for fit in candidates for s in fit}
        cpu = {s: self._column(0.0) for s in hosts}
        for s, col in cpu.items():
            self.upper[col] = math.inf
        self._row([(c, 1.0) for c in cpu.values()] + [(y, -total)], 0.0, 0.0)
        terms = defaultdict(list)
        inflow = defaultdict(list)
        for (a, b), col in flow.items():
            terms[a].append((col, 1.0))
            terms[b].append((col, -1.0))
            inflow[b].append(col)
        starts = {}
        for end, sign in ((chain.ingress, -1.0), (chain.egress, 1.0)):
            if end is not None:
                terms[end].append((y, sign))
                starts[end] = starts.get(end, []) + ([y] if sign < 0 else [])
            else:  # free endpoint: a fraction y spread over the hosts
                spread = {s: self._column(0.0) for s in hosts}
                self._row([(c, 1.0) for c in spread.values()] + [(y, -1.0)], 0.0, 0.0)
                for s, c in spread.items():
                    terms[s].append((c, sign))
                    if sign < 0:
                        starts[s] = starts.get(s, []) + [c]
        for node, row in terms.items():
            self._row(row, 0.0, 0.0)
        spread = getattr(chain, "anti_affinity", False)  # one VNF per server, one hop per link at least
        if spread and flow:
            self._row([(col, 1.0) for col in flow.values()] + [(y, -(len(chain.vnfs) - 1.0))], 0.0, np.inf)
        for s, col in cpu.items():
            fits_here = [v.cpu for v in chain.vnfs if fits(self.G, s, v)]
            fit = max(fits_here) if spread else sum(fits_here)
            visits = [(c, -total) for c in inflow.get(s, []) + starts.get(s, [])]
            self._row([(col, 1.0)] + visits, -np.inf, 0.0)
            self._row([(col, 1.0), (y, -fit)], -np.inf, 0.0)
        if budget < math.inf and flow:
            self._row([(col, arcs[arc]) for arc, col in flow.items()] + [(y, -budget)], -np.inf, 0.0)
        edges = defaultdict(list)
        for (a, b), col in flow.items():
            edges[frozenset((a, b))].append((col, chain.bw))
        return {s: [(col, 1.0)] for s, col in cpu.items()}, edges

    def _add_clique(self, clique, node_use, edge_use):
        nodes, edges = defaultdict(list), defaultdict(list)
        for k in clique:
            for s, terms in node_use[k].items():
                nodes[s] += terms
            for e, terms in edge_use[k].items():
                edges[e] += terms
        for s, terms in nodes.items():
            self._row(terms, -np.inf, self.G.nodes[s][CPU] + EPS)
        for e, terms in edges.items():
            self._row(terms, -np.inf, self.G.edges[tuple(e)][BW] + EPS)

    def lp(self):
        lp = super().lp(relax=True)
        upper = np.asarray(lp.col_upper_)
        for col, value in self.upper.items():
            upper[col] = value
        lp.col_upper_ = upper
        return lp


class _PathModel(_AdmissionModel):
    """The admission MILP with path variables: one binary per virtual link and simple substrate path.

    ``z[k,l,p]``: virtual link ``l`` of chain ``k`` runs along path ``p``,
    for every simple path ``p`` between candidate hosts (or endpoints) ``a``
    and ``b`` that fits the latency budget on its own
    (``d(ingress, a) + delay(p) + d(b, egress) <= budget``, and the link's own
    bound) over links with the chain's bandwidth free; with ``max_paths``
    only the shortest ones per pair.  Rows: for each link and node ``a``,
    ``sum of z starting at a = [link source at a]`` and likewise for the
    ends.  The LP is tighter than the arc flow's: every path is
    latency-feasible on its own and no flow can cycle.
    """

    def __init__(self, G, chains, latency_weight, bandwidth_weight, edge_cuts, knapsacks, max_paths=None):
        self.max_paths, self.complete, self._paths = max_paths, True, {}
        super().__init__(G, chains, latency_weight, bandwidth_weight, edge_cuts, knapsacks)

    def _add_links(self, k, chain, y, candidates, arcs, budget, edge_use, lower, edge_cuts):
        latency = []
        for l, (source, sink) in enumerate(_link_sources(chain)):
            starts = [source[1]] if source[0] == "node" else candidates[source[1]]
            ends = [sink[1]] if sink[0] == "node" else candidates[sink[1]]
            cap_link = min(budget, _link_bound(chain, l) + EPS)
            paths = self.f[k, l] = {}
            by_start, by_end = defaultdict(list), defaultdict(list)
            for a in starts:
                for b in ends:
                    cap = min(cap_link, budget - lower(a, 0) - lower(b, 1))
                    for delay, path in self._simple_paths(a, b, cap, chain.bw):
                        col = self._column(0.0, self._lw * delay + self._bw * chain.bw * (len(path) - 1))
                        paths[path] = col
                        by_start[a].append((col, 1.0))
                        by_end[b].append((col, 1.0))
                        if delay > 0:
                            latency.append((col, delay))
                        for u, v in path_edges(path):
                            edge_use[frozenset((u, v))].append((col, chain.bw))
            for side, nodes, grouped in ((source, starts, by_start), (sink, ends, by_end)):
                for node in nodes:
                    if side[0] == "node":
                        self._row(grouped[node] + [(y, -1.0)], 0.0, 0.0)
                    else:
                        self._row(grouped[node] + [(self.x[k, side[1]][node], -1.0)], 0.0, 0.0)
        if budget < math.inf and latency:
            self._row(latency + [(y, -budget)], -np.inf, 0.0)

    def _simple_paths(self, a, b, cap, bw):
        """``(delay, path)`` of the simple ``a``-``b`` paths within ``cap`` ms over links with ``bw`` free."""
        if a == b:
            return [(0.0, (a,))]
        if cap < 0:
            return []
        found = self._enumerate(a, b, cap)
        G = self.G
        out = [
            (d, p) for d, p in found if d <= cap and all(G.edges[u, v][BW] + EPS >= bw for u, v in path_edges(p))
        ]
        if self.max_paths is not None and len(out) > self.max_paths:
            self.complete = False
            out = out[: self.max_paths]
        return out

    def _enumerate(self, a, b, cap):
        """Every simple ``a``-``b`` path within ``cap`` (cached per pair, widest cap so far), by delay."""
        have = self._paths.get((a, b))
        if have is not None and have[0] >= cap:
            return have[1]
        found = _enumerate_paths(self.G, a, b, cap)
        self._paths[a, b] = (cap, found)
        return found


    def vector(self, placement):
        values = np.zeros(len(self.cost))
        for k, chain in enumerate(self.chains):
            e = placement.embeddings.get(chain.id)
            if e is None:
                continue
            cols = [self.y[k]] + [self.x[k, i].get(s) for i, s in enumerate(e.servers)]
            cols += [self.f[k, l].get(tuple(p)) for l, p in enumerate(e.paths)]
            if any(c is None for c in cols):
                return None
            values[cols] = 1.0
        return values

    def extract(self, values):
        out = {}
        for k, chain in enumerate(self.chains):
            if values[self.y[k]] < 0.5:
                continue
            placed = [max(self.x[k, i], key=lambda s: values[self.x[k, i][s]]) for i in range(len(chain.vnfs))]
            paths = [max(self.f[k, l], key=lambda p: values[self.f[k, l][p]]) for l in range(chain.n_links)]
            out[chain.id] = Embedding(chain.id, placed, paths)
        return Placement(out)


def _enumerate_paths(G, a, b, cap, bw=0.0, limit=None):
    """``(delay, path)`` of every simple ``a``-``b`` path within ``cap`` ms over links with ``bw`` free,
    by delay; None when there are more than ``limit``."""
    if a == b:
        return [(0.0, (a,))]
    H = G.edge_subgraph([(u, v) for u, v, free in G.edges(data=BW) if free + EPS >= bw]) if bw > 0 else G
    if a not in H or b not in H:
        return []
    to_b = nx.single_source_dijkstra_path_length(H, b, cutoff=cap, weight=DELAY)
    found, stack = [], [(a, (a,), 0.0)]
    while stack:
        node, path, delay = stack.pop()
        for nxt, attrs in H[node].items():
            d = delay + attrs[DELAY]
            if nxt in path or d + to_b.get(nxt, math.inf) > cap:
                continue
            if nxt == b:
                found.append((d, path + (b,)))
                if limit is not None and len(found) > limit:
                    return None
            else:
                stack.append((nxt, path + (nxt,), d))
    found.sort(key=lambda item: (item[0], len(item[1])))
    return found


def _least_hops(G, chain, hops_from) -> int:
    """Fewest substrate hops any embedding of ``chain`` uses: its endpoints' hop distance and, with
    anti-affinity, one per link between VNFs.  ``hops_from(n)`` gives hop distances from ``n``."""
    between = hops_from(chain.ingress).get(chain.egress, 0) if None not in (chain.ingress, chain.egress) else 0
    return max(between, len(chain.vnfs) - 1 if getattr(chain, "anti_affinity", False) else 0)


class _AggregateRelaxation(_FlowRelaxation):
    """The rows and columns of ``lp_bound(relaxation="aggregate")``: two knapsack rows per set of chains
    alive together (total CPU; bandwidth x fewest hops against total link capacity), one column per chain."""

    def __init__(self, G, chains):
        self._hops = {}
        super().__init__(G, chains)

    def _hops_from(self, node):
        if node not in self._hops:
            self._hops[node] = nx.single_source_shortest_path_length(self.G, node)
        return self._hops[node]

    def _add_chain(self, k, chain, server_list):
        candidates, _, _, _ = _scope(self.G, chain, server_list)
        y = self._column(-self.revenue[k])
        self.y.append(y)
        if not all(candidates):
            self.excluded.append(k)
            return {}, {}
        cpu = sum(v.cpu for v in chain.vnfs)
        links = chain.bw * _least_hops(self.G, chain, self._hops_from)
        return {"cpu": [(y, cpu)]}, ({"bw": [(y, links)]} if links > 0 else {})

    def _add_clique(self, clique, node_use, edge_use):
        G = self.G
        capacity = {
            "cpu": sum(G.nodes[s][CPU] for s in servers(G)),
            "bw": sum(a[BW] for _, _, a in G.edges(data=True)),
        }
        for resource, use in (("cpu", node_use), ("bw", edge_use)):
            terms = [t for k in clique for t in use[k].get(resource, [])]
            if sum(v for _, v in terms) > capacity[resource] + EPS:
                self._row(terms, -np.inf, capacity[resource] + EPS)
