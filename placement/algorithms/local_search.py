"""A local-search improver that follows any constructive heuristic.

Local search for VNF placement in the spirit of the relocate/swap
neighbourhoods of Moens and De Turck, "VNF-P: A model for efficient
placement of virtualized network functions" (CNSM 2014, greedy then
improvement) and of the hill-climbing refinement of Li, Lan, Wang and Hu,
"Service function chain deployment based on optimal weighted graph
matching" (Journal on Communications 40(3), 2019).  Taken: start from a
constructive solution, relocate one VNF or swap two while that lowers the
cost, first improvement.  Adapted to SFC chains: a relocation may also
carry the VNFs that follow on the same server, or the next VNF of the
chain, onto one server (single moves cannot leave a shared server
without first lengthening the chain); after each move the
virtual links next to the moved VNFs are re-routed on shortest-delay paths
with the chain's bandwidth free, the objective is
:func:`placement.metrics.cost` with penalties for capacity, latency and
anti-affinity violations, and the start is kept if nothing better and
valid is found (see :mod:`._search`).
"""

from __future__ import annotations

from ._search import PENALTY, SearchPlacement, check_positive, descend


class LocalSearch(SearchPlacement):
    """Improve the placement of algorithm ``start`` by relocating and swapping VNFs.

    Never worse than ``start`` (by :func:`placement.metrics.cost`) and always
    valid.  If ``start`` finds nothing, the search starts from each VNF's
    nearest server and tries to repair that.  Deterministic when ``start``
    is (the seed is passed on to it).

    Parameters
    ----------
    start : str
        Registered name of the constructive algorithm to improve.
    max_moves : int
        Upper bound on the improving moves made.
    penalty : float
        Objective added per unit of constraint violation.

    Examples
    --------
    >>> from placement.topologies import line
    >>> from placement.model import VNF, Chain
    >>> from placement.metrics import cost
    >>> G = line(4)
    >>> c = [Chain("c", (VNF("a"), VNF("b")), ingress="srv3", egress="srv3")]
    >>> ff = LocalSearch(start="first_fit").place(G, c)  # first fit alone takes srv0
    >>> ff.embeddings["c"].servers, ff.info["improved"]
    (('srv3', 'srv3'), True)
    """

    def __init__(self, *, start="greedy", max_moves=1000, penalty=PENALTY):
        self.start = start
        self.max_moves = max_moves
        self.penalty = penalty

    def _check(self, starter):
        super()._check(starter)
        check_positive("local_search max_moves", self.max_moves)

    def _search(self, state, rng):
        descend(state, max_moves=self.max_moves)
        return list(state.server)
