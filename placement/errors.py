"""Typed errors of the placement layer.

Every error says what is wrong and how to fix it; callers catch the narrowest
class they can handle.
"""


class PlacementError(Exception):
    """Base class of every error raised by :mod:`placement`."""


class SubstrateError(PlacementError, ValueError):
    """The substrate graph is malformed (missing attribute, negative capacity, ...).

    ``problems`` lists every problem found, not only the first.
    """

    def __init__(self, problems):
        if isinstance(problems, str):
            problems = [problems]
        self.problems = list(problems)
        super().__init__("invalid substrate: " + "; ".join(self.problems))


class ChainError(PlacementError, ValueError):
    """A chain is malformed or refers to something the substrate lacks."""


class Infeasible(PlacementError):
    """No embedding satisfies the constraints (capacity, latency, connectivity).

    ``chain_id`` names the chain that could not be placed (None for a batch),
    ``reason`` is a short machine-friendly tag such as ``"cpu"``,
    ``"bandwidth"``, ``"latency"``, ``"no-path"`` or ``"solver"``.
    """

    def __init__(self, message, *, chain_id=None, reason="infeasible"):
        super().__init__(message)
        self.chain_id = chain_id
        self.reason = reason


class UnknownAlgorithm(PlacementError, KeyError):
    """No algorithm is registered under the requested name."""

    def __str__(self):
        return str(self.args[0]) if self.args else "unknown algorithm"


class AlgorithmLoadError(PlacementError, ImportError):
    """A registered algorithm cannot be loaded: its module fails to import, or it is no PlacementAlgorithm.

    The message names the package and entry point to fix or uninstall.
    """


class InvalidPlacement(PlacementError, AssertionError):
    """A placement breaks the substrate's or the chains' constraints.

    Raised by :func:`placement.base.check_placement`; ``violations`` lists
    every broken constraint, one sentence each.  Seeing it means an algorithm
    has a bug (algorithms must raise :class:`Infeasible` instead).
    """

    def __init__(self, violations):
        self.violations = list(violations)
        super().__init__("invalid placement: " + "; ".join(self.violations))
