"""What the search baselines share: one assignment with incremental evaluation, the moves, the frame.

Simulated annealing, tabu search and the local-search improver all work on
an :class:`Assignment`: one server per VNF of every chain of the call.  Each
virtual link runs on the shortest-delay path with the chain's bandwidth
free *on the residual graph the call started from* (cached per source);
the objective is :func:`placement.metrics.cost` plus ``penalty`` times the
violation of capacities (chains sharing links and servers), latency bounds
and anti-affinity.  A move (relocate one VNF, swap two) re-routes only the
virtual links next to the VNFs it moves, so it costs a few dictionary
updates.  :class:`SearchPlacement` is the frame: run a constructive start
algorithm, search from its servers, keep whichever valid placement costs
less, so a search never returns something worse than its start.
"""

from __future__ import annotations

import math
import random

from ..base import PlacementAlgorithm, get_algorithm
from ..errors import Infeasible
from ..metrics import BANDWIDTH_WEIGHT, LATENCY_WEIGHT, cost
from ..model import BW, CPU, MEM, Embedding, Placement
from ..residual import EPS, feasible_distances, raise_infeasible, working_copy
from ..substrate import servers
from ._ranking import check_positive
from ._sequential import embed_chain

PENALTY = 1000.0
"""Objective added per unit of violation: far above any cost difference a move makes, so feasibility comes first."""

REPAIR_CANDIDATES = 20
"""While the assignment is invalid, a descent tries only this many servers per move (the cheapest by estimate)."""

STRICT_TRIES = 8
"""While it is valid, only this many cheaper servers per move (more seldom pay: they overload the same links)."""


def _excess(used, cap):
    """Violation of one capacity: 0 when it holds, else 1 plus the overused fraction (so in (1, 2])."""
    return 0.0 if used <= cap + EPS else 1.0 + (used - cap) / used


class Routes:
    """Shortest-delay paths with a given bandwidth free on a fixed graph, one Dijkstra per (bandwidth, source).

    Examples
    --------
    >>> from placement.topologies import line
    >>> R = Routes(line(3))
    >>> R.route(1.0, "srv2", "srv0")[:2]
    (2.0, ['srv2', 'srv1', 'srv0'])
    >>> R.route(1.0, "srv0", "srv2")[:2]  # from the cached table of srv2, reversed
    (2.0, ['srv0', 'srv1', 'srv2'])
    """

    def __init__(self, G):
        self.G = G
        self.min_bw = min((b for _, _, b in G.edges(data=BW)), default=0.0)
        self._tables = {}
        self._routes = {}

    def _key(self, bw):
        return 0.0 if bw <= self.min_bw + EPS else bw  # no edge is hidden: share one table

    def table(self, bw, source):
        """``(dist, paths)`` from ``source`` over edges with ``bw`` free."""
        key = (self._key(bw), source)
        found = self._tables.get(key)
        if found is None:
            found = self._tables[key] = feasible_distances(self.G, source, key[0])
        return found

    def route(self, bw, a, b):
        """``(delay, path, edges)`` of the shortest path from ``a`` to ``b`` with ``bw`` free, or None.

        ``edges`` are the attribute dicts of the path's edges (one dict per
        undirected edge, so they identify it); results are memoised.
        """
        key = self._key(bw)
        memo = self._routes.get((key, a, b), False)
        if memo is not False:
            return memo
        if a == b:
            found = (0.0, [a], ())
        else:
            src, dst = (b, a) if (key, a) not in self._tables and (key, b) in self._tables else (a, b)
            dist, paths = self.table(bw, src)
            found = None
            if dst in dist:
                path = paths[dst] if src == a else paths[dst][::-1]
                adj = self.G._adj
                found = (dist[dst], path, tuple(adj[u][v] for u, v in zip(path[:-1], path[1:])))
        self._routes[key, a, b] = found
        return found


