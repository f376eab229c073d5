"""Real VNF programs (testbed/vnfs/real.py) relay a chain's requests and count them from their own statistics.

No testbed: each test builds three network namespaces joined by veth pairs,
client -> VNF -> sink(s), starts the launcher in the VNF's namespace (as
``nobody`` where the program runs unprivileged in its container, as root with
the nftables and nDPI implementations, which need CAP_NET_ADMIN/NET_RAW
there) and ``vnf.py --role sink`` in the sink's, then sends requests from the
client's.  Skipped unless root with ``ip`` and the program installed
(``scripts/setup-system.sh``).  Every namespace and process is removed after.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from testbed.vnfs import catalogue, real

VNFS = Path(real.__file__).resolve().parent
CLIENT_IP, VNF_IN, VNF_OUT = "10.77.1.1", "10.77.1.2", "10.77.2.1"
SINKS = ("10.77.2.2", "10.77.2.3")
PRIVILEGED = {"nftables", "ndpi"}  # uid 0 with CAP_NET_ADMIN (nftables) or CAP_NET_RAW (ndpi)
N = 40


def skip_reason(impl: str) -> str | None:
    if os.geteuid() != 0 or not shutil.which("ip"):
        return "needs root and iproute2 to build network namespaces"
    try:
        real.check(impl)
    except real.Missing as exc:
        return f"{exc} (run scripts/setup-system.sh)"
    return None


class Namespaces:
    """client -> vnf -> sink namespaces over two veth pairs; processes started in them are tracked."""

    def __init__(self):
        tag = uuid.uuid4().hex[:6]
        self.ns = {k: f"sfcbench-h10-{tag}-{k}" for k in ("client", "vnf", "sink")}
        self.links = (f"h10{tag}a", f"h10{tag}b")
        self.procs: list[subprocess.Popen] = []
        self.run_dir = Path(tempfile.mkdtemp(prefix="sfcbench-h10-"))
        os.chmod(self.run_dir, 0o777)  # the unprivileged launcher writes its configs here

    def ip(self, *args):
        subprocess.run(["ip", *args], check=True, capture_output=True)

    def up(self):
        for ns in self.ns.values():
            self.ip("netns", "add", ns)
            self.ip("-n", ns, "link", "set", "lo", "up")
        a, b = self.links
        for link, left, right, addrs in ((a, "client", "vnf", (CLIENT_IP, VNF_IN)),
                                         (b, "vnf", "sink", (VNF_OUT, *SINKS))):
            self.ip("link", "add", link, "netns", self.ns[left], "type", "veth", "peer", "name", link + "p",
                    "netns", self.ns[right])
            self.ip("-n", self.ns[left], "addr", "add", f"{addrs[0]}/24", "dev", link)
            for addr in addrs[1:]:
                self.ip("-n", self.ns[right], "addr", "add", f"{addr}/24", "dev", link + "p")
            self.ip("-n", self.ns[left], "link", "set", link, "up")
            self.ip("-n", self.ns[right], "link", "set", link + "p", "up")
        return self

    def popen(self, where: str, cmd: list[str], user: bool = False, **kwargs) -> subprocess.Popen:
        prefix = ["ip", "netns", "exec", self.ns[where]]
        if user:
            prefix += ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]
        proc = subprocess.Popen(prefix + cmd, stdin=subprocess.DEVNULL, **kwargs)
        self.procs.append(proc)
        return proc

    def run(self, where: str, cmd: list[str], timeout: float = 60) -> str:
        return subprocess.run(["ip", "netns", "exec", self.ns[where], *cmd], capture_output=True, text=True,
                              timeout=timeout, check=True).stdout

    def down(self):
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        for ns in self.ns.values():
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        shutil.rmtree(self.run_dir, ignore_errors=True)


@pytest.fixture
def net():
    if os.geteuid() != 0 or not shutil.which("ip"):
        pytest.skip("needs root and iproute2 to build network namespaces")
    n = Namespaces()
    try:
        yield n.up()
    finally:
        n.down()


def wait_http(net, where, url, timeout=30.0, proc=None):
    """Poll ``url`` from namespace ``where`` until it answers; fail with the launcher's output if it died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"the launcher exited with {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}")
        try:
            return json.loads(net.run(where, [sys.executable, "-c",
                                              f"import urllib.request as u;print(u.urlopen({url!r},timeout=2).read().decode())"]))
        except (subprocess.CalledProcessError, ValueError):
            time.sleep(0.2)
    pytest.fail(f"{url} did not answer within {timeout:g} s")


