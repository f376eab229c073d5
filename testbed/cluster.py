"""One testbed over the machines of a Ray cluster (the design: ``docs/multihost.md``).

The driver places nothing itself: it partitions the substrate over the
machines (:mod:`testbed.partition`), checks each machine's share against its
cores and memory (:mod:`testbed.budget`), and starts one :class:`ShareActor`
per machine, pinned there.  Each actor builds its share with the builder a
single machine uses, :class:`testbed.deploy.Testbed` given a
:class:`~testbed.deploy.MachineShare`: its own nodes and links, and its end
of every cut link as a VXLAN tunnel (:mod:`testbed.vxlan`).  Measurements
ask the machine of each chain's client and merge every machine's counters.

Each machine says where its underlay is through its environment when Ray
starts there: ``SFCBENCH_UNDERLAY_IP`` (default: the Ray node's address),
``SFCBENCH_UNDERLAY_NS`` (default: the root namespace) and
``SFCBENCH_UNDERLAY_MTU`` (default 1500).
"""

from __future__ import annotations

import os
import re
import socket
import time
from collections.abc import Mapping

from testbed import system
from testbed.budget import MACHINE_RESOURCE, BudgetError, check_budget, machines_from_ray, shares_of
from testbed.cleanup import remove_all, remove_run, run_ids_here
from testbed.deploy import ChainMeasurements, MachineShare, Testbed, check_options, preflight
from testbed.images import ImageNames
from testbed.manifest import new_run_id
from testbed.partition import PartitionError, check_mapping, cut_bandwidth, cut_links, partition
from testbed.plan import build_plan
from testbed.system import TestbedError


class MachineLost(TestbedError):
    """A machine (its Ray node, or the actor building its share) died during a cluster run."""


def connect(address: str | None = None):
    """The ``ray`` module, connected to the cluster at ``address`` (default: ``RAY_ADDRESS``, then the
    cluster that ``ray start`` left on this machine); one clear error when there is none."""
    try:
        import ray
    except ImportError:
        raise TestbedError("a testbed on several machines runs on Ray: install sfcbench's dependencies "
                           "(`make setup`)") from None
    if not ray.is_initialized():
        target = address or os.environ.get("RAY_ADDRESS") or "auto"
        if ":" in target:  # HOST:PORT that nobody answers on: ray.init would retry it for minutes
            host, _, port = target.split("://", 1)[-1].rpartition(":")
            try:
                socket.create_connection((host, int(port)), timeout=5).close()
            except (OSError, ValueError) as exc:
                raise TestbedError(f"no Ray cluster answers at {target!r} ({exc}): start one there with "
                                   "`ray start --head`, or give the head's HOST:PORT") from None
        try:
            ray.init(address=target, log_to_driver=True, logging_level="ERROR")
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise TestbedError(f"no Ray cluster found at {target!r} ({exc}): start one with `ray start --head` "
                               "on one machine and `ray start --address=HEAD:6379` on the others, or name it "
                               "with testbed.address") from None
    return ray


def _alive_nodes(ray) -> dict[str, str]:
    """Machine name -> Ray node id, for every live node (named as :func:`testbed.budget.machines_from_ray` does)."""
    ids = {}
    for node in ray.nodes():
        if not node.get("Alive"):
            continue
        names = [r[len(MACHINE_RESOURCE):] for r in node.get("Resources", {}) if r.startswith(MACHINE_RESOURCE)]
        ids[names[0] if names else node.get("NodeManagerHostname", node["NodeID"])] = node["NodeID"]
    return ids


def _pinned(ray, machine: str, node_id: str, named: bool) -> dict:
    """Ray options that run an actor or task on ``machine`` and nowhere else."""
    if named:
        return {"resources": {f"{MACHINE_RESOURCE}{machine}": 0.001}}
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    return {"scheduling_strategy": NodeAffinitySchedulingStrategy(node_id, soft=False)}


def share_run_id(base: str, machine: str) -> str:
    """The run id of ``machine``'s share of cluster run ``base``: the base id, then the machine's name."""
    return f"{base}-{re.sub(r'[^A-Za-z0-9_.]', '_', machine)}"


