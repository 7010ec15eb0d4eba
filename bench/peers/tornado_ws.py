"""Python Tornado's WebSocket peer for bench/ws.sh (run with /usr/bin/python3): /echo echoes,
/sub subscribes the connection to one topic, every message on /pub is written to every
subscriber (Tornado has no hub: a set of handlers, as in its chat demo)."""
import sys

from tornado.ioloop import IOLoop
from tornado.web import Application
from tornado.websocket import WebSocketClosedError, WebSocketHandler

subscribers = set()


class Echo(WebSocketHandler):
    def on_message(self, message):
        self.write_message(message, binary=isinstance(message, bytes))


class Sub(WebSocketHandler):
    def open(self):
        subscribers.add(self)

    def on_close(self):
        subscribers.discard(self)


class Pub(WebSocketHandler):
    def on_message(self, message):
        binary = isinstance(message, bytes)
        for s in list(subscribers):
            try:
                s.write_message(message, binary=binary)
            except WebSocketClosedError:
                subscribers.discard(s)


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8890
    app = Application([("/echo", Echo), ("/sub", Sub), ("/pub", Pub)])
    app.listen(port, "127.0.0.1", backlog=4096)
    IOLoop.current().start()
