#!/usr/bin/python3
"""HTTPServer on a Unix socket (bind_unix_socket + add_socket): curl --unix-socket and raw
requests (Tornado's UnixSocketTest)."""

import json
import os
import socket
import subprocess
import tempfile
import time
import unittest

from interop_common import EchoServer, main, raw_exchange, read_response, require


class UnixSocketTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.path = os.path.join(cls.tmp.name, "test.sock")
        cls.server = EchoServer("--unix-socket=" + cls.path)

    @classmethod
    def tearDownClass(cls):
        code = cls.server.stop()
        cls.tmp.cleanup()
        assert code == 0, "echo server exited badly"

    def curl(self, *args):
        proc = subprocess.run([require("curl"), "-sS", "--max-time", "10", "--unix-socket",
                               self.path, *args], capture_output=True)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return proc

    def test_socket_file_mode(self):
        self.assertEqual(os.stat(self.path).st_mode & 0o777, 0o600)

    def test_curl_get(self):
        self.assertEqual(self.curl("http://localhost/").stdout, b"Hello world")

    def test_curl_echo_has_no_remote_address(self):
        j = json.loads(self.curl("-d", "a=1", "http://localhost/echo").stdout)
        self.assertEqual((j["remote_ip"], j["remote_port"]), ("", 0))
        self.assertEqual(j["arguments"], {"a": ["1"]})

    def test_curl_keep_alive(self):
        proc = self.curl("-v", "http://localhost/", "http://localhost/chunked")
        self.assertIn(b"Re-using existing connection", proc.stderr)

    def test_http10_request(self):
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(self.path)
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            status, headers, body = read_response(s.makefile("rb"))
        self.assertEqual(status, "HTTP/1.1 200 OK")
        self.assertEqual(body, b"Hello world")

    def test_bad_request(self):
        response = raw_exchange(self.path, b"garbage\r\n\r\n", family=socket.AF_UNIX)
        self.assertTrue(response.startswith(b"HTTP/1.1 400 Bad Request\r\n"), response)
        self.assertIn(b"\r\nConnection: close\r\n", response)
        deadline = time.monotonic() + 5
        while "Malformed HTTP message from" not in self.server.log():
            self.assertLess(time.monotonic(), deadline, self.server.log())
            time.sleep(0.02)
        self.assertEqual(self.curl("http://localhost/").stdout, b"Hello world")


if __name__ == "__main__":
    main()
