"""Topology-aware node ranking by random walk (RW rank).

After Cheng, Su, Zhang, Wang, Yang, Luo, Wu and Yang, "Virtual network
embedding through topology-aware node ranking" (ACM SIGCOMM CCR 2011).
Taken from the paper: a node's resource ``H(u) = CPU(u) x (sum of the
bandwidth of its links)``, and its rank ``NR(u)``, the stationary
distribution of a Markov chain that from ``u`` jumps to any node ``v`` with
probability ``p_J * H(v) / sum H`` or moves to a neighbour ``v`` with
probability ``p_F * H(v) / (sum of H over u's neighbours)``, ``p_J = 0.15``
and ``p_F = 1 - p_J``, iterated from ``NR_0 = H / sum H`` until the change
is below a threshold; virtual nodes then go on the best-ranked substrate
node (RW-MaxMatch).  Adapted to SFC chains: VNFs are mapped in chain order
rather than by their own rank, each on the best-ranked *feasible* server
(capacity, bandwidth to its predecessor, latency budget, anti-affinity),
and each virtual link takes the shortest-delay path with the chain's
bandwidth free instead of the paper's unsplittable k-shortest path or
multicommodity-flow link mapping (see :mod:`._ranking`).  A node whose
neighbours all have ``H = 0`` (the paper does not say) jumps.
"""

from __future__ import annotations

from ._ranking import RankedPlacement, ResourceGraph, check_positive, check_probability, iterate, normalised


def random_walk_rank(G, *, p_jump=0.15, tol=1e-6, max_iter=10_000) -> dict:
    """The topology-aware rank ``NR`` of every node of (residual) ``G``; the values sum to 1.

    Examples
    --------
    >>> from placement.topologies import line
    >>> random_walk_rank(line(3))  # the middle node has twice the bandwidth
    {'srv0': 0.25, 'srv1': 0.5, 'srv2': 0.25}
    """
    R = ResourceGraph(G)
    h = normalised(R.cpu * R.node_bw)
    # Moving to neighbour v is weighted by H(v): edge u -> v carries h[v].
    forward = h[R.dst]
    dangling, walk = R.dangling(forward), R.walk(forward)

    def step(nr):
        stay = nr[dangling].sum()  # walkers with nowhere to go jump instead
        return (p_jump * nr.sum() + (1 - p_jump) * stay) * h + (1 - p_jump) * walk(nr)

    return R.as_dict(iterate(step, h, tol=tol, max_iter=max_iter, what="random-walk rank"))


class RWRank(RankedPlacement):
    """Each VNF on the feasible server of highest random-walk rank.

    Parameters
    ----------
    p_jump : float
        Probability ``p_J`` of a jump (0.15 in the paper); the walk follows
        a link with probability ``1 - p_jump``.
    tol : float
        Stop when the Euclidean change of the rank vector is below this.
    backtracks : int
        How often a chain's mapping may backtrack to the next-ranked server.

    Examples
    --------
    >>> from placement.topologies import line
    >>> from placement.model import VNF, Chain
    >>> RWRank().place(line(3), [Chain("c", (VNF("fw"),), "srv0", "srv0")]).embeddings["c"].servers
    ('srv1',)
    """

    def __init__(self, *, p_jump=0.15, tol=1e-6, backtracks=10):
        self.p_jump = p_jump
        self.tol = tol
        self.backtracks = backtracks

    def _check(self):
        super()._check()
        check_probability("rw_rank p_jump", self.p_jump, closed=True)
        if self.p_jump == 0:
            raise ValueError("rw_rank p_jump must be > 0 (without jumps the walk need not converge)")
        check_positive("rw_rank tol", self.tol)

    def rank(self, G):
        return random_walk_rank(G, p_jump=self.p_jump, tol=self.tol)