class ShareActor:
    """One machine's share of a cluster testbed, as a Ray actor on that machine (wrapped by :func:`ray.remote`)."""

    def __init__(self, machine: str):
        self.machine = machine
        self.tb: Testbed | None = None
        self.sampler = None

    def hello(self, host_kind: str) -> dict:
        """Check this machine can run its share (root, tools, Docker) and say where its underlay is."""
        preflight(host_kind)
        import ray

        ns = os.environ.get("SFCBENCH_UNDERLAY_NS") or None
        if ns is not None and ns not in system.netns_list():
            raise TestbedError(f"machine {self.machine}: underlay namespace {ns!r} (SFCBENCH_UNDERLAY_NS) "
                               "does not exist")
        return {"underlay_ip": os.environ.get("SFCBENCH_UNDERLAY_IP") or ray.util.get_node_ip_address(),
                "underlay_ns": ns, "mtu": int(os.environ.get("SFCBENCH_UNDERLAY_MTU", 1500)),
                "hostname": socket.gethostname(), "pid": os.getpid()}

    def reach(self, peers: Mapping[str, str], underlay_ns: str | None) -> dict[str, bool]:
        """Whether each peer machine's underlay address answers a ping from here."""
        import subprocess

        prefix = ["ip", "netns", "exec", underlay_ns] if underlay_ns else []
        return {m: subprocess.run([*prefix, "ping", "-n", "-c", "2", "-i", "0.2", "-W", "2", ip],
                                  capture_output=True).returncode == 0 for m, ip in peers.items()}

    def start(self, substrate, chains, placement, share: MachineShare, run_id: str, options: dict) -> dict:
        """Build this machine's share (torn down again if any step fails)."""
        said = []
        self.tb = Testbed(substrate, chains, placement, share=share, run_id=run_id, log=said.append, **options)
        try:
            self.tb.start()
        except BaseException:
            self.tb.stop()
            raise
        return {**self.tb.info, "log": said}

    def check_cut_links(self) -> list[str]:
        """Each cut link's far end, pinged from its node here; what does not answer, named."""
        failed = []
        for i, spec in self.tb.cut_links():
            node, far = (spec.a, spec.ip_b) if self.tb.local(spec.a) else (spec.b, spec.ip_a)
            out = self.tb.nodes[node].cmd(f"ping -n -c 3 -i 0.2 -W 2 {far} >/dev/null 2>&1; echo rc=$?")
            if not out.strip().endswith("rc=0"):
                failed.append(f"{spec.a}-{spec.b} (VNI {i}): {far} does not answer from {node}")
        return failed

    def counters(self) -> dict:
        return self.tb.counters()

    def request(self, chain_id: str, n: int, path: str, interval: float, warmup: int) -> list[dict]:
        return self.tb.request(chain_id, n, path=path, interval=interval, warmup=warmup)

    def diagnose(self, chain_id: str) -> str | None:
        return self.tb.diagnose(chain_id)

    def generate(self, argvs: dict, wait: float) -> dict:
        return self.tb._generate(argvs, wait)

    def cmd(self, node: str, command: str) -> str:
        return self.tb.nodes[node].cmd(command)

    def sample(self, on: bool, hz: float = 5.0) -> dict | None:
        """Start sampling this machine's CPU and memory; or stop and summarise (cores mean/max, MiB mean)."""
        from testbed.telemetry import Sampler, machine_source

        if on:
            self.sampler = Sampler([machine_source()], hz=hz).start()
            return None
        if self.sampler is None:
            return None
        self.sampler.stop()
        frame, self.sampler = self.sampler.frame(), None
        cpu, mem = frame[frame.metric == "cpu_cores"].value, frame[frame.metric == "memory_mib"].value
        if cpu.empty:
            return None
        return {"cpu_cores_mean": float(cpu.mean()), "cpu_cores_max": float(cpu.max()),
                "memory_mib_mean": float(mem.mean())}

    def stop(self) -> dict:
        if self.tb is None:
            return {}
        self.tb.stop()
        return dict(self.tb.info)


