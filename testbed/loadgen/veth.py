"""Two network namespaces joined by a veth pair: where the generator's own tests and ceiling run.

Needs root.  The namespaces' names start with the caller's prefix (never
``sfcbench``, which the testbed's cleanup owns) and are deleted on exit, even
when the body fails.
"""

from __future__ import annotations

import os
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class VethPair:
    """The client's and the server's namespace and address (a /30 between them)."""

    client_ns: str
    client_ip: str
    server_ns: str
    server_ip: str

    def client(self, argv: list[str]) -> list[str]:
        """``argv`` run inside the client's namespace."""
        return ["ip", "netns", "exec", self.client_ns, *argv]

    def server(self, argv: list[str]) -> list[str]:
        """``argv`` run inside the server's namespace."""
        return ["ip", "netns", "exec", self.server_ns, *argv]


def _ip(*args: str) -> None:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"ip {' '.join(args)} failed: {proc.stderr.strip()}")


@contextmanager
def veth_pair(prefix: str = "sfct-"):
    """Yield a :class:`VethPair` of fresh namespaces ``<prefix><pid>-c`` and ``-s``; delete them afterwards."""
    if prefix.startswith("sfcbench"):
        raise ValueError("namespaces named sfcbench* belong to the testbed's cleanup: pick another prefix")
    pair = VethPair(f"{prefix}{os.getpid()}-c", "10.250.0.1", f"{prefix}{os.getpid()}-s", "10.250.0.2")
    made = []
    try:
        for ns in (pair.client_ns, pair.server_ns):
            _ip("netns", "add", ns)
            made.append(ns)
            _ip("-n", ns, "link", "set", "lo", "up")
        _ip("link", "add", "v0", "netns", pair.client_ns, "type", "veth", "peer", "name", "v1", "netns", pair.server_ns)
        for ns, dev, addr in ((pair.client_ns, "v0", pair.client_ip), (pair.server_ns, "v1", pair.server_ip)):
            _ip("-n", ns, "addr", "add", f"{addr}/30", "dev", dev)
            _ip("-n", ns, "link", "set", dev, "up")
        yield pair
    finally:
        for ns in made:  # deleting a namespace deletes its end of the veth, and so the pair
            subprocess.run(["ip", "netns", "delete", ns], capture_output=True)