class Assignment:
    """A server for every VNF of ``chains``, with its objective kept up to date move by move.

    VNF ``j`` (all chains' VNFs in order) may go on ``domains[j]``: servers
    that fit it alone and from which the chain's ingress and egress are
    reachable within its latency budget.  :meth:`load` sets a first
    assignment (call it before anything else); :meth:`move` changes
    servers and returns the changes that undo it.

    Examples
    --------
    >>> from placement.topologies import line
    >>> from placement.model import VNF, Chain
    >>> G = line(3, cpu=1.0)
    >>> A = Assignment(G, [Chain("c", (VNF("a", cpu=1.0), VNF("b", cpu=1.0)), "srv0", "srv2")])
    >>> A.load(["srv1", "srv1"])  # two VNFs on a one-core server
    >>> A.feasible(), A.cost()
    (False, 2.02)
    >>> undo = A.move([(0, "srv0")])
    >>> A.feasible(), A.cost(), A.embeddings()["c"].paths
    (True, 2.02, (('srv0',), ('srv0', 'srv1'), ('srv1', 'srv2')))
    >>> _ = A.move(undo); A.server
    ['srv1', 'srv1']
    """

    def __init__(self, G, chains, *, penalty=PENALTY, latency_weight=LATENCY_WEIGHT, bandwidth_weight=BANDWIDTH_WEIGHT):
        self.G, self.chains, self.penalty = G, list(chains), penalty
        self.lw, self.bww = latency_weight, bandwidth_weight
        self.routes = Routes(G)
        self.owner, self.first, self.domains = [], [], []
        free = [(s, G.nodes[s][CPU], G.nodes[s][MEM]) for s in servers(G)]
        for k, chain in enumerate(self.chains):
            self.first.append(len(self.owner))
            budget = chain.max_latency - sum(v.proc_delay for v in chain.vnfs) + EPS
            reach = [self.routes.table(chain.bw, e)[0] for e in (chain.ingress, chain.egress) if e is not None]
            near = [f for f in free if all(f[0] in r for r in reach) and sum(r[f[0]] for r in reach) <= budget]
            for i, vnf in enumerate(chain.vnfs):
                domain = [s for s, cpu, mem in near if vnf.cpu <= cpu + EPS and vnf.mem <= mem + EPS]  # as fits()
                if not domain:
                    raise_infeasible(G, chain, vnf, chain.ingress, index=i)
                self.owner.append((k, i))
                self.domains.append(domain)
        self.first.append(len(self.owner))
        self.allowed = [set(d) for d in self.domains]
        self._estimates = {}  # (VNF, its neighbouring hops) -> estimates()

    @property
    def n(self) -> int:
        """Number of VNFs over all chains."""
        return len(self.owner)

    # ------------------------------------------------------------ evaluation

    def load(self, assignment) -> None:
        """Set every VNF's server (a list in VNF order) and evaluate from scratch."""
        self.server = list(assignment)
        self.node_use, self.edge_use = {}, {}
        self.links = [[None] * c.n_links for c in self.chains]
        self.chain_cost = [0.0] * len(self.chains)
        self.chain_violation = [0.0] * len(self.chains)
        self.capacity_violation, self.n_over = 0.0, 0
        for j, s in enumerate(self.server):
            k, i = self.owner[j]
            self._node(s, self.chains[k].vnfs[i], 1)
        for k, chain in enumerate(self.chains):
            for link in range(chain.n_links):
                self._set_link(k, link)
            self._score(k)

    def cost(self) -> float:
        """:func:`placement.metrics.cost` of the current assignment (routes as evaluated)."""
        return float(sum(self.chain_cost))

    def violation(self) -> float:
        """Total violation: capacities, latency bounds, anti-affinity, missing routes."""
        return self.capacity_violation + sum(self.chain_violation)

    def objective(self) -> float:
        """What the searches minimise: cost plus ``penalty`` times violation."""
        return self.cost() + self.penalty * self.violation()

    def feasible(self) -> bool:
        """Whether the assignment, routed as evaluated, is a valid placement."""
        return self.n_over == 0 and not any(self.chain_violation)

    def _node(self, s, vnf, sign):
        use = self.node_use.get(s)
        if use is None:
            use = self.node_use[s] = [0.0, 0.0]
        attrs = self.G._node[s]  # the attribute dict itself: no view on the hot path
        for r, (name, amount) in enumerate(((CPU, vnf.cpu), (MEM, vnf.mem))):
            old, cap = use[r], attrs[name]
            use[r] = new = old + sign * amount
            if old > cap + EPS or new > cap + EPS:
                self._count(_excess(old, cap), _excess(new, cap))

    def _path(self, edges, bw, sign):
        use = self.edge_use
        for attrs in edges:
            key = id(attrs)
            old, cap = use.get(key, 0.0), attrs[BW]
            use[key] = new = old + sign * bw
            if old > cap + EPS or new > cap + EPS:
                self._count(_excess(old, cap), _excess(new, cap))

    def _count(self, before, after):
        self.capacity_violation += after - before
        self.n_over += (after > 0) - (before > 0)

    def _hop(self, k, h):
        """Node ``h`` of chain ``k``'s hop sequence ([ingress,] servers..., [egress])."""
        chain = self.chains[k]
        i = h - (chain.ingress is not None)
        if i < 0:
            return chain.ingress
        if i >= len(chain.vnfs):
            return chain.egress
        return self.server[self.first[k] + i]

    def _set_link(self, k, link):
        chain, old = self.chains[k], self.links[k][link]
        if old is not None:
            self._path(old[2], chain.bw, -1)
        found = self.routes.route(chain.bw, self._hop(k, link), self._hop(k, link + 1))
        self.links[k][link] = found
        if found is not None:
            self._path(found[2], chain.bw, 1)

    def _score(self, k):
        chain = self.chains[k]
        delay, hops, violation = sum(v.proc_delay for v in chain.vnfs), 0, 0.0
        bounds = getattr(chain, "link_latency", None)
        for link, found in enumerate(self.links[k]):
            if found is None:
                violation += 2.0
                continue
            delay += found[0]
            hops += len(found[1]) - 1
            if bounds is not None and found[0] > bounds[link] + EPS:
                violation += 1.0 + (found[0] - bounds[link]) / found[0]
        if delay > chain.max_latency + EPS:
            violation += 1.0 + (delay - chain.max_latency) / delay
        if getattr(chain, "anti_affinity", False):
            placed = self.server[self.first[k] : self.first[k + 1]]
            violation += len(placed) - len(set(placed))
        self.chain_cost[k] = self.lw * delay + self.bww * chain.bw * hops
        self.chain_violation[k] = violation

    # ----------------------------------------------------------------- moves

    def move(self, changes) -> list:
        """Put VNF ``j`` on server ``s`` for each ``(j, s)`` of ``changes``; return the undoing changes."""
        undo, touched = [], {}
        for j, s in changes:
            old = self.server[j]
            undo.append((j, old))
            if s == old:
                continue
            k, i = self.owner[j]
            vnf = self.chains[k].vnfs[i]
            self._node(old, vnf, -1)
            self._node(s, vnf, 1)
            self.server[j] = s
            touched.setdefault(k, set()).update(self._links_at(k, i))
        for k, links in touched.items():
            for link in links:
                self._set_link(k, link)
            self._score(k)
        return undo

    def _links_at(self, k, i):
        """The virtual links that start or end at VNF ``i`` of chain ``k``."""
        chain = self.chains[k]
        into = i if chain.ingress is not None else i - 1
        return [link for link in (into, into + 1) if 0 <= link < chain.n_links]

    def estimates(self, j, last=None) -> dict:
        """Cost of the virtual links around VNFs ``j..last`` (one chain) if they all sat on each server.

        Exact for the cost part of relocating that run of VNFs (default: VNF
        ``j`` alone) to a server of ``j``'s domain; the violation is not
        estimated, servers cut off by bandwidth are left out.
        """
        last = j if last is None else last
        k, i = self.owner[j]
        chain = self.chains[k]
        h = i + (chain.ingress is not None)
        after = h + 1 + last - j
        ends = (
            self._hop(k, h - 1) if h > 0 else None,
            self._hop(k, after) if last + 1 < self.first[k + 1] or chain.egress is not None else None,
        )
        out = self._estimates.get((j, ends))
        if out is None:
            out = self._estimates[j, ends] = self._estimate(j, ends)
        return out

    def _estimate(self, j, ends):
        chain = self.chains[self.owner[j][0]]
        weight = self.bww * chain.bw
        tables = [self.routes.table(chain.bw, e) for e in ends if e is not None]
        out = {}
        for s in self.domains[j]:
            total = 0.0
            for dist, paths in tables:
                if s not in dist:
                    break
                total += self.lw * dist[s] + weight * (len(paths[s]) - 1)
            else:
                out[s] = total
        return out

    def block_cost(self, j, last) -> float:
        """Current cost of the virtual links into, within and out of VNFs ``j..last`` (one chain).

        What :meth:`estimates` predicts for the same VNFs moved together.
        """
        k, i = self.owner[j]
        chain = self.chains[k]
        into = i if chain.ingress is not None else i - 1
        total = 0.0
        for link in range(max(into, 0), min(into + 2 + last - j, chain.n_links)):
            found = self.links[k][link]
            if found is None:
                return math.inf
            total += self.lw * found[0] + self.bww * chain.bw * (len(found[1]) - 1)
        return total

    def implicated(self, j) -> bool:
        """Whether VNF ``j`` takes part in a violation.

        Its server or a link next to it is overloaded, or its chain breaks a bound.
        """
        k, i = self.owner[j]
        if self.chain_violation[k]:
            return True
        s, attrs = self.server[j], self.G.nodes[self.server[j]]
        use = self.node_use[s]
        if use[0] > attrs[CPU] + EPS or use[1] > attrs[MEM] + EPS:
            return True
        for link in self._links_at(k, i):
            for edge in self.links[k][link][2]:
                if self.edge_use[id(edge)] > edge[BW] + EPS:
                    return True
        return False

    def admits(self, block, s) -> bool:
        """Whether server ``s`` has room for the VNFs ``block`` (one chain's) and anti-affinity allows it.

        A cheap test before evaluating a relocation from a valid assignment.
        """
        k, _ = self.owner[block[0]]
        chain = self.chains[k]
        if getattr(chain, "anti_affinity", False) and s in self.server[self.first[k] : self.first[k + 1]]:
            return False
        cpu, mem = self.node_use.get(s, (0.0, 0.0))
        for j in block:
            vnf = chain.vnfs[self.owner[j][1]]
            cpu, mem = cpu + vnf.cpu, mem + vnf.mem
        attrs = self.G.nodes[s]
        return cpu <= attrs[CPU] + EPS and mem <= attrs[MEM] + EPS

    def run(self, j) -> list:
        """VNF ``j`` and the VNFs after it in its chain on the same server (moved together, they keep sharing it)."""
        k, _ = self.owner[j]
        end = j + 1
        while end < self.first[k + 1] and self.server[end] == self.server[j]:
            end += 1
        return list(range(j, end))

    def random_move(self, rng, p_swap) -> list:
        """A random move: with probability ``p_swap`` a swap of two VNFs, else a relocation.

        ``rng`` is a :class:`random.Random` (see :func:`fast_random`).

        A relocation puts VNF ``j`` next to a chain neighbour (a third of the
        time), on a random server of its domain (a third), or on a random
        server together with the next VNF of its chain (a third: moving a
        pair at once crosses states where moving either alone breaks a
        latency bound or a capacity).
        """
        j = rng.randrange(self.n)
        if self.n > 1 and rng.random() < p_swap:
            other = rng.randrange(self.n)
            a, b = self.server[j], self.server[other]
            if a != b and b in self.allowed[j] and a in self.allowed[other]:
                return [(j, b), (other, a)]
        k, i = self.owner[j]
        kind = rng.random()
        if kind < 1 / 3:
            h = i + (self.chains[k].ingress is not None) + (1 if rng.random() < 0.5 else -1)
            target = self._hop(k, h) if h >= 0 else None
            if target in self.allowed[j] and target != self.server[j]:
                return [(j, target)]
        domain = self.domains[j]
        target = domain[rng.randrange(len(domain))]
        if kind > 2 / 3 and j + 1 < self.first[k + 1] and target in self.allowed[j + 1]:
            return [(j, target), (j + 1, target)]
        return [(j, target)]

    # --------------------------------------------------------------- results

    def embeddings(self) -> dict:
        """``{chain id: Embedding}`` of the current assignment, routed as evaluated."""
        out = {}
        for k, chain in enumerate(self.chains):
            placed = self.server[self.first[k] : self.first[k + 1]]
            out[chain.id] = Embedding(chain.id, placed, [found[1] for found in self.links[k]])
        return out

    def of(self, embeddings):
        """The assignment of a placement's embeddings (None if a server lies outside its domain)."""
        flat = [s for chain in self.chains for s in embeddings[chain.id].servers]
        return flat if all(s in self.allowed[j] for j, s in enumerate(flat)) else None

    def nearest(self) -> list:
        """A start when the constructive one failed: VNFs near their chain's ends and each other.

        Each VNF goes on the domain server nearest (in delay) to its
        predecessor and to the chain's egress, the first of a chain without
        ingress on the server with most free CPU; under anti-affinity the
        chain's servers are avoided while others remain.
        """
        out = []
        for k, chain in enumerate(self.chains):
            egress = self.routes.table(chain.bw, chain.egress)[0] if chain.egress is not None else {}
            prev, used = chain.ingress, set()
            for j in range(self.first[k], self.first[k + 1]):
                domain = [s for s in self.domains[j] if s not in used] or self.domains[j]
                if prev is None:
                    pick = max(domain, key=lambda s: self.G.nodes[s][CPU])
                else:
                    dist = self.routes.table(chain.bw, prev)[0]
                    pick = min(domain, key=lambda s: dist.get(s, math.inf) + egress.get(s, 0.0))
                out.append(pick)
                prev = pick
                if getattr(chain, "anti_affinity", False):
                    used.add(pick)
        return out


