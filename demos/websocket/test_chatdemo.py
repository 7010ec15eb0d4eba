"""End-to-end test of demos/websocket (Tornado's WebSocket chat demo on the hub): the page,
its static files, messages between sockets (python3-websockets), HTML escaping, the cache of
the last 200 messages on the page, a bad message, and --threads=2 sharing one chat. Run by
ctest as `demo_websocket`; the binary comes from $CHATDEMO_BINARY."""

import asyncio
import json
import os
import re
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.request

import websockets

BINARY = os.environ.get("CHATDEMO_BINARY", "")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ChatServer:
    def __init__(self, *args):
        self.port = free_port()
        self.log = tempfile.NamedTemporaryFile(prefix="chatdemo_", suffix=".log")
        self.proc = subprocess.Popen([BINARY, "--port=%d" % self.port, *args],
                                     stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("chatdemo exited")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("chatdemo did not start")

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def ws(self):
        return websockets.connect("ws://127.0.0.1:%d/chatsocket" % self.port)

    def get(self, path):
        with urllib.request.urlopen(self.url(path), timeout=10) as r:
            return r.status, r.headers, r.read().decode()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


class ChatDemoTest(unittest.TestCase):
    def setUp(self):
        self.server = ChatServer()

    def tearDown(self):
        self.server.stop()

    def test_page_has_tornados_structure_and_static_files(self):
        status, _, page = self.server.get("/")
        self.assertEqual(status, 200)
        self.assertIn('<div id="inbox">', page)
        self.assertIn('<form action="/a/message/new" method="post" id="messageform">', page)
        self.assertRegex(page, r'<input type="text" name="body" id="message"')
        self.assertRegex(page, r'name="_xsrf" value="2\|')
        for path, kind in (("/static/chat.js", "javascript"), ("/static/chat.css", "css")):
            status, headers, body = self.server.get(path)
            self.assertEqual(status, 200)
            self.assertIn(kind, headers["Content-Type"])
            self.assertTrue(body)

    def test_a_message_reaches_every_socket_escaped_and_stays_on_the_page(self):
        async def run():
            async with self.server.ws() as a, self.server.ws() as b:
                await a.send(json.dumps({"body": "hi <img src=x onerror=alert(1)> http://e.org"}))
                got_b = json.loads(await asyncio.wait_for(b.recv(), 5))
                got_a = json.loads(await asyncio.wait_for(a.recv(), 5))
                return got_a, got_b
        got_a, got_b = asyncio.run(run())
        self.assertEqual(got_a, got_b)
        self.assertEqual(got_a["body"], "hi <img src=x onerror=alert(1)> http://e.org")
        self.assertRegex(got_a["id"], r"^[0-9a-f]{32}$")
        self.assertIn("&lt;img src=x onerror=alert(1)&gt;", got_a["html"])
        self.assertIn('<a href="http://e.org">http://e.org</a>', got_a["html"])
        self.assertNotIn("<img", got_a["html"])
        _, _, page = self.server.get("/")
        self.assertIn('id="m%s"' % got_a["id"], page)
        self.assertIn("&lt;img src=x onerror=alert(1)&gt;", page)

    def test_the_page_keeps_the_last_200_messages(self):
        async def run():
            async with self.server.ws() as a:
                for i in range(205):
                    await a.send(json.dumps({"body": "n%d" % i}))
                for _ in range(205):
                    await asyncio.wait_for(a.recv(), 5)
        asyncio.run(run())
        _, _, page = self.server.get("/")
        bodies = re.findall(r'<div class="message" id="m[0-9a-f]{32}">(n\d+)</div>', page)
        self.assertEqual(bodies, ["n%d" % i for i in range(5, 205)])

    def test_a_message_that_is_not_the_json_form_closes_with_1003(self):
        async def run():
            async with self.server.ws() as a:
                await a.send("not json")
                with self.assertRaises(websockets.ConnectionClosed) as cm:
                    await asyncio.wait_for(a.recv(), 5)
                return cm.exception.rcvd.code
        self.assertEqual(asyncio.run(run()), 1003)


class ChatDemoThreadsTest(unittest.TestCase):
    def test_two_loops_share_one_chat(self):
        server = ChatServer("--threads=2")
        try:
            async def run():
                sockets = [await websockets.connect(
                    "ws://127.0.0.1:%d/chatsocket" % server.port) for _ in range(8)]
                await sockets[0].send(json.dumps({"body": "to all"}))
                got = [json.loads(await asyncio.wait_for(s.recv(), 5))["body"] for s in sockets]
                for s in sockets:
                    await s.close()
                return got
            self.assertEqual(asyncio.run(run()), ["to all"] * 8)
        finally:
            server.stop()


if __name__ == "__main__":
    unittest.main()
