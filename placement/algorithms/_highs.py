"""HiGHS solvers that keep stdout clean: what HiGHS prints goes to the logger ``placement.highs``.

HiGHS writes a banner ("Running HiGHS ...") straight to file descriptor 1
when the first solver of a process is built, before any option can be set,
and its solve log to the console unless told otherwise.  In a sweep this
lands between the progress lines.  :func:`quiet_highs` builds solvers that
print nothing: the banner is caught at the descriptor and logged at INFO (a
Hydra run writes it to the job's log file), the solve log is passed to the
logger at DEBUG, and only when that level is on (``hydra.verbose=placement.highs``),
since HiGHS's log costs a Python call per line.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
import tempfile
import threading

import highspy
import numpy as np

__all__ = ["LOGGER", "quiet_highs", "binary_lp"]

LOGGER = logging.getLogger("placement.highs")
"""Where HiGHS's output goes: its banner at INFO, its solve log at DEBUG."""

_first = threading.Lock()
_banner_caught = False


def _build_catching_stdout() -> highspy.Highs:
    """A new ``Highs``, whatever it writes to file descriptor 1 while being built logged instead."""
    if sys.stdout is None:  # no stdout at all: nothing to keep clean
        return highspy.Highs()
    sys.stdout.flush()  # Python's pending output belongs to stdout, not to the log
    saved = os.dup(1)
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 1)
        try:
            h = highspy.Highs()
            ctypes.CDLL(None).fflush(None)  # C stdio buffers a pipe: empty it before fd 1 is restored
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        caught.seek(0)
        text = caught.read().decode(errors="replace")
    for line in text.splitlines():
        if line.strip():
            LOGGER.info(line)
    return h


def quiet_highs(**options) -> highspy.Highs:
    """A new HiGHS solver with ``options`` set (``time_limit=60.0``, ...), printing nothing to stdout.

    Examples
    --------
    >>> h = quiet_highs(time_limit=5.0, threads=1)
    >>> [h.getOptionValue(option)[1] for option in ("log_to_console", "time_limit")]
    [False, 5.0]
    """
    global _banner_caught
    with _first:
        if _banner_caught:
            h = highspy.Highs()
        else:  # HiGHS prints its banner once per process, when the first solver is built
            h = _build_catching_stdout()
            _banner_caught = True
    h.setOptionValue("log_to_console", False)
    h.setOptionValue("output_flag", LOGGER.isEnabledFor(logging.DEBUG))
    h.cbLogging += _log_line
    for option, value in options.items():
        h.setOptionValue(option, value)
    return h


def _log_line(event) -> None:
    LOGGER.debug(event.message.rstrip())


def binary_lp(cost, rows, row_lo, row_hi, *, upper=None, integer=True, offset=0.0) -> highspy.HighsLp:
    """A HiGHS model over 0/1 columns: ``cost`` per column, sparse ``rows`` (lists of ``(column,
    value)``) bounded by ``row_lo``/``row_hi``; ``upper`` (default all 1) fixes columns to 0, and
    ``integer=False`` gives the LP relaxation."""
    lp = highspy.HighsLp()
    n, m = len(cost), len(rows)
    lp.num_col_, lp.num_row_ = n, m
    lp.col_cost_ = np.asarray(cost, dtype=float)
    lp.col_lower_ = np.zeros(n)
    lp.col_upper_ = np.ones(n) if upper is None else np.asarray(upper, dtype=float)
    lp.row_lower_ = np.asarray(row_lo, dtype=float)
    lp.row_upper_ = np.asarray(row_hi, dtype=float)
    lp.offset_ = float(offset)
    if integer:
        lp.integrality_ = [highspy.HighsVarType.kInteger] * n
    matrix = lp.a_matrix_
    matrix.format_ = highspy.MatrixFormat.kRowwise
    matrix.num_col_, matrix.num_row_ = n, m
    matrix.start_ = np.cumsum([0] + [len(r) for r in rows]).astype(np.int32)
    matrix.index_ = np.asarray([c for r in rows for c, _ in r], dtype=np.int32)
    matrix.value_ = np.asarray([v for r in rows for _, v in r], dtype=float)
    return lp