def fast_random(rng) -> random.Random:
    """A :class:`random.Random` seeded from numpy ``rng``: draws one at a time many times faster."""
    return random.Random(int(rng.integers(2**63)))


class Best:
    """The best valid assignment a search has seen and, failing any, the one of least objective."""

    def __init__(self, state: Assignment):
        self.valid, self.valid_value = None, math.inf
        self.least, self.least_value = None, math.inf
        self.offer(state)

    def offer(self, state: Assignment, value=None) -> bool:
        """Remember ``state`` if it is better; whether it is a new best valid assignment."""
        value = state.objective() if value is None else value
        if value < self.least_value:
            self.least, self.least_value = list(state.server), value
        if value < self.valid_value - EPS and state.feasible():
            self.valid, self.valid_value = list(state.server), value
            return True
        return False

    def result(self) -> list:
        return self.valid if self.valid is not None else self.least


def descend(state: Assignment, *, max_moves=10_000) -> int:
    """First-improvement local search until no move lowers the objective.

    Moves: relocate one VNF, or with it the VNFs after it on the same
    server, or it and the next VNF of its chain onto one server; failing
    those, swap two VNFs.

    Candidates are tried best estimate first; when the assignment is valid
    only moves whose estimated cost is lower are tried at all.  Returns the
    number of moves made (at most ``max_moves``).
    """
    moves = 0
    while moves < max_moves and (_relocate(state) or _swap(state)):
        moves += 1
    return moves


