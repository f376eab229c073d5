"""Node ranking by global resource capacity (GRC).

After Gong, Wang, Zhu, Zhu, Qi and Wang, "Toward profit-seeking virtual
network embedding algorithm via global resource capacity" (IEEE INFOCOM
2014).  Taken from the paper: the GRC vector, the fixed point of
``r = (1 - d) c + d M r`` where ``c`` is each node's share of the free CPU
and ``M[i, j] = bw(i, j) / (free bandwidth around j)``, found by iterating
from ``r = c`` until the change is below a threshold, with the paper's
damping factor ``d = 0.85``; virtual nodes go on the feasible substrate
node of highest GRC.  Adapted to SFC chains: VNFs are mapped in chain order
(not by their own GRC), a candidate must also reach its predecessor with
the chain's bandwidth within the latency budget (and differ from the
chain's other servers under anti-affinity), and each virtual link takes
the shortest-delay path with the bandwidth free (see :mod:`._ranking`).
"""

from __future__ import annotations

from ._ranking import RankedPlacement, ResourceGraph, check_positive, check_probability, iterate, normalised


def grc_vector(G, *, d=0.85, tol=1e-6, max_iter=10_000) -> dict:
    """The GRC of every node of (residual) ``G``, by the paper's fixed-point iteration.

    ``r_{k+1} = (1 - d) c + d M r_k`` from ``r_0 = c`` until
    ``||r_{k+1} - r_k||_2 < tol``.  The values sum to 1 when every node has
    a link with bandwidth left (an isolated node passes nothing on).

    Examples
    --------
    >>> from placement.topologies import star
    >>> r = grc_vector(star(3))  # the switch has no CPU but gathers from all
    >>> round(r["srv0"], 4), round(r["sw0"], 4)
    (0.1802, 0.4595)
    """
    R = ResourceGraph(G)
    c, walk = normalised(R.cpu), R.walk(R.bw)
    return R.as_dict(iterate(lambda r: (1 - d) * c + d * walk(r), c, tol=tol, max_iter=max_iter, what="GRC"))


class GRC(RankedPlacement):
    """Each VNF on the feasible server of highest global resource capacity.

    Parameters
    ----------
    d : float
        Damping factor of the GRC iteration, in [0, 1) (0.85 in the paper).
    tol : float
        Stop when the Euclidean change of the GRC vector is below this.
    backtracks : int
        How often a chain's mapping may backtrack to the next-ranked server.

    Examples
    --------
    >>> from placement.topologies import star
    >>> from placement.model import VNF, Chain
    >>> G = star(3)
    >>> G.nodes["srv2"]["cpu"] = 20.0  # the richest server ranks first
    >>> GRC().place(G, [Chain("c", (VNF("fw"),), "srv0", "srv1")]).embeddings["c"].servers
    ('srv2',)
    """

    def __init__(self, *, d=0.85, tol=1e-6, backtracks=10):
        self.d = d
        self.tol = tol
        self.backtracks = backtracks

    def _check(self):
        super()._check()
        check_probability("grc d", self.d)
        check_positive("grc tol", self.tol)

    def rank(self, G):
        return grc_vector(G, d=self.d, tol=self.tol)
