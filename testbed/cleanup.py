"""Remove what a testbed run left behind: ``python -m testbed.cleanup [RUN_ID ...|--all]``.

Only this project's things are touched, found by what marks them as ours:
containers and volumes by the ``sfcbench.run`` label, processes through the
run's cgroup ``sfcbench-<id>`` (never by process name), network namespaces and
cgroups by their ``sfcbench-<id>`` name, root-namespace interfaces and paths
by the run's manifest under ``/run/sfcbench``.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
import time
from pathlib import Path

from testbed import system
from testbed.manifest import LABEL, PREFIX, Manifest


def _docker(client=None):
    if client is not None:
        return client
    from testbed.images import docker_client

    try:
        return docker_client(timeout=30)
    except system.TestbedError:
        return None  # no daemon: no containers of ours can be running either


def remove_container(container, attempts: int = 4) -> None:
    """Remove one container, with its anonymous volumes, whatever its state; gone already is fine.

    One with a Docker network endpoint is removed while holding
    :data:`testbed.system.CONTAINER_REMOVAL`; ours have none (networking disabled) and go in parallel.
    Any other refusal by the daemon (a dying container whose exit event came late, a busy mount in
    a server's data root) is retried after a pause, and raised only if it persists.
    """
    import docker

    networked = not (container.attrs.get("Config") or {}).get("NetworkDisabled")
    for attempt in range(1, attempts + 1):
        try:
            with system.CONTAINER_REMOVAL if networked else contextlib.nullcontext():
                container.remove(force=True, v=True)
            return
        except docker.errors.NotFound:
            return
        except docker.errors.APIError as exc:
            if exc.status_code == 409:  # another cleanup is removing it already
                return
            if attempt == attempts:
                raise
            print(f"cleanup: removing container {container.name} failed ({exc}); retrying", file=sys.stderr)
            time.sleep(attempt)


def remove_containers(client, run_id: str | None) -> int:
    """Remove containers (with their anonymous volumes) labelled with ``run_id`` (any run if None)."""
    import docker

    if client is None:
        return 0
    label = f"{LABEL}={run_id}" if run_id else LABEL
    containers = client.containers.list(all=True, filters={"label": label})
    system.parallel(remove_container, containers)
    for volume in client.volumes.list(filters={"label": label}):
        try:
            volume.remove(force=True)
        except docker.errors.NotFound:
            pass
    return len(containers)


def remove_run(run_id: str, docker_client=None) -> dict:
    """Remove everything of run ``run_id``; return counts of what was removed."""
    try:
        resources = Manifest.load(run_id).resources
    except (FileNotFoundError, ValueError):
        resources = {}
    name = f"{PREFIX}-{run_id}"
    done = {"containers": remove_containers(_docker(docker_client), run_id)}
    cgroups = {Path(p) for p in resources.get("cgroups", [])} | set(system.cgroup_dirs(name))
    for cg in cgroups:
        # v1: the pids hierarchy holds the run's host processes; the other
        # hierarchies only hold leftover (empty) container cgroups.
        system.kill_cgroup(cg)
    for cg in system.cgroup_dirs(name):
        system.remove_cgroup_tree(cg)
    done["cgroups"] = len(cgroups)
    netns = [ns for ns in system.netns_list() if ns == name or ns.startswith(name + "-")]
    for ns in netns:
        system.netns_delete(ns)
    done["netns"] = len(netns)
    for link in resources.get("links", []):
        system.run(["ip", "link", "del", link], check=False)
    live = set(system.netns_list())
    for netns, link in resources.get("underlay_links", []):  # a cut link's devices in a machine's underlay
        if not netns or netns in live:
            system.run(["ip", *(["-n", netns] if netns else []), "link", "del", link], check=False)
    if resources.get("ovs_bridges") and shutil.which("ovs-vsctl"):
        for bridge in resources["ovs_bridges"]:
            system.run(["ovs-vsctl", "--if-exists", "del-br", bridge], check=False)
    for path in resources.get("paths", []):
        shutil.rmtree(path, ignore_errors=True)
    Manifest(run_id).discard()
    return done


def remove_build_leftovers() -> int:
    """Remove image-build scratch dirs whose builder died (a live build is left alone)."""
    from testbed.images import BUILD_DIR, BUILD_PREFIX

    removed = 0
    for path in Path(BUILD_DIR).glob(f"{BUILD_PREFIX}*"):
        pid = path.name[len(BUILD_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and Path(f"/proc/{pid}").exists():
            continue
        # A killed debootstrap may leave /proc or /sys mounted in its target: unmount first.
        mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
        for mount in sorted((m for m in mounts if m.startswith(str(path) + "/")), key=len, reverse=True):
            system.run(["umount", "-l", mount], check=False)
        shutil.rmtree(path, ignore_errors=True)
        removed += 1
    return removed


def run_ids_here() -> list[str]:
    """Ids of the runs that left something on this machine: a manifest, a namespace or a cgroup."""
    run_ids = set(Manifest.run_ids())
    run_ids |= {ns[len(PREFIX) + 1:] for ns in system.netns_list() if ns.startswith(PREFIX + "-")}
    run_ids |= {p.name[len(PREFIX) + 1:] for p in system.cgroup_dirs(PREFIX + "-")}
    return sorted(run_ids)


def remove_all(docker_client=None) -> dict:
    """Remove every run's leftovers: by manifest, label and ``sfcbench-`` prefix."""
    client = _docker(docker_client)
    run_ids = run_ids_here()
    total = {"runs": len(run_ids), "containers": remove_containers(client, None),
             "build_dirs": remove_build_leftovers()}
    for run_id in sorted(run_ids):
        remove_run(run_id, client)
    return total


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m testbed.cleanup", description=__doc__.splitlines()[0])
    parser.add_argument("run_ids", nargs="*", help="runs to remove (ids as printed by the run)")
    parser.add_argument("--all", action="store_true", help="remove what any sfcbench run left")
    args = parser.parse_args(argv)
    if not args.all and not args.run_ids:
        parser.error("name one or more run ids, or --all")
    system.require_root()
    if args.all:
        print(f"cleanup: {remove_all()}")
    for run_id in args.run_ids:
        print(f"cleanup {run_id}: {remove_run(run_id)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
