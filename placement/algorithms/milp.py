"""Exact joint placement and routing of all chains as a MILP, solved by HiGHS.

The arc-flow formulation of the VNF placement and chaining problem
(Addis et al., "Virtual network functions placement and routing
optimization", IEEE CloudNet 2015; Luizelli et al., "Piecing together the
NFV provisioning puzzle", IFIP/IEEE IM 2015), with unsplittable routing:

* ``x[c,i,s]`` binary: VNF ``i`` of chain ``c`` runs on server ``s``;
* ``f[c,l,(u,v)]`` binary: virtual link ``l`` of chain ``c`` uses arc
  ``u -> v`` (each undirected edge gives two arcs);
* flow conservation per virtual link and node, its source and sink being
  the ingress/egress or the ``x`` of the adjacent VNFs (a chain without
  ingress or egress simply has no link there);
* for anti-affinity chains, at most one of the chain's VNFs per server;
* server CPU and memory, and undirected edge bandwidth (both arcs count)
  summed over all chains;
* per chain, link delays on used arcs plus processing delays within
  ``max_latency``, and per virtual link within its ``link_latency`` bound.

The objective is exactly :func:`placement.metrics.cost`.  Every arc costs
``latency_weight * delay + bandwidth_weight * bw > 0`` (for positive
bandwidth weight), so a flow with a cycle is never optimal; paths are
nevertheless extracted by a search over the used arcs, which always yields
a simple path even from a non-optimal (time-limited) solution.
"""

from __future__ import annotations

from collections import defaultdict, deque

import highspy
import numpy as np

from ..base import PlacementAlgorithm
from ..errors import Infeasible, PlacementError
from ..metrics import BANDWIDTH_WEIGHT, LATENCY_WEIGHT
from ..model import BW, CPU, DELAY, MEM, Embedding, Placement
from ..residual import EPS, feasible_distances, fits, link_endpoints, raise_infeasible
from ..substrate import servers
from ._highs import binary_lp, quiet_highs

_FEASIBLE = 2  # HiGHS primal_solution_status "feasible"
_NO_SOLUTION_LIMITS = ("kTimeLimit", "kInterrupt", "kIterationLimit", "kSolutionLimit", "kMemoryLimit")


class MILP(PlacementAlgorithm):
    """Optimal placement + routing of all chains at once (HiGHS branch and cut).

    Parameters
    ----------
    time_limit : float
        Seconds HiGHS may spend; the best solution found by then is returned
        (``info["status"]`` says ``"Time limit reached"``).
    threads : int
        HiGHS threads (1 makes runs reproducible).
    mip_rel_gap : float
        Relative gap at which to stop; 0 proves the optimum.
    latency_weight, bandwidth_weight : float
        Weights of :func:`placement.metrics.cost`, the objective.
    max_variables : int
        :meth:`skip` declines instances whose model would exceed this.

    ``Placement.info`` holds ``status`` (HiGHS model status), ``objective``,
    ``bound`` (dual bound), ``gap``, ``n_vars``, ``n_constraints`` and
    ``nodes`` (branch-and-bound nodes).

    Examples
    --------
    >>> from placement.topologies import line
    >>> from placement.model import VNF, Chain
    >>> G = line(3, cpu=1.0)
    >>> cs = [Chain(f"c{i}", (VNF("a", cpu=1.0),), "srv0", "srv2", bw=10.0) for i in range(2)]
    >>> p = MILP().place(G, cs)
    >>> len({e.servers[0] for e in p.embeddings.values()})  # one VNF per server
    2
    >>> p.info["status"], round(p.info["objective"], 6)  # 2 x (2 ms + 0.01 * 10 * 2 hops)
    ('Optimal', 4.4)
    """

    def __init__(
        self,
        *,
        time_limit=60.0,
        threads=1,
        mip_rel_gap=0.0,
        latency_weight=LATENCY_WEIGHT,
        bandwidth_weight=BANDWIDTH_WEIGHT,
        max_variables=100_000,
    ):
        self.time_limit = time_limit
        self.threads = threads
        self.mip_rel_gap = mip_rel_gap
        self.latency_weight = latency_weight
        self.bandwidth_weight = bandwidth_weight
        self.max_variables = max_variables

    def skip(self, substrate, chains):
        """Decline when the unpruned model would have more than ``max_variables`` columns."""
        n_servers, n_arcs = len(servers(substrate)), 2 * substrate.number_of_edges()
        n = sum(len(c.vnfs) * n_servers + c.n_links * n_arcs for c in chains)
        if n > self.max_variables:
            return True, f"model too large: about {n} variables > max_variables={self.max_variables}"
        return False, ""

    def _place(self, residual, chains, rng):
        model = _Model(residual, chains, self.latency_weight, self.bandwidth_weight)
        h = self._solve(model)
        status = h.modelStatusToString(h.getModelStatus())
        info = h.getInfo()
        facts = {
            "status": status,
            "objective": float(info.objective_function_value),
            "bound": float(info.mip_dual_bound),
            "gap": float(info.mip_gap),
            "n_vars": int(h.getNumCol()),
            "n_constraints": int(h.getNumRow()),
            "nodes": int(info.mip_node_count),
        }
        self._raise_unless_solved(h, chains, facts)
        values = np.asarray(h.getSolution().col_value)
        return Placement(model.extract(values), info=facts)

    def _solve(self, model):
        h = quiet_highs(
            time_limit=float(self.time_limit), threads=int(self.threads), mip_rel_gap=float(self.mip_rel_gap), random_seed=0
        )
        h.passModel(model.lp())
        h.run()
        return h

    @staticmethod
    def _raise_unless_solved(h, chains, facts):
        status = h.getModelStatus()
        has_solution = h.getInfo().primal_solution_status == _FEASIBLE
        culprit = chains[0].id if len(chains) == 1 else None
        if status == highspy.HighsModelStatus.kOptimal and has_solution:
            return
        if status in (highspy.HighsModelStatus.kInfeasible, highspy.HighsModelStatus.kUnboundedOrInfeasible):
            raise Infeasible(
                f"no joint placement of {len(chains)} chain(s) meets capacities and latency bounds",
                chain_id=culprit,
                reason="infeasible",
            )
        if status.name in _NO_SOLUTION_LIMITS:
            if has_solution:
                return
            raise Infeasible(
                f"HiGHS stopped ({facts['status']}) before finding any placement; raise time_limit",
                chain_id=culprit,
                reason="time-limit",
            )
        raise Infeasible(f"HiGHS ended with status {facts['status']!r}", chain_id=culprit, reason="solver")


