"""The result of admission control over a batch of chains, shared by the exact admission optimum
(:mod:`placement.admission`) and the heuristics that admit (:mod:`placement.packing`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .model import Placement

__all__ = ["Admission"]


@dataclass
class Admission:
    """Which chains of a batch are accepted, where they run, and how good that is.

    ``revenue`` is the accepted revenue (the objective), ``bound`` an upper
    bound on the best possible (the MILP's dual bound; NaN for a heuristic),
    ``gap = (bound - revenue) / bound``.  ``cost`` is the
    :func:`~placement.metrics.cost` of the accepted embeddings.  ``status``
    is HiGHS's model status (``"Optimal"`` when proved) or ``"heuristic"``.
    """

    placement: Placement
    rejected: list[str]
    revenue: float
    bound: float = math.nan
    gap: float = math.nan
    status: str = "heuristic"
    solve_time: float = 0.0
    cost: float = 0.0
    info: dict = field(default_factory=dict)

    @property
    def accepted(self) -> list[str]:
        """Ids of the accepted chains."""
        return list(self.placement.embeddings)
