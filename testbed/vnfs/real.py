#!/usr/bin/env python3
"""Launch a real VNF program (HAProxy, nginx + ModSecurity, Varnish, nftables, nDPI) as an sfcbench VNF.

Standard library only: it runs under the DinD server's ``python3`` inside the
thin VNF container (``/usr`` bind-mounted read-only), like ``vnf.py``, and
takes the same command line plus ``--impl``.  It writes the program's
configuration into a writable run directory (a tmpfs, ``/run/vnf`` by
default), starts the program relaying HTTP from ``--listen`` to the ``--next``
hop(s), appends ``--name`` to the ``X-SFC-Trace`` request header, and answers
``GET /_sfcbench/stats`` with counters read from the program's own statistics:

=================  ==========================================================
haproxy            load balancer (round robin over every ``--next``);
                   ``requests`` from the stats socket's ``show stat``
nginx-modsecurity  WAF: ModSecurity v3 + OWASP CRS 3.3 in blocking mode;
                   ``requests``/``blocked`` from nginx's access log,
                   ``audit_log_entries`` from ModSecurity's audit log
varnish            cache; requests pass to the next hop unless they opt in to
                   caching (a GET under ``/cache/``); ``requests`` from
                   ``varnishstat`` (backend requests plus cache hits)
nftables           L3/L4 firewall on the VNF's own network namespace: accept
                   TCP to the listen port, drop the rest; ``vnf.py``'s relay
                   forwards (and counts ``requests``), nft counters report
                   accepted connections and dropped packets
ndpi               passive monitor: ndpiReader captures the VNF's interfaces
                   while ``vnf.py``'s relay forwards; flows and detected
                   protocols from ndpiReader's reports (one per second while
                   packets flow, so at most about a second behind)
=================  ==========================================================

Where the program cannot answer the stats path itself, the program routes it
to a small stats server of this launcher on ``127.0.0.1:9901``; the stats
request is never counted.  A program missing from the image ends the launcher
at once with one line saying which and how to fix it (exit status 3).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
import vnf as light  # noqa: E402  (vnf.py sits beside this file, in the repository and in the image)

STATS_PATH = light.STATS_PATH
TRACE = light.TRACE
SEARCH_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
STATS_PORT = 9901
MISSING = 3  # exit status: the image lacks a program the implementation needs
NAME = re.compile(r"[A-Za-z0-9_.-]+")

# What each implementation runs; the catalogue (testbed/vnfs/catalogue.py) checks images against it.
PROGRAMS = {
    "haproxy": ("haproxy",),
    "nginx-modsecurity": ("nginx",),
    "varnish": ("varnishd", "varnishstat", "gcc"),  # varnishd compiles its VCL with the C compiler
    "nftables": ("nft",),
    "ndpi": ("ndpiReader",),
}
FILES = {  # data files (outside the program itself) each implementation reads, all under /usr
    "nginx-modsecurity": ("/usr/lib/nginx/modules/ngx_http_modsecurity_module.so",
                          "/usr/share/modsecurity-crs/rules/REQUEST-942-APPLICATION-ATTACK-SQLI.conf"),
}
PACKAGES = {  # the Debian 12 package that brings each implementation
    "haproxy": "haproxy", "nginx-modsecurity": "nginx-light libnginx-mod-http-modsecurity modsecurity-crs",
    "varnish": "varnish", "nftables": "nftables", "ndpi": "libndpi-bin",
}


class Missing(RuntimeError):
    """The image lacks a program or file an implementation needs."""


def find_program(program: str) -> str | None:
    """Full path of ``program`` on the system search path, or None."""
    return shutil.which(program, path=SEARCH_PATH)


def check(impl: str) -> dict[str, str]:
    """Paths of the programs ``impl`` needs; raise :class:`Missing` naming the first one absent.

    Examples
    --------
    >>> try:
    ...     check("no-such-impl")
    ... except KeyError as exc:
    ...     print(exc.args[0])
    unknown implementation 'no-such-impl': choose one of haproxy, nginx-modsecurity, varnish, nftables, ndpi
    """
    if impl not in PROGRAMS:
        raise KeyError(f"unknown implementation {impl!r}: choose one of {', '.join(PROGRAMS)}")
    found = {}
    for program in PROGRAMS[impl]:
        found[program] = find_program(program)
        if found[program] is None:
            raise Missing(f"implementation {impl} needs program {program!r}, which this image lacks (searched "
                          f"{SEARCH_PATH}): install Debian package(s) {PACKAGES[impl]} in the server image "
                          "(testbed/images/dind/Dockerfile) or pick another implementation")
    for path in FILES.get(impl, ()):
        if not Path(path).exists():
            raise Missing(f"implementation {impl} needs {path}, which this image lacks: install Debian "
                          f"package(s) {PACKAGES[impl]} in the server image (testbed/images/dind/Dockerfile)")
    return found


def hop_address(url: str) -> tuple[str, int]:
    """``(host, port)`` of a next-hop URL such as ``http://10.0.0.2:8080``."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise ValueError(f"next hop {url!r} is not a URL such as http://10.0.0.2:8080")
    return parts.hostname, parts.port or 80


