"""The built-in placement algorithms, one module each, registered on import.

Importing this package fills the registry of :mod:`placement.base`; pick an
algorithm with :func:`placement.base.get_algorithm`.
"""

from . import first_fit, genetic, greedy, milp, random  # noqa: F401  (registration)

__all__ = ["first_fit", "genetic", "greedy", "milp", "random"]
