"""Python Tornado's plaintext and JSON handlers: the peer for bench/web.sh (run with /usr/bin/python3)."""
import sys

from tornado.ioloop import IOLoop
from tornado.web import Application, RequestHandler


class PlaintextHandler(RequestHandler):
    def get(self):
        self.set_header("Content-Type", "text/plain")
        self.write("Hello, World!")


class JsonHandler(RequestHandler):
    def get(self):
        self.write({"message": "Hello, World!"})


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8890
    Application([(r"/plaintext", PlaintextHandler), (r"/json", JsonHandler)]).listen(
        port, "127.0.0.1", backlog=4096
    )
    IOLoop.current().start()
