#!/usr/bin/python3
"""A restart behind a second process loses no request (docs/drain.md).

Load clients keep sending GET /health to demos/echo on one loopback port while the server is
restarted, several times, the way an operator does it with SO_REUSEPORT: start B on the same
port, then SIGTERM A (which drains and exits). Every request must get a 200: a connection
refused or reset, a request whose connection closed before its answer, a timeout or another
status counts as lost.

Half the clients open a connection per request (Connection: close): they find the listening
sockets, and so test the hand-off of A's backlog. The other half keep their connection
alive and reconnect when an answer says Connection: close; a kept connection found closed
before it is used (readable at EOF) is reopened, as every HTTP client does, and counted
apart. Bounded: --restarts cycles of about 1.5 s each, at most --max-requests requests;
every process started here is ended here.

  drain_restart.py ECHO_BINARY [--restarts=3] [--clients=6] [--no-syn-filter]

--no-syn-filter passes --drain_syn_filter=0 to the servers: listening sockets then close
without turning new connections away first (a measurement, not a pass/fail run).
"""
import argparse
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time

HOST = "127.0.0.1"


class Server:
    def __init__(self, binary, port, extra):
        args = [binary, "--address=" + HOST, "--port=%d" % port, "--reuse_port=1"] + extra
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("listening on port "):
            self.kill()
            raise RuntimeError("server did not start: %r %s" % (line, self.proc.stderr.read()))
        self.port = int(line.split()[-1])
        self.stderr = []
        threading.Thread(target=self._collect, daemon=True).start()

    def _collect(self):
        for line in self.proc.stderr:
            self.stderr.append(line)

    def terminate_and_wait(self, limit):
        began = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(limit)
        except subprocess.TimeoutExpired:
            self.kill()
            return None, limit
        return code, time.monotonic() - began

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.ok = 0
        self.lost = {}
        self.stale_reopened = 0
        self.slow = 0  # answered, after more than 0.9 s (a SYN retried)

    def count_lost(self, why):
        with self.lock:
            self.lost[why] = self.lost.get(why, 0) + 1

    def total_lost(self):
        with self.lock:
            return sum(self.lost.values())


def read_response(sock):
    """(status, close) of one response, or raises ConnectionError / socket.timeout."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed before the answer" if not data else "closed mid-answer")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    close = False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.lower() == "content-length":
            length = int(value)
        elif name.lower() == "connection" and value.strip().lower() == "close":
            close = True
    while len(body) < length:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed mid-answer")
        body += chunk
    return status, close


def connect(port):
    sock = socket.create_connection((HOST, port), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def stale(sock):
    """True if a kept connection was closed by the server while unused (EOF waiting)."""
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable:
        return False
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


def client(port, keep_alive, tally, stop, budget):
    request = b"GET /health HTTP/1.1\r\nHost: localhost\r\n"
    request += b"\r\n" if keep_alive else b"Connection: close\r\n\r\n"
    sock = None
    while not stop.is_set() and budget.acquire(blocking=False):
        began = time.monotonic()
        try:
            if sock is not None and stale(sock):
                sock.close()
                sock = None
                with tally.lock:
                    tally.stale_reopened += 1
            if sock is None:
                sock = connect(port)
            sock.sendall(request)
            status, close = read_response(sock)
            if status != 200:
                tally.count_lost("status %d" % status)
            else:
                with tally.lock:
                    tally.ok += 1
                    if time.monotonic() - began > 0.9:
                        tally.slow += 1
            if close or not keep_alive:
                sock.close()
                sock = None
        except ConnectionRefusedError:
            tally.count_lost("refused")
            sock = None
        except ConnectionResetError:
            tally.count_lost("reset")
            sock = None
        except socket.timeout:
            tally.count_lost("timeout")
            sock = None
        except (ConnectionError, OSError) as e:
            tally.count_lost(str(e) or type(e).__name__)
            sock = None
    if sock is not None:
        sock.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("binary")
    parser.add_argument("--restarts", type=int, default=3)
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--max-requests", type=int, default=200000)
    parser.add_argument("--no-syn-filter", action="store_true")
    args = parser.parse_args()
    extra = ["--drain_timeout=5"]
    if args.no_syn_filter:
        extra.append("--drain_syn_filter=0")

    servers = []
    tally = Tally()
    stop = threading.Event()
    budget = threading.Semaphore(args.max_requests)
    failures = []
    try:
        current = Server(args.binary, 0, extra)
        servers.append(current)
        port = current.port
        threads = [threading.Thread(target=client, args=(port, i % 2 == 1, tally, stop, budget))
                   for i in range(args.clients)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        drains = []
        for _ in range(args.restarts):
            successor = Server(args.binary, port, extra)  # B takes the port beside A
            servers.append(successor)
            time.sleep(0.3)
            code, took = current.terminate_and_wait(15)
            drains.append(took)
            if code != 0:
                failures.append("server exited with %r after SIGTERM" % code)
            current = successor
            time.sleep(0.7)
        stop.set()
        for t in threads:
            t.join(30)
        code, _ = current.terminate_and_wait(15)
        if code != 0:
            failures.append("last server exited with %r" % code)
    finally:
        stop.set()
        for s in servers:
            s.kill()

    lost = tally.total_lost()
    print("requests answered 200: %d, lost: %d %s" % (tally.ok, lost, tally.lost or ""))
    print("answered after a retried SYN (> 0.9 s): %d; kept connections found closed and "
          "reopened before use: %d" % (tally.slow, tally.stale_reopened))
    print("restarts: %d, drain (SIGTERM to exit): %s s" %
          (args.restarts, ", ".join("%.2f" % d for d in drains)))
    if tally.ok == 0:
        failures.append("no request was answered")
    if lost:
        failures.append("%d request(s) lost" % lost)
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