def _try(state, changes, before):
    undo = state.move(changes)
    if state.objective() < before - EPS:
        return True
    state.move(undo)
    return False


def _relocate(state):
    for j in range(state.n):
        blocks = [[j]]
        pair = [j, j + 1] if j + 1 < state.first[state.owner[j][0] + 1] else None  # consolidate, as random_move does
        for block in (state.run(j), pair):
            if block is not None and len(block) > 1 and block not in blocks:
                blocks.append(block)
        strict = state.feasible()
        if not strict and not state.implicated(j):
            continue  # repairing: move only what takes part in a violation
        for block in blocks:
            estimate = state.estimates(j, block[-1])
            now = state.block_cost(j, block[-1])
            before = state.objective()
            tried = 0
            for s in sorted(estimate, key=estimate.__getitem__):
                if all(state.server[x] == s for x in block) or not all(s in state.allowed[x] for x in block):
                    continue
                if not state.admits(block, s):
                    continue
                if (strict and estimate[s] >= now - EPS) or tried == (STRICT_TRIES if strict else REPAIR_CANDIDATES):
                    break
                tried += 1
                if _try(state, [(x, s) for x in block], before):
                    return True
    return False


def _swap(state):
    estimates = [state.estimates(j) for j in range(state.n)]
    strict, before = state.feasible(), state.objective()
    pairs = []
    for a in range(state.n):
        sa, ea = state.server[a], estimates[a]
        for b in range(a + 1, state.n):
            sb, eb = state.server[b], estimates[b]
            if sa == sb or sb not in ea or sa not in eb:
                continue
            gain = ea[sb] - ea.get(sa, math.inf) + eb[sa] - eb.get(sb, math.inf)
            if not strict or gain < -EPS:
                pairs.append((gain, a, b))
    for _, a, b in sorted(pairs):
        if _try(state, [(a, state.server[b]), (b, state.server[a])], before):
            return True
    return False


