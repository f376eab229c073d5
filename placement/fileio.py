"""The project's one atomic file writer: readers see the old file or the new one, never half.

It lives in the bottom package because results (``experiments``), run
manifests and image caches (``testbed``) all need it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write", "atomic_write_text"]


def atomic_write(path, write, *, durable: bool = False) -> None:
    """Call ``write(tmp_path)``, then move the temporary file onto ``path`` in one step.

    The temporary file is in the same directory (so the move is atomic) and
    is removed if ``write`` fails.  ``durable`` also fsyncs it first, for
    state that must survive a crash of the machine (run manifests).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> atomic_write(target, lambda tmp: tmp.write_text("hello"))
    >>> target.read_text()
    'hello'
    >>> def broken(tmp):
    ...     tmp.write_text("half")
    ...     raise OSError("disk full")
    >>> atomic_write(target, broken)
    Traceback (most recent call last):
    ...
    OSError: disk full
    >>> target.read_text(), sorted(p.name for p in target.parent.iterdir())
    ('hello', ['a.txt'])
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        if durable:
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path, text: str, *, durable: bool = False) -> None:
    """:func:`atomic_write` of a string."""
    atomic_write(path, lambda tmp: tmp.write_text(text), durable=durable)
