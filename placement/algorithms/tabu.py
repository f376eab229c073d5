"""Tabu search over the servers of all VNFs of a call.

Tabu search is from Glover, "Tabu search - Part I" (ORSA Journal on
Computing 1(3), 1989) and "Tabu search - Part II" (ORSA Journal on
Computing 2(1), 1990); for VNF placement it was used by Mijumbi, Serrat,
Gorricho, Bouten, De Turck and Davy, "Design and evaluation of algorithms
for mapping and scheduling of virtual network functions" (IEEE NetSoft
2015).  Taken: each iteration moves to the best of a sampled neighbourhood
even when it is worse, a move back to a server a VNF left is tabu for
``tenure`` iterations unless it beats the best solution found (aspiration),
and the search stops after ``patience`` iterations without a new best.
Adapted to SFC chains: the neighbourhood is relocations of one VNF and
swaps of two, virtual links follow shortest-delay paths with the chain's
bandwidth free, and the objective is :func:`placement.metrics.cost` plus
penalties for capacity, latency and anti-affinity violations.  Starts from
a constructive algorithm's placement and never returns something worse
(see :mod:`._search`).
"""

from __future__ import annotations

from ..residual import EPS
from ._ranking import check_probability
from ._search import PENALTY, Best, SearchPlacement, check_positive, fast_random


class TabuSearch(SearchPlacement):
    """Tabu search over server assignments from the placement of ``start``; deterministic per seed.

    Parameters
    ----------
    start : str
        Registered name of the constructive algorithm to start from.
    iterations_per_vnf : int
        Maximum number of iterations (moves made) per VNF of the call.
    neighbours : int
        Random moves sampled and evaluated per iteration.
    tenure : int
        Iterations during which moving a VNF back to a server it left is tabu.
    patience : int
        Stop after this many iterations without a new best valid solution.
    p_swap : float
        Probability that a sampled move swaps two VNFs instead of relocating one.
    penalty : float
        Objective added per unit of constraint violation.

    Examples
    --------
    >>> from placement.topologies import line
    >>> from placement.model import VNF, Chain
    >>> G = line(3, cpu=2.0)
    >>> G.nodes["srv1"]["cpu"] = 3.0
    >>> cs = [Chain("c0", (VNF("a", cpu=2.0),), "srv1", "srv1"), Chain("c1", (VNF("b", cpu=3.0),), "srv0", "srv2")]
    >>> p = TabuSearch().place(G, cs, seed=0)  # greedy puts c0 on srv1 and then fails: c1 fits only there
    >>> [p.embeddings[c].servers for c in ("c0", "c1")]
    [('srv0',), ('srv1',)]
    """

    def __init__(
        self,
        *,
        start="greedy",
        iterations_per_vnf=10,
        neighbours=10,
        tenure=7,
        patience=30,
        p_swap=0.2,
        penalty=PENALTY,
    ):
        self.start = start
        self.iterations_per_vnf = iterations_per_vnf
        self.neighbours = neighbours
        self.tenure = tenure
        self.patience = patience
        self.p_swap = p_swap
        self.penalty = penalty

    def _check(self, starter):
        super()._check(starter)
        for name in ("iterations_per_vnf", "neighbours", "tenure", "patience"):
            check_positive(f"tabu {name}", getattr(self, name))
        check_probability("tabu p_swap", self.p_swap, closed=True)

    def _search(self, state, rng):
        rng = fast_random(rng)
        tabu = {}  # (VNF, server) -> last iteration at which moving the VNF there is tabu
        best, stale = Best(state), 0
        for it in range(int(self.iterations_per_vnf) * state.n):
            choice = None
            for _ in range(int(self.neighbours)):
                changes = state.random_move(rng, self.p_swap)
                undo = state.move(changes)
                value, valid = state.objective(), state.feasible()
                state.move(undo)
                aspires = valid and value < best.valid_value - EPS
                allowed = aspires or not any(tabu.get(c, -1) >= it for c in changes)
                if allowed and (choice is None or value < choice[0]):
                    choice = (value, changes)
            stale += 1
            if choice is not None:
                for move in state.move(choice[1]):
                    tabu[move] = it + int(self.tenure)
                if best.offer(state, choice[0]):
                    stale = 0
            if stale >= self.patience:
                break
        return best.result()
