"""User-space link delay for kernels without ``sch_netem``.

A delayed link is realised as ``node1 <-veth-> a | b <-veth-> node2`` with ``a``
and ``b`` in the run's link namespace; this process holds an ``AF_PACKET``
socket on each of ``a`` and ``b`` and re-sends every frame on the other side
``delay`` ms after it arrived (a heap ordered by due time; ``select`` sleeps
until the next frame is due).  Like netem's default, at most ``limit`` frames
wait per direction; more are dropped.

Run as ``python -m testbed.delay A B DELAY_MS [--limit N]`` inside the link
namespace.
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import select
import signal
import socket
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
SOCKET_BUFFER = 4 << 20


def open_socket(ifname: str) -> socket.socket:
    """A non-blocking raw socket receiving every frame that arrives on ``ifname``."""
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SOCKET_BUFFER)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_BUFFER)
    s.bind((ifname, 0))
    s.setblocking(False)
    return s


def forward(sa: socket.socket, sb: socket.socket, delay_ms: float, limit: int = 1000) -> None:
    """Relay frames between sockets ``sa`` and ``sb``, each delayed by ``delay_ms``."""
    delay = delay_ms / 1000.0
    peer = {sa: sb, sb: sa}
    waiting = {sa: 0, sb: 0}  # frames queued for sending on each socket
    heap: list = []
    seq = itertools.count()
    while True:
        timeout = max(0.0, heap[0][0] - time.monotonic()) if heap else None
        readable, _, _ = select.select((sa, sb), (), (), timeout)
        now = time.monotonic()
        for s in readable:
            out = peer[s]
            while True:
                try:
                    frame, addr = s.recvfrom(65535)
                except BlockingIOError:
                    break
                except OSError:  # an end of the link was deleted: the link is gone
                    return
                if addr[2] == PACKET_OUTGOING:  # our own sends, seen again
                    continue
                if waiting[out] >= limit:
                    continue
                waiting[out] += 1
                heapq.heappush(heap, (now + delay, next(seq), out, frame))
        now = time.monotonic()
        while heap and heap[0][0] <= now:
            _, _, out, frame = heapq.heappop(heap)
            waiting[out] -= 1
            try:
                out.send(frame)
            except OSError:
                pass  # a full or vanished interface drops the frame, as a link would


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("delay_ms", type=float)
    parser.add_argument("--limit", type=int, default=1000)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sa, sb = open_socket(args.a), open_socket(args.b)
    print("ready", flush=True)  # the link waits for this before it counts as up
    try:
        forward(sa, sb, args.delay_ms, args.limit)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
