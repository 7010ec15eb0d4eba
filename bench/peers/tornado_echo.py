"""Python Tornado's line echo server: the peer for bench/tcpecho.sh (run with /usr/bin/python3)."""
import sys

from tornado.ioloop import IOLoop
from tornado.iostream import StreamClosedError
from tornado.tcpserver import TCPServer


class EchoServer(TCPServer):
    async def handle_stream(self, stream, address):
        try:
            while True:
                line = await stream.read_until(b"\n")
                await stream.write(line)
        except StreamClosedError:
            pass


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8889
    server = EchoServer()
    server.listen(port, "127.0.0.1", backlog=4096)
    IOLoop.current().start()
