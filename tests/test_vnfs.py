"""The VNF programs themselves, as real processes on loopback: load balancing, IDS, firewall, counters."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

VNF = Path(__file__).resolve().parents[1] / "testbed" / "vnfs" / "vnf.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port, path="/"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", path)
    resp = conn.getresponse()
    body = resp.read().decode()
    conn.close()
    return resp.status, body, resp.getheader("X-SFC-Trace")


@pytest.fixture
def start(tmp_path):
    procs = []

    def _start(*args):
        port = free_port()
        procs.append(subprocess.Popen([sys.executable, str(VNF), "--listen", f"127.0.0.1:{port}", *args],
                                      cwd=tmp_path, stdout=subprocess.DEVNULL))
        deadline = time.monotonic() + 10
        while True:
            try:
                get(port, "/_sfcbench/stats")
                return port
            except OSError:
                assert time.monotonic() < deadline, "VNF did not start"
                time.sleep(0.05)

    yield _start
    for p in procs:
        p.kill()
        p.wait()


def stats(port):
    return json.loads(get(port, "/_sfcbench/stats")[1])


def test_load_balancer_spreads_round_robin_and_ids_counts_signatures(start):
    a = start("--role", "sink", "--name", "A")
    b = start("--role", "sink", "--name", "B")
    lb = start("--role", "load_balancer", "--name", "lb", "--next", f"http://127.0.0.1:{a}/",
               "--next", f"http://127.0.0.1:{b}/")
    ids = start("--role", "ids", "--name", "ids", "--signature", "attack", "--next", f"http://127.0.0.1:{lb}/")
    traces = [get(ids, "/attack" if i % 5 == 0 else "/ok")[2] for i in range(10)]
    assert sorted(set(traces)) == ["ids,lb,A", "ids,lb,B"]
    assert stats(lb)["per_next_hop"] == [5, 5]
    assert stats(a)["requests"] == stats(b)["requests"] == 5
    assert stats(ids)["requests"] == 10 and stats(ids)["matched"] == 2


def test_firewall_blocks_matching_requests_and_counts_them(start):
    sink = start("--role", "sink", "--name", "egress")
    fw = start("--role", "firewall", "--name", "fw", "--rule", "^GET /admin", "--next", f"http://127.0.0.1:{sink}/")
    assert get(fw, "/admin/panel")[0] == 403
    assert get(fw, "/index")[:2] == (200, "egress ok\n")
    assert stats(fw)["dropped"] == 1 and stats(fw)["forwarded"] == 1 and stats(sink)["requests"] == 1


def test_counter_server_keeps_its_count_in_a_file(start, tmp_path):
    web = start("--role", "counter", "--name", "web")
    assert [get(web)[1].strip() for _ in range(3)] == ["0", "1", "2"]
    assert (tmp_path / "counter").read_text() == "3"


def test_unreachable_next_hop_is_a_counted_error(start):
    fw = start("--role", "forwarder", "--name", "fwd", "--next", f"http://127.0.0.1:{free_port()}/")
    status, body, _ = get(fw)
    assert status == 502 and "next hop" in body
    assert stats(fw)["errors"] == 1


def test_tcp_mode_relays_whole_connections_and_still_reports_counters(start):
    echo = socket.create_server(("127.0.0.1", 0))
    port = echo.getsockname()[1]

    def serve_once():
        conn, _ = echo.accept()
        while data := conn.recv(4096):
            conn.sendall(data.upper())
        conn.close()

    import threading

    threading.Thread(target=serve_once, daemon=True).start()
    relay = start("--role", "forwarder", "--name", "relay", "--protocol", "tcp", "--next", f"http://127.0.0.1:{port}/")
    with socket.create_connection(("127.0.0.1", relay), timeout=5) as s:
        s.sendall(b"hello through the chain")
        s.shutdown(socket.SHUT_WR)
        got = b""
        while data := s.recv(4096):
            got += data
    assert got == b"HELLO THROUGH THE CHAIN"
    assert stats(relay)["requests"] == 1 and stats(relay)["forwarded"] == 1