class _Model:
    """The arc-flow MILP of a batch, as sparse rows ready for HiGHS.

    Variables are pruned per chain before building: servers and arcs that no
    ingress-to-egress walk within the latency budget can touch, and arcs
    without the chain's bandwidth free.  Constraints that can never bind
    (total possible demand within capacity) are left out.
    """

    def __init__(self, G, chains, latency_weight, bandwidth_weight):
        self.G, self.chains = G, chains
        self.cost, self.integer = [], []
        self.rows, self.row_lo, self.row_hi = [], [], []
        self.offset = latency_weight * sum(v.proc_delay for c in chains for v in c.vnfs)
        self.x = {}  # (chain index, vnf index) -> {server: column}
        self.f = {}  # (chain index, link index) -> {(u, v): column}
        server_list = servers(G)
        node_use = defaultdict(lambda: ([], [], [], []))  # server -> cpu cols/coefs, mem cols/coefs
        edge_use = defaultdict(lambda: ([], []))  # edge key -> cols, coefs
        for k, chain in enumerate(chains):
            self._add_chain(k, chain, server_list, latency_weight, bandwidth_weight, node_use, edge_use)
        self._add_capacity_rows(node_use, edge_use)

    def _column(self, cost):
        self.cost.append(cost)
        return len(self.cost) - 1

    def _row(self, terms, lo, hi):
        self.rows.append(terms)
        self.row_lo.append(lo)
        self.row_hi.append(hi)

    def _scope(self, chain, server_list):
        """Nodes, candidate servers per VNF and arcs chain ``chain`` may use, or raise Infeasible.

        A missing ingress (egress) constrains nothing: every node is at
        distance 0 from it.
        """
        G = self.G
        budget = chain.max_latency - sum(v.proc_delay for v in chain.vnfs) + EPS

        def reach(end):
            if end is None:
                return dict.fromkeys(G, 0.0)
            return feasible_distances(G, end, chain.bw, cutoff=budget, paths=False)[0]

        d_in, d_out = reach(chain.ingress), reach(chain.egress)
        near = {v for v in d_in if v in d_out and d_in[v] + d_out[v] <= budget}
        candidates = []
        for i, vnf in enumerate(chain.vnfs):
            fit = [s for s in server_list if s in near and fits(G, s, vnf)]
            if not fit:
                raise_infeasible(G, chain, vnf, chain.ingress, index=i)
            candidates.append(fit)
        arcs = [
            (a, b, attrs[DELAY])
            for u, v, attrs in G.edges(data=True)
            if attrs[BW] + EPS >= chain.bw and u in near and v in near
            for a, b in ((u, v), (v, u))
            if d_in[a] + attrs[DELAY] + d_out[b] <= budget
        ]
        return near, candidates, arcs, budget

    def _add_chain(self, k, chain, server_list, latency_weight, bandwidth_weight, node_use, edge_use):
        near, candidates, arcs, budget = self._scope(chain, server_list)
        for i, (vnf, fit) in enumerate(zip(chain.vnfs, candidates)):
            cols = self.x[k, i] = {s: self._column(0.0) for s in fit}
            self._row([(c, 1.0) for c in cols.values()], 1.0, 1.0)
            for s, c in cols.items():
                node_use[s][0].append(c), node_use[s][1].append(vnf.cpu)
                node_use[s][2].append(c), node_use[s][3].append(vnf.mem)
        if chain.anti_affinity:  # at most one VNF of the chain per server
            for s in server_list:
                terms = [(self.x[k, i][s], 1.0) for i in range(len(chain.vnfs)) if s in self.x[k, i]]
                if len(terms) > 1:
                    self._row(terms, -np.inf, 1.0)
        latency_terms = []
        ends = _link_ends(chain)
        for l, (src, dst) in enumerate(ends):
            flows = self.f[k, l] = {}
            link_terms = []
            for a, b, delay in arcs:
                if (src[0] == "node" and b == src[1]) or (dst[0] == "node" and a == dst[1]):
                    continue  # a simple path never re-enters its fixed source or leaves its fixed sink
                col = flows[a, b] = self._column(latency_weight * delay + bandwidth_weight * chain.bw)
                link_terms.append((col, delay))
                key = id(self.G.edges[a, b])
                edge_use[key][0].append(col), edge_use[key][1].append(chain.bw)
            self._add_conservation(k, src, dst, flows)
            latency_terms += link_terms
            bound = chain.link_bound(l)
            if bound < float("inf") and link_terms:
                self._row(link_terms, -np.inf, bound)
        if budget < float("inf") and latency_terms:
            self._row(latency_terms, -np.inf, budget - EPS)

    def _add_conservation(self, k, src, dst, flows):
        """out-flow - in-flow = [node is the link's source] - [node is its sink], per node.

        ``src``/``dst`` are ``("node", n)`` for a fixed endpoint or
        ``("vnf", i)`` for wherever VNF ``i`` runs.
        """
        terms = defaultdict(list)
        rhs = defaultdict(float)
        for (a, b), col in flows.items():
            terms[a].append((col, 1.0))
            terms[b].append((col, -1.0))
        for (kind, what), sign in ((src, 1.0), (dst, -1.0)):
            if kind == "node":
                rhs[what] += sign
            else:  # move the x term to the left-hand side
                for s, col in self.x[k, what].items():
                    terms[s].append((col, -sign))
        for node in set(terms) | set(rhs):
            self._row(terms.get(node, []), rhs[node], rhs[node])

    def _add_capacity_rows(self, node_use, edge_use):
        G = self.G
        for s, (cpu_cols, cpu, mem_cols, mem) in node_use.items():
            for cols, coefs, cap in ((cpu_cols, cpu, G.nodes[s][CPU]), (mem_cols, mem, G.nodes[s][MEM])):
                if sum(coefs) > cap + EPS:
                    self._row(list(zip(cols, coefs)), -np.inf, cap + EPS)
        edge_attrs = {id(attrs): attrs for _, _, attrs in G.edges(data=True)}
        for key, (cols, coefs) in edge_use.items():
            cap = edge_attrs[key][BW]
            if sum(coefs) > cap + EPS:
                self._row(list(zip(cols, coefs)), -np.inf, cap + EPS)

    def lp(self) -> highspy.HighsLp:
        """The model as a HiGHS LP with every column binary."""
        return binary_lp(self.cost, self.rows, self.row_lo, self.row_hi, offset=self.offset)

    def extract(self, values) -> dict:
        """Embeddings read off a solution vector (servers by ``x``, simple paths by ``f``)."""
        out = {}
        for k, chain in enumerate(self.chains):
            placed = [max(self.x[k, i], key=lambda s: values[self.x[k, i][s]]) for i in range(len(chain.vnfs))]
            paths = [
                _simple_path(self.f[k, l], values, a, b, chain.id)
                for l, (a, b) in enumerate(link_endpoints(chain, placed))
            ]
            out[chain.id] = Embedding(chain.id, placed, paths)
        return out


def _link_ends(chain):
    """``(source, sink)`` of each virtual link: ``("node", n)`` for an endpoint, ``("vnf", i)`` for a VNF."""
    hops = [("vnf", i) for i in range(len(chain.vnfs))]
    if chain.ingress is not None:
        hops.insert(0, ("node", chain.ingress))
    if chain.egress is not None:
        hops.append(("node", chain.egress))
    return list(zip(hops[:-1], hops[1:]))


def _simple_path(flows, values, source, target, chain_id):
    """A simple ``source``-``target`` path over the arcs with flow (BFS: drops any cycle)."""
    if source == target:
        return (source,)
    succ = defaultdict(list)
    for (a, b), col in flows.items():
        if values[col] > 0.5:
            succ[a].append(b)
    parent = {source: None}
    queue = deque([source])
    while queue:
        node = queue.popleft()
        for nxt in succ[node]:
            if nxt not in parent:
                parent[nxt] = node
                queue.append(nxt)
    if target not in parent:
        raise PlacementError(f"chain {chain_id!r}: the MILP solution has no flow from {source!r} to {target!r}")
    path = [target]
    while path[-1] != source:
        path.append(parent[path[-1]])
    return tuple(reversed(path))
