"""What marks a testbed run's things as its own: run ids, the label, the name prefix, the manifest.

A leaf module (standard library only), shared by the running testbed
(:mod:`testbed.runtime`) and by :mod:`testbed.cleanup`, which must work
without importing anything of a running network (as Mininet's ``clean.py``).
"""

from __future__ import annotations

import json
import os
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path

from placement.fileio import atomic_write_text

LABEL = "sfcbench.run"
PREFIX = "sfcbench"
STATE_DIR = Path(os.environ.get("SFCBENCH_STATE_DIR", "/run/sfcbench"))


def new_run_id() -> str:
    """A fresh 6-hex-digit run id (short: it goes into interface names)."""
    return secrets.token_hex(3)


@dataclass
class Manifest:
    """What one run created, persisted after every change.

    Keys of ``resources``: ``netns`` (names), ``links`` (root-namespace
    interface names), ``ovs_bridges``, ``cgroups`` (paths; the
    run's processes live there), ``paths`` (scratch directories),
    ``containers`` (names; also found by label).
    """

    run_id: str
    resources: dict = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def path(self) -> Path:
        return STATE_DIR / f"{self.run_id}.json"

    def add(self, kind: str, value) -> None:
        """Record one resource of ``kind`` and persist the manifest."""
        with self._lock:
            items = self.resources.setdefault(kind, [])
            if value not in items:
                items.append(value)
            self._save()

    def remove(self, kind: str, value) -> None:
        """Forget a resource that was removed."""
        with self._lock:
            items = self.resources.get(kind, [])
            if value in items:
                items.remove(value)
                self._save()

    def _save(self) -> None:
        atomic_write_text(
            self.path, json.dumps({"run_id": self.run_id, "pid": os.getpid(), "resources": self.resources}),
            durable=True,
        )

    def discard(self) -> None:
        """Delete the manifest once everything in it is gone."""
        self.path.unlink(missing_ok=True)

    @classmethod
    def load(cls, run_id: str) -> "Manifest":
        data = json.loads((STATE_DIR / f"{run_id}.json").read_text())
        return cls(run_id=data["run_id"], resources=data.get("resources", {}))

    @staticmethod
    def run_ids() -> list[str]:
        """Ids of every run with a manifest on this machine."""
        if not STATE_DIR.is_dir():
            return []
        return sorted(p.stem for p in STATE_DIR.glob("*.json"))
