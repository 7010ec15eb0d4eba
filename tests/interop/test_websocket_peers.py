#!/usr/bin/python3
"""Real WebSocket clients against our server (tests/interop/websocket_server.cpp):
python3-websockets (with and without permessage-deflate, with several parameter sets) and
Python Tornado's websocket_connect (with and without compression)."""

import asyncio
import os
import select
import subprocess
import tempfile
import unittest

try:
    import websockets
    from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
except ImportError:  # python3-websockets missing: its cases skip
    websockets = None

from tornado.testing import AsyncTestCase, gen_test
from tornado.websocket import websocket_connect

SERVER = os.environ.get("INTEROP_WEBSOCKET_SERVER", "")


class WebSocketServer:
    """The interop WebSocket server in a child process (stops at EOF on its stdin)."""

    def __init__(self):
        if not SERVER or not os.access(SERVER, os.X_OK):
            raise RuntimeError("INTEROP_WEBSOCKET_SERVER is not an executable: %r" % SERVER)
        self.log_file = tempfile.NamedTemporaryFile(prefix="websocket_server_", suffix=".log")
        self.proc = subprocess.Popen([SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log_file)
        ready, _, _ = select.select([self.proc.stdout], [], [], 10)
        line = self.proc.stdout.readline().decode() if ready else ""
        if not line.startswith("LISTENING "):
            self.stop()
            raise RuntimeError("server did not start: %r" % line)
        self.port = int(line.split()[1])

    def url(self, path):
        return "ws://127.0.0.1:%d%s" % (self.port, path)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.log_file.close()
        return self.proc.returncode


def setUpModule():
    global server
    server = WebSocketServer()


def tearDownModule():
    assert server.stop() == 0, "websocket server exited badly"


MESSAGES = ["hello", "", "κόσμε 😀", "x" * 125, "y" * 126, "z" * 65536, "w" * (1 << 20)]
BINARIES = [b"", b"\x00\xff" * 10, bytes(range(256)) * 300]


@unittest.skipIf(websockets is None, "python3-websockets is not installed")
class PythonWebsocketsClientTest(unittest.TestCase):
    def run_async(self, coro):
        return asyncio.run(asyncio.wait_for(coro, 30))

    async def echo_all(self, path, **kwargs):
        async with websockets.connect(server.url(path), max_size=None, **kwargs) as ws:
            for m in MESSAGES + BINARIES:
                await ws.send(m)
                self.assertEqual(await ws.recv(), m)
            return [e.name for e in ws.extensions], ws.response_headers.get(
                "Sec-WebSocket-Extensions")

    def test_echo_without_compression(self):
        ext, header = self.run_async(self.echo_all("/echo", compression=None))
        self.assertEqual(ext, [])
        self.assertIsNone(header)

    def test_compression_offered_to_a_server_without_it(self):
        ext, _ = self.run_async(self.echo_all("/echo"))
        self.assertEqual(ext, [])

    def test_echo_with_compression(self):
        ext, header = self.run_async(self.echo_all("/deflate"))  # websockets offers by default
        self.assertEqual(ext, ["permessage-deflate"])
        self.assertIn("permessage-deflate", header)

    def test_compression_parameter_sets(self):
        for factory in [
            ClientPerMessageDeflateFactory(client_no_context_takeover=True),
            ClientPerMessageDeflateFactory(server_no_context_takeover=True),
            ClientPerMessageDeflateFactory(server_max_window_bits=10),
            ClientPerMessageDeflateFactory(client_max_window_bits=9),
            ClientPerMessageDeflateFactory(
                server_no_context_takeover=True, client_no_context_takeover=True,
                server_max_window_bits=9, client_max_window_bits=9),
        ]:
            for path in ("/deflate", "/deflate_nct"):
                with self.subTest(path=path, params=factory.__dict__):
                    ext, header = self.run_async(
                        self.echo_all(path, extensions=[factory], compression=None))
                    self.assertEqual(ext, ["permessage-deflate"])
                    if path == "/deflate_nct":
                        self.assertIn("server_no_context_takeover", header)

    def test_server_close_code_and_reason(self):
        async def go():
            async with websockets.connect(server.url("/close"), compression=None) as ws:
                await ws.send("anything")
                with self.assertRaises(websockets.ConnectionClosed):
                    await ws.recv()
                return ws.close_code, ws.close_reason
        self.assertEqual(self.run_async(go()), (4000, "done"))

    def test_client_close_is_echoed(self):
        async def go():
            ws = await websockets.connect(server.url("/echo"), compression=None)
            await ws.close(4321, "bye")
            return ws.close_code
        self.assertEqual(self.run_async(go()), 4321)

    def test_ping_pong(self):
        async def go():
            async with websockets.connect(server.url("/echo")) as ws:
                pong = await ws.ping(b"are you there")
                await asyncio.wait_for(pong, 5)
                return True
        self.assertTrue(self.run_async(go()))

    def test_subprotocol_and_path_argument(self):
        async def go():
            async with websockets.connect(server.url("/proto"), subprotocols=["x", "chat"]) as ws:
                first = await ws.recv()
                proto = ws.subprotocol
            async with websockets.connect(server.url("/path/abc")) as ws:
                path = await ws.recv()
            return first, proto, path
        self.assertEqual(self.run_async(go()), ("subprotocol=chat", "chat", "path=abc"))


class TornadoClientTest(AsyncTestCase):
    async def echo_all(self, path, compression_options=None):
        ws = await websocket_connect(server.url(path), compression_options=compression_options,
                                     max_message_size=16 << 20)
        for m in MESSAGES + BINARIES:
            await ws.write_message(m, binary=isinstance(m, bytes))
            self.assertEqual(await ws.read_message(), m)
        header = ws.headers.get("Sec-WebSocket-Extensions")
        ws.close(1000, "done")
        self.assertIsNone(await ws.read_message())  # None once closed
        self.assertEqual(ws.close_code, 1000)
        return header

    @gen_test(timeout=30)
    async def test_echo_without_compression(self):
        self.assertIsNone(await self.echo_all("/echo"))

    @gen_test(timeout=30)
    async def test_echo_with_compression(self):
        header = await self.echo_all("/deflate", compression_options={})
        self.assertIn("permessage-deflate", header)

    @gen_test(timeout=30)
    async def test_server_close_code(self):
        ws = await websocket_connect(server.url("/close"))
        await ws.write_message("x")
        self.assertIsNone(await ws.read_message())
        self.assertEqual((ws.close_code, ws.close_reason), (4000, "done"))

    @gen_test(timeout=30)
    async def test_subprotocol(self):
        ws = await websocket_connect(server.url("/proto"), subprotocols=["chat"])
        self.assertEqual(await ws.read_message(), "subprotocol=chat")
        self.assertEqual(ws.selected_subprotocol, "chat")
        ws.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
