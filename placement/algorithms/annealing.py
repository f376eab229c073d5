"""Simulated annealing over the servers of all VNFs of a call.

Simulated annealing is from Kirkpatrick, Gelatt and Vecchi, "Optimization
by simulated annealing" (Science 220(4598), 1983); it is the search of the
testbed mapper ``assign`` of Ricci, Alfeld and Lepreau, "A solver for the
network testbed mapping problem" (ACM SIGCOMM CCR 2003), a virtual network
embedding ancestor.  Taken: random moves accepted always when they do not
worsen the objective and with probability ``exp(-delta / T)`` otherwise,
geometric cooling from an initial to a final temperature.  Adapted to SFC
chains: a state is one server per VNF, a move relocates one VNF (half of
the time next to a chain neighbour) or swaps two, virtual links follow
shortest-delay paths with the chain's bandwidth free, and the objective is
:func:`placement.metrics.cost` plus penalties for capacity, latency and
anti-affinity violations; temperatures are relative to the start's cost
per VNF so that one setting fits graphs of any delay scale.  Starts from
a constructive algorithm's placement and never returns something worse
(see :mod:`._search`).
"""

from __future__ import annotations

import math

from ._ranking import check_probability
from ._search import PENALTY, Best, SearchPlacement, check_positive, fast_random


class SimulatedAnnealing(SearchPlacement):
    """Anneal server assignments from the placement of ``start``; seeded, deterministic per seed.

    Parameters
    ----------
    start : str
        Registered name of the constructive algorithm to start from.
    moves_per_vnf : int
        Moves tried per VNF of the call (the stopping rule, with the
        temperature schedule): the work grows with the decisions to make.
    initial_temperature, final_temperature : float
        Temperatures at the first and last iteration, in units of the start's
        cost per VNF; cooling is geometric in between.
    p_swap : float
        Probability that a move swaps two VNFs instead of relocating one.
    penalty : float
        Objective added per unit of constraint violation.

    Examples
    --------
    >>> from placement.topologies import star
    >>> from placement.model import VNF, Chain
    >>> G = star(4, cpu=1.0)
    >>> cs = [Chain(f"c{i}", (VNF("a", cpu=1.0),), "srv0", "srv1") for i in range(2)]
    >>> p = SimulatedAnnealing(moves_per_vnf=50).place(G, cs, seed=0)
    >>> sorted(e.servers[0] for e in p.embeddings.values())
    ['srv0', 'srv1']
    """

    def __init__(
        self,
        *,
        start="greedy",
        moves_per_vnf=100,
        initial_temperature=1.0,
        final_temperature=0.001,
        p_swap=0.2,
        penalty=PENALTY,
    ):
        self.start = start
        self.moves_per_vnf = moves_per_vnf
        self.initial_temperature = initial_temperature
        self.final_temperature = final_temperature
        self.p_swap = p_swap
        self.penalty = penalty

    def _check(self, starter):
        super()._check(starter)
        for name in ("moves_per_vnf", "initial_temperature", "final_temperature"):
            check_positive(f"annealing {name}", getattr(self, name))
        if self.final_temperature > self.initial_temperature:
            raise ValueError("annealing final_temperature must not exceed initial_temperature")
        check_probability("annealing p_swap", self.p_swap, closed=True)

    def _search(self, state, rng):
        rng = fast_random(rng)
        scale = max(state.cost() / max(state.n, 1), 1e-3)
        temperature = self.initial_temperature * scale
        moves = int(self.moves_per_vnf) * state.n
        steps = max(moves - 1, 1)
        cooling = (self.final_temperature / self.initial_temperature) ** (1.0 / steps)
        current, best = state.objective(), Best(state)
        for _ in range(moves):
            undo = state.move(state.random_move(rng, self.p_swap))
            value = state.objective()
            if value <= current or rng.random() < math.exp((current - value) / temperature):
                current = value
                best.offer(state, value)
            else:
                state.move(undo)
            temperature *= cooling
        return best.result()