# -- the programs --------------------------------------------------------------------


class Program:
    """One real VNF program: render its config into ``run_dir``, start it, read its counters."""

    impl = ""

    def __init__(self, args, run_dir: Path, paths: dict[str, str]):
        self.args, self.run_dir, self.paths = args, run_dir, paths
        self.name = args.name
        self.host, port = args.listen.rsplit(":", 1)
        self.port = int(port)
        self.hops = [hop_address(u) for u in args.next]
        self.processes: list[subprocess.Popen] = []

    def configure(self) -> list[str]:
        """Write the configuration into the run directory; return the program's own check of it."""
        raise NotImplementedError

    def start(self) -> None:
        """Start the program(s) in the background (after :meth:`configure`)."""
        raise NotImplementedError

    def counters(self) -> dict:
        """The program's own counters; ``requests`` counts every request relayed or answered once."""
        raise NotImplementedError

    def spawn(self, cmd: list[str], **kwargs) -> subprocess.Popen:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, **kwargs)
        self.processes.append(proc)
        return proc

    def stop(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.processes:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def serve(self) -> None:
        """Serve the stats path on 127.0.0.1:``STATS_PORT`` until the program exits."""
        server = QuietServer(("127.0.0.1", self.args.stats_port), stats_handler(self))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.wait()

    def wait(self) -> None:
        """Block until any program exits; then raise (a VNF whose program died must not look alive)."""
        while True:
            for proc in self.processes:
                if proc.poll() is not None:
                    raise RuntimeError(f"{self.impl}: {Path(proc.args[0]).name} exited with status {proc.returncode}")
            time.sleep(0.2)

    def ready(self, timeout: float = 20.0) -> None:
        """Wait until the program accepts connections on the listen port (raise if it died first)."""
        import socket

        deadline = time.monotonic() + timeout
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        while True:
            for proc in self.processes:
                if proc.poll() is not None:
                    raise RuntimeError(f"{self.impl}: {Path(proc.args[0]).name} exited at start "
                                       f"with status {proc.returncode}")
            try:
                socket.create_connection((host, self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.impl}: nothing listens on {self.args.listen} after {timeout:g} s")
                time.sleep(0.05)

    def base_stats(self) -> dict:
        return {"name": self.name, "role": self.args.role, "impl": self.impl}


class QuietServer(ThreadingHTTPServer):
    """A threading HTTP server that does not print a traceback when a peer drops a kept-alive connection."""

    daemon_threads = True

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


def stats_handler(program: Program):
    """A request handler answering the stats path with ``program``'s counters (for the program to proxy to)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            try:
                body, code = json.dumps({**program.base_stats(), **program.counters()}).encode(), 200
            except Exception as exc:  # noqa: BLE001 - the reason goes back to whoever asked
                body, code = json.dumps({"error": f"{type(exc).__name__}: {exc}"}).encode(), 500
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


class HAProxy(Program):
    """HAProxy 2.6 in HTTP mode, round robin over the next hops."""

    impl = "haproxy"

    def config(self) -> str:
        servers = "\n".join(f"    server hop{i} {h}:{p}" for i, (h, p) in enumerate(self.hops))
        return f"""global
    stats socket {self.run_dir}/haproxy.sock mode 600 level user
    maxconn 4096
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend vnf
    bind {self.host}:{self.port}
    http-request set-header {TRACE} "%[req.fhdr({TRACE})],{self.name}" if {{ req.fhdr({TRACE}) -m found }}
    http-request set-header {TRACE} {self.name} if !{{ req.fhdr({TRACE}) -m found }}
    use_backend sfcbench_stats if {{ path {STATS_PATH} }}
    default_backend chain
backend chain
    balance roundrobin
{servers}
backend sfcbench_stats
    server launcher 127.0.0.1:{self.args.stats_port}
"""

    def configure(self):
        self.cfg = self.run_dir / "haproxy.cfg"
        self.cfg.write_text(self.config())
        return [self.paths["haproxy"], "-c", "-f", str(self.cfg)]

    def start(self):
        self.spawn([self.paths["haproxy"], "-db", "-f", str(self.cfg)])

    def show_stat(self) -> list[dict]:
        import socket

        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(str(self.run_dir / "haproxy.sock"))
            s.sendall(b"show stat\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        return list(csv.DictReader(io.StringIO(data.decode().lstrip("# "))))

    def counters(self):
        rows = [r for r in self.show_stat() if r["pxname"] == "chain"]
        backend = next(r for r in rows if r["svname"] == "BACKEND")
        servers = [r for r in rows if r["svname"] != "BACKEND"]
        return {"requests": int(backend["req_tot"] or 0),
                "per_next_hop": [int(r["req_tot"] or 0) for r in servers],
                "responses_5xx": int(backend["hrsp_5xx"] or 0), "source": "haproxy show stat"}


CRS_SETUP = """SecDefaultAction "phase:1,log,auditlog,pass"
SecDefaultAction "phase:2,log,auditlog,pass"
SecAction "id:900990,phase:1,nolog,pass,t:none,setvar:tx.crs_setup_version=334"
Include /usr/share/modsecurity-crs/rules/*.conf
SecRuleRemoveById 920350
"""  # 920350 warns on a numeric Host header, which every testbed request has: noise in the audit log


class NginxModSecurity(Program):
    """nginx 1.22 with ModSecurity v3 and the OWASP CRS in blocking mode (one worker)."""

    impl = "nginx-modsecurity"

    def modsecurity_config(self) -> str:
        return f"""SecRuleEngine On
SecRequestBodyAccess On
SecRequestBodyLimit 13107200
SecRequestBodyNoFilesLimit 131072
SecRequestBodyLimitAction Reject
SecResponseBodyAccess Off
SecTmpDir {self.run_dir}/modsec
SecDataDir {self.run_dir}/modsec
SecAuditEngine RelevantOnly
SecAuditLogRelevantStatus "^403$"
SecAuditLogParts AHZ
SecAuditLogType Serial
SecAuditLogFormat JSON
SecAuditLog {self.run_dir}/modsec_audit.log
""" + CRS_SETUP

    def config(self) -> str:
        r = self.run_dir
        upstream = "\n".join(f"        server {h}:{p};" for h, p in self.hops)
        temp = "\n".join(f"    {k}_temp_path {r}/nginx/{k};" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        return f"""load_module {FILES['nginx-modsecurity'][0]};
worker_processes 1;
pid {r}/nginx.pid;
error_log stderr warn;
daemon off;
events {{ worker_connections 4096; }}
http {{
    access_log off;
{temp}
    default_type text/plain;
    log_format sfc '$status $upstream_addr';
    map $http_x_sfc_trace $sfc_trace {{ "" "{self.name}"; default "$http_x_sfc_trace,{self.name}"; }}
    upstream chain {{
{upstream}
        keepalive 64;
    }}
    server {{
        listen {self.host}:{self.port};
        modsecurity on;
        modsecurity_rules_file {r}/modsecurity.conf;
        location = {STATS_PATH} {{
            modsecurity off;
            proxy_pass http://127.0.0.1:{self.args.stats_port};
        }}
        location / {{
            access_log {r}/access.log sfc;
            proxy_pass http://chain;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header {TRACE} $sfc_trace;
        }}
    }}
}}
"""

    def configure(self):
        for d in ("nginx", "modsec"):
            (self.run_dir / d).mkdir(exist_ok=True)
        (self.run_dir / "modsecurity.conf").write_text(self.modsecurity_config())
        (self.run_dir / "nginx.conf").write_text(self.config())
        for name in ("access.log", "modsec_audit.log"):
            (self.run_dir / name).touch()
        self.command = [self.paths["nginx"], "-e", "stderr", "-p", f"{self.run_dir}/nginx",
                        "-c", str(self.run_dir / "nginx.conf")]
        return [*self.command, "-t"]

    def start(self):
        self.spawn(self.command)

    def counters(self):
        requests = blocked = 0
        with open(self.run_dir / "access.log", "rb") as log:
            for line in log:  # "<status> <upstream address, '-' when not relayed>"
                requests += 1
                blocked += line.startswith(b"403 -")
        with open(self.run_dir / "modsec_audit.log", "rb") as log:
            audit = sum(1 for _ in log)
        return {"requests": requests, "blocked": blocked, "forwarded": requests - blocked,
                "audit_log_entries": audit, "source": "nginx access log, ModSecurity audit log"}


class Varnish(Program):
    """Varnish 7.1: passes requests to the next hop(s), caches GETs under ``/cache/``."""

    impl = "varnish"

    def vcl(self) -> str:
        backends = "\n".join(f'backend hop{i} {{ .host = "{h}"; .port = "{p}"; }}' for i, (h, p) in enumerate(self.hops))
        adds = "\n".join(f"    chain.add_backend(hop{i});" for i in range(len(self.hops)))
        return f"""vcl 4.1;
import directors;
{backends}
backend sfcbench_stats {{ .host = "127.0.0.1"; .port = "{self.args.stats_port}"; }}
sub vcl_init {{
    new chain = directors.round_robin();
{adds}
}}
sub vcl_recv {{
    if (req.url == "{STATS_PATH}") {{
        set req.backend_hint = sfcbench_stats;
        return (pass);
    }}
    if (req.http.{TRACE}) {{
        set req.http.{TRACE} = req.http.{TRACE} + ",{self.name}";
    }} else {{
        set req.http.{TRACE} = "{self.name}";
    }}
    set req.backend_hint = chain.backend();
    if (req.method == "GET" && req.url ~ "^/cache/") {{
        return (hash);
    }}
    return (pass);
}}
"""

    def configure(self):
        self.vcl_file = self.run_dir / "sfcbench.vcl"
        self.vcl_file.write_text(self.vcl())
        self.workdir = self.run_dir / "varnish"
        # -j none: no privilege separation, which would need the varnish users the thin image lacks
        return [self.paths["varnishd"], "-C", "-j", "none", "-n", str(self.workdir), "-f", str(self.vcl_file)]

    def start(self):
        self.spawn([self.paths["varnishd"], "-F", "-j", "none", "-n", str(self.workdir), "-f", str(self.vcl_file),
                    "-a", f"{self.host}:{self.port}", "-T", "none", "-s", "malloc,32m",
                    "-p", "thread_pools=1", "-p", "thread_pool_min=8", "-p", "thread_pool_max=500",
                    "-p", "vsl_space=4m",  # the shared-memory log (80 MB by default) lives in the run tmpfs
                    # every job's counters reach varnishstat at once, so `requests` is exact when read
                    "-p", "thread_stats_rate=1", "-p", "feature=+busy_stats_rate",
                    "-p", f"cc_command=exec {self.paths['gcc']} "
                    "-g -O2 -Wall -pthread -fpic -shared -Wl,-x -o %o %s"])

    def counters(self):
        out = subprocess.run([self.paths["varnishstat"], "-n", str(self.workdir), "-1", "-j"],
                             capture_output=True, text=True, timeout=10, check=True).stdout
        doc = json.loads(out)
        values = {k: v.get("value", 0) for k, v in doc.get("counters", doc).items() if isinstance(v, dict)}
        hops = sorted((k for k in values if re.fullmatch(r"VBE\.[^.]+\.hop\d+\.req", k)),
                      key=lambda k: int(k.rsplit(".", 2)[1][3:]))
        relayed = [values[k] for k in hops]
        hits = values.get("MAIN.cache_hit", 0)
        return {"requests": sum(relayed) + hits, "forwarded": sum(relayed), "cache_hits": hits,
                "cache_misses": values.get("MAIN.cache_miss", 0), "per_next_hop": relayed,
                "source": "varnishstat"}


class Relayed(Program):
    """A program beside the traffic (firewall rules, a capture) while ``vnf.py``'s relay forwards it."""

    def serve(self):
        args = argparse.Namespace(role="load_balancer", name=self.name, next=self.args.next, rule=[],
                                  signature=[], counter_file="counter", source=self.args.source,
                                  timeout=self.args.timeout)
        relay = light.VNF(args)
        program = self

        class Handler(light.make_handler(relay)):
            def handle_request(self):
                if self.path != STATS_PATH:
                    return super().handle_request()
                with relay.lock:
                    stats = {k: relay.stats[k] for k in ("requests", "forwarded", "errors", "per_next_hop")}
                body = json.dumps({**program.base_stats(), **stats, **program.counters()}).encode()
                self.reply(200, body)

        server = QuietServer((self.host, self.port), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.wait()

    def ready(self, timeout=20.0):
        pass  # the relay listens as soon as serve() binds


class Nftables(Relayed):
    """nftables rules with named counters in this network namespace: accept the listen port, drop the rest."""

    impl = "nftables"
    TABLE = "sfcbench"

    def ruleset(self) -> str:
        return f"""table inet {self.TABLE} {{
    counter accepted_connections {{ }}
    counter accepted_packets {{ }}
    counter dropped_packets {{ }}
    chain input {{
        type filter hook input priority 0; policy drop;
        iif "lo" accept
        ct state established,related counter name "accepted_packets" accept
        tcp dport {self.port} ct state new counter name "accepted_connections" accept
        counter name "dropped_packets" drop
    }}
}}
"""

    def configure(self):
        self.rules = self.run_dir / "sfcbench.nft"
        self.rules.write_text(self.ruleset())
        return [self.paths["nft"], "-c", "-f", str(self.rules)]

    def start(self):
        nft = self.paths["nft"]
        subprocess.run([nft, "delete", "table", "inet", self.TABLE], capture_output=True)
        done = subprocess.run([nft, "-f", str(self.rules)], capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"nftables: nft -f failed (it needs CAP_NET_ADMIN in the VNF's network "
                               f"namespace and uid 0): {done.stderr.strip()}")

    def stop(self):
        super().stop()
        subprocess.run([self.paths["nft"], "delete", "table", "inet", self.TABLE], capture_output=True)

    def counters(self):
        out = subprocess.run([self.paths["nft"], "-j", "list", "counters", "table", "inet", self.TABLE],
                             capture_output=True, text=True, timeout=10, check=True).stdout
        result = {"source": "nft -j list counters"}
        for c in (item["counter"] for item in json.loads(out)["nftables"] if "counter" in item):
            result[c["name"]] = c["packets"]
            if c["name"].endswith("_packets"):
                result[c["name"].replace("_packets", "_bytes")] = c["bytes"]
        return result


class Ndpi(Relayed):
    """ndpiReader capturing the VNF's interfaces; its per-second reports are summed."""

    impl = "ndpi"
    FLOWS = re.compile(r"^\s*Unique flows:\s+(\d+)")
    PACKETS = re.compile(r"^\s*IP packets:\s+(\d+)")
    PROTOCOL = re.compile(r"^\s*(\S+)\s+packets:\s+(\d+)\s+bytes:\s+(\d+)\s+flows:\s+(\d+)")

    def __init__(self, *a):
        super().__init__(*a)
        self.lock = threading.Lock()
        self.totals = {"flows": 0, "packets": 0, "reports": 0}
        self.protocols: dict[str, int] = {}

    def interfaces(self) -> list[str]:
        if self.args.capture:
            return self.args.capture.split(",")
        return sorted(i for i in os.listdir("/sys/class/net") if i != "lo")

    def configure(self):
        return [self.paths["ndpiReader"], "-h"]

    def start(self):
        interfaces = self.interfaces()
        if not interfaces:
            raise RuntimeError("ndpi: no network interface to capture besides lo (give --capture)")
        import pty

        # On a pipe ndpiReader's stdio would hold reports back until 4 KiB piled up; a terminal gets each line.
        parent, child = pty.openpty()
        self.spawn([self.paths["ndpiReader"], "-i", ",".join(interfaces), "-m", "1"], stdout=child, stderr=child)
        os.close(child)
        stream = open(parent, encoding="utf-8", errors="replace")
        threading.Thread(target=self.read_reports, args=(stream,), daemon=True).start()

    def read_reports(self, stream) -> None:
        """Sum ndpiReader's reports: each covers the packets since the previous one."""
        self.section = ""
        try:
            for line in stream:
                self.parse(line)
        except OSError:  # EIO: ndpiReader exited and its terminal closed
            pass

    def parse(self, line: str) -> None:
        """Add one line of an ndpiReader report to the totals."""
        if line.startswith("Traffic statistics"):
            with self.lock:
                self.totals["reports"] += 1
        elif line.startswith("Detected protocols"):
            self.section = "protocols"
        elif not line.strip() or not line[0].isspace():
            self.section = ""
        for key, pattern in (("flows", self.FLOWS), ("packets", self.PACKETS)):
            if m := pattern.match(line):
                with self.lock:
                    self.totals[key] += int(m.group(1))
        if self.section == "protocols" and (m := self.PROTOCOL.match(line)):
            with self.lock:
                self.protocols[m.group(1)] = self.protocols.get(m.group(1), 0) + int(m.group(4))

    def counters(self):
        with self.lock:
            return {**self.totals, "protocols": dict(self.protocols), "source": "ndpiReader reports"}


IMPLEMENTATIONS = {"haproxy": HAProxy, "nginx-modsecurity": NginxModSecurity, "varnish": Varnish,
                   "nftables": Nftables, "ndpi": Ndpi}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="sfcbench real VNF launcher")
    p.add_argument("--impl", required=True, help=f"one of {', '.join(IMPLEMENTATIONS)}")
    p.add_argument("--role", default="forwarder", help="the VNF type's light role (reported only)")
    p.add_argument("--name", default=None)
    p.add_argument("--listen", default="0.0.0.0:8080", help="address:port to serve on")
    p.add_argument("--next", action="append", default=[], help="next hop URL (repeat: round robin)")
    p.add_argument("--protocol", default="http", help="only http is supported")
    p.add_argument("--rule", action="append", default=[], help="accepted for vnf.py compatibility; ignored")
    p.add_argument("--signature", action="append", default=[], help="accepted for vnf.py compatibility; ignored")
    p.add_argument("--source", default=None, help="source address for relayed requests (relay-based impls)")
    p.add_argument("--timeout", type=float, default=10.0)
    p.add_argument("--run-dir", default=os.environ.get("SFCBENCH_RUN_DIR", "/run/vnf"),
                   help="writable directory for configs, logs and sockets (a tmpfs)")
    p.add_argument("--stats-port", type=int, default=STATS_PORT, help="the launcher's stats server on 127.0.0.1")
    p.add_argument("--capture", default="", help="ndpi: interfaces to capture (default: all but lo)")
    p.add_argument("--check", action="store_true", help="only check that the image has what --impl needs")
    p.add_argument("--check-config", action="store_true",
                   help="write the configuration and run the program's own check of it (haproxy -c, nginx -t, "
                        "varnishd -C, nft -c), then exit")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        paths = check(args.impl)
    except KeyError as exc:
        print(f"real.py: {exc.args[0]}", file=sys.stderr)
        return 2
    except Missing as exc:
        print(f"real.py: {exc}", file=sys.stderr)
        return MISSING
    if args.check:
        print(f"real.py: {args.impl}: " + ", ".join(paths.values()))
        return 0
    args.name = args.name or args.impl
    if not NAME.fullmatch(args.name):
        print(f"real.py: --name {args.name!r} may hold only letters, digits, '_', '.' and '-'", file=sys.stderr)
        return 2
    if args.protocol != "http":
        print(f"real.py: --protocol {args.protocol} is not supported by real VNFs: use http", file=sys.stderr)
        return 2
    if not args.next:
        print("real.py: give at least one --next URL (real VNFs relay; the sink is vnf.py --role sink)",
              file=sys.stderr)
        return 2
    run_dir = Path(args.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    program = IMPLEMENTATIONS[args.impl](args, run_dir, paths)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        check_command = program.configure()
        if args.check_config:
            done = subprocess.run(check_command, capture_output=True, text=True)
            last = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:] or [""]
            print(f"real.py: {args.impl}: {' '.join(check_command)}: exit {done.returncode}: {last[0]}")
            return 1 if done.returncode else 0
        program.start()
        program.ready()
        print(f"{args.name}: {args.impl} ({args.role}) listening on {args.listen}", flush=True)
        program.serve()
    except (RuntimeError, ValueError, OSError) as exc:
        print(f"real.py: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    finally:
        program.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
