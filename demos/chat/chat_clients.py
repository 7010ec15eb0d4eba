#!/usr/bin/python3
"""The clients demos/chat's tests use against the real binary: the server process
(ChatServer: its log, sanitizer reports), a browser (User: urllib with a cookie jar, the
page, sign-in, /a/message/new, /a/message/updates, python3-websockets, an SSE reader), and
hostile ones on bare sockets (RawWebSocket reads only when told to, raw form posts and long
polls, many sign-ins at once), with /proc readings of the server (RSS, descriptors)."""

import asyncio
import base64
import http.client
import http.cookiejar
import json
import os
import re
import resource
import socket
import struct
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

try:
    import websockets
except ImportError:
    websockets = None

BINARY = os.environ.get("CHAT_BINARY", "")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args):
        return None


# What a sanitizer build writes to stderr when it finds a defect (the server's log).
SANITIZER_REPORTS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


class ChatServer:
    def __init__(self, *args, nofile=None):
        self.log = tempfile.NamedTemporaryFile(prefix="chat_", suffix=".log")

        def limit_descriptors():
            if nofile:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        # A short drain: stop() (SIGTERM) must not wait for what a test left open.
        self.proc = subprocess.Popen([BINARY, "--port=0", "--cookie_secret=test-secret",
                                      "--drain_timeout=3", *args],
                                     stdout=subprocess.PIPE, stderr=self.log,
                                     preexec_fn=limit_descriptors)
        line = self.proc.stdout.readline().decode()
        if not line.startswith("listening on port "):
            self.proc.kill()
            raise RuntimeError("chat did not start: %r" % line)
        self.port = int(line.split()[-1])

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def log_text(self):
        with open(self.log.name, errors="replace") as f:
            return f.read()

    def log_size(self):
        return len(self.log_text())

    def problems(self, since=0):
        """Excerpts of the log (from offset `since`, a log_size()) around each uncaught
        exception or sanitizer report."""
        log = self.log_text()[since:]
        found = []
        for marker in ("Uncaught exception", "Traceback") + SANITIZER_REPORTS:
            at = log.find(marker)
            if at >= 0:
                found.append(log[max(0, at - 300):at + 1500])
        return found

    def stop(self):
        """Stops the server; AssertionError if a sanitizer reported anything meanwhile."""
        if any(report in self.log_text() for report in SANITIZER_REPORTS):
            try:  # a report being written: let the sanitizer finish it (and end the process)
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                pass
        self.proc.terminate()
        self.proc.wait(10)
        self.proc.stdout.close()
        log = self.log_text()
        self.log.close()
        for report in SANITIZER_REPORTS:
            if report in log:
                at = log.index(report)
                raise AssertionError("the server's log has a sanitizer report:\n" + log[max(0, at - 200):at + 3000])


class User:
    """A browser: a cookie jar, signed in as `name` (unless name is None)."""

    def __init__(self, server, name):
        self.server = server
        self.name = name
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.raw = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar),
                                               NoRedirect())
        self.xsrf = ""
        if name is not None:
            form = self.get("/auth/login")[2]
            self.xsrf = re.search(r'name="_xsrf" value="([^"]+)"', form).group(1)
            status, _, _ = self.post("/auth/login", {"name": name, "next": "/"}, follow=False)
            assert status == 302, status

    def request(self, path, data=None, follow=True, headers=None):
        body = None if data is None else urllib.parse.urlencode(data).encode()
        req = urllib.request.Request(self.server.url(path), data=body, headers=headers or {})
        try:
            with (self.opener if follow else self.raw).open(req, timeout=30) as r:
                return r.status, r.headers, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read().decode()

    def get(self, path, follow=True):
        return self.request(path, None, follow)

    def post(self, path, data, follow=True):
        data = dict(data)
        data.setdefault("_xsrf", self.xsrf)
        return self.request(path, data, follow)

    def cookie_header(self):
        return "; ".join("%s=%s" % (c.name, c.value) for c in self.jar)

    def say(self, body, room="lobby"):
        status, _, text = self.post("/a/message/new", {"body": body, "room": room})
        assert status == 200, (status, text)
        return json.loads(text)

    def poll(self, cursor="", room="lobby"):
        status, _, text = self.post("/a/message/updates", {"cursor": cursor, "room": room})
        assert status == 200, (status, text)
        return json.loads(text)

    def page_position(self, path="/"):
        page = self.get(path)[2]
        return re.search(r'data-position="([^"]*)"', page).group(1), page

    def ws(self, room="lobby", since=""):
        query = "room=" + room + ("&since=" + since if since else "")
        return websockets.connect("ws://127.0.0.1:%d/a/message/socket?%s" % (self.server.port, query),
                                  extra_headers={"Cookie": self.cookie_header()},
                                  origin="http://127.0.0.1:%d" % self.server.port)

    def sse(self, room="lobby", since="", last_event_id=None):
        return EventStream(self, room, since, last_event_id)


