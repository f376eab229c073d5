"""A PageRank-style node ranking, as in the node-ranking baselines of VNE benchmarks.

PageRank is from Brin and Page, "The anatomy of a large-scale hypertextual
Web search engine" (Computer Networks 30, 1998).  VNE benchmarks rank
substrate nodes by resource-weighted walks of this kind: Virne (Wang et
al., "Virne: A comprehensive benchmark for deep RL-based network resource
allocation in NFV", 2025) ships GRC and the random-walk rank, and scores
nodes by their "network resource metric", free CPU times the free bandwidth
of their links (Virne's ``nrm`` rank; Cheng et al.'s ``H``).  Taken here:
personalised PageRank exactly as :func:`networkx.pagerank` defines it
(damping ``alpha = 0.85``, start uniform, dangling nodes teleport like the
personalisation, stop when the L1 change is below ``n * tol``), with the
free bandwidth of a link as its weight and that resource metric as the
personalisation.  (With free CPU alone as personalisation, PageRank would
be GRC: the same fixed point.)  It runs as a few numpy steps over the edge
list because :func:`networkx.pagerank` needs SciPy, which sfcbench does not
require, and converts the graph on every call.  Ranks are recomputed from
the residual before each chain.  Adapted to SFC chains like the other
ranking baselines (see :mod:`._ranking`): VNFs in chain order, each on the
best-ranked feasible server, virtual links on shortest-delay paths with the
bandwidth free.
"""

from __future__ import annotations

import numpy as np

from ._ranking import RankedPlacement, ResourceGraph, check_positive, check_probability, iterate, normalised


def pagerank_vector(G, *, alpha=0.85, tol=1e-6, max_iter=100) -> dict:
    """Personalised PageRank of every node of (residual) ``G``, bandwidth-weighted.

    Equal to ``networkx.pagerank(G, alpha, personalization=h, weight="bw")``
    with ``h`` a node's free CPU (0 for switches) times the free bandwidth
    of its links (uniform if that is 0 everywhere).

    Examples
    --------
    >>> from placement.topologies import line
    >>> G = line(3)
    >>> G.nodes["srv2"]["cpu"] = 24.0
    >>> {n: round(v, 3) for n, v in pagerank_vector(G).items()}
    {'srv0': 0.232, 'srv1': 0.486, 'srv2': 0.282}
    """
    R = ResourceGraph(G)
    p = normalised(R.cpu * R.node_bw)
    dangling, walk = R.dangling(R.bw), R.walk(R.bw)

    def step(x):
        return alpha * (walk(x) + x[dangling].sum() * p) + (1 - alpha) * p

    start = np.full(R.n, 1.0 / max(R.n, 1))
    return R.as_dict(iterate(step, start, tol=R.n * tol, max_iter=max_iter, norm=1, what="PageRank"))


class PageRank(RankedPlacement):
    """Each VNF on the feasible server of highest PageRank (personalised by CPU x bandwidth).

    Parameters
    ----------
    alpha : float
        Damping factor in [0, 1) (0.85, networkx's and PageRank's default).
    tol : float
        Convergence tolerance per node, as in :func:`networkx.pagerank`.
    backtracks : int
        How often a chain's mapping may backtrack to the next-ranked server.

    Examples
    --------
    >>> from placement.topologies import line
    >>> from placement.model import VNF, Chain
    >>> c = Chain("c", (VNF("fw"),), ingress="srv0", egress="srv0")
    >>> PageRank().place(line(3), [c]).embeddings["c"].servers  # the hub of the line
    ('srv1',)
    """

    def __init__(self, *, alpha=0.85, tol=1e-6, backtracks=10):
        self.alpha = alpha
        self.tol = tol
        self.backtracks = backtracks

    def _check(self):
        super()._check()
        check_probability("pagerank alpha", self.alpha)
        check_positive("pagerank tol", self.tol)

    def rank(self, G):
        return pagerank_vector(G, alpha=self.alpha, tol=self.tol)
