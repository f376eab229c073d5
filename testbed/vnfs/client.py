#!/usr/bin/env python3
"""Measurement client: send N HTTP requests to a chain's first VNF and report each one.

Requests share one kept-alive connection, so after the first each request
crosses every link once each way, as the latency model assumes.

Prints one JSON object: per-request latency (ms), status, and the trace of
VNFs the request went through.  Standard library only, so it runs on any host.
"""

import argparse
import http.client
import json
import queue
import sys
import threading
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


def open_loop(args, connect, path):
    """Requests at ``rate`` per second for ``duration`` s, over ``concurrency`` kept-alive connections.

    Latency counts from each request's scheduled time, so queueing behind a
    slow chain is measured, not hidden.  Returns a summary: every request sent
    is either answered or counted as an error (``lost`` must be 0).
    """
    total = int(args.rate * args.duration)
    t0 = time.perf_counter() + 0.05
    schedule = queue.Queue()
    for i in range(total):
        schedule.put(t0 + i / args.rate)
    entries, lock = [], threading.Lock()

    def worker():
        conn = connect()
        while True:
            try:
                due = schedule.get_nowait()
            except queue.Empty:
                return
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            entry = send(conn, path)
            entry["latency_ms"] = (time.perf_counter() - due) * 1000.0
            with lock:
                entries.append(entry)

    threads = [threading.Thread(target=worker) for _ in range(args.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    ok = sorted(e["latency_ms"] for e in entries if e["status"] == 200)

    def pct(q):
        return ok[min(len(ok) - 1, int(q * len(ok)))] if ok else float("nan")

    return {"offered_rps": args.rate, "sent": total, "ok": len(ok), "errors": len(entries) - len(ok),
            "lost": total - len(entries), "achieved_rps": len(ok) / elapsed,
            "p50_ms": pct(0.50), "p95_ms": pct(0.95), "p99_ms": pct(0.99)}


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
    p.add_argument("--rate", type=float, default=0.0, help="open loop: requests per second (prints a summary)")
    p.add_argument("--duration", type=float, default=5.0, help="open loop: seconds")
    p.add_argument("--concurrency", type=int, default=8, help="open loop: connections")
    args = p.parse_args(argv)
    url = urlsplit(args.url)

    def connect():
        return http.client.HTTPConnection(url.hostname, url.port or 80, timeout=args.timeout,
                                          source_address=(args.source, 0) if args.source else None)

    path = (url.path or "/") + (f"?{url.query}" if url.query else "")
    result = open_loop(args, connect, path) if args.rate else sequential(args, connect, path)
    json.dump(result, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
