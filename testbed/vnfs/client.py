#!/usr/bin/env python3
"""Measurement client: send N HTTP requests to a chain's first VNF and report each one.

Prints one JSON object: per-request latency (ms), status, and the trace of
VNFs the request went through.  Standard library only, so it runs on any host.
"""

import argparse
import http.client
import json
import sys
import time
from urllib.parse import urlsplit

TRACE = "X-SFC-Trace"


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("-n", type=int, default=20)
    p.add_argument("--timeout", type=float, default=10.0)
    p.add_argument("--source", default=None)
    p.add_argument("--interval", type=float, default=0.0, help="seconds between requests")
    args = p.parse_args(argv)
    url = urlsplit(args.url)
    results = []
    for _ in range(args.n):
        start = time.perf_counter()
        entry = {"status": None, "trace": "", "error": ""}
        conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=args.timeout,
                                          source_address=(args.source, 0) if args.source else None)
        try:
            conn.request("GET", url.path or "/")
            resp = conn.getresponse()
            body = resp.read()
            entry.update(status=resp.status, trace=resp.getheader(TRACE, ""), body=body.decode(errors="replace")[:200])
        except OSError as exc:
            entry["error"] = str(exc) or type(exc).__name__
        finally:
            conn.close()
        entry["latency_ms"] = (time.perf_counter() - start) * 1000.0
        results.append(entry)
        if args.interval:
            time.sleep(args.interval)
    json.dump(results, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