def start_chain(net, impl, sinks=SINKS[:1], name="v1"):
    """Sinks and the launcher of ``impl``; returns the launcher's process once its stats answer."""
    for i, ip in enumerate(sinks):
        net.popen("sink", [sys.executable, "-u", str(VNFS / "vnf.py"), "--role", "sink", "--name", f"sink{i}",
                           "--listen", f"{ip}:8080"], stdout=subprocess.DEVNULL)
        wait_http(net, "sink", f"http://{ip}:8080/_sfcbench/stats")
    nexts = [a for ip in sinks for a in ("--next", f"http://{ip}:8080")]
    proc = net.popen("vnf", [sys.executable, "-u", str(VNFS / "real.py"), "--impl", impl, "--name", name,
                             "--role", "forwarder", "--listen", f"{VNF_IN}:8080", *nexts, "--protocol", "http",
                             "--run-dir", str(net.run_dir / impl)],
                     user=impl not in PRIVILEGED, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_http(net, "client", f"http://{VNF_IN}:8080/_sfcbench/stats", proc=proc)
    return proc


def client(net, n, path="/"):
    """``testbed/vnfs/client.py``: n requests on one kept-alive connection from the client's namespace."""
    out = net.run("client", [sys.executable, str(VNFS / "client.py"), f"http://{VNF_IN}:8080{path}", "-n", str(n),
                             "--source", CLIENT_IP])
    return json.loads(out.strip().splitlines()[-1])


def get(net, path, n=1):
    """Statuses and traces of n GETs of ``path`` (query string kept) on one connection, from the client's namespace."""
    script = (f"import http.client,json;c=http.client.HTTPConnection({VNF_IN!r},8080,timeout=10);out=[]\n"
              f"for _ in range({n}):\n c.request('GET',{path!r});r=c.getresponse();r.read()\n"
              " out.append([r.status,r.getheader('X-SFC-Trace','')])\nprint(json.dumps(out))")
    return [tuple(x) for x in json.loads(net.run("client", [sys.executable, "-c", script]))]


def stats(net, where="client", url=f"http://{VNF_IN}:8080/_sfcbench/stats"):
    return wait_http(net, where, url)


@pytest.mark.parametrize("impl", list(real.IMPLEMENTATIONS))
def test_real_vnf_relays_in_order_and_counts_exactly(net, impl):
    if reason := skip_reason(impl):
        pytest.skip(reason)
    start_chain(net, impl)
    before = stats(net)["requests"]
    stats(net)  # stats requests are never counted
    results = client(net, N)
    assert [r["status"] for r in results] == [200] * N, results[:3]
    assert {r["trace"] for r in results} == {"v1,sink0"}  # the VNF, then the sink, in order
    after = stats(net)
    assert after["requests"] - before == N, after
    assert after["impl"] == impl and after["source"]
    sink = stats(net, "sink", f"http://{SINKS[0]}:8080/_sfcbench/stats")
    assert sink["requests"] == before + N


def test_trace_is_appended_to_the_incoming_one(net):
    if reason := skip_reason("haproxy"):
        pytest.skip(reason)
    start_chain(net, "haproxy")
    script = (f"import urllib.request as u;r=u.urlopen(u.Request('http://{VNF_IN}:8080/',"
              "headers={'X-SFC-Trace':'v0'}));print(r.headers['X-SFC-Trace'])")
    assert net.run("client", [sys.executable, "-c", script]).strip() == "v0,v1,sink0"


def test_haproxy_round_robins_over_two_sinks(net):
    if reason := skip_reason("haproxy"):
        pytest.skip(reason)
    start_chain(net, "haproxy", sinks=SINKS)
    results = client(net, 10)
    assert [r["status"] for r in results] == [200] * 10
    per_sink = [stats(net, "sink", f"http://{ip}:8080/_sfcbench/stats")["requests"] for ip in SINKS]
    assert per_sink == [5, 5]
    assert stats(net)["per_next_hop"] == [5, 5]


def test_waf_blocks_sql_injection_and_passes_clean_requests(net):
    if reason := skip_reason("nginx-modsecurity"):
        pytest.skip(reason)
    start_chain(net, "nginx-modsecurity")
    assert [status for status, _ in get(net, "/?id=1%27%20OR%20%271%27=%271", 3)] == [403] * 3
    assert get(net, "/?id=42", 2) == [(200, "v1,sink0")] * 2
    after = stats(net)
    assert (after["requests"], after["blocked"], after["forwarded"]) == (5, 3, 2)
    assert after["audit_log_entries"] == 3
    assert stats(net, "sink", f"http://{SINKS[0]}:8080/_sfcbench/stats")["requests"] == 2


def test_varnish_caches_only_what_opts_in(net):
    if reason := skip_reason("varnish"):
        pytest.skip(reason)
    start_chain(net, "varnish")
    assert [r["status"] for r in client(net, 4, "/cache/page")] == [200] * 4
    after = stats(net)
    assert (after["requests"], after["forwarded"], after["cache_hits"]) == (4, 1, 3)
    assert stats(net, "sink", f"http://{SINKS[0]}:8080/_sfcbench/stats")["requests"] == 1


def test_nftables_drops_other_ports_and_counts(net):
    if reason := skip_reason("nftables"):
        pytest.skip(reason)
    start_chain(net, "nftables")
    probe = (f"import socket;s=socket.socket();s.settimeout(0.5)\n"
             f"try: s.connect(('{VNF_IN}', 9))\nexcept OSError as e: print(type(e).__name__)")
    assert net.run("client", [sys.executable, "-c", probe]).strip() == "TimeoutError"  # dropped, not refused
    client(net, 3)
    after = stats(net)
    assert after["dropped_packets"] >= 1 and after["accepted_connections"] >= 1
    assert after["requests"] == 3


def test_ndpi_reports_http_flows(net):
    if reason := skip_reason("ndpi"):
        pytest.skip(reason)
    start_chain(net, "ndpi")
    client(net, 5)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # ndpiReader reports once a second while packets flow
        after = stats(net)
        if after["protocols"].get("HTTP"):
            break
        time.sleep(0.5)
    assert after["flows"] >= 2 and after["protocols"].get("HTTP", 0) >= 2, after
    assert after["requests"] == 5


def run_launcher(*args):
    return subprocess.run([sys.executable, str(VNFS / "real.py"), *args], capture_output=True, text=True, timeout=60)


def test_unknown_implementation_is_one_clear_line():
    done = run_launcher("--impl", "squidward", "--next", "http://127.0.0.1:1")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "real.py: unknown implementation 'squidward': choose one of haproxy, nginx-modsecurity, varnish, "
        "nftables, ndpi"]


