#!/usr/bin/env python3
"""Measurement client: send N HTTP requests to a chain's first VNF, one after another, and report each one.

Requests share one kept-alive connection, so after the first each request
crosses every link once each way, as the latency model assumes.

Prints one JSON object: per-request latency (ms), status, and the trace of
VNFs the request went through.  Standard library only, so it runs on any host.
Load at a rate is :mod:`testbed.loadgen`'s job.
"""

import argparse
import http.client
import json
import sys
import time
from urllib.parse import urlsplit

TRACE = "X-SFC-Trace"


def send(conn, path):
    """One GET on ``conn``; a result entry (the caller adds the latency)."""
    entry = {"status": None, "trace": "", "error": ""}
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
        entry.update(status=resp.status, trace=resp.getheader(TRACE, ""), body=body.decode(errors="replace")[:200])
    except OSError as exc:
        entry["error"] = str(exc) or type(exc).__name__
        conn.close()  # the next request on it opens a fresh connection
    return entry


def sequential(args, connect, path):
    """``warmup + n`` requests one after another; one entry per measured request."""
    conn = None if args.new_connection else connect()
    results, failures = [], 0
    for _ in range(args.warmup + args.n):
        if failures >= args.give_up_after:  # a dead chain would cost a timeout per request
            results.append({"status": None, "trace": "", "error": "not sent: the chain kept failing",
                            "latency_ms": float("nan")})
            continue
        start = time.perf_counter()
        c = connect() if args.new_connection else conn
        entry = send(c, path)
        if args.new_connection:
            c.close()
        entry["latency_ms"] = (time.perf_counter() - start) * 1000.0
        failures = 0 if entry["status"] == 200 else failures + 1
        results.append(entry)
        if args.interval:
            time.sleep(args.interval)
    return results[args.warmup:]


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("-n", type=int, default=20)
    p.add_argument("--timeout", type=float, default=5.0)
    p.add_argument("--give-up-after", type=int, default=3,
                   help="consecutive failures after which the rest are reported unsent")
    p.add_argument("--source", default=None)
    p.add_argument("--interval", type=float, default=0.0, help="seconds between requests")
    p.add_argument("--warmup", type=int, default=0,
                   help="requests sent first and left out of the report (they open the connections)")
    p.add_argument("--new-connection", action="store_true",
                   help="a new TCP connection per request (default: one kept-alive connection)")
    args = p.parse_args(argv)
    url = urlsplit(args.url)

    def connect():
        return http.client.HTTPConnection(url.hostname, url.port or 80, timeout=args.timeout,
                                          source_address=(args.source, 0) if args.source else None)

    path = (url.path or "/") + (f"?{url.query}" if url.query else "")
    result = sequential(args, connect, path)
    json.dump(result, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
