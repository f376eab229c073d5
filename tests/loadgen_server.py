"""A trivial HTTP/1.1 server for the load generator's tests (standard library only).

It answers 403 to a query holding ``OR`` (the generator's attack path), a
chunked body under ``/chunked``, a body ended by closing the connection under
``/close``, nothing under ``/hang``, a line that is not HTTP under ``/garbage``,
413 before reading the body under ``/early``, and
``ok`` with a Content-Length otherwise.  Request bodies are read by their
Content-Length, so a wrong one breaks the next request on the connection.
Usage: ``python loadgen_server.py ADDRESS PORT``; prints ``ready`` once listening.
"""

import asyncio
import sys


class Http(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport, self.buf = transport, b""

    def data_received(self, data):
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end].decode("latin-1").split("\r\n")
            headers = {k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in head[1:])}
            length = int(headers.get("content-length", 0))
            if head[0].split(" ")[1].startswith("/early"):  # refuse the body before it has arrived
                self.transport.write(b"HTTP/1.1 413 Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
                self.transport.pause_reading()  # the body stays unread, the client's send blocks
                asyncio.get_running_loop().call_later(0.3, self.transport.close)
                return
            if len(self.buf) < end + 4 + length:
                return
            self.buf = self.buf[end + 4 + length:]
            if not self.respond(head[0].split(" ")[1], headers.get("connection", "").lower() == "close"):
                return

    def respond(self, path, close):
        """Answer one request; False once the connection is closed."""
        w = self.transport.write
        if "OR" in path.partition("?")[2]:
            w(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 8\r\n\r\nblocked\n")
        elif path.startswith("/chunked"):
            w(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nok \r\n5;x=y\r\nchunk\r\n0\r\nX-T: 1\r\n\r\n")
        elif path.startswith("/close"):
            w(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nbody until close")
            self.transport.close()
            return False
        elif path.startswith("/hang"):
            pass
        elif path.startswith("/garbage"):
            w(b"HELLO this is not HTTP\r\n\r\n")
        else:
            w(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n" + (b"Connection: close\r\n" if close else b"") + b"\r\nok")
        if close:
            self.transport.close()
            return False
        return True


async def main(host, port):
    server = await asyncio.get_running_loop().create_server(Http, host, port, backlog=1024, reuse_address=True)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
