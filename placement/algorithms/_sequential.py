"""The skeleton every constructive heuristic shares: chain by chain, VNF by VNF.

For each VNF in order, the candidates are the servers that still fit it,
are reachable from the previous node over links with the chain's bandwidth
free (within the virtual link's own delay bound, if any), leave enough
latency budget to reach the egress (shortest-delay lower bound) and, for an
anti-affinity chain, host none of its earlier VNFs.  The first VNF of a
chain without ingress may go on any server, and a chain without egress
ends at its last VNF.  A subclass only decides *which* candidate to take
(:meth:`SequentialPlacement._choose`); routing (shortest-delay feasible
paths), reservations and rollback are done here once for all.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

from ..base import PlacementAlgorithm
from ..errors import Infeasible
from ..model import Chain, Embedding, VNF
from ..residual import (
    EPS,
    Transaction,
    feasible_distances,
    fits,
    link_into,
    raise_infeasible,
    shortest_feasible_path,
)
from ..substrate import servers


@dataclass
class Step:
    """What a chooser knows when it picks the server of VNF ``index`` of ``chain``.

    ``graph`` is the residual graph (read it, do not change it);
    ``candidates`` are feasible servers in stable order; ``dist``/``routes``
    give the delay and shortest feasible path from ``source`` (the previous
    node) to each; ``to_egress`` a lower bound on the delay from each node to
    the egress (0 everywhere for a chain without egress); ``used`` the link
    delay spent so far.  For the first VNF of a chain without ingress,
    ``source`` is None, every ``dist`` is 0 and every route a one-node path
    (no virtual link leads there).
    """

    graph: object
    chain: Chain
    index: int
    vnf: VNF
    source: object
    candidates: list
    dist: dict
    routes: dict
    to_egress: dict
    used: float

    @property
    def is_last(self) -> bool:
        """Whether this is the chain's last VNF (its next hop is the egress, if any)."""
        return self.index == len(self.chain.vnfs) - 1


def embed_chain(G, chain: Chain, choose, server_list=None) -> Embedding:
    """Embed ``chain`` on residual ``G`` VNF by VNF, reserving as it goes.

    ``choose(step)`` returns one of ``step.candidates``.  On success ``G``
    holds the chain's reservations; on :class:`Infeasible` it is left exactly
    as it was.
    """
    txn = Transaction(G)
    try:
        return _embed(G, chain, choose, txn, servers(G) if server_list is None else server_list)
    except BaseException:
        txn.undo()
        raise


def _embed(G, chain, choose, txn, server_list):
    budget = chain.max_latency - sum(v.proc_delay for v in chain.vnfs)
    if budget < -EPS:
        raise Infeasible(
            f"chain {chain.id!r}: processing delays alone exceed max_latency {chain.max_latency:g} ms",
            chain_id=chain.id,
            reason="latency",
        )
    if chain.egress is None:
        to_egress, last_bound = dict.fromkeys(G, 0.0), float("inf")
    else:
        to_egress, _ = feasible_distances(G, chain.egress, chain.bw, cutoff=budget + EPS, paths=False)
        last_bound = chain.link_bound(chain.n_links - 1) + EPS
    source, used, placed, paths = chain.ingress, 0.0, [], []
    taken = set()  # servers anti-affinity rules out
    for i, vnf in enumerate(chain.vnfs):
        left = budget - used + EPS
        link = link_into(chain, i)
        if link is None:  # first VNF of a chain without ingress: anywhere, no link
            dist, routes = dict.fromkeys(server_list, 0.0), {s: [s] for s in server_list}
        else:
            cutoff = min(left, chain.link_bound(link) + EPS)
            dist, routes = feasible_distances(G, source, chain.bw, cutoff=cutoff)
        candidates = [
            s
            for s in server_list
            if s in dist
            and s in to_egress
            and dist[s] + to_egress[s] <= left
            and (i < len(chain.vnfs) - 1 or to_egress[s] <= last_bound)
            and s not in taken
            and fits(G, s, vnf)
        ]
        if not candidates:
            raise_infeasible(G, chain, vnf, source, index=i, taken=taken)
        server = choose(Step(G, chain, i, vnf, source, candidates, dist, routes, to_egress, used))
        txn.vnf(server, vnf)
        if link is not None:
            txn.path(routes[server], chain.bw)
            paths.append(routes[server])
        placed.append(server)
        if chain.anti_affinity:
            taken.add(server)
        used += dist[server]
        source = server
    if chain.egress is not None:
        found = shortest_feasible_path(G, source, chain.egress, chain.bw)
        if found is None or used + found[0] > budget + EPS or found[0] > last_bound:
            raise_infeasible(G, chain, None, source, [chain.egress])
        txn.path(found[1], chain.bw)
        paths.append(found[1])
    return Embedding(chain.id, placed, paths)


def check_backtracks(name: str, backtracks) -> None:
    """One clear ``ValueError`` unless ``backtracks`` is an integer >= 0."""
    if not (isinstance(backtracks, numbers.Integral) and not isinstance(backtracks, bool) and backtracks >= 0):
        raise ValueError(f"{name} backtracks must be an integer >= 0, got {backtracks!r}")


def embed_backtracking(G, chain: Chain, pick, server_list, backtracks) -> Embedding:
    """Embed ``chain`` taking ``pick(step, options)`` VNF by VNF, backtracking on failure.

    Depth-first in the order ``pick`` prefers: when a chain cannot be
    completed, the last choice made is banned (for the same earlier choices)
    and the chain is embedded again, at most ``backtracks`` times; then the
    first failure is raised.  ``options`` are the step's candidates not yet
    banned.  ``G`` keeps the reservations of the embedding found only.
    """
    banned, first_error = {}, None
    for _ in range(int(backtracks) + 1):
        trail = []

        def choose(step):
            options = [s for s in step.candidates if s not in banned.get(tuple(trail), ())]
            if not options:
                raise Infeasible(
                    f"chain {chain.id!r}: every candidate of VNF {step.index} was tried", chain_id=chain.id
                )
            trail.append(pick(step, options))
            return trail[-1]

        try:
            return embed_chain(G, chain, choose, server_list)
        except Infeasible as e:
            first_error = first_error or e
            if not trail:  # the first VNF failed: nothing to undo
                break
            banned.setdefault(tuple(trail[:-1]), set()).add(trail[-1])
    raise first_error


class SequentialPlacement(PlacementAlgorithm):
    """Base of the constructive heuristics: chains in the given order, one at a time.

    A chain that cannot be embedded is retried :meth:`_tries` times (useful
    only for randomised choosers), then the whole batch is infeasible.
    """

    def _choose(self, step: Step, rng):
        raise NotImplementedError

    def _tries(self) -> int:
        return 1

    def _place(self, residual, chains, rng):
        server_list = servers(residual)
        out = {}
        for chain in chains:
            out[chain.id] = self._embed_with_retries(residual, chain, rng, server_list)
        return out

    def _embed_with_retries(self, G, chain, rng, server_list):
        for attempt in range(self._tries()):
            try:
                return embed_chain(G, chain, lambda step: self._choose(step, rng), server_list)
            except Infeasible as e:
                if attempt == self._tries() - 1 or e.reason in ("cpu", "mem", "no-path"):
                    raise
        raise AssertionError("unreachable")
