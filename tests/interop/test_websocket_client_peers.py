#!/usr/bin/python3
"""Our WebSocket client (tests/interop/websocket_client.cpp) against real servers:
python3-websockets, Python Tornado's WebSocketHandler and node ws, with and without
permessage-deflate (and each of its parameters); and node ws as a client of our server
(tests/interop/websocket_server.cpp).

Each server sends a list of messages one by one, checks that our client echoes each back
unchanged (text as text, binary as binary), then closes with 1000; our client prints what
it negotiated and the close code, and exits 0 on that clean close."""

import asyncio
import os
import select
import shutil
import subprocess
import sys
import unittest

try:
    import websockets
    from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
except ImportError:  # python3-websockets missing: its cases skip
    websockets = None

import tornado.httpserver
import tornado.netutil
import tornado.web
import tornado.websocket

CLIENT = os.environ.get("INTEROP_WEBSOCKET_CLIENT", "")
SERVER = os.environ.get("INTEROP_WEBSOCKET_SERVER", "")
NODE = shutil.which("node") or shutil.which("nodejs")
NODE_PEER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ws_node_peer.js")
NODE_ENV = dict(os.environ, NODE_PATH=os.environ.get("NODE_PATH", "/usr/share/nodejs"))


def node_ws_available():
    if not NODE:
        return False
    probe = subprocess.run([NODE, "-e", "require('ws')"], env=NODE_ENV, capture_output=True)
    return probe.returncode == 0


HAVE_NODE_WS = node_ws_available()

MESSAGES = ["hello", "", "κόσμε 😀", "x" * 125, "y" * 126, "z" * 65536, "w" * (1 << 20)]
BINARIES = [b"", b"\x00\xff" * 10, bytes(range(256)) * 300]
ALL = MESSAGES + BINARIES

# Our client's arguments for each compression parameter set.
PARAMETER_SETS = [
    ["deflate"],
    ["deflate", "cnct"],
    ["deflate", "snct"],
    ["deflate", "smwb=10"],
    ["deflate", "cmwb=9"],
    ["deflate", "snct", "cnct", "smwb=9", "cmwb=9"],
]


async def run_client(url, *args):
    """Runs our client; returns (exit code, {key: value} of its output lines)."""
    proc = await asyncio.create_subprocess_exec(
        CLIENT, url, *args, stdout=asyncio.subprocess.PIPE)
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    lines = {}
    for line in out.decode().splitlines():
        key, _, value = line.partition(": ")
        lines[key] = value
    return proc.returncode, lines


def check_client_binary():
    if not CLIENT or not os.access(CLIENT, os.X_OK):
        raise RuntimeError("INTEROP_WEBSOCKET_CLIENT is not an executable: %r" % CLIENT)


class ClientTestBase(unittest.TestCase):
    def setUp(self):
        check_client_binary()

    def run_async(self, coro):
        return asyncio.run(asyncio.wait_for(coro, 90))

    def assert_clean(self, rc, out, echoed=len(ALL)):
        self.assertEqual(rc, 0, out)
        self.assertEqual(out.get("closed"), "1000 ", out)
        self.assertEqual(out.get("echoed"), str(echoed), out)


