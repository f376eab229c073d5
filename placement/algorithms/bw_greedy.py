"""Bandwidth-aware greedy placement: each VNF as few hops on as possible, on the richest server.

sfcbench's own heuristic (not from a paper).  On VNE-style requests the
substrate's bandwidth runs out first: a virtual link of bandwidth ``b``
routed over ``h`` substrate links takes ``b x h`` of it, while the CPU a
chain takes is the same wherever it goes.  So each VNF, in chain order, goes
on the feasible candidate reached over the fewest hops from the previous
node; among those, on the one with most resources left, the product of its
free CPU after placing the VNF and the free bandwidth of its links that can
still carry the chain (the node resource ``H`` of the ranking baselines,
here on what is left).  When a chain cannot be completed, the last choice is
undone and the next-best taken, depth-first, as the ranking baselines do.
"""

from __future__ import annotations

from ..model import BW, CPU
from ..residual import EPS
from ..substrate import servers
from ._sequential import SequentialPlacement, check_backtracks, embed_backtracking


class BandwidthGreedy(SequentialPlacement):
    """Each VNF on the candidate fewest hops away, ties to the server with most resources left.

    Preference of candidate ``s`` (lexicographic, ties in node order)::

        hops of the route from the previous node to s   (fewer first)
        (free_cpu(s) - vnf.cpu) x free bandwidth of s's links with >= chain.bw free   (more first)

    Routes are the shortest-delay feasible paths of every constructive
    heuristic; candidates already respect capacities, the latency budget and
    anti-affinity.  The route to the egress is not counted.  Deterministic:
    the ``seed`` is ignored.

    Parameters
    ----------
    backtracks : int
        How often a chain's mapping may undo its last choice and take the
        next-best candidate before the chain is rejected.

    Examples
    --------
    >>> from placement.topologies import line
    >>> from placement.model import VNF, Chain
    >>> G = line(4, cpu=2.0)
    >>> c = Chain("c", (VNF("a"), VNF("b")), anti_affinity=True)
    >>> BandwidthGreedy().place(G, [c]).embeddings["c"].servers  # inner servers have twice the bandwidth
    ('srv1', 'srv2')
    """

    def __init__(self, *, backtracks=10):
        self.backtracks = backtracks

    def _place(self, residual, chains, rng):
        check_backtracks(self.name, self.backtracks)
        server_list = servers(residual)
        return {
            c.id: embed_backtracking(residual, c, _pick, server_list, self.backtracks) for c in chains
        }


def _pick(step, options):
    adj, nodes, bw = step.graph.adj, step.graph.nodes, step.chain.bw

    def preference(s):
        link_bw = sum(b for b in (a[BW] for a in adj[s].values()) if b >= bw - EPS)
        return len(step.routes[s]) - 1, -(nodes[s][CPU] - step.vnf.cpu) * link_bw

    return min(options, key=preference)
