#!/usr/bin/python3
"""bench/soak.py — demos/chat under mixed load with connection churn, for a long time (issue
10): flat RSS, no lost message, no descriptor leak.

    bench/soak.py [--seconds=3600] [--users=90] [--rooms=6] [--rate=30] [--churn=8]
                  [--sample=5] [--binary=build-release/demos/chat/chat] [--threads=1]

Users on all three transports (WebSocket, Server-Sent Events, long polling, a third each)
sit in --rooms rooms; every user leaves and comes back, again and again (after a random
stay of --churn seconds on average, and a pause of up to one second), resuming from the
last message it had (the WebSocket's `since=`, SSE's Last-Event-ID, the poll's cursor),
while messages are posted at --rate a second over keep-alive connections. At the end each
user must have had every message of its room from its first arrival on, exactly once
(recovery covers every gap), and no "reload". The server's RSS and open descriptors are
sampled every --sample seconds: RSS in the last quarter of the run must not exceed the
second quarter's by more than 10 % + 4 MiB (the first quarter warms up), and once every
user has gone the descriptors must be back where they were before the users came.

Loopback only; bounded by --seconds (plus a drain of at most 30 s); the server is started and
stopped here (bench/../demos/chat/chat_clients.py's ChatServer). Prints one JSON line of
figures; exit status 1 on any violation. The test suite runs it for 2 minutes (soak_chat).
"""

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "demos", "chat"))

import chat_clients  # noqa: E402
from chat_clients import ChatServer, fd_count, rss_kb, sign_in_many  # noqa: E402

try:
    import websockets
except ImportError:
    websockets = None


def offset_of(position):
    """The offset of an "<epoch hex>-<offset>" position."""
    return int(position.rsplit("-", 1)[1])


class Room:
    def __init__(self, name):
        self.name = name
        self.posted = {}  # offset -> body


class Figures:
    def __init__(self):
        self.reloads = 0
        self.reconnects = 0
        self.errors = []
        self.posted = 0


SOCKET_KINDS = {}  # local port -> what the socket was opened for (for leftover_sockets)


async def connected_socket(port, kind):
    """A socket connected to the server, made here rather than inside asyncio's or
    websockets' connect: a visit cancelled while one of those was still handshaking left the
    socket open in this process (found by the hour's descriptor check: the server's side of
    each leftover was ESTABLISHED, and so was ours). The caller closes it in a finally."""
    import socket
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    except BaseException:
        sock.close()
        raise
    SOCKET_KINDS[sock.getsockname()[1]] = kind
    return sock


async def http_request(port, method, path, cookie, body=b"", headers=None, reader_writer=None):
    """One request on a fresh (closed after, also when cancelled) or the given keep-alive
    connection; returns (status, body)."""
    if reader_writer is not None:
        return await exchange(*reader_writer, port, method, path, cookie, body, headers)
    sock = await connected_socket(port, "http %s %s" % (method, path.split("?")[0]))
    try:
        reader, writer = await asyncio.open_connection(sock=sock)
        try:
            return await exchange(reader, writer, port, method, path, cookie, body, headers)
        finally:
            writer.close()
    finally:
        sock.close()