class ClusterTestbed(ChainMeasurements):
    """A placement realised over several machines of a Ray cluster, from bring-up to teardown.

    Parameters as :class:`testbed.deploy.Testbed`, and:

    machines : "auto", list of names, or dict
        Every live machine of the cluster, these machines, or a fixed
        mapping of substrate nodes to machines.  A machine is a Ray node,
        named by its ``sfcbench_machine:NAME`` resource or else its host name.
    address : str, optional
        The Ray cluster (default: ``RAY_ADDRESS``, then the local ``ray start``).
    seed : int
        Seed of the partition.
    budget_override : bool
        Build a share even where its machine's cores or memory fall short.
    """

    __test__ = False

    def __init__(self, substrate, chains, placement, *, machines="auto", address=None, host_kind="dind",
                 images=ImageNames(), delay="auto", protocol="http", vnf_impl=None, sink="light", seed=0,
                 budget_override=False, log=print):
        check_options(host_kind, protocol, sink)
        self.substrate, self.chains, self.placement = substrate, list(chains), placement
        self.plan = build_plan(substrate, self.chains, placement)
        self.machines_option, self.address, self.seed, self.override = machines, address, seed, budget_override
        self.delay = delay
        self.options = {"host_kind": host_kind, "images": images, "delay": delay, "protocol": protocol,
                        "vnf_impl": vnf_impl, "sink": sink}
        self.log = log
        self.actors: dict = {}
        self.mapping: dict = {}  # substrate node -> machine
        self.node_machine: dict = {}  # plan node -> machine
        self.info: dict = {}

    # -- lifecycle (a with-block: ChainMeasurements) --------------------------------------

    def _choose(self, ray) -> tuple[dict, dict]:
        """The machines to use (name -> :class:`testbed.budget.Machine`) and the node -> machine mapping."""
        available = machines_from_ray(ray.nodes())
        option = self.machines_option
        fixed = None
        if isinstance(option, Mapping):
            fixed = dict(option)
            names = sorted(set(fixed.values()))
        elif option in (None, "auto"):
            names = sorted(available)
        elif isinstance(option, str):
            raise TestbedError(f"testbed.machines={option!r}: use auto, a list of machines, or a mapping of "
                               "substrate nodes to machines")
        else:
            names = sorted(option)
        unknown = sorted(set(names) - set(available))
        if unknown:
            raise TestbedError(f"machines {unknown} are not in the Ray cluster, whose machines are "
                               f"{sorted(available)}: start Ray there with "
                               f"--resources='{{\"{MACHINE_RESOURCE}NAME\": 1}}', or name only those")
        chosen = {m: available[m] for m in names}
        try:
            if fixed is not None:
                mapping = check_mapping(self.substrate, fixed, {m: mach.cores for m, mach in chosen.items()})
            else:
                mapping = partition(self.substrate, self.placement, {m: mach.cores for m, mach in chosen.items()},
                                    chains=self.chains, seed=self.seed)
        except PartitionError as exc:
            raise TestbedError(str(exc)) from None
        return chosen, mapping

    def _plan_machines(self) -> dict:
        """Every plan node's machine: servers and switches as partitioned, clients and sinks with what they attach to."""
        plan = self.plan
        where = {name: self.mapping[spec["node"]] for name, spec in plan.servers.items()}
        where |= {name: self.mapping[node] for name, node in plan.routers.items()}
        for ends in (plan.clients, plan.sinks):
            where |= {end["name"]: where[end["attach"]] for end in ends.values()}
        return where

    def _call(self, phase: str, calls: dict) -> dict:
        """Wait for every machine's call of ``phase`` (machine -> object ref); one error naming the machines that
        failed, and how (a dead machine or actor is said so)."""
        import ray
        from ray.exceptions import RayActorError, RayTaskError

        results, failures, lost = {}, [], False
        for machine, ref in calls.items():
            try:
                results[machine] = ray.get(ref)
            except RayActorError as exc:
                lost = True
                failures.append(f"machine {machine} died during {phase}: {str(exc).strip().splitlines()[0]}")
            except RayTaskError as exc:
                cause = exc.cause if getattr(exc, "cause", None) is not None else exc
                failures.append(f"machine {machine}, {phase}: {cause}")
        if failures:
            raise (MachineLost if lost else TestbedError)("; ".join(failures))
        return results

    def start(self):
        t0 = time.monotonic()
        ray = connect(self.address)
        chosen, self.mapping = self._choose(ray)
        self.node_machine = self._plan_machines()
        shares = shares_of(self.substrate, self.mapping, self.chains, self.placement,
                           relays=system.delay_mechanism(self.delay) == "userspace")
        try:
            usage = check_budget(chosen, shares, override=self.override)
        except BudgetError as exc:
            raise TestbedError(f"{exc}: testbed.budget_override=true") from None
        used = sorted(set(self.node_machine.values()))
        node_ids = _alive_nodes(ray)
        remote = ray.remote(max_restarts=0, num_cpus=0)(ShareActor)
        for m in used:
            named = f"{MACHINE_RESOURCE}{m}" in next(
                n["Resources"] for n in ray.nodes() if n["NodeID"] == node_ids[m])
            self.actors[m] = remote.options(**_pinned(ray, m, node_ids[m], named)).remote(m)
        hello = self._call("its preflight check", {m: a.hello.remote(self.options["host_kind"])
                                                   for m, a in self.actors.items()})
        ips = {m: h["underlay_ip"] for m, h in hello.items()}
        reached = self._call("the underlay check", {
            m: a.reach.remote({p: ip for p, ip in ips.items() if p != m}, hello[m]["underlay_ns"])
            for m, a in self.actors.items()})
        unreachable = [f"{m} ({ips[m]}) cannot reach {p} ({ips[p]})" for m, r in reached.items()
                       for p, ok in r.items() if not ok]
        if unreachable:
            raise TestbedError("the underlay does not join the machines: " + "; ".join(unreachable) +
                               ": check SFCBENCH_UNDERLAY_IP on each machine and that UDP 4789 passes")
        base = new_run_id()
        self.info = {"run_id": base, "machines": used, "host_kind": self.options["host_kind"],
                     "cut_links": len(cut_links(self.substrate, self.mapping)),
                     "cut_bandwidth_mbit": cut_bandwidth(self.substrate, self.mapping),
                     "budget": {m: u.__dict__ for m, u in usage.items() if m in used}}
        self.log(f"testbed: cluster run {base} over {', '.join(used)}, {self.info['cut_links']} cut links")
        started = self._call("bring-up", {m: a.start.remote(
            self.substrate, self.chains, self.placement,
            MachineShare(m, self.node_machine, ips[m], {p: ip for p, ip in ips.items() if p != m},
                         hello[m]["underlay_ns"], hello[m]["mtu"]),
            share_run_id(base, m), self.options) for m, a in self.actors.items()})
        for m, info in started.items():
            for line in info.pop("log"):
                self.log(f"[{m}] {line}")
        self.info["delay_mechanism"] = next(iter(started.values()))["delay_mechanism"]
        self.info["share_run_ids"] = {m: info["run_id"] for m, info in started.items()}
        broken = [f for fs in self._call("the cut-link check", {m: a.check_cut_links.remote()
                                                               for m, a in self.actors.items()}).values() for f in fs]
        if broken:
            raise TestbedError("cut links do not carry frames between machines: " + "; ".join(broken))
        self.info["bring_up_s"] = time.monotonic() - t0
        self.log(f"testbed: cluster up in {self.info['bring_up_s']:.1f} s")

    def stop(self):
        """Tear down every machine's share (idempotent); what a dead machine left is cleaned up on every live
        node."""
        if not self.actors:
            return
        import ray

        t0 = time.monotonic()
        actors, self.actors = self.actors, {}
        try:
            self._call("teardown", {m: a.stop.remote() for m, a in actors.items()})
        except TestbedError as exc:
            self.log(f"testbed: {exc}; cleaning up on every node")
            if self.info.get("run_id"):
                cleanup_cluster([self.info["run_id"]])
        finally:
            for actor in actors.values():
                ray.kill(actor)
            self.info["teardown_s"] = time.monotonic() - t0

    # -- measurement primitives --------------------------------------------------------

    def counters(self) -> dict:
        merged = {}
        for part in self._call("reading counters", {m: a.counters.remote() for m, a in self.actors.items()}).values():
            merged |= part
        return merged

    def _ask(self, node: str, phase: str, method: str, *args):
        """Call ``method`` of the actor of the machine that holds plan node ``node``."""
        machine = self.node_machine[node]
        return self._call(phase, {machine: getattr(self.actors[machine], method).remote(*args)})[machine]

    def request(self, chain_id: str, n: int = 1, path: str = "/", interval: float = 0.0,
                warmup: int = 0) -> list[dict]:
        """As :meth:`testbed.deploy.Testbed.request`, sent by the chain's client on its machine."""
        return self._ask(self.plan.clients[chain_id]["name"], f"requests of chain {chain_id}", "request",
                         chain_id, n, path, interval, warmup)

    def diagnose(self, chain_id: str) -> str | None:
        order = []
        for spec in self.plan.vnfs:
            machine = self.node_machine[spec.server]
            if spec.chain_id == chain_id and machine not in order:
                order.append(machine)
        for machine in order:
            call = {machine: self.actors[machine].diagnose.remote(chain_id)}
            fault = self._call(f"diagnosis of chain {chain_id}", call)[machine]
            if fault:
                return f"{fault} (machine {machine})"
        return None

    def _generate(self, argvs: dict, wait: float, sampler=None) -> dict:
        if sampler is not None:
            raise TestbedError("a telemetry sampler covers one machine: on a cluster, each machine's utilisation "
                               "is in info['machine_util'] after measure()")
        by_machine: dict = {}
        for chain_id, argv in argvs.items():
            by_machine.setdefault(self.node_machine[self.plan.clients[chain_id]["name"]], {})[chain_id] = argv
        results = {}
        for part in self._call("load generation", {m: self.actors[m].generate.remote(a, wait)
                                                  for m, a in by_machine.items()}).values():
            results |= part
        return results

    def cmd(self, node: str, command: str) -> str:
        """Run a shell command on plan node ``node`` (``s0``, ``r3``, ``c0``), on whichever machine holds it."""
        return self._ask(node, f"a command on {node}", "cmd", node, command)

    def machines_of(self, chain_id: str) -> list[str]:
        """The machine of each VNF of the chain, in chain order."""
        return [self.node_machine[s.server] for s in self.plan.vnfs if s.chain_id == chain_id]

    def measure(self, requests: int = 20, warmup: int = 2) -> list[dict]:
        """As :meth:`testbed.deploy.Testbed.measure`, plus each VNF's machine per chain (``machines``); each
        machine's CPU and memory during the measurement go to ``info["machine_util"]``."""
        self._call("sampling", {m: a.sample.remote(True) for m, a in self.actors.items()})
        try:
            rows = super().measure(requests=requests, warmup=warmup)
        finally:
            self.info["machine_util"] = self._call("sampling", {m: a.sample.remote(False)
                                                                for m, a in self.actors.items()})
        return [{**row, "machines": self.machines_of(row["chain_id"])} for row in rows]