@unittest.skipIf(websockets is None, "python3-websockets is not installed")
class PythonWebsocketsServerTest(ClientTestBase):
    async def session(self, client_args, **server_kwargs):
        results = {}

        async def handler(ws, path=None):
            results["offer"] = ws.request_headers.get("Sec-WebSocket-Extensions")
            results["extensions"] = [e.name for e in ws.extensions]
            for m in ALL:
                await ws.send(m)
                results.setdefault("echoes", []).append(await ws.recv() == m)
            await ws.close(1000)

        async with websockets.serve(handler, "127.0.0.1", 0, max_size=None,
                                    **server_kwargs) as server:
            port = server.sockets[0].getsockname()[1]
            rc, out = await run_client("ws://127.0.0.1:%d/" % port, *client_args)
        return rc, out, results

    def test_echo_without_compression(self):
        rc, out, results = self.run_async(self.session([], compression=None))
        self.assert_clean(rc, out)
        self.assertEqual(results["echoes"], [True] * len(ALL))
        self.assertIsNone(results["offer"])
        self.assertEqual(out["extensions"], "")

    def test_compression_declined_by_the_server(self):
        rc, out, results = self.run_async(self.session(["deflate"], compression=None))
        self.assert_clean(rc, out)
        self.assertEqual(results["extensions"], [])
        self.assertIn("permessage-deflate", results["offer"])

    def test_each_compression_parameter(self):
        for args in PARAMETER_SETS:
            with self.subTest(args=args):
                rc, out, results = self.run_async(self.session(args))
                self.assert_clean(rc, out)
                self.assertEqual(results["echoes"], [True] * len(ALL))
                self.assertEqual(results["extensions"], ["permessage-deflate"])
                self.assertTrue(out["extensions"].startswith("permessage-deflate"), out)
                if "snct" in args:
                    self.assertIn("server_no_context_takeover", out["extensions"])
                if "smwb=10" in args:
                    self.assertIn("server_max_window_bits=10", out["extensions"])

    def test_server_chosen_window_and_no_context_takeover(self):
        factory = ServerPerMessageDeflateFactory(
            server_no_context_takeover=True, client_no_context_takeover=True,
            server_max_window_bits=11, client_max_window_bits=10)
        rc, out, results = self.run_async(
            self.session(["deflate"], extensions=[factory], compression=None))
        self.assert_clean(rc, out)
        self.assertEqual(results["echoes"], [True] * len(ALL))
        for p in ("server_no_context_takeover", "client_no_context_takeover",
                  "server_max_window_bits=11", "client_max_window_bits=10"):
            self.assertIn(p, out["extensions"])

    def test_subprotocol(self):
        rc, out, _ = self.run_async(
            self.session(["protocol=x", "protocol=chat"], subprotocols=["chat"]))
        self.assert_clean(rc, out)
        self.assertEqual(out["subprotocol"], "chat")

    def test_server_ping_reaches_on_ping_and_is_answered(self):
        async def session():
            results = {}

            async def handler(ws, path=None):
                waiter = await ws.ping(b"server-ping")
                await asyncio.wait_for(waiter, 10)  # our pong, with its payload
                results["answered"] = True
                await ws.close(1000)

            async with websockets.serve(handler, "127.0.0.1", 0) as server:
                port = server.sockets[0].getsockname()[1]
                rc, out = await run_client("ws://127.0.0.1:%d/" % port, "pings")
            return rc, out, results

        rc, out, results = self.run_async(session())
        self.assert_clean(rc, out, echoed=0)
        self.assertEqual(out.get("ping"), "server-ping", out)
        self.assertTrue(results.get("answered"))


class TornadoServerPingTest(ClientTestBase):
    """Our client's on_ping and on_pong hooks against Python Tornado's handler: the server
    pings with a payload, our client pings with another; the server closes once it has seen
    our pong and our ping (Tornado answers a ping before on_ping, so its pong is on the wire
    ahead of the close)."""

    async def session(self):
        results = {}
        done = asyncio.Event()

        class Pinger(tornado.websocket.WebSocketHandler):
            def open(self):
                self.ping(b"server-ping")

            def on_ping(self, data):
                results["ping"] = data
                self.close_when_both()

            def on_pong(self, data):
                results["pong"] = data
                self.close_when_both()

            def close_when_both(self):
                if "ping" in results and "pong" in results:
                    self.close(1000)

            def on_close(self):
                done.set()

        app = tornado.web.Application([("/ws", Pinger)])
        sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
        server = tornado.httpserver.HTTPServer(app)
        server.add_sockets(sockets)
        port = sockets[0].getsockname()[1]
        try:
            rc, out = await run_client("ws://127.0.0.1:%d/ws" % port, "pings")
            await asyncio.wait_for(done.wait(), 10)
        finally:
            server.stop()
        return rc, out, results

    def test_ping_and_pong_payloads_reach_both_hooks(self):
        rc, out, results = self.run_async(self.session())
        self.assert_clean(rc, out, echoed=0)
        self.assertEqual(out.get("ping"), "server-ping", out)  # our on_ping
        self.assertEqual(out.get("pong"), "client-ping", out)  # our on_pong
        self.assertEqual(results["pong"], b"server-ping")  # we answered its ping
        self.assertEqual(results["ping"], b"client-ping")