async def exchange(reader, writer, port, method, path, cookie, body, headers):
    head = "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nCookie: %s\r\n" % (method, path, port, cookie)
    for k, v in (headers or {}).items():
        head += "%s: %s\r\n" % (k, v)
    if body:
        head += "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n" % len(body)
    writer.write(head.encode() + b"\r\n" + body)
    await writer.drain()
    status_line = await reader.readline()
    if not status_line:
        raise EOFError("connection closed")
    status = int(status_line.split()[1])
    length, chunked = None, False
    while True:
        line = (await reader.readline()).decode().strip()
        if not line:
            break
        name, _, value = line.partition(":")
        if name.lower() == "content-length":
            length = int(value)
        elif name.lower() == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    data = b""
    if chunked:
        while True:
            size = int((await reader.readline()).strip(), 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            data += chunk[:-2]
    elif length:
        data = await reader.readexactly(length)
    return status, data


class SoakUser:
    def __init__(self, index, port, cookie, token, room, transport, figures, churn, stop):
        self.index = index
        self.port = port
        self.cookie = cookie
        self.token = token
        self.room = room
        self.transport = transport
        self.figures = figures
        self.churn = churn
        self.stop = stop  # an asyncio.Event: the run is over, stop coming back
        self.first = None  # the offset this user started after
        self.last = None  # the last position it had
        self.got = {}  # offset -> body
        self.duplicates = 0

    def receive(self, position, body):
        off = offset_of(position)
        if off in self.got:
            self.duplicates += 1
        self.got[off] = body
        self.last = position

    async def run(self, start_position):
        self.first = offset_of(start_position)
        self.last = start_position
        while not self.stop.is_set():
            stay = min(random.expovariate(1.0 / self.churn), 4 * self.churn)
            # asyncio.timeout, not wait_for: Python 3.11's wait_for runs the visit in a task of
            # its own and, when the timeout and a cancellation meet, can leave that task behind
            # still holding its socket (the hour's descriptor check found a few per thousand
            # visits: the visits' coroutines were still pending after the run).
            try:
                async with asyncio.timeout(stay):
                    await self.visit()
            except TimeoutError:
                pass
            except Exception as e:  # noqa: BLE001 - reported, the run goes on
                self.figures.errors.append("%s user %d: %r" % (self.transport, self.index, e))
                await asyncio.sleep(0.5)
            self.figures.reconnects += 1
            await asyncio.sleep(random.uniform(0, 1))

    async def catch_up(self, last_offset, deadline):
        """After the run: one more visit until this user has its room's last message."""
        while (self.last is None or offset_of(self.last) < last_offset) and time.monotonic() < deadline:
            try:
                async with asyncio.timeout(max(0.1, deadline - time.monotonic())):
                    await self.visit(until=last_offset)
            except TimeoutError:
                return
            except Exception as e:  # noqa: BLE001
                self.figures.errors.append("catch-up %s user %d: %r" % (self.transport, self.index, e))
                await asyncio.sleep(0.2)

    def done(self, until):
        return until is not None and offset_of(self.last) >= until

    async def visit(self, until=None):
        if self.transport == "ws":
            await self.visit_ws(until)
        elif self.transport == "sse":
            await self.visit_sse(until)
        else:
            await self.visit_poll(until)

    async def visit_ws(self, until):
        url = "ws://127.0.0.1:%d/a/message/socket?room=%s&since=%s" % (self.port, self.room.name, self.last)
        sock = await connected_socket(self.port, "websocket")
        try:
            ws = await websockets.connect(url, sock=sock, extra_headers={"Cookie": self.cookie},
                                          origin="http://127.0.0.1:%d" % self.port)
            try:
                while not self.done(until):
                    data = await ws.recv()
                    if data.startswith("{"):
                        if json.loads(data).get("event") == "reload":
                            self.figures.reloads += 1
                        continue
                    position, _, text = data.partition("\n")
                    self.receive(position, json.loads(text)["body"])
                await ws.close()
            finally:
                # Cut short (the stay ended, or the run): the socket closes now, without the
                # closing handshake, as a closed tab's does.
                ws.transport.close()
        finally:
            sock.close()

    async def visit_sse(self, until):
        sock = await connected_socket(self.port, "sse")
        try:
            reader, writer = await asyncio.open_connection(sock=sock)
            await self.read_events(reader, writer, until)
        finally:
            sock.close()

    async def read_events(self, reader, writer, until):
        try:
            head = ("GET /a/message/events?room=%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nCookie: %s\r\n"
                    "Accept: text/event-stream\r\nLast-Event-ID: %s\r\n\r\n") % (
                        self.room.name, self.port, self.cookie, self.last)
            writer.write(head.encode())
            await writer.drain()
            while (await reader.readline()).strip():
                pass  # the head
            event, ident, data = "message", None, []
            while not self.done(until):
                line = await reader.readline()
                if not line:
                    raise EOFError("stream ended")
                line = line.decode().rstrip("\r\n")
                if not data and all(c in "0123456789abcdefABCDEF" for c in line) and line:
                    continue  # a chunk size
                if line == "":
                    if data:
                        if event == "message":
                            self.receive(ident, json.loads("\n".join(data))["body"])
                        elif event == "reload":
                            self.figures.reloads += 1
                    event, ident, data = "message", None, []
                    continue
                field, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if field == "data":
                    data.append(value)
                elif field == "event":
                    event = value
                elif field == "id":
                    ident = value
        finally:
            writer.close()

    async def visit_poll(self, until):
        while not self.done(until):
            body = urllib.parse.urlencode({"_xsrf": self.token, "room": self.room.name,
                                           "cursor": self.last}).encode()
            status, data = await http_request(self.port, "POST", "/a/message/updates", self.cookie, body)
            if status != 200:
                raise RuntimeError("poll answered %d" % status)
            answer = json.loads(data)
            if answer.get("reload"):
                self.figures.reloads += 1
            for m in answer["messages"]:
                self.receive(m["position"], m["body"])
            if answer.get("cursor"):
                self.last = answer["cursor"]

    def check(self):
        """What this user lacks and what it got twice, against its room."""
        expected = {o: b for o, b in self.room.posted.items() if o > self.first}
        missing = [o for o in expected if self.got.get(o) != expected[o]]
        return missing, self.duplicates


def leftover_sockets(pid):
    """Prints the server's TCP connections left after the users went, with what the client
    end holds: ESTABLISHED at both ends is a socket the client kept open; CLOSE-WAIT at the
    server is one the server did not close after the client did."""
    import subprocess
    listing = subprocess.run(["ss", "-tanpH"], capture_output=True, text=True).stdout
    mine = [l for l in listing.splitlines() if "pid=%d," % pid in l]
    ours = [l for l in listing.splitlines() if "pid=%d," % os.getpid() in l]
    print("soak: the server's sockets after the users left:", file=sys.stderr)
    for line in mine:
        print("  server " + " ".join(line.split()[:5]), file=sys.stderr)
    for line in ours:
        local_port = int(line.split()[3].rsplit(":", 1)[1])
        print("  client " + " ".join(line.split()[:5]) + " " + SOCKET_KINDS.get(local_port, "?"),
              file=sys.stderr)
    if os.environ.get("SOAK_DEBUG"):
        import gc
        import socket
        live = [o for o in gc.get_objects() if isinstance(o, socket.socket) and o.fileno() >= 0]
        print("soak: live socket objects: %d" % len(live), file=sys.stderr)
        for o in live[:10]:
            print("   ", o, [type(r).__name__ for r in gc.get_referrers(o)][:6], file=sys.stderr)
        for t in asyncio.all_tasks():
            print("  task", t.get_coro(), file=sys.stderr)
            if "visit" in repr(t.get_coro()):
                t.print_stack(limit=12, file=sys.stderr)


async def poster(port, cookie, token, rooms, rate, stop, figures):
    reader_writer = await asyncio.open_connection("127.0.0.1", port)
    seq = 0
    start = time.monotonic()
    while not stop.is_set():
        room = random.choice(rooms)
        seq += 1
        body = "soak %d" % seq
        form = urllib.parse.urlencode({"_xsrf": token, "room": room.name, "body": body}).encode()
        status, data = await asyncio.wait_for(
            http_request(port, "POST", "/a/message/new", cookie, form, reader_writer=reader_writer), 10)
        if status != 200:
            figures.errors.append("post answered %d" % status)
        else:
            room.posted[offset_of(json.loads(data)["position"])] = body
            figures.posted += 1
        delay = start + seq / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
    reader_writer[1].close()


async def sampler(pid, every, stop, samples):
    while not stop.is_set():
        samples.append((time.monotonic(), rss_kb(pid), fd_count(pid)))
        try:
            await asyncio.wait_for(stop.wait(), timeout=every)
        except asyncio.TimeoutError:
            pass


async def soak(args):
    server = ChatServer("--poll_timeout=5", "--threads=%d" % args.threads, "--history=%d" % args.history,
                        "--max_posts=0")
    figures = Figures()
    try:
        pid = server.proc.pid
        await asyncio.sleep(0.5)
        fds_before = fd_count(pid)
        names = ["soak%d" % i for i in range(args.users + 1)]
        token, cookies = sign_in_many(server, names)
        rooms = [Room("soak%d" % r) for r in range(args.rooms)]
        transports = ["ws", "sse", "poll"]
        stop = asyncio.Event()
        users = []
        for i in range(args.users):
            users.append(SoakUser(i, server.port, cookies[names[i]], token, rooms[i % len(rooms)],
                                  transports[i % 3], figures, args.churn, stop))
        # Each user starts after the position its room's page shows now (a first message
        # gives every room a position).
        starts = {}
        for room in rooms:
            form = urllib.parse.urlencode({"_xsrf": token, "room": room.name, "body": "first"}).encode()
            status, _ = await http_request(server.port, "POST", "/a/message/new", cookies[names[-1]], form)
            assert status == 200, status
            status, data = await http_request(server.port, "GET", "/room/" + room.name,
                                              cookies[names[-1]])
            starts[room.name] = data.decode().split('data-position="', 1)[1].split('"', 1)[0]
        samples = []
        tasks = [asyncio.create_task(u.run(starts[u.room.name])) for u in users]
        tasks.append(asyncio.create_task(sampler(pid, args.sample, stop, samples)))
        tasks.append(asyncio.create_task(poster(server.port, cookies[names[-1]], token, rooms,
                                                args.rate, stop, figures)))
        await asyncio.sleep(args.seconds)
        stop.set()
        # The users leave at once (the catch-up below resumes each from its last message).
        for t in tasks[:len(users)]:
            t.cancel()
        for outcome in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(outcome, asyncio.CancelledError):
                continue
            if isinstance(outcome, BaseException):
                figures.errors.append("task: %r" % outcome)
        # Every user fetches what it still lacks (its room's last message), then leaves.
        deadline = time.monotonic() + 30
        await asyncio.gather(*(u.catch_up(max(u.room.posted, default=0), deadline) for u in users))
        await asyncio.sleep(2)  # the server notices every close
        fds_after = fd_count(pid)
        if fds_after > fds_before + 2:
            leftover_sockets(pid)
        problems = server.problems()
    finally:
        server.stop()

    lost = dups = 0
    for u in users:
        missing, d = u.check()
        lost += len(missing)
        dups += d
    steady = [s for s in samples if s[0] - samples[0][0] >= args.seconds / 4]
    half = len(steady) // 3
    second_quarter = [s[1] for s in steady[:max(1, half)]]
    last_quarter = [s[1] for s in steady[-max(1, half):]]
    rss_growth_kb = statistics.median(last_quarter) - statistics.median(second_quarter)
    result = {
        "seconds": args.seconds, "users": args.users, "rooms": args.rooms, "posted": figures.posted,
        "reconnects": figures.reconnects, "lost": lost, "duplicates": dups,
        "reloads": figures.reloads, "errors": len(figures.errors),
        "rss_kb_start": samples[0][1] if samples else 0,
        "rss_kb_second_quarter": statistics.median(second_quarter),
        "rss_kb_last_quarter": statistics.median(last_quarter),
        "rss_growth_kb": rss_growth_kb,
        "fds_before": fds_before, "fds_peak": max(s[2] for s in samples), "fds_after": fds_after,
    }
    print(json.dumps(result))
    failures = []
    if lost or dups or figures.reloads:
        failures.append("lost %d, duplicated %d, reloads %d" % (lost, dups, figures.reloads))
    # An ASan build keeps freed memory in quarantine: its RSS says nothing about leaks.
    if not chat_clients._sanitized() and rss_growth_kb > 0.10 * statistics.median(second_quarter) + 4096:
        failures.append("RSS grew %d KiB from the second quarter to the last" % rss_growth_kb)
    if fds_after > fds_before + 2:
        failures.append("descriptors: %d before the users, %d after they left" % (fds_before, fds_after))
    if problems:
        failures.append("server log: " + problems[0][:800])
    if figures.errors and len(figures.errors) > args.users:  # a few resets under churn are normal
        failures.append("client errors: %s" % figures.errors[:5])
    for f in failures:
        print("soak: FAIL: " + f, file=sys.stderr)
    if figures.errors:
        print("soak: %d client errors, first: %s" % (len(figures.errors), figures.errors[:3]),
              file=sys.stderr)
    return 1 if failures else 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=3600)
    p.add_argument("--users", type=int, default=90)
    p.add_argument("--rooms", type=int, default=6)
    p.add_argument("--rate", type=float, default=30)
    p.add_argument("--churn", type=float, default=8)
    p.add_argument("--sample", type=float, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--history", type=int, default=1000,
                   help="the chat's messages kept per room (recovery needs the gaps to fit)")
    p.add_argument("--binary", default=os.environ.get("CHAT_BINARY") or
                   os.path.join(HERE, "..", "build-release", "demos", "chat", "chat"))
    args = p.parse_args()
    if websockets is None:
        print("soak: python3-websockets is not installed", file=sys.stderr)
        return 1
    chat_clients.BINARY = args.binary
    return asyncio.run(soak(args))


if __name__ == "__main__":
    sys.exit(main())