def _remove_here(run_ids: list[str] | None) -> dict:
    """On this node: remove every share of the cluster runs ``run_ids`` (all runs if None)."""
    if run_ids is None:
        return remove_all()
    found = [r for r in run_ids_here() if any(r == base or r.startswith(base + "-") for base in run_ids)]
    return {r: remove_run(r) for r in found}


def cleanup_cluster(run_ids: list[str] | None = None, address: str | None = None) -> dict:
    """Remove cluster runs ``run_ids`` (every run if None) on every live node of the cluster; what was
    removed, per node."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    ray = connect(address)
    task = ray.remote(num_cpus=0, max_retries=0)(_remove_here)
    removed = {}
    for node in ray.nodes():  # one node after another: machines stood up on one box share a kernel and Docker
        if node.get("Alive"):
            strategy = NodeAffinitySchedulingStrategy(node["NodeID"], soft=False)
            where = f"{node.get('NodeManagerHostname', '?')}/{node['NodeID'][:8]}"
            removed[where] = ray.get(task.options(scheduling_strategy=strategy).remote(run_ids))
    return removed


def main(argv=None) -> int:
    """``python -m testbed.cluster cleanup [RUN_ID ...|--all]``: what ``testbed.cleanup`` does, on every node."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m testbed.cluster", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    clean = sub.add_parser("cleanup", help="remove what cluster runs left, on every live node of the Ray cluster")
    clean.add_argument("run_ids", nargs="*", help="cluster runs to remove (ids as printed by the run)")
    clean.add_argument("--all", action="store_true", help="remove what any sfcbench run left, on every node")
    clean.add_argument("--address", help="the Ray cluster (default: RAY_ADDRESS, then the local `ray start`)")
    args = parser.parse_args(argv)
    if not args.all and not args.run_ids:
        clean.error("name one or more run ids, or --all")
    try:
        removed = cleanup_cluster(None if args.all else args.run_ids, args.address)
    except TestbedError as exc:
        print(f"cleanup: {exc}", file=sys.stderr)
        return 1
    for node, what in removed.items():
        print(f"cleanup on {node}: {what}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
