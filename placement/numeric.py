"""The one check of numeric values: a number, finite, not negative (or positive).

Substrate capacities, VNF demands, chain bounds, generator arguments, file
contents and configuration values are all judged by :func:`number_fault`;
each caller words its own error from the fault it names, so that the
message speaks of the caller's file, element or parameter.
"""

from __future__ import annotations

import math
import numbers

__all__ = ["is_number", "number_fault"]


def is_number(value) -> bool:
    """Whether ``value`` is a real number (int, float or NumPy scalar), a bool not counting as one.

    Examples
    --------
    >>> is_number(3), is_number(2.5), is_number(True), is_number("3")
    (True, True, False, False)
    """
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def number_fault(value, *, positive: bool = False, allow_inf: bool = False) -> str | None:
    """What keeps ``value`` from being a finite number >= 0 (> 0 with ``positive``), or None.

    ``allow_inf`` accepts ``inf`` (an absent bound).  The first fault found
    is named: ``"type"`` (not a number), ``"nonfinite"`` (NaN, or an
    infinity not allowed), ``"negative"`` or ``"zero"`` (with ``positive``).

    Examples
    --------
    >>> [number_fault(v) for v in (1, 0.0, -1, float("nan"), float("inf"), True, "3")]
    [None, None, 'negative', 'nonfinite', 'nonfinite', 'type', 'type']
    >>> number_fault(0, positive=True), number_fault(float("inf"), positive=True, allow_inf=True)
    ('zero', None)
    """
    if not is_number(value):
        return "type"
    if math.isnan(value) or (math.isinf(value) and not allow_inf):
        return "nonfinite"
    if value < 0:
        return "negative"
    if positive and value == 0:
        return "zero"
    return None
