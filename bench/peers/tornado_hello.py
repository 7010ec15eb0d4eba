"""Python Tornado's hello world: the peer for bench/plaintext.sh (run with /usr/bin/python3)."""
import sys

from tornado.ioloop import IOLoop
from tornado.web import Application, RequestHandler


class MainHandler(RequestHandler):
    def get(self):
        self.write("Hello, world")


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8890
    Application([(r"/", MainHandler)]).listen(port, "127.0.0.1", backlog=4096)
    IOLoop.current().start()
