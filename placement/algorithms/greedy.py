"""Latency-aware greedy placement: each VNF where it adds the least delay.

In the spirit of the greedy SFC heuristics of Bari et al., "On orchestrating
virtual network functions" (CNSM 2015) and Luizelli et al., "Piecing
together the NFV provisioning puzzle: Efficient placement and chaining of
virtual network functions" (IFIP/IEEE IM 2015): walk the chain from the
ingress and put each VNF on the feasible server closest (in delay) to the
previous one, the last VNF also counting its way to the egress, with a
small load term that spreads VNFs over lightly used servers.
"""

from __future__ import annotations

from ..model import CPU
from ._sequential import SequentialPlacement


class Greedy(SequentialPlacement):
    """Minimise, per VNF, path delay from the previous node plus a load term.

    Score of candidate server ``s`` (lower is better, ties in node order)::

        delay(prev, s) [+ delay(s, egress) for the last VNF]
        + load_weight * vnf.cpu / free_cpu(s)

    The load term (in ms) prefers servers with more CPU left; 0 gives pure
    latency greed.  Candidates already respect capacities and the chain's
    remaining latency budget.  Deterministic: the ``seed`` is ignored.

    Examples
    --------
    >>> from placement.topologies import line
    >>> from placement.model import VNF, Chain
    >>> G = line(4)
    >>> c = Chain("c", (VNF("a"), VNF("b")), ingress="srv3", egress="srv3")
    >>> Greedy().place(G, [c]).embeddings["c"].servers  # first fit would take srv0
    ('srv3', 'srv3')
    """

    def __init__(self, *, load_weight=0.1):
        self.load_weight = load_weight

    def _choose(self, step, rng):
        return min(step.candidates, key=lambda s: self._score(step, s))

    def _score(self, step, s):
        score = step.dist[s] + (step.to_egress[s] if step.is_last else 0.0)
        if self.load_weight:
            free = step.graph.nodes[s][CPU]
            score += self.load_weight * (step.vnf.cpu / free if free > 0 else 0.0)
        return score
