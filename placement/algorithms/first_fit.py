"""First fit: each VNF on the first server, in a stable order, that fits.

The classic bin-packing baseline used for VNF placement since Moens and De
Turck, "VNF-P: A model for efficient placement of virtualized network
functions" (CNSM 2014), and as the reference heuristic of most SFC surveys
(Herrera and Botero, "Resource allocation in NFV: A comprehensive survey",
IEEE TNSM 2016).  "Fits" means capacity free, reachable with the chain's
bandwidth and latency budget left (see :mod:`._sequential`).
"""

from __future__ import annotations

from ._sequential import SequentialPlacement


class FirstFit(SequentialPlacement):
    """Place each VNF on the first feasible server in natural node order.

    Deterministic, no parameters: the ``seed`` is ignored.

    Examples
    --------
    >>> from placement.topologies import line
    >>> from placement.model import VNF, Chain
    >>> G = line(3, cpu=1.0)
    >>> c = Chain("c", (VNF("a", cpu=1.0), VNF("b", cpu=1.0)), ingress="srv2", egress="srv2")
    >>> FirstFit().place(G, [c]).embeddings["c"].servers
    ('srv0', 'srv1')
    """

    def __init__(self):
        pass

    def _choose(self, step, rng):
        return step.candidates[0]
