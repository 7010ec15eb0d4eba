#!/usr/bin/python3
"""demos/echo end to end: the echo server (--threads, --compression) under python3-websockets
clients, and echo_client (--url, --compression) against python3-websockets servers that send
messages, check the echoes and close."""

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

try:
    import websockets
except ImportError:
    websockets = None

ECHO = os.environ.get("ECHO_BINARY", "")
ECHO_CLIENT = os.environ.get("ECHO_CLIENT_BINARY", "")
MESSAGES = ["hello", "", "κόσμε 😀", "x" * 70000, b"", b"\x00\xff" * 100, bytes(range(256)) * 50]


class EchoServer:
    def __init__(self, *args):
        self.proc = subprocess.Popen([ECHO, "--port=0", "--logging=warning", *args],
                                     stdout=subprocess.PIPE)
        line = self.proc.stdout.readline().decode()
        if not line.startswith("listening on port "):
            self.proc.kill()
            raise RuntimeError("echo did not start: %r" % line)
        self.port = int(line.split()[-1])

    def url(self):
        return "ws://127.0.0.1:%d/echo" % self.port

    def listening_sockets(self):
        count = 0
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with open(table) as f:
                for row in f.readlines()[1:]:
                    local, state = row.split()[1], row.split()[3]
                    if int(local.split(":")[1], 16) == self.port and state == "0A":
                        count += 1
        return count

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.proc.stdout.close()


@unittest.skipIf(websockets is None, "python3-websockets is not installed")
class EchoServerTest(unittest.TestCase):
    def echo_all(self, url, **kwargs):
        async def go():
            async with websockets.connect(url, max_size=None, **kwargs) as ws:
                for m in MESSAGES:
                    await ws.send(m)
                    self.assertEqual(await ws.recv(), m)  # bytes stay bytes, str stays str
                return [e.name for e in ws.extensions]
        return asyncio.run(asyncio.wait_for(go(), 30))

    def test_echo_with_and_without_compression(self):
        server = EchoServer()
        try:
            self.assertEqual(self.echo_all(server.url()), ["permessage-deflate"])
            self.assertEqual(self.echo_all(server.url(), compression=None), [])
        finally:
            server.stop()

    def test_compression_off(self):
        server = EchoServer("--compression=0")
        try:
            self.assertEqual(self.echo_all(server.url()), [])
        finally:
            server.stop()

    def test_threads_share_the_port(self):
        server = EchoServer("--threads=3")
        try:
            self.assertEqual(server.listening_sockets(), 3)

            async def many():
                async def one(i):
                    async with websockets.connect(server.url()) as ws:
                        await ws.send("client %d" % i)
                        return await ws.recv()
                return await asyncio.gather(*(one(i) for i in range(30)))
            got = asyncio.run(asyncio.wait_for(many(), 30))
            self.assertEqual(got, ["client %d" % i for i in range(30)])
        finally:
            server.stop()

    def test_pub_reaches_every_sub_on_every_thread(self):
        server = EchoServer("--threads=2")
        try:
            base = "ws://127.0.0.1:%d" % server.port

            async def go():
                subs = [await websockets.connect(base + "/sub") for _ in range(8)]
                async with websockets.connect(base + "/pub") as pub:
                    for m in ["one", b"two", "three"]:
                        await pub.send(m)
                    got = [[await s.recv() for _ in range(3)] for s in subs]
                for s in subs:
                    await s.close()
                return got
            got = asyncio.run(asyncio.wait_for(go(), 30))
            self.assertEqual(got, [["one", b"two", "three"]] * 8)
        finally:
            server.stop()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@unittest.skipIf(websockets is None or shutil.which("redis-server") is None,
                 "python3-websockets or redis-server is not installed")
class EchoRedisTest(unittest.TestCase):
    def test_pub_in_one_process_reaches_sub_in_another(self):
        port = free_port()
        with tempfile.TemporaryDirectory() as data_dir:
            redis = subprocess.Popen(
                ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", data_dir], stdout=subprocess.DEVNULL)
            try:
                for _ in range(100):  # until it accepts connections
                    try:
                        socket.create_connection(("127.0.0.1", port), 0.1).close()
                        break
                    except OSError:
                        time.sleep(0.05)
                a = EchoServer("--redis=127.0.0.1:%d" % port)
                b = EchoServer("--redis=127.0.0.1:%d" % port)
                try:
                    async def go():
                        async with websockets.connect(
                                "ws://127.0.0.1:%d/sub" % a.port) as sub:
                            async with websockets.connect(
                                    "ws://127.0.0.1:%d/pub" % b.port) as pub:
                                # a's Redis SUBSCRIBE follows its first subscriber by a
                                # moment (docs/pubsub.md): publish until it is in place.
                                while True:
                                    await pub.send("across processes")
                                    try:
                                        return await asyncio.wait_for(sub.recv(), 0.2)
                                    except asyncio.TimeoutError:
                                        pass
                    got = asyncio.run(asyncio.wait_for(go(), 30))
                    self.assertEqual(got, "across processes")
                finally:
                    a.stop()
                    b.stop()
            finally:
                redis.terminate()
                redis.wait(10)


@unittest.skipIf(websockets is None, "python3-websockets is not installed")
class EchoClientTest(unittest.TestCase):
    def session(self, client_args, close_code=1000):
        async def go():
            seen = {}

            async def handler(ws, path=None):
                seen["offer"] = ws.request_headers.get("Sec-WebSocket-Extensions")
                seen["echoes"] = []
                for m in MESSAGES:
                    await ws.send(m)
                    seen["echoes"].append(await ws.recv() == m)
                await ws.close(close_code, "bye")

            async with websockets.serve(handler, "127.0.0.1", 0, max_size=None) as server:
                port = server.sockets[0].getsockname()[1]
                proc = await asyncio.create_subprocess_exec(
                    ECHO_CLIENT, "--url=ws://127.0.0.1:%d/" % port, "--logging=warning",
                    *client_args)
                rc = await asyncio.wait_for(proc.wait(), 30)
            return rc, seen
        return asyncio.run(go())

    def test_echoes_until_a_clean_close(self):
        rc, seen = self.session([])
        self.assertEqual(rc, 0)
        self.assertEqual(seen["echoes"], [True] * len(MESSAGES))
        self.assertIn("permessage-deflate", seen["offer"])

    def test_compression_off(self):
        rc, seen = self.session(["--compression=0"])
        self.assertEqual(rc, 0)
        self.assertEqual(seen["echoes"], [True] * len(MESSAGES))
        self.assertIsNone(seen["offer"])

    def test_other_close_code_is_a_failure(self):
        rc, _ = self.session([], close_code=1001)
        self.assertEqual(rc, 1)

    def test_connection_failure(self):
        proc = subprocess.run([ECHO_CLIENT, "--url=ws://127.0.0.1:1/", "--logging=none"],
                              timeout=30)
        self.assertEqual(proc.returncode, 2)


if __name__ == "__main__":
    unittest.main(verbosity=2)
