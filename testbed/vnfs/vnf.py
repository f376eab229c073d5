#!/usr/bin/env python3
"""A small, real VNF: one HTTP process per instance (standard library only).

Roles:
  forwarder      relay each request to the next hop
  firewall       answer 403 to requests whose request line matches a --rule
  load_balancer  spread requests round-robin over several --next hops
  ids            count requests matching a --signature, relay all
  counter        the article's web server: read a counter from a file in the
                 working directory, return it, increment it
  sink           a chain's egress: answer every request

Every role counts what it handled.  With ``--protocol tcp`` every role relays
whole TCP connections instead (for throughput with iperf3), counting them.  ``GET /_sfcbench/stats`` answers with the
counters as JSON and is never counted or relayed.  Relayed requests carry an
``X-SFC-Trace`` header to which each VNF appends its name, and the egress
returns the trace, so a client can check the chain was traversed in order.
"""

import argparse
import http.client
import itertools
import json
import re
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

STATS_PATH = "/_sfcbench/stats"
TRACE = "X-SFC-Trace"


class VNF:
    """State of one VNF instance: its role, next hops and counters."""

    def __init__(self, args):
        self.role = args.role
        self.name = args.name
        self.next_hops = [urlsplit(u) for u in args.next]
        self.rules = [re.compile(r) for r in args.rule]
        self.signatures = [re.compile(s) for s in args.signature]
        self.counter_file = Path(args.counter_file)
        self.source = args.source
        self.timeout = args.timeout
        self.lock = threading.Lock()
        self.local = threading.local()
        self.rr = itertools.cycle(range(max(1, len(self.next_hops))))
        self.stats = {"name": self.name, "role": self.role, "requests": 0, "forwarded": 0,
                      "dropped": 0, "matched": 0, "errors": 0, "per_next_hop": [0] * len(self.next_hops)}

    def count(self, key, n=1):
        with self.lock:
            self.stats[key] += n

    def next_counter(self):
        """The article's counter: read it from the file, return it, store it plus one."""
        with self.lock:
            try:
                value = int(self.counter_file.read_text().strip() or 0)
            except FileNotFoundError:
                value = 0
            self.counter_file.write_text(str(value + 1))
            return value

    def connection(self, hop):
        """This thread's kept-alive connection to ``hop`` (one per upstream connection)."""
        pool = self.local.__dict__.setdefault("pool", {})
        if hop not in pool:
            pool[hop] = http.client.HTTPConnection(
                hop.hostname, hop.port or 80, timeout=self.timeout,
                source_address=(self.source, 0) if self.source else None)
        return pool[hop]

    def drop_connection(self, hop):
        conn = self.local.__dict__.get("pool", {}).pop(hop, None)
        if conn is not None:
            conn.close()

    def pick_next(self):
        with self.lock:
            i = next(self.rr)
            self.stats["per_next_hop"][i] += 1
            return self.next_hops[i]


def make_handler(vnf: VNF):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: after the first request, one crossing per link each way
        wbufsize = 1 << 16  # a reply leaves in one segment (flushed after each request)

        def setup(self):
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, *args):  # one line per request would flood the logs
            pass

        def reply(self, code, body: bytes, trace=""):
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            if trace:
                self.send_header(TRACE, trace)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            self.handle_request()

        def do_POST(self):
            self.handle_request()

        def handle_request(self):
            if self.path == STATS_PATH:
                with vnf.lock:
                    body = json.dumps(vnf.stats).encode()
                return self.reply(200, body)
            length = int(self.headers.get("Content-Length") or 0)
            payload = self.rfile.read(length) if length else b""
            vnf.count("requests")
            trace = ",".join(t for t in (self.headers.get(TRACE, ""), vnf.name) if t)
            line = f"{self.command} {self.path}"
            if vnf.role == "firewall" and any(r.search(line) for r in vnf.rules):
                vnf.count("dropped")
                return self.reply(403, b"blocked by firewall\n", trace)
            if vnf.role == "ids" and any(s.search(line + "\n" + payload.decode("latin-1")) for s in vnf.signatures):
                vnf.count("matched")
            if vnf.role == "counter":
                return self.reply(200, f"{vnf.next_counter()}\n".encode(), trace)
            if vnf.role == "sink" or not vnf.next_hops:
                return self.reply(200, f"{vnf.name} ok\n".encode(), trace)
            self.relay(vnf.pick_next(), payload, trace)

        def relay(self, hop, payload, trace):
            headers = {k: v for k, v in self.headers.items()
                       if k.lower() not in ("host", "connection", TRACE.lower())}
            headers[TRACE] = trace
            for attempt in (1, 2):  # a kept-alive connection the next hop closed is retried once
                conn = vnf.connection(hop)
                try:
                    conn.request(self.command, self.path, body=payload or None, headers=headers)
                    resp = conn.getresponse()
                    body = resp.read()
                    break
                except OSError as exc:
                    vnf.drop_connection(hop)
                    if attempt == 2:
                        vnf.count("errors")
                        return self.reply(502, f"{vnf.name}: next hop {hop.netloc} failed: {exc}\n".encode(), trace)
            vnf.count("forwarded")
            self.reply(resp.status, body, resp.getheader(TRACE, trace))

    return Handler