class TornadoServerTest(ClientTestBase):
    async def session(self, client_args, compression_options=None):
        results = {}
        done = asyncio.Event()

        class Checker(tornado.websocket.WebSocketHandler):
            async def open(self):
                results["offer"] = self.request.headers.get("Sec-WebSocket-Extensions")
                self.queue = asyncio.Queue()
                asyncio.ensure_future(self.run())

            async def run(self):
                for m in ALL:
                    await self.write_message(m, binary=isinstance(m, bytes))
                    results.setdefault("echoes", []).append(await self.queue.get() == m)
                self.close(1000)

            def on_message(self, message):
                self.queue.put_nowait(message)

            def on_close(self):
                done.set()

            def get_compression_options(self):
                return compression_options

            def select_subprotocol(self, subprotocols):
                return "chat" if "chat" in subprotocols else None

        app = tornado.web.Application([("/ws", Checker)], websocket_max_message_size=64 << 20)
        sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
        server = tornado.httpserver.HTTPServer(app)
        server.add_sockets(sockets)
        port = sockets[0].getsockname()[1]
        try:
            rc, out = await run_client("ws://127.0.0.1:%d/ws" % port, *client_args)
            await asyncio.wait_for(done.wait(), 10)
        finally:
            server.stop()
        return rc, out, results

    def test_echo_without_compression(self):
        rc, out, results = self.run_async(self.session([]))
        self.assert_clean(rc, out)
        self.assertEqual(results["echoes"], [True] * len(ALL))
        self.assertEqual(out["extensions"], "")

    def test_echo_with_compression(self):
        for args in PARAMETER_SETS:
            with self.subTest(args=args):
                rc, out, results = self.run_async(self.session(args, compression_options={}))
                self.assert_clean(rc, out)
                self.assertEqual(results["echoes"], [True] * len(ALL))
                self.assertTrue(out["extensions"].startswith("permessage-deflate"), out)

    def test_subprotocol(self):
        rc, out, _ = self.run_async(self.session(["protocol=chat"]))
        self.assert_clean(rc, out)
        self.assertEqual(out["subprotocol"], "chat")


@unittest.skipUnless(HAVE_NODE_WS, "node ws (Debian node-ws) is not installed")
class NodeWsServerTest(ClientTestBase):
    async def session(self, client_args, deflate):
        proc = await asyncio.create_subprocess_exec(
            NODE, NODE_PEER, "server", "1" if deflate else "0", env=NODE_ENV,
            stdout=asyncio.subprocess.PIPE)
        line = (await asyncio.wait_for(proc.stdout.readline(), 10)).decode()
        self.assertTrue(line.startswith("LISTENING "), line)
        port = int(line.split()[1])
        rc, out = await run_client("ws://127.0.0.1:%d/" % port, *client_args)
        rest, _ = await asyncio.wait_for(proc.communicate(), 10)
        return rc, out, proc.returncode, rest.decode()

    def test_echo_without_compression(self):
        rc, out, node_rc, node_out = self.run_async(self.session([], False))
        self.assertEqual(node_rc, 0, node_out)
        self.assertIn("result: ok", node_out)
        self.assertEqual(rc, 0, out)
        self.assertEqual(out["closed"], "1000 bye")

    def test_echo_with_compression(self):
        for args in PARAMETER_SETS:
            with self.subTest(args=args):
                rc, out, node_rc, node_out = self.run_async(self.session(args, True))
                self.assertEqual(node_rc, 0, node_out)
                self.assertIn("extensions=permessage-deflate", node_out)
                self.assertEqual(rc, 0, out)
                self.assertTrue(out["extensions"].startswith("permessage-deflate"), out)


@unittest.skipUnless(HAVE_NODE_WS, "node ws (Debian node-ws) is not installed")
class NodeWsClientOfOurServerTest(unittest.TestCase):
    def setUp(self):
        if not SERVER or not os.access(SERVER, os.X_OK):
            raise RuntimeError("INTEROP_WEBSOCKET_SERVER is not an executable: %r" % SERVER)
        self.server = subprocess.Popen([SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        ready, _, _ = select.select([self.server.stdout], [], [], 10)
        line = self.server.stdout.readline().decode() if ready else ""
        self.assertTrue(line.startswith("LISTENING "), line)
        self.port = int(line.split()[1])

    def tearDown(self):
        self.server.stdin.close()
        self.assertEqual(self.server.wait(10), 0)
        self.server.stdout.close()

    def node_client(self, path, deflate):
        url = "ws://127.0.0.1:%d%s" % (self.port, path)
        return subprocess.run([NODE, NODE_PEER, "client", url, "1" if deflate else "0"],
                              env=NODE_ENV, capture_output=True, timeout=60, text=True)

    def test_echo_without_compression(self):
        r = self.node_client("/echo", False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("result: ok 10 extensions= close=1000", r.stdout)

    def test_echo_with_compression(self):
        for path in ("/deflate", "/deflate_nct"):
            with self.subTest(path=path):
                r = self.node_client(path, True)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                self.assertIn("extensions=permessage-deflate", r.stdout)

    def test_compression_offered_to_a_server_without_it(self):
        r = self.node_client("/echo", True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("extensions= close=1000", r.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
