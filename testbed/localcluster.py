"""Several 'machines' of a Ray cluster on this one, to try, test and benchmark :mod:`testbed.cluster`.

Each machine is a Ray node (Ray's own ``ray.cluster_utils.Cluster``) with
the resource ``sfcbench_machine:NAME``, its own state directory (its own
testbed lock and manifests) and its own underlay: a network namespace with
one address, joined to the others through a bridge, as NICs on a LAN.  A
head node with no machine name runs nothing of the testbed.  Everything is
named ``sfcbench-lc<tag>-...``, so that ``python -m testbed.cleanup --all``
also removes what a killed user left.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from testbed import system
from testbed.manifest import PREFIX

UNDERLAY_NET = "10.98.0"
UNDERLAY_MTU = 9000  # room for VXLAN's 50 bytes: cut links keep MTU 1500


class LocalCluster:
    """A Ray head and ``machines`` on this machine, each with an underlay namespace; :meth:`close` removes all.

    ``address`` is the head's; this process is connected to it (``ray.init``) unless ``connect=False``.
    ``env`` adds environment variables to a machine's node (to make one unlike the others).
    """

    def __init__(self, machines=("m1", "m2"), *, cpus: float = 1, connect: bool = True, env=None):
        import ray
        from ray.cluster_utils import Cluster

        self.tag = os.urandom(2).hex()
        self.machines = list(machines)
        self.tmp = tempfile.mkdtemp(prefix="sfct-ray-")  # short: Ray's socket paths must fit in 107 bytes
        self.lan = f"{PREFIX}-lc{self.tag}-lan"
        self.underlay = {m: f"{PREFIX}-lc{self.tag}-{m}" for m in self.machines}
        self.state = {m: Path(self.tmp) / f"state-{m}" for m in self.machines}
        self.ip = {m: f"{UNDERLAY_NET}.{i}" for i, m in enumerate(self.machines, start=1)}
        self.cluster = None
        self._env = {}
        try:
            self._lan()
            self._setenv(RAY_TMPDIR=self.tmp, RAY_USAGE_STATS_ENABLED="0",
                         PYTHONPATH=str(Path(__file__).resolve().parents[1]))
            os.environ.pop("RAY_ADDRESS", None)
            node = {"num_cpus": cpus, "object_store_memory": 80 * 2**20}
            self.cluster = Cluster(initialize_head=True, head_node_args={**node, "include_dashboard": False})
            for m in self.machines:
                self.cluster.add_node(**node, resources={f"sfcbench_machine:{m}": 1}, env_vars={
                    "SFCBENCH_STATE_DIR": str(self.state[m]), "SFCBENCH_UNDERLAY_NS": self.underlay[m],
                    "SFCBENCH_UNDERLAY_IP": self.ip[m], "SFCBENCH_UNDERLAY_MTU": str(UNDERLAY_MTU),
                    **(env or {}).get(m, {})})
            self.cluster.wait_for_nodes()
            self.address = self.cluster.address
            if connect:
                ray.init(address=self.address, logging_level="ERROR")
        except BaseException:
            self.close()
            raise

    def _setenv(self, **values):
        for key, value in values.items():
            self._env.setdefault(key, os.environ.get(key))
            os.environ[key] = value

    def _lan(self):
        """A bridge in namespace ``lan`` and each machine's underlay namespace plugged into it by a veth."""
        system.run(["ip", "netns", "add", self.lan])
        system.run(["ip", "-n", self.lan, "link", "add", "lan", "mtu", str(UNDERLAY_MTU), "type", "bridge"])
        system.run(["ip", "-n", self.lan, "link", "set", "lan", "up"])
        for i, m in enumerate(self.machines, start=1):
            ns = self.underlay[m]
            system.run(["ip", "netns", "add", ns])
            system.run(["ip", "-n", ns, "link", "add", "nic", "mtu", str(UNDERLAY_MTU), "type", "veth", "peer",
                        "name", f"port{i}", "mtu", str(UNDERLAY_MTU), "netns", self.lan])
            system.run(["ip", "-n", self.lan, "link", "set", f"port{i}", "master", "lan", "up"])
            system.run(["ip", "-n", ns, "addr", "add", f"{self.ip[m]}/24", "dev", "nic"])
            system.run(["ip", "-n", ns, "link", "set", "nic", "up"])
            system.run(["ip", "-n", ns, "link", "set", "lo", "up"])

    def underlay_devices(self, machine: str) -> set[str]:
        """Network devices in ``machine``'s underlay other than its own NIC (a cut link's leftovers)."""
        out = system.run(["ip", "-n", self.underlay[machine], "-o", "link"])
        return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines()} - {"lo", "nic"}

    def close(self) -> None:
        import ray

        if ray.is_initialized():
            ray.shutdown()
        if self.cluster is not None:
            self.cluster.shutdown()
            self.cluster = None
        for ns in [*self.underlay.values(), self.lan]:
            if ns in system.netns_list():
                system.netns_delete(ns)
        for key, value in self._env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._env = {}
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