def serve_tcp(vnf: VNF, host: str, port: int) -> None:
    """TCP mode: splice each connection to a next hop (round-robin), counting connections.

    A connection whose first bytes are ``GET /_sfcbench/stats`` is answered
    with the counters instead, so the testbed reads them as in HTTP mode.
    """
    server = socket.create_server((host, port), backlog=128)
    while True:
        conn, _ = server.accept()
        threading.Thread(target=_tcp_connection, args=(vnf, conn), daemon=True).start()


def _tcp_connection(vnf: VNF, conn: socket.socket) -> None:
    try:
        first = conn.recv(len(STATS_PATH) + 4, socket.MSG_PEEK)
    except OSError:
        return conn.close()
    if first.startswith(b"GET " + STATS_PATH.encode()):
        conn.recv(65536)
        with vnf.lock:
            body = json.dumps(vnf.stats).encode()
        conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        return conn.close()
    vnf.count("requests")
    hop = vnf.pick_next()
    try:
        upstream = socket.create_connection((hop.hostname, hop.port or 80), timeout=vnf.timeout,
                                            source_address=(vnf.source, 0) if vnf.source else None)
        upstream.settimeout(None)
    except OSError:
        vnf.count("errors")
        return conn.close()
    vnf.count("forwarded")
    back = threading.Thread(target=_pump, args=(upstream, conn), daemon=True)
    back.start()
    _pump(conn, upstream)
    back.join()
    conn.close()
    upstream.close()


def _pump(src: socket.socket, dst: socket.socket) -> None:
    """Copy ``src`` to ``dst`` until ``src`` closes, then half-close ``dst``."""
    try:
        while data := src.recv(1 << 16):
            dst.sendall(data)
    except OSError:
        pass
    try:
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def main(argv=None):
    p = argparse.ArgumentParser(description="sfcbench VNF")
    p.add_argument("--role", required=True,
                   choices=["forwarder", "firewall", "load_balancer", "ids", "counter", "sink"])
    p.add_argument("--name", default=None)
    p.add_argument("--listen", default="0.0.0.0:8080", help="address:port to serve on")
    p.add_argument("--next", action="append", default=[], help="next hop URL (repeat for a load balancer)")
    p.add_argument("--rule", action="append", default=[], help="firewall: regex on 'METHOD PATH' to block")
    p.add_argument("--signature", action="append", default=[], help="ids: regex counted as a match")
    p.add_argument("--counter-file", default="counter", help="counter: file in the working directory")
    p.add_argument("--source", default=None, help="source address for relayed requests")
    p.add_argument("--timeout", type=float, default=10.0)
    p.add_argument("--protocol", choices=["http", "tcp"], default="http",
                   help="tcp: relay whole connections (e.g. iperf3) instead of HTTP requests")
    args = p.parse_args(argv)
    args.name = args.name or args.role
    host, port = args.listen.rsplit(":", 1)
    print(f"{args.name}: {args.role} ({args.protocol}) listening on {args.listen}", flush=True)
    try:
        if args.protocol == "tcp":
            serve_tcp(VNF(args), host, int(port))
        else:
            server = ThreadingHTTPServer((host, int(port)), make_handler(VNF(args)))
            server.daemon_threads = True
            server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