def embed_fixed(G, chains, assignment):
    """Embed ``chains`` on a copy of ``G`` with their servers fixed, routing link by link on what is left.

    The fallback when the evaluated routes overload a link: here each link
    sees the bandwidth earlier links took and may detour.  Returns the
    embeddings, or None if some link or bound cannot be met.
    """
    H, out, j = working_copy(G), {}, 0
    server_list = servers(H)
    for chain in chains:
        wanted = assignment[j : j + len(chain.vnfs)]
        j += len(chain.vnfs)

        def pick(step, wanted=wanted):
            if wanted[step.index] not in step.candidates:
                raise Infeasible(f"chain {step.chain.id!r}: fixed server {wanted[step.index]!r} does not fit")
            return wanted[step.index]

        try:
            out[chain.id] = embed_chain(H, chain, pick, server_list)
        except Infeasible:
            return None
    return out


def _capacities(G) -> list:
    """Every free capacity of ``G`` with the attribute dict holding it: far cheaper than a copy."""
    saved = [(a, CPU, a[CPU]) for a in G._node.values() if CPU in a]
    saved += [(a, MEM, a[MEM]) for a in G._node.values() if MEM in a]
    return saved + [(a, BW, a[BW]) for _, _, a in G.edges(data=True)]


def _restore(saved) -> None:
    for attrs, name, value in saved:
        attrs[name] = value


