"""A small genetic algorithm over server assignments.

After Rankothge et al., "Optimizing resource allocation for virtualized
network functions in a cloud center using genetic algorithms" (IEEE TNSM
2017) and Carpio et al., "VNF placement with replication for load
balancing in NFV networks" (IEEE ICC 2017): a chromosome holds one server per
VNF of every chain of the batch; a chromosome is routed by shortest-delay
paths with the chain's bandwidth free, and its fitness is
:func:`placement.metrics.cost` plus a penalty proportional to how far it
breaks capacities, latency bounds (end to end and per virtual link) and
anti-affinity.  Tournament selection, uniform
crossover, per-gene mutation, elitism; the population is seeded with the
greedy solution, as is common practice, so the GA never does worse than it.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from ..base import PlacementAlgorithm
from ..errors import Infeasible
from ..metrics import BANDWIDTH_WEIGHT, LATENCY_WEIGHT, cost
from ..model import BW, CPU, MEM, Embedding, Placement
from ..residual import EPS, feasible_distances, fits, link_endpoints, raise_infeasible
from ..substrate import servers
from .greedy import Greedy

_KINDS = ("cpu", "mem", "bandwidth", "latency")


class Genetic(PlacementAlgorithm):
    """Evolve server assignments of all chains jointly; seeded, deterministic per seed.

    Parameters
    ----------
    population : int
        Individuals per generation.
    generations : int
        Maximum number of generations.
    mutation_rate : float
        Probability that a gene is redrawn.
    patience : int
        Stop after this many generations without improvement.
    penalty : float
        Fitness added per unit of (relative) constraint violation.

    Examples
    --------
    >>> from placement.topologies import star
    >>> from placement.model import VNF, Chain
    >>> G = star(4, cpu=1.0)
    >>> cs = [Chain(f"c{i}", (VNF("a", cpu=1.0),), "srv0", "srv1") for i in range(2)]
    >>> p = Genetic(population=8, generations=5).place(G, cs, seed=0)
    >>> sorted(e.servers[0] for e in p.embeddings.values())
    ['srv0', 'srv1']
    """

    def __init__(self, *, population=20, generations=50, mutation_rate=0.02, patience=15, penalty=1000.0):
        self.population = population
        self.generations = generations
        self.mutation_rate = mutation_rate
        self.patience = patience
        self.penalty = penalty

    def _place(self, residual, chains, rng):
        problem = _Problem(residual, chains, self.penalty)
        greedy = self._greedy(residual, chains)
        seeds = [g for g in (problem.genes_of(greedy),) if g is not None]
        best, generations = self._evolve(problem, seeds, rng)
        fitness, violated = problem.evaluate(best)
        info = {"generations": generations, "fitness": float(fitness), "greedy_kept": False}
        found = None if violated else problem.embeddings(best)
        if greedy is not None and (found is None or _cost(residual, chains, greedy) < _cost(residual, chains, found)):
            found, info["greedy_kept"] = greedy, True
        if found is None:
            chain_id, kind = violated[0]
            raise Infeasible(
                f"no assignment found meets every constraint (best still violates {kind})",
                chain_id=chain_id if len(chains) > 1 else chains[0].id,
                reason=kind,
            )
        return Placement(found, info=info)

    @staticmethod
    def _greedy(residual, chains):
        try:
            return Greedy().place(residual, chains).embeddings
        except Infeasible:
            return None

    def _evolve(self, problem, seeds, rng):
        size = max(2, int(self.population))
        # Half the initial population perturbs the seeds (local search around
        # the greedy solution), the other half is drawn at random.
        pop = list(seeds)
        if seeds:
            pop += [problem.mutate(seeds[i % len(seeds)], self.mutation_rate, rng) for i in range(size // 2)]
        pop += [problem.random_genes(rng) for _ in range(size - len(pop))]
        pop = pop[:size]
        fit = np.array([problem.evaluate(g)[0] for g in pop])
        best_fit, stale, generation = fit.min(), 0, 0
        for generation in range(1, int(self.generations) + 1):
            elite = pop[int(np.argmin(fit))]
            children = [elite]
            while len(children) < size:
                a, b = self._tournament(fit, rng), self._tournament(fit, rng)
                children.append(problem.mutate(_crossover(pop[a], pop[b], rng), self.mutation_rate, rng))
            pop = children
            fit = np.array([problem.evaluate(g)[0] for g in pop])
            if fit.min() < best_fit - EPS:
                best_fit, stale = fit.min(), 0
            else:
                stale += 1
                if stale >= self.patience:
                    break
        return pop[int(np.argmin(fit))], generation

    @staticmethod
    def _tournament(fit, rng, k=3):
        picks = rng.integers(len(fit), size=k)
        return int(picks[np.argmin(fit[picks])])


def _cost(G, chains, embeddings):
    return cost(G, chains, Placement(embeddings))


def _crossover(a, b, rng):
    """Uniform crossover: each gene from either parent with probability 1/2."""
    return np.where(rng.random(len(a)) < 0.5, a, b)


class _Problem:
    """The batch as a fixed-length integer chromosome, with a penalised fitness.

    Gene ``j`` indexes the candidate servers of the ``j``-th VNF of the batch
    (servers that fit it alone and lie within its chain's latency reach).
    Routes are shortest-delay paths on the initial residual graph with the
    chain's bandwidth free, cached per source.
    """

    def __init__(self, G, chains, penalty):
        self.G, self.chains, self.penalty = G, chains, penalty
        self.domains, self.owner = [], []
        server_list = servers(G)
        for k, chain in enumerate(chains):
            budget = chain.max_latency - sum(v.proc_delay for v in chain.vnfs) + EPS
            d_in, d_out = (
                dict.fromkeys(G, 0.0)  # no fixed endpoint: no constraint
                if end is None
                else feasible_distances(G, end, chain.bw, cutoff=budget, paths=False)[0]
                for end in (chain.ingress, chain.egress)
            )
            for i, vnf in enumerate(chain.vnfs):
                domain = [
                    s
                    for s in server_list
                    if s in d_in and s in d_out and d_in[s] + d_out[s] <= budget and fits(G, s, vnf)
                ]
                if not domain:
                    raise_infeasible(G, chain, vnf, chain.ingress, index=i)
                self.domains.append(domain)
                self.owner.append(k)
        self.sizes = np.array([len(d) for d in self.domains])
        self.position = [{s: i for i, s in enumerate(d)} for d in self.domains]
        self.slices = np.cumsum([0] + [len(c.vnfs) for c in chains])
        self.min_bw = min((a[BW] for _, _, a in G.edges(data=True)), default=0.0)
        self._routes = {}

    def random_genes(self, rng):
        return (rng.random(len(self.sizes)) * self.sizes).astype(int)

    def mutate(self, genes, rate, rng):
        """Change each gene with probability ``rate`` (at least one gene always changes).

        Half of the changes draw a random server of the gene's domain, half
        move the VNF next to a chain neighbour (the previous or next VNF, or
        the ingress/egress), the move that shortens chains.  Where there is
        no neighbour (no ingress or egress) the gene is drawn at random.
        """
        genes = genes.copy()
        hit = rng.random(len(genes)) < rate
        hit[rng.integers(len(genes))] = True
        for j in np.flatnonzero(hit):
            target = self._neighbour(genes, j, rng) if rng.random() < 0.5 else None
            index = self.position[j].get(target)
            genes[j] = index if index is not None else int(rng.integers(self.sizes[j]))
        return genes

    def _neighbour(self, genes, j, rng):
        """The node next to gene ``j`` in its chain, before or after it at random."""
        k = self.owner[j]
        lo, hi = self.slices[k], self.slices[k + 1]
        chain = self.chains[k]
        if chain.anti_affinity:  # its neighbour's server is the one place it may not go
            return None
        if rng.random() < 0.5:
            return chain.ingress if j == lo else self.domains[j - 1][genes[j - 1]]
        return chain.egress if j == hi - 1 else self.domains[j + 1][genes[j + 1]]

    def genes_of(self, embeddings):
        """The chromosome of a known placement (None if it is outside the domains)."""
        if embeddings is None:
            return None
        genes = []
        for chain in self.chains:
            for j, s in zip(range(len(chain.vnfs)), embeddings[chain.id].servers):
                domain = self.domains[len(genes)]
                if s not in domain:
                    return None
                genes.append(domain.index(s))
        return np.array(genes)

    def servers_of(self, genes, k):
        lo, hi = self.slices[k], self.slices[k + 1]
        return [self.domains[j][genes[j]] for j in range(lo, hi)]

    def route(self, bw, a, b):
        """``(delay, path)`` of the shortest path ``a`` to ``b`` with ``bw`` free, or None."""
        if a == b:
            return 0.0, [a]
        key_bw = 0.0 if bw <= self.min_bw + EPS else bw  # the filter hides nothing: share the cache
        for src, dst, flip in ((a, b, False), (b, a, True)):
            if (key_bw, src) in self._routes:
                break
        else:
            src, dst, flip = a, b, False
            self._routes[key_bw, src] = feasible_distances(self.G, src, key_bw)
        dist, paths = self._routes[key_bw, src]
        if dst not in dist:
            return None
        return dist[dst], paths[dst][::-1] if flip else paths[dst]

    def evaluate(self, genes):
        """``(fitness, violations)``: cost plus penalty, and ``(chain id, kind)`` per broken constraint.

        The cost term is :func:`placement.metrics.cost` computed on the fly
        (default weights); capacity violations carry chain id None.
        """
        G, total, excess = self.G, 0.0, 0.0
        use_node = defaultdict(lambda: [0.0, 0.0])
        use_edge = {}  # id(edge attrs) -> [attrs, bw used]: both directions share one entry
        violated = []
        for k, chain in enumerate(self.chains):
            placed = self.servers_of(genes, k)
            for s, vnf in zip(placed, chain.vnfs):
                use_node[s][0] += vnf.cpu
                use_node[s][1] += vnf.mem
            if chain.anti_affinity and len(set(placed)) < len(placed):
                excess += len(placed) - len(set(placed))
                violated.append((chain.id, "anti-affinity"))
            delay, hops = sum(v.proc_delay for v in chain.vnfs), 0
            for j, (a, b) in enumerate(link_endpoints(chain, placed)):
                found = self.route(chain.bw, a, b)
                if found is None:  # cannot happen within the domains; penalise anyway
                    excess += 1.0
                    violated.append((chain.id, "bandwidth"))
                    continue
                bound = chain.link_bound(j)
                if found[0] > bound + EPS:
                    excess += (found[0] - bound) / max(bound, EPS)
                    violated.append((chain.id, "latency"))
                delay += found[0]
                hops += len(found[1]) - 1
                for u, v in zip(found[1][:-1], found[1][1:]):
                    attrs = G.adj[u][v]
                    use_edge.setdefault(id(attrs), [attrs, 0.0])[1] += chain.bw
            total += LATENCY_WEIGHT * delay + BANDWIDTH_WEIGHT * chain.bw * hops
            if delay > chain.max_latency + EPS:
                excess += (delay - chain.max_latency) / max(chain.max_latency, EPS)
                violated.append((chain.id, "latency"))
        excess += self._overuse(use_node, use_edge, violated)
        return total + self.penalty * (excess + len(violated)), violated

    def _overuse(self, use_node, use_edge, violated):
        """Relative excess over capacities; appends ``(None, kind)`` per overloaded resource."""
        G, excess = self.G, 0.0
        for s, (cpu, mem) in use_node.items():
            for kind, used, cap in (("cpu", cpu, G.nodes[s][CPU]), ("mem", mem, G.nodes[s][MEM])):
                if used > cap + EPS:
                    excess += (used - cap) / max(cap, EPS)
                    violated.append((None, kind))
        for attrs, used in use_edge.values():
            cap = attrs[BW]
            if used > cap + EPS:
                excess += (used - cap) / max(cap, EPS)
                violated.append((None, "bandwidth"))
        return excess

    def embeddings(self, genes):
        out = {}
        for k, chain in enumerate(self.chains):
            placed = self.servers_of(genes, k)
            paths = [self.route(chain.bw, a, b)[1] for a, b in link_endpoints(chain, placed)]
            out[chain.id] = Embedding(chain.id, placed, paths)
        return out