def test_missing_program_is_one_clear_line(monkeypatch, capsys):
    monkeypatch.setattr(real, "SEARCH_PATH", str(Path(tempfile.gettempdir()) / "sfcbench-h10-empty"))
    assert real.main(["--impl", "haproxy", "--next", "http://127.0.0.1:1"]) == real.MISSING
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "needs program 'haproxy', which this image lacks" in err[0]
    assert "install Debian package(s) haproxy" in err[0]


def test_catalogue_refuses_bad_input():
    with pytest.raises(catalogue.CatalogueError, match="unknown VNF type 'toaster'"):
        catalogue.implementation("toaster", "light")
    with pytest.raises(catalogue.CatalogueError, match="no implementation 'varnish' for VNF type 'waf'"):
        catalogue.implementation("waf", "varnish")
    with pytest.raises(catalogue.CatalogueError, match="lacks program"):
        catalogue.implementation("cache", "varnish").require(lambda program: program != "gcc")


@pytest.mark.parametrize("impl", list(real.IMPLEMENTATIONS))
def test_check_config_passes_the_programs_own_check(impl, tmp_path):
    if os.geteuid() != 0 and impl == "nftables":
        pytest.skip("nft -c needs CAP_NET_ADMIN")
    try:
        real.check(impl)
    except real.Missing as exc:
        pytest.skip(f"{exc} (run scripts/setup-system.sh)")
    done = run_launcher("--impl", impl, "--name", "c0-1-x", "--next", "http://10.0.0.2:8080",
                        "--next", "http://10.0.0.6:8080", "--run-dir", str(tmp_path), "--check-config")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "exit 0" in done.stdout