class SearchPlacement(PlacementAlgorithm):
    """Frame of the search baselines: start from a constructive algorithm, search, keep the cheaper valid answer.

    Subclasses store ``start`` and ``penalty`` and implement :meth:`_search`,
    which moves an :class:`Assignment` around and returns the assignment to
    keep (a list of servers): the best valid one it saw, else the least
    violating, which is then re-routed link by link on what is left
    (:func:`embed_fixed`) in case detours make it valid.  When the start
    algorithm fails, the search starts from :meth:`Assignment.nearest` and
    tries to reach a valid assignment; if it cannot, the start's
    :class:`Infeasible` is raised.
    """

    def _search(self, state: Assignment, rng) -> list:
        raise NotImplementedError

    def _check(self, starter) -> None:
        """Raise ``ValueError`` on bad parameters (subclasses add their own checks)."""
        if isinstance(starter, SearchPlacement):
            raise ValueError(
                f"start={self.start!r} is a search itself: start from a constructive algorithm such as 'greedy'"
            )
        check_positive(f"{self.name} penalty", self.penalty)

    def _place(self, residual, chains, rng):
        starter = get_algorithm(self.start)
        self._check(starter)
        start, error = None, None
        saved = _capacities(residual)
        try:  # the inputs are checked already: run the start on the residual, then give back what it took
            found = starter._place(residual, chains, rng)
            start = found.embeddings if isinstance(found, Placement) else dict(found)
        except Infeasible as e:  # the search may still find room (the Assignment raises if it cannot)
            error = e
        finally:
            _restore(saved)
        try:
            state = Assignment(residual, chains, penalty=self.penalty)
        except Infeasible:
            if start is None:
                raise error from None
            return Placement(start, info={"start": self.start, "improved": False})
        begin = state.of(start) if start is not None else None
        state.load(begin if begin is not None else state.nearest())
        state.load(self._search(state, rng))
        found = state.embeddings() if state.feasible() else embed_fixed(residual, chains, state.server)
        if found is None and start is None:
            raise error
        start_cost = None if start is None else cost(residual, chains, Placement(start))
        improved = found is not None and (start is None or cost(residual, chains, Placement(found)) < start_cost - EPS)
        info = {"start": self.start, "start_cost": start_cost, "improved": improved}
        return Placement(found if improved else start, info=info)