class EventStream:
    """A Server-Sent Events reader on its own connection."""

    def __init__(self, user, room, since, last_event_id):
        self.conn = http.client.HTTPConnection("127.0.0.1", user.server.port, timeout=10)
        headers = {"Cookie": user.cookie_header(), "Accept": "text/event-stream"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        path = "/a/message/events?room=%s%s" % (room, "&since=" + since if since else "")
        self.conn.request("GET", path, headers=headers)
        self.response = self.conn.getresponse()
        self.status = self.response.status

    def next_event(self):
        """{"event", "id", "data"} of the next event."""
        event = {"event": "message", "id": None, "data": []}
        while True:
            line = self.response.fp.readline()
            if not line:
                raise EOFError("stream ended")
            line = line.decode().rstrip("\r\n")
            if re.fullmatch(r"[0-9a-fA-F]+", line) and not event["data"]:
                continue  # a chunk-size line (http.client leaves chunking to us on fp)
            if line == "":
                if event["data"]:
                    event["data"] = "\n".join(event["data"])
                    return event
                continue
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "data":
                event["data"].append(value)
            elif field in ("event", "id"):
                event[field] = value

    def next_message(self):
        while True:
            e = self.next_event()
            if e["event"] == "message":
                m = json.loads(e["data"])
                m["position"] = e["id"]
                return m

    def next_of(self, kind):
        while True:
            e = self.next_event()
            if e["event"] == kind:
                return e

    def close(self):
        self.conn.close()


async def ws_next_message(ws):
    """The next chat message from a socket: "<position>\\n<json>" (events are skipped)."""
    while True:
        data = await asyncio.wait_for(ws.recv(), 10)
        if data.startswith("{"):
            continue
        position, _, text = data.partition("\n")
        m = json.loads(text)
        m["position"] = position
        return m


async def ws_next_event(ws, kind, client_id=None):
    """The next event of `kind` (and about `client_id` when given) from a socket."""
    while True:
        data = await asyncio.wait_for(ws.recv(), 10)
        if data.startswith("{"):
            e = json.loads(data)
            if e.get("event") == kind and client_id in (None, e.get("client_id")):
                return e

# ---- hostile clients: raw sockets that do what a browser never would ---------------------

def _sanitized():
    try:
        with open(BINARY, "rb") as f:
            return b"AddressSanitizer" in f.read()
    except OSError:
        return False


# An ASan build keeps freed memory in quarantine (up to 256 MB): RSS says nothing there, so
# the memory bounds are checked on plain builds only.
SANITIZED = _sanitized()


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1))


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def settled_fd_count(pid, quiet=0.3, timeout=5):
    """The process's descriptor count once it has stayed the same for `quiet` seconds (or at
    `timeout`): a connection the server is still closing, such as a sign-in's, is not
    counted in a base that later checks add to."""
    deadline = time.monotonic() + timeout
    count, since = fd_count(pid), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = fd_count(pid)
        if now != count:
            count, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
    return count


def wait_until(predicate, timeout=10, interval=0.05):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True


def form_request(user, path, fields, extra=b""):
    """The bytes of a form POST from `user` (its cookies, its XSRF token)."""
    body = urllib.parse.urlencode(fields).encode() + extra
    head = ("POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nCookie: %s\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n"
            % (path, user.server.port, user.cookie_header(), len(body)))
    return head.encode() + body


