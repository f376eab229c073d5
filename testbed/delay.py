"""User-space link delay for kernels without ``sch_netem``.

A delayed link is realised as ``node1 <-veth-> a | b <-veth-> node2`` with ``a``
and ``b`` in the run's link namespace; this process holds an ``AF_PACKET``
socket on each of ``a`` and ``b`` and re-sends every frame on the other side
``delay`` ms after it arrived (a heap ordered by due time; ``select`` sleeps
until the next frame is due).  Arrival times are the kernel's receive stamps,
and the relay learns how late its sends leave and starts that much earlier,
so its own processing does not add to the link's delay.  Like netem's
default, at most ``limit`` frames wait per direction; more are dropped.

Run as ``python -m testbed.delay A B DELAY_MS [--limit N]`` inside the link
namespace.
"""

from __future__ import annotations

import argparse
import ctypes
import heapq
import itertools
import select
import signal
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
SOCKET_BUFFER = 4 << 20
SO_TIMESTAMPNS = 35
TIMESTAMP = struct.Struct("qq")
PR_SET_TIMERSLACK = 29
LEAD_GAIN = 0.05  # of each frame's lateness, added to how early the next one starts


def tighten_timers() -> None:
    """Ask the kernel to wake this process on time (default slack: 50 us per sleep)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def open_socket(ifname: str) -> socket.socket:
    """A non-blocking raw socket receiving every frame that arrives on ``ifname``, with its arrival time."""
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
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
    ancillary = socket.CMSG_SPACE(TIMESTAMP.size)
    lead = 0.0
    # Due times are on the wall clock, the clock of the kernel's arrival stamps, so the
    # time a frame waited before this process woke up counts towards its delay.
    while True:
        timeout = max(0.0, heap[0][0] - lead - time.time()) if heap else None
        readable, _, _ = select.select((sa, sb), (), (), timeout)
        for s in readable:
            out = peer[s]
            while True:
                try:
                    frame, anc, _, addr = s.recvmsg(65535, ancillary)
                except BlockingIOError:
                    break
                except OSError:  # an end of the link was deleted: the link is gone
                    return
                if addr[2] == PACKET_OUTGOING:  # our own sends, seen again
                    continue
                if waiting[out] >= limit:
                    continue
                arrived = time.time()
                for level, kind, data in anc:
                    if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                        sec, nsec = TIMESTAMP.unpack(data[:TIMESTAMP.size])
                        arrived = sec + nsec * 1e-9
                waiting[out] += 1
                heapq.heappush(heap, (arrived + delay, next(seq), out, frame))
        now = time.time()
        while heap and heap[0][0] - lead <= now:
            due, _, out, frame = heapq.heappop(heap)
            waiting[out] -= 1
            try:
                out.send(frame)
            except OSError:
                pass  # a full or vanished interface drops the frame, as a link would
            now = time.time()
            # Closed loop: learn how late a frame leaves (wake-up and send cost) and start that much early.
            lead = min(max(lead + LEAD_GAIN * (now - due), 0.0), delay / 2)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("delay_ms", type=float)
    parser.add_argument("--limit", type=int, default=1000)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    tighten_timers()
    sa, sb = open_socket(args.a), open_socket(args.b)
    print("ready", flush=True)  # the link waits for this before it counts as up
    try:
        forward(sa, sb, args.delay_ms, args.limit)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
