"""Random placement: each VNF on a uniformly drawn feasible server.

The standard lower baseline of SFC placement studies (e.g. the "Random"
scheme of Bari et al., "On orchestrating virtual network functions", CNSM
2015, and of Mijumbi et al., "Design and evaluation of algorithms for
mapping and scheduling of virtual network functions", NetSoft 2015).
Links follow shortest-delay paths with bandwidth free.
"""

from __future__ import annotations

from ._sequential import SequentialPlacement


class RandomPlacement(SequentialPlacement):
    """Draw each VNF's server uniformly among the feasible ones.

    A chain whose draw dead-ends (e.g. no bandwidth left to the egress) is
    redrawn up to ``max_tries`` times before the batch is declared
    infeasible.

    Examples
    --------
    >>> from placement.topologies import star
    >>> from placement.model import VNF, Chain
    >>> G = star(4)
    >>> c = Chain("c", (VNF("a"), VNF("b")), ingress="srv0", egress="srv1")
    >>> a = RandomPlacement().place(G, [c], seed=3).embeddings
    >>> a == RandomPlacement().place(G, [c], seed=3).embeddings
    True
    """

    def __init__(self, *, max_tries=10):
        self.max_tries = max_tries

    def _tries(self):
        return max(1, int(self.max_tries))

    def _choose(self, step, rng):
        return step.candidates[int(rng.integers(len(step.candidates)))]