def read_response(sock):
    """(status, body) of one HTTP/1.1 response with a Content-Length."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("no response")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(head.split()[1]), body[:length]


def raw_post(user, path, fields, extra=b""):
    with socket.create_connection(("127.0.0.1", user.server.port), timeout=30) as s:
        s.sendall(form_request(user, path, fields, extra))
        return read_response(s)


def ws_frame(payload, opcode=0x1):
    """A masked client frame."""
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        header = bytes([0x80 | opcode, 0x80 | n])
    elif n < 65536:
        header = bytes([0x80 | opcode, 0x80 | 126]) + struct.pack("!H", n)
    else:
        header = bytes([0x80 | opcode, 0x80 | 127]) + struct.pack("!Q", n)
    key = (mask * (n // 4 + 1))[:n]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")
    return header + mask + masked


class RawWebSocket:
    """A WebSocket client on a bare socket: it reads only when told to."""

    def __init__(self, user, query="room=lobby", origin=None, rcvbuf=None):
        self.sock = socket.socket()
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(10)
        self.sock.connect(("127.0.0.1", user.server.port))
        origin = origin or "http://127.0.0.1:%d" % user.server.port
        request = ("GET /a/message/socket?%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                   "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                   "Sec-WebSocket-Key: %s\r\nOrigin: %s\r\nCookie: %s\r\n\r\n"
                   % (query, user.server.port, base64.b64encode(os.urandom(16)).decode(), origin,
                      user.cookie_header()))
        self.sock.sendall(request.encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            data += chunk
        head, _, self.buffer = data.partition(b"\r\n\r\n")
        self.status = int(head.split()[1]) if head else 0

    def send_text(self, text):
        self.sock.sendall(ws_frame(text.encode() if isinstance(text, str) else text))

    def _need(self, n):
        while len(self.buffer) < n:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise EOFError("connection ended")
            self.buffer += chunk

    def next_frame(self):
        """(opcode, payload) of the next frame from the server (unmasked, unfragmented)."""
        self._need(2)
        opcode, n = self.buffer[0] & 0x0F, self.buffer[1] & 0x7F
        at = 2
        if n == 126:
            self._need(4)
            n, at = struct.unpack("!H", self.buffer[2:4])[0], 4
        elif n == 127:
            self._need(10)
            n, at = struct.unpack("!Q", self.buffer[2:10])[0], 10
        self._need(at + n)
        payload, self.buffer = self.buffer[at:at + n], self.buffer[at + n:]
        return opcode, payload

    def close_code(self):
        """Reads past every message to the server's close frame: its code (None: no close)."""
        try:
            while True:
                opcode, payload = self.next_frame()
                if opcode == 0x8:
                    return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
        except (EOFError, ConnectionError, socket.timeout):
            return None

    def next_text(self):
        while True:
            opcode, payload = self.next_frame()
            if opcode == 0x8:
                raise EOFError("closed %r" % payload)
            if opcode == 0x1:
                return payload.decode()

    def close(self):
        self.sock.close()


class Drain(threading.Thread):
    """Reads a RawWebSocket as fast as it can, counting the chat messages it gets."""

    def __init__(self, ws):
        super().__init__(daemon=True)
        self.ws, self.messages, self.closed_with = ws, 0, None
        self.start()

    def run(self):
        try:
            while True:
                opcode, payload = self.ws.next_frame()
                if opcode == 0x8:
                    self.closed_with = struct.unpack("!H", payload[:2])[0]
                    return
                if opcode == 0x1 and not payload.startswith(b"{"):
                    self.messages += 1
        except (EOFError, OSError):
            return


def sign_in_many(server, names):
    """Signed cookies for many names through one keep-alive connection (one XSRF token)."""
    first = User(server, None)
    first.get("/auth/login")
    token = next(c.value for c in first.jar if c.name == "_xsrf")
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    cookies = {}
    for name in names:
        body = urllib.parse.urlencode({"name": name, "next": "/", "_xsrf": token})
        conn.request("POST", "/auth/login", body=body,
                     headers={"Cookie": "_xsrf=" + token,
                              "Content-Type": "application/x-www-form-urlencoded"})
        r = conn.getresponse()
        r.read()
        assert r.status == 302, (name, r.status)
        cookie = re.search(r"chatuser=([^;]+)", r.getheader("Set-Cookie")).group(1)
        cookies[name] = "_xsrf=%s; chatuser=%s" % (token, cookie)
    conn.close()
    return token, cookies


def poll_request(port, cookie, token, room, cursor=""):
    body = urllib.parse.urlencode({"_xsrf": token, "room": room, "cursor": cursor}).encode()
    return (("POST /a/message/updates HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nCookie: %s\r\n"
             "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n")
            % (port, cookie, len(body))).encode() + body


def open_polls(port, requests):
    """Sockets each holding one long poll, sent as fast as the server accepts them."""
    socks = []
    for request in requests:
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        s.sendall(request)
        socks.append(s)
    return socks
