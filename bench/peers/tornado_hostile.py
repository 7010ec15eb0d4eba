"""Python Tornado's side of bench/hostile.py: the same answers and /stats as
bench/hostile_server.cpp (run with /usr/bin/python3 and python3-tornado)."""
import resource
import sys
import time

from tornado.httpserver import HTTPServer
from tornado.ioloop import IOLoop, PeriodicCallback
from tornado.web import Application, RequestHandler

max_lag = 0.0
last_tick = time.monotonic()


def tick():
    global max_lag, last_tick
    now = time.monotonic()
    max_lag = max(max_lag, now - last_tick - 0.01)
    last_tick = now


def status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


class Handler(RequestHandler):
    def get(self):
        global max_lag
        if self.request.path == "/stats":
            self.write("rss_kb=%d hwm_kb=%d max_lag_ms=%d" % (
                status_kb("VmRSS"), status_kb("VmHWM"), int(max_lag * 1000)))
            max_lag = 0.0
        else:
            self.write("Hello, world")

    def post(self):
        self.write("body=%d args=%d files=%d" % (
            len(self.request.body), len(self.request.body_arguments), len(self.request.files)))


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8892
    HTTPServer(Application([(r"/.*", Handler)]), decompress_request=True).listen(port, "127.0.0.1")
    PeriodicCallback(tick, 10).start()
    print("listening on %d" % port, flush=True)
    IOLoop.current().start()
