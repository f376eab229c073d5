"""The isolation experiment of "Running multiple containers within virtual hosts in Mininet".

Two web servers and a client on one switch.  Each server runs the article's
counter application (it reads a counter from a file in its working directory,
returns it and increments it).  The client requests server A, B, A, B:

- ``process``: plain Mininet hosts share the machine's filesystem, so both
  servers use one file and the client sees 0, 1, 2, 3;
- ``docker``: one container per host, each with its own file: 0, 0, 1, 1;
- ``dind``: one DinD host running two inner containers of the same image,
  published on ports 80 and 8080: 0, 0, 1, 1.

For each mode it also records whether server A can see server B's process
and a file server B wrote.  ``python -m experiments.run experiment=isolation``.
"""

from __future__ import annotations

import logging
import secrets
import shlex
import sys
from pathlib import Path

import pandas as pd

from .report.figures import styled
from .results import save_figure, save_results

log = logging.getLogger(__name__)
MODES = ("process", "docker", "dind")
ORDER = ("A", "B", "A", "B")
VNF_DIR = Path(__file__).resolve().parents[1] / "testbed" / "vnfs"
CODE = "/opt/sfcbench"


class _Servers:
    """How to start the counter servers of one mode and run commands as each of them."""

    def __init__(self, net, mode, images):
        self.net, self.mode, self.images = net, mode, images
        self.urls = {}
        self.dirs = {}

    def start(self):
        from testbed.images import CACHE_DIR, saved_image

        net, images = self.net, self.images
        client = net.addHost("client", ip="10.0.0.100/24")
        s1 = net.addSwitch("s1")
        net.addLink(client, s1)
        if self.mode == "dind":
            tar = saved_image(net.run.docker, images.vnf).name
            self.host = net.addDocker("srv", ip="10.0.0.1/24", dimage=images.dind, privileged=True,
                                      volumes=[f"{CACHE_DIR / 'images'}:/images:ro"])
            net.addLink(self.host, s1)
            net.start()
            self.host.cmd("for i in $(seq 200); do docker info >/dev/null 2>&1 && break; sleep 0.05; done")
            self.host.cmd(f"docker load -q -i /images/{tar}")
            for name, port in (("A", 80), ("B", 8080)):
                out = self.host.cmd(f"docker run -d --name server-{name} -p {port}:8080 -v /usr:/usr:ro "
                                    f"{images.vnf} --role counter --name {name}")
                if "Error" in out:
                    raise RuntimeError(f"inner server {name} did not start: {out.strip()}")
                self.urls[name], self.dirs[name] = f"http://10.0.0.1:{port}/", "/srv"
        else:
            self.hosts = {}
            for i, name in enumerate(("A", "B"), start=1):
                if self.mode == "docker":
                    host = net.addDocker(name, ip=f"10.0.0.{i}/24", dimage=images.base, dcmd="sleep infinity",
                                         volumes=[f"{VNF_DIR}:{CODE}:ro"], working_dir="/srv")
                else:
                    host = net.addHost(name, ip=f"10.0.0.{i}/24")
                net.addLink(host, s1)
                self.hosts[name] = host
            net.start()
            for i, (name, host) in enumerate(self.hosts.items(), start=1):
                # Plain Mininet hosts run in the same directory of the one shared filesystem
                # (the run's scratch directory, removed at teardown).
                cwd = net.run.tmpdir if self.mode == "process" else "/srv"
                python = sys.executable if self.mode == "process" else "python3"
                code = VNF_DIR if self.mode == "process" else CODE
                host.cmd(f"cd {shlex.quote(str(cwd))} && {python} {code}/vnf.py --role counter --name {name} "
                         f"--listen 10.0.0.{i}:80 > /dev/null 2>&1 &")
                self.urls[name], self.dirs[name] = f"http://10.0.0.{i}:80/", str(cwd)
        for url in self.urls.values():
            client.cmd(f"for i in $(seq 100); do curl -sf {url}_sfcbench/stats >/dev/null && break; sleep 0.05; done")
        self.client = client

    def as_server(self, name, script: str) -> str:
        """Run a Python snippet as server ``name`` (inside its container where it has one)."""
        if self.mode == "dind":
            return self.host.cmd(f"docker exec server-{name} python3 -c {shlex.quote(script)}")
        python = sys.executable if self.mode == "process" else "python3"
        return self.hosts[name].cmd(f"{python} -c {shlex.quote(script)}")


def run_mode(mode: str, images) -> tuple[list[dict], dict]:
    """One mode of the experiment: the client's answers and what A can see of B."""
    from testbed.containernet import Containernet

    with Containernet() as net:
        servers = _Servers(net, mode, images)
        servers.start()
        answers = []
        for i, name in enumerate(ORDER):
            out = servers.client.cmd(f"curl -s -m 5 {servers.urls[name]}").strip()
            answers.append({"mode": mode, "request": i, "server": name, "answer": int(out) if out.isdigit() else None})
        token = secrets.token_hex(8)
        secret = f"{servers.dirs['B']}/secret-of-B"
        servers.as_server("B", f"open({secret!r}, 'w').write({token!r})")
        sees_file = token in servers.as_server(
            "A", f"import os; print(open({secret!r}).read() if os.path.exists({secret!r}) else '')")
        # The needle is assembled at run time so that this probe's own command line does not match it.
        sees_process = "True" in servers.as_server(
            "A", "import os; needle = '--name' + chr(32) + chr(66); print(any(needle in "
                 "open(f'/proc/{p}/cmdline').read().replace(chr(0), ' ') for p in os.listdir('/proc') if p.isdigit()))")
    pattern = ",".join(str(a["answer"]) for a in answers)
    return answers, {"mode": mode, "pattern": pattern, "a_sees_b_process": sees_process,
                     "a_sees_b_file": sees_file}


@styled  # the report's shared style (constrained layout included)
def plot(summary: pd.DataFrame, answers: pd.DataFrame, path_stem: Path) -> None:
    """Answers per request for each mode, as grouped bars (PNG and SVG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.2))
    width = 0.8 / len(MODES)
    for k, mode in enumerate(MODES):
        rows = answers[answers["mode"] == mode]
        ax.bar(rows["request"] + k * width, rows["answer"], width, label=mode)
    ax.set_xticks([i + width for i in range(len(ORDER))], [f"{i + 1}: {s}" for i, s in enumerate(ORDER)])
    ax.set_xlabel("request: server")
    ax.set_ylabel("counter returned (count)")
    ax.set_title("Counter seen by the client (shared vs private filesystems)")
    fig.legend(loc="outside right upper", title="host kind")  # beside the bars, never over them
    save_figure(fig, path_stem)


def run_isolation(cfg) -> pd.DataFrame:
    """Hydra task of ``experiment=isolation``: every mode, results and a figure in ``results_dir``."""
    from testbed.images import ImageNames, ensure_images
    from testbed.runtime import Run

    run_dir = Path(cfg.results_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    images = ImageNames(**cfg.testbed.images)
    ensure_images(images, log=log.info)
    answers, summary = [], []
    for mode in MODES:
        rows, facts = run_mode(mode, images)
        answers += rows
        summary.append(facts)
        log.info("isolation %s: %s", mode, facts)
    answers_df, summary_df = pd.DataFrame(answers), pd.DataFrame(summary)
    save_results(run_dir, summary_df.merge(answers_df, on="mode"))
    plot(summary_df, answers_df, run_dir / "isolation")
    log.info("isolation:\n%s", summary_df.to_string(index=False))
    return summary_df
