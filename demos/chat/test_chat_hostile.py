#!/usr/bin/python3
"""demos/chat's hostile pass: what a malicious peer or a careless user would try, against
the real binary, with real clients (chat_clients.py). Slow consumers on WebSocket and SSE
(the hub's policy closes them, the server's RSS stays bounded), thousands of long polls
from one user and from many names (max_poll_leases, descriptors, memory), browsers
vanishing mid-wait, bodies at the limit and past it on each transport, invalid UTF-8,
huge and garbage values, forged cookies, missing XSRF, foreign origins, presence churn,
unanswered pings, room names at 64 and 65, HTML in names and bodies, open redirects,
history wrapping, and running out of descriptors. Run with test_chat.py (demo_chat)."""

import asyncio
import http.cookiejar
import json
import os
import re
import socket
import struct
import time
import unittest
import urllib.parse
import urllib.request

from chat_clients import (SANITIZED, ChatServer, Drain, NoRedirect, RawWebSocket, User, fd_count,
                          form_request,
                          open_polls, poll_request, raw_post, read_response, rss_kb,
                          settled_fd_count, sign_in_many,
                          wait_until, websockets, ws_frame, ws_next_event, ws_next_message)


@unittest.skipIf(websockets is None, "python3-websockets is not installed")
class ChatHostileTest(unittest.TestCase):
    """What a malicious peer or a careless user would try, against the real binary."""

    @classmethod
    def setUpClass(cls):
        # --max_posts=0: the floods below post thousands of messages as one user.
        cls.server = ChatServer("--poll_timeout=20", "--history=20", "--max_body=4000",
                                "--max_posts=0")

    @classmethod
    def tearDownClass(cls):
        problems = cls.server.problems()
        cls.server.stop()
        assert problems == [], "the server's log:\n" + "\n...\n".join(problems)

    def flood(self, room, count, size, check=None):
        """`count` messages of `size` bytes into `room`, from a WebSocket user that keeps up
        (batches of 50, each waited for). Calls check() after each batch."""
        poster = RawWebSocket(User(self.server, "flooder"), "room=" + room)
        self.assertEqual(poster.status, 101)
        drain = Drain(poster)
        frame = ws_frame(json.dumps({"body": "f" * size}).encode())
        sent = 0
        while sent < count:
            batch = min(50, count - sent)
            poster.sock.sendall(frame * batch)
            sent += batch
            self.assertTrue(wait_until(lambda: drain.messages >= sent or drain.closed_with, 30),
                            (drain.messages, sent))
            self.assertIsNone(drain.closed_with)
            if check:
                check()
        poster.close()

    def test_a_websocket_that_never_reads_is_closed_1008_and_memory_stays_bounded(self):
        user = User(self.server, "sleeper")
        slow = RawWebSocket(user, "room=flood", rcvbuf=4096)   # reads only after the cut
        dead = RawWebSocket(user, "room=flood", rcvbuf=4096)   # never reads at all
        self.assertEqual((slow.status, dead.status), (101, 101))
        pid = self.server.proc.pid
        self.flood("flood", 20, 100)  # the server's steady state first
        base = rss_kb(pid)
        peak = [base]
        self.flood("flood", 5000, 4000, check=lambda: peak.append(rss_kb(pid)))  # ~40 MB out
        log = self.server.log_text()
        self.assertGreaterEqual(log.count("disconnecting a slow subscriber of chat:flood"), 2, log[-2000:])
        # Whatever it had queued, then the close frame: 1008, the hub's slow-consumer policy.
        self.assertEqual(slow.close_code(), 1008)
        growth_mb = (max(peak) - base) / 1024
        if not SANITIZED:
            self.assertLess(growth_mb, 16, "RSS grew %.1f MB for two stalled sockets" % growth_mb)
        dead.close()
        slow.close()

    def test_an_event_stream_that_never_reads_is_ended_and_memory_stays_bounded(self):
        user = User(self.server, "sseleeper")
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(10)
        sock.connect(("127.0.0.1", self.server.port))
        sock.sendall(("GET /a/message/events?room=ssflood HTTP/1.1\r\nHost: x\r\n"
                      "Accept: text/event-stream\r\nCookie: %s\r\n\r\n" % user.cookie_header()).encode())
        pid = self.server.proc.pid
        self.flood("ssflood", 20, 100)
        base = rss_kb(pid)
        peak = [base]
        self.flood("ssflood", 3000, 4000, check=lambda: peak.append(rss_kb(pid)))
        self.assertIn("disconnecting a slow subscriber of chat:ssflood", self.server.log_text())
        received = 0
        while True:  # what was queued, then the end of the stream
            chunk = sock.recv(1 << 20)
            if not chunk:
                break
            received += len(chunk)
        self.assertLess(received, 3000 * 4000)
        if not SANITIZED:
            self.assertLess((max(peak) - base) / 1024, 16)
        sock.close()

    def test_thousands_of_long_polls_from_one_user_then_gone_at_once(self):
        log_start = self.server.log_size()
        user = User(self.server, "hoarder")
        pid = self.server.proc.pid
        base_fds, base_rss = settled_fd_count(pid), rss_kb(pid)
        request = form_request(user, "/a/message/updates", {"_xsrf": user.xsrf, "room": "hoard"})
        socks = open_polls(self.server.port, [request] * 1500)
        self.assertTrue(wait_until(lambda: fd_count(pid) >= base_fds + 1500, 20), fd_count(pid))
        per_poll = (rss_kb(pid) - base_rss) * 1024 / 1500
        if not SANITIZED:
            self.assertLess(per_poll, 16 * 1024, "%d bytes per waiting poll" % per_poll)
        # One message answers every one of them.
        m = user.say("to the hoard", room="hoard")
        for s in socks[:50]:
            status, body = read_response(s)
            self.assertEqual(status, 200)
            self.assertEqual(json.loads(body)["messages"][0]["id"], m["id"])
        for s in socks:
            s.close()
        self.assertTrue(wait_until(lambda: fd_count(pid) <= base_fds + 5, 10), fd_count(pid))
        after_first = rss_kb(pid)
        # Waiting again, then every browser vanishes mid-wait, at once.
        socks = open_polls(self.server.port, [request] * 1500)
        self.assertTrue(wait_until(lambda: fd_count(pid) >= base_fds + 1500, 20), fd_count(pid))
        for s in socks:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST
            s.close()
        self.assertTrue(wait_until(lambda: fd_count(pid) <= base_fds + 5, 10), fd_count(pid))
        if not SANITIZED:  # the second thousand reused the first's memory: nothing was kept
            self.assertLess((rss_kb(pid) - after_first) / 1024, 4)
        position, _ = user.page_position("/room/hoard")
        after = user.say("after the vanishing", room="hoard")
        self.assertEqual([m["id"] for m in user.poll(position, room="hoard")["messages"]], [after["id"]])
        self.assertEqual(self.server.problems(log_start), [])

    def test_long_polls_from_many_names_are_bounded_by_max_poll_leases(self):
        server = ChatServer("--max_poll_leases=100")
        try:
            token, cookies = sign_in_many(server, ["name%03d" % i for i in range(101)])
            names = sorted(cookies)
            pid = server.proc.pid
            base_fds = settled_fd_count(pid)
            socks = open_polls(server.port, [poll_request(server.port, cookies[n], token, "leases")
                                             for n in names[:100]])
            self.assertTrue(wait_until(lambda: fd_count(pid) >= base_fds + 98, 20), fd_count(pid))
            # A hundred users present: the 101st is refused, clearly.
            with socket.create_connection(("127.0.0.1", server.port), timeout=30) as last:
                last.sendall(poll_request(server.port, cookies[names[100]], token, "leases"))
                status, body = read_response(last)
            self.assertEqual(status, 503)
            self.assertIn(b"503: Poll lease limit (100) reached", body)
            # Those present poll on (their leases are renewed, not refused).
            with socket.create_connection(("127.0.0.1", server.port), timeout=30) as again:
                again.sendall(poll_request(server.port, cookies[names[0]], token, "leases"))
                time.sleep(0.3)
                again.setblocking(False)
                with self.assertRaises(BlockingIOError):  # waiting, not refused
                    again.recv(1)
            for s in socks:
                s.close()
            self.assertTrue(wait_until(lambda: fd_count(pid) <= base_fds + 5, 10))
        finally:
            server.stop()

    def test_a_body_at_the_limit_passes_and_one_byte_over_is_refused_on_every_transport(self):
        user = User(self.server, "limiter")
        at_limit = "é" * 2000  # 4000 bytes
        user.say("before", room="limit")
        position, _ = user.page_position("/room/limit")
        stream = user.sse(room="limit", since=position)
        stream.next_of("members")
        # A form (SSE and long-polling users send this way).
        self.assertEqual(user.say(at_limit, room="limit")["body"], at_limit)
        status, _, text = user.post("/a/message/new", {"body": at_limit + "x", "room": "limit"})
        self.assertEqual(status, 400)
        self.assertIn("Message over 4000 bytes", text)
        # A WebSocket, with the JSON of any client: Python escapes every é as \u00e9 (6 bytes
        # for 2), a browser's JSON.stringify a vertical tab as \u000b (6 for 1).
        worst = "v" + "\x0b" * 3998 + "v"

        async def over_ws():
            async with user.ws(room="limit", since=position) as ws:
                self.assertEqual((await ws_next_message(ws))["body"], at_limit)  # the form's
                for body in (at_limit, worst):
                    await ws.send(json.dumps({"body": body}))
                    self.assertEqual((await ws_next_message(ws))["body"], body)
                await ws.send(json.dumps({"body": at_limit + "x"}))
                self.assertIn("4000 bytes", (await ws_next_event(ws, "error"))["message"])
                await ws.send(json.dumps({"body": "still open"}))
                self.assertEqual((await ws_next_message(ws))["body"], "still open")
        asyncio.run(over_ws())
        # The SSE reader got each accepted message whole, and nothing else.
        self.assertEqual([stream.next_message()["body"] for _ in range(4)],
                         [at_limit, at_limit, worst, "still open"])
        stream.close()
        # A request body far past any message: refused (413) from its headers, not read whole.
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as s:
            request = form_request(user, "/a/message/new", {"_xsrf": user.xsrf, "room": "limit"},
                                   b"&body=" + b"z" * (50 << 20))
            s.sendall(request[:request.index(b"\r\n\r\n") + 4])
            self.assertEqual(read_response(s)[0], 413)
        # A blank message is as empty over a WebSocket as in a form.

        async def blank():
            async with user.ws(room="limit") as ws:
                await ws.send(json.dumps({"body": " \t\x01\n "}))
                self.assertEqual((await ws_next_event(ws, "error"))["message"], "Empty message")
        asyncio.run(blank())

    def test_invalid_utf8_is_refused_not_crashed_on(self):
        log_start = self.server.log_size()
        user = User(self.server, "utf8")
        for field in ("body", "room", "cursor"):
            fields = {"_xsrf": user.xsrf, "room": "utf8", "body": "x"}
            fields.pop(field, None)
            status, body = raw_post(user, "/a/message/new" if field != "cursor" else "/a/message/updates",
                                    fields, b"&" + field.encode() + b"=%FF%FEbad")
            self.assertEqual(status, 400, (field, body))
        anonymous = User(self.server, None)
        form = anonymous.get("/auth/login")[2]
        anonymous.xsrf = re.search(r'name="_xsrf" value="([^"]+)"', form).group(1)
        self.assertEqual(raw_post(anonymous, "/auth/login", {"_xsrf": anonymous.xsrf}, b"&name=%C3%28")[0], 400)
        # A WebSocket text frame that is not UTF-8: 1007; JSON with a lone surrogate: 1003.
        ws = RawWebSocket(user, "room=utf8")
        ws.send_text(b'{"body": "\xff\xfe"}')
        self.assertEqual(ws.close_code(), 1007)
        ws.close()
        ws = RawWebSocket(user, "room=utf8")
        ws.send_text(b'{"body": "\\ud800"}')
        self.assertEqual(ws.close_code(), 1003)
        ws.close()
        self.assertEqual(user.say("still fine", room="utf8")["body"], "still fine")
        self.assertEqual(self.server.problems(log_start), [])

    def test_huge_names_rooms_and_cursors_are_refused_or_reloaded(self):
        user = User(self.server, "huge")
        anonymous = User(self.server, None)
        form = anonymous.get("/auth/login")[2]
        anonymous.xsrf = re.search(r'name="_xsrf" value="([^"]+)"', form).group(1)
        self.assertEqual(anonymous.post("/auth/login", {"name": "n" * 1000})[0], 400)
        self.assertEqual(anonymous.post("/auth/login", {"name": "n" * 100000})[0], 413)  # no form
        big_room = "r" * 10000
        self.assertEqual(user.post("/a/message/new", {"body": "x", "room": big_room})[0], 400)
        self.assertEqual(user.post("/a/message/updates", {"room": big_room})[0], 400)
        self.assertEqual(user.sse(room=big_room).status, 400)
        self.assertEqual(RawWebSocket(user, "room=" + big_room).status, 400)
        self.assertEqual(user.get("/room/" + big_room)[0], 404)
        user.say("something", room="hugecursor")
        r = user.poll("c" * 10000, room="hugecursor")
        self.assertTrue(r["reload"])

    def test_garbage_cursors_say_reload_on_every_transport(self):
        log_start = self.server.log_size()
        user = User(self.server, "cursors")
        user.say("here", room="cursors")
        position, _ = user.page_position("/room/cursors")
        epoch, offset = position.split("-")
        garbage = ["abc", "-1", "-", "1-", "-1-1", "0-0", "%s--1" % epoch, "%s-+1" % epoch,
                   "ffffffffffffffffffff-1", "%s-99999999999999999999999" % epoch,
                   "%s-18446744073709551615" % epoch, "%s-%d" % (epoch, int(offset) + 1),
                   "%x-%s" % (int(epoch, 16) ^ 1, offset), "\x7f"]
        for cursor in garbage:
            r = user.poll(cursor, room="cursors")
            self.assertTrue(r.get("reload"), (cursor, r))
            self.assertEqual(r["messages"], [])

        def over_ws(cursor):
            ws = RawWebSocket(user, "room=cursors&since=" + urllib.parse.quote(cursor))
            try:
                self.assertEqual(ws.status, 101)
                while True:
                    e = json.loads(ws.next_text())
                    if e.get("event") == "reload":
                        return
            finally:
                ws.close()
        for cursor in garbage:
            over_ws(cursor)
            stream = user.sse(room="cursors", last_event_id=cursor)
            if cursor == "\x7f":  # no valid header value: the HTTP parser's 400
                self.assertEqual(stream.status, 400)
            else:
                self.assertEqual(stream.next_of("reload")["event"], "reload")
            stream.close()
        # The page's own cursor is no garbage: what came since, no reload.
        m = user.say("since the page", room="cursors")
        r = user.poll(position, room="cursors")
        self.assertEqual(([x["id"] for x in r["messages"]], r.get("reload")), ([m["id"]], None))
        self.assertEqual(self.server.problems(log_start), [])

    def test_a_cookie_signed_with_another_secret_or_altered_is_nobody(self):
        other = ChatServer("--cookie_secret=another-secret")
        try:
            stranger = User(other, "stranger")
        finally:
            other.stop()
        forged = User(self.server, None)
        for c in stranger.jar:
            if c.name == "chatuser":
                forged.jar.set_cookie(c)
        forged.get("/auth/login")  # an XSRF token of this server's
        forged.xsrf = next(c.value for c in forged.jar if c.name == "_xsrf")
        honest = User(self.server, "honest")
        altered = User(self.server, None)
        altered.jar = http.cookiejar.CookieJar()
        for c in honest.jar:
            if c.name == "chatuser":
                c.value = c.value.replace("aG9uZXN0", "ZXZpbA==")  # base64 "honest" -> "evil"
            altered.jar.set_cookie(c)
        altered.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(altered.jar))
        altered.raw = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(altered.jar), NoRedirect())
        altered.xsrf = honest.xsrf
        for who in (forged, altered):
            status, headers, _ = who.get("/", follow=False)
            self.assertEqual((status, headers["Location"]), (302, "/auth/login?next=%2F"))
            self.assertEqual(who.post("/a/message/new", {"body": "x"})[0], 403)
            self.assertEqual(who.post("/a/message/updates", {})[0], 403)
            self.assertEqual(who.sse().status, 403)
            self.assertEqual(RawWebSocket(who).status, 403)

    def test_xsrf_is_needed_on_updates_too(self):
        user = User(self.server, "xsrfless")
        self.assertEqual(user.request("/a/message/updates", {"room": "x"})[0], 403)
        self.assertEqual(user.request("/a/message/updates", {"room": "x", "_xsrf": "2|00|00|0"})[0], 403)
        other = User(self.server, "other")  # a token of another browser
        self.assertEqual(user.request("/a/message/updates", {"room": "x", "_xsrf": other.xsrf})[0], 403)

    def test_a_websocket_from_another_origin_is_refused(self):
        user = User(self.server, "origin")
        for origin in ("http://evil.example", "http://127.0.0.1:%d.evil.example" % self.server.port,
                       "null", "http://127.0.0.1:1"):
            ws = RawWebSocket(user, origin=origin)
            self.assertEqual(ws.status, 403, origin)
            ws.close()

    def test_presence_churn_leaves_no_stale_member(self):
        users = [User(self.server, "churn%02d" % i) for i in range(20)]

        async def go():
            async with users[0].ws(room="churn") as watcher:
                await ws_next_event(watcher, "members")
                for round_ in range(10):
                    socks = [RawWebSocket(u, "room=churn") for u in users[1:]]
                    streams = [u.sse(room="churn") for u in users[1:6]]
                    for i, s in enumerate(socks):
                        if i % 2:
                            s.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                        else:
                            s.send_text(b"")  # an empty body: an error event, then gone
                            s.sock.sendall(ws_frame(struct.pack("!H", 1000), opcode=0x8))
                        s.close()
                    for s in streams:
                        s.close()
                # Every churner left: a newcomer sees only the watcher and itself.
                def members():
                    ws = RawWebSocket(users[0], "room=churn")
                    try:
                        while True:
                            e = json.loads(ws.next_text())
                            if e.get("event") == "members":
                                return [m["name"] for m in e["members"]]
                    finally:
                        ws.close()
                self.assertTrue(wait_until(lambda: members() == ["churn00"], 10), members())
        asyncio.run(go())

    def test_a_websocket_peer_that_stops_answering_is_closed_and_leaves(self):
        server = ChatServer("--ping_interval=1")
        try:
            watcher, ghost = User(server, "watcher"), User(server, "ghost")

            async def go():
                async with watcher.ws(room="ghosts") as ws:
                    await ws_next_event(ws, "members")
                    silent = RawWebSocket(ghost, "room=ghosts")  # never reads: no pong
                    await ws_next_event(ws, "join", "ghost")
                    start = time.monotonic()
                    await ws_next_event(ws, "leave", "ghost")
                    silent.close()
                    return time.monotonic() - start
            # A ping a second, unanswered for a second: closed (then the 5 s closing handshake).
            self.assertLess(asyncio.run(go()), 12)
        finally:
            server.stop()

    def test_names_are_counted_in_characters_as_the_form_counts_them(self):
        anonymous = User(self.server, None)
        form = anonymous.get("/auth/login")[2]
        self.assertIn('maxlength="32"', form)
        anonymous.xsrf = re.search(r'name="_xsrf" value="([^"]+)"', form).group(1)
        for name, status in (("Ж" * 32, 302), ("Ж" * 33, 400), ("é" * 20, 302)):
            self.assertEqual(anonymous.post("/auth/login", {"name": name}, follow=False)[0], status, name)

    def test_empty_rooms_past_max_rooms_leave_the_lobby_open(self):
        server = ChatServer("--max_rooms=3")
        try:
            user = User(server, "visitor")
            statuses = [user.get("/room/empty%d" % i)[0] for i in range(4)]
            self.assertEqual(statuses, [200, 200, 503, 503])  # the lobby is one of the three
            self.assertEqual(user.get("/")[0], 200)
            self.assertEqual(user.say("still here")["body"], "still here")
        finally:
            server.stop()

    def test_room_names_of_64_pass_and_65_are_refused_everywhere(self):
        user = User(self.server, "roomlen")
        r64, r65 = "a" * 64, "b" * 65
        self.assertEqual(user.get("/room/" + r64)[0], 200)
        self.assertEqual(user.say("in 64", room=r64)["body"], "in 64")
        self.assertEqual(RawWebSocket(user, "room=" + r64).status, 101)
        self.assertEqual(user.get("/room/" + r65)[0], 404)
        self.assertEqual(user.post("/a/message/new", {"body": "x", "room": r65})[0], 400)
        self.assertEqual(user.post("/a/message/updates", {"room": r65})[0], 400)
        self.assertEqual(user.sse(room=r65).status, 400)
        self.assertEqual(RawWebSocket(user, "room=" + r65).status, 400)

    def test_html_and_script_in_names_and_bodies_stay_text(self):
        evil_name = '<img src=x onerror=alert(1)>"\''
        evil = User(self.server, evil_name)
        viewer = User(self.server, "viewer")
        body = ('<script>alert(2)</script> javascript:alert(3) '
                'http://x.example/"onmouseover="alert(4) <a href="javascript:alert(5)">x</a>')
        ws = RawWebSocket(evil, "room=inject")  # present: listed in the room
        self.assertEqual(ws.status, 101)
        m = evil.say(body, room="inject")
        page = viewer.get("/room/inject")[2]
        for text in (page, m["html"]):
            self.assertNotIn("<img src=x", text)
            self.assertNotIn("<script>alert", text)
            self.assertNotIn('href="javascript', text)
            self.assertNotIn('"onmouseover', text)
        self.assertIn('<li>&lt;img src=x onerror=alert(1)&gt;&quot;&#x27;</li>', page)
        self.assertIn('<span class="from">&lt;img src=x onerror=alert(1)&gt;&quot;&#x27;</span>', m["html"])
        self.assertIn('<b id="username">&lt;img', evil.get("/room/inject")[2])
        # The page's script puts names in with textContent, and only the server's rendered
        # message html with innerHTML.
        js = viewer.get(re.search(r'src="(/static/chat\.js\?v=[0-9a-f]+)"', page).group(1))[2]
        self.assertEqual(re.findall(r"(\w+)\.innerHTML\s*=\s*([\w.]+)", js), [("holder", "message.html")])
        self.assertIn("item.textContent = name", js)
        ws.close()

    def test_next_never_leaves_the_site(self):
        anonymous = User(self.server, None)
        form = anonymous.get("/auth/login")[2]
        anonymous.xsrf = re.search(r'name="_xsrf" value="([^"]+)"', form).group(1)
        # Browsers drop tabs and newlines from a URL: "/\t/evil" is "//evil".
        for next_ in ("//evil.example/", "/\\evil.example", "/\t/evil.example", "/\n/evil.example",
                      "/\r\nSet-Cookie: a=b", "http://evil.example/", " //evil.example", "/\\\tevil"):
            status, headers, _ = anonymous.post("/auth/login", {"name": "nx", "next": next_}, follow=False)
            self.assertEqual((status, headers["Location"]), (302, "/"), repr(next_))
        status, headers, _ = anonymous.post("/auth/login", {"name": "nx", "next": "/room/ok"},
                                            follow=False)
        self.assertEqual(headers["Location"], "/room/ok")
        # The sign-in page's hidden `next` is escaped.
        self.assertNotIn("<script>", anonymous.get('/auth/login?next=/"><script>x</script>')[2])

    def test_a_client_resuming_from_before_the_history_is_told_to_reload(self):
        server = ChatServer("--history=5")
        try:
            user = User(server, "wrapper")
            sent = [user.say("w%d" % i, room="wrap") for i in range(1, 13)]
            position, page = user.page_position("/room/wrap")
            self.assertEqual(re.findall(r"</span> (w\d+)</div>", page), ["w%d" % i for i in range(8, 13)])
            # Offsets 1-12; the history keeps 8-12: from 7 everything missed is there.
            epoch = position.split("-")[0]
            kept = ["w%d" % i for i in range(8, 13)]
            self.assertEqual([m["body"] for m in user.poll("%s-7" % epoch, room="wrap")["messages"]], kept)
            for gone in ("%s-6" % epoch, "%s-1" % epoch, sent[2]["id"]):
                r = user.poll(gone, room="wrap")
                self.assertEqual((r.get("reload"), r["messages"]), (True, []), gone)

            async def over_ws(since):
                async with user.ws(room="wrap", since=since) as ws:
                    first = await asyncio.wait_for(ws.recv(), 10)
                    while first.startswith('{"event":"members"'):
                        first = await asyncio.wait_for(ws.recv(), 10)
                    return first
            self.assertEqual(asyncio.run(over_ws("%s-6" % epoch)), '{"event":"reload"}')
            self.assertEqual(json.loads(asyncio.run(over_ws("%s-7" % epoch)).partition("\n")[2])["body"], "w8")
            stream = user.sse(room="wrap", last_event_id="%s-6" % epoch)
            self.assertEqual(stream.next_of("reload")["event"], "reload")
            stream.close()
            stream = user.sse(room="wrap", last_event_id="%s-7" % epoch)
            self.assertEqual([stream.next_message()["body"] for _ in kept], kept)
            stream.close()
        finally:
            server.stop()

    def test_running_out_of_descriptors_is_survived(self):
        server = ChatServer(nofile=128)
        try:
            user = User(server, "fdless")
            request = form_request(user, "/a/message/updates", {"_xsrf": user.xsrf, "room": "fd"})
            socks = open_polls(server.port, [request] * 200)  # more than it can hold
            time.sleep(1)
            ticks = os.sysconf("SC_CLK_TCK")

            def cpu():
                with open("/proc/%d/stat" % server.proc.pid) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                return (int(fields[11]) + int(fields[12])) / ticks
            before = cpu()
            time.sleep(1)
            self.assertLess(cpu() - before, 0.5, "the accept loop spins at EMFILE")
            for s in socks:
                s.close()
            time.sleep(0.5)
            self.assertEqual(user.say("fds are back", room="fd")["body"], "fds are back")
        finally:
            server.stop()


if __name__ == "__main__":
    unittest.main()
