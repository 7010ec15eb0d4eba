#!/usr/bin/python3
"""HTTPS: our HTTPServer with ssl_options (a certificate made now with openssl) against
curl, Python requests and Python Tornado; plain HTTP sent to the TLS port fails cleanly and
the server keeps serving (Tornado's SSLTest)."""

import json
import socket
import ssl
import subprocess
import tempfile
import unittest

import requests
from tornado.httpclient import AsyncHTTPClient
from tornado.testing import AsyncTestCase, gen_test

from interop_common import EchoServer, main, make_certificate, require


class TLSTest(AsyncTestCase):
    @classmethod
    def setUpClass(cls):
        require("openssl")
        cls.tmp = tempfile.TemporaryDirectory()
        cls.cert, cls.key = make_certificate(cls.tmp.name)
        cls.server = EchoServer("--certfile=" + cls.cert, "--keyfile=" + cls.key)

    @classmethod
    def tearDownClass(cls):
        code = cls.server.stop()
        cls.tmp.cleanup()
        assert code == 0, "echo server exited badly"

    def url(self, path, scheme="https"):
        return self.server.url(path, scheme=scheme)

    def curl(self, *args):
        return subprocess.run([require("curl"), "-sS", "--max-time", "10", *args],
                              capture_output=True)

    def test_curl_insecure(self):
        proc = self.curl("-k", self.url("/"))
        self.assertEqual((proc.returncode, proc.stdout), (0, b"Hello world"), proc.stderr)

    def test_curl_verifies_with_our_certificate(self):
        proc = self.curl("--cacert", self.cert, "-d", "a=1", self.url("/echo"))
        self.assertEqual(proc.returncode, 0, proc.stderr)
        j = json.loads(proc.stdout)
        self.assertEqual((j["protocol"], j["arguments"]), ("https", {"a": ["1"]}))

    def test_curl_without_trust_refuses(self):
        # The certificate really is checked: without --cacert or -k curl fails (exit 60).
        proc = self.curl(self.url("/"))
        self.assertEqual(proc.returncode, 60, proc.stderr)

    def test_curl_keep_alive_over_tls(self):
        proc = self.curl("-v", "-k", self.url("/"), self.url("/chunked"))
        self.assertIn(b"Re-using existing connection", proc.stderr)
        self.assertEqual(proc.stdout, b"Hello worldpart0;part1;part2;")

    def test_requests_verify(self):
        r = requests.get(self.url("/"), verify=self.cert, timeout=10)
        self.assertEqual(r.text, "Hello world")
        r = requests.post(self.url("/echo"), data=b"A" * 5000, verify=self.cert, timeout=10)
        self.assertEqual(r.json()["body_length"], 5000)

    def test_requests_session_reuses_tls_connection(self):
        # verify= per request: a Session's verify attribute loses to $REQUESTS_CA_BUNDLE
        # (a known requests quirk), which CI machines may set.
        with requests.Session() as s:
            ports = {s.get(self.url("/echo"), verify=self.cert, timeout=10).json()["remote_port"]
                     for _ in range(4)}
        self.assertEqual(len(ports), 1)

    def test_requests_chunked_upload_over_tls(self):
        def body():
            yield b"t" * 40000
            yield b"end"

        r = requests.post(self.url("/echo"), data=body(), verify=self.cert, timeout=10)
        self.assertEqual(r.json()["body_length"], 40003)

    @gen_test
    def test_tornado_client(self):
        client = AsyncHTTPClient(force_instance=True)
        try:
            r = yield client.fetch(self.url("/"), ca_certs=self.cert)
            self.assertEqual(r.body, b"Hello world")
            r = yield client.fetch(self.url("/echo"), method="POST", body="A" * 5000,
                                   ca_certs=self.cert)
            self.assertEqual(json.loads(r.body)["body_length"], 5000)
        finally:
            client.close()

    def test_plain_http_to_tls_port_fails_cleanly(self):
        with self.assertRaises(requests.exceptions.ConnectionError):
            requests.get(self.url("/", scheme="http"), timeout=10)
        # The server closed that connection instead of waiting for a timeout, and serves on.
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=5) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            try:
                data = s.recv(4096)
                # Only a TLS alert may come back, never an HTTP answer in clear text.
                self.assertFalse(data.startswith(b"HTTP/"), data)
                while data:
                    data = s.recv(4096)
            except ConnectionResetError:
                pass
        self.assertTrue(self.server.alive())
        r = requests.get(self.url("/"), verify=self.cert, timeout=10)
        self.assertEqual(r.text, "Hello world")
        # One warning line on tornado.general, as Tornado logs it; nothing on the
        # application logger (Tornado's test_error_logging: no stack trace).
        log = self.server.log()
        self.assertIn("tornado.general] SSL Error", log)
        self.assertNotIn("tornado.application", log)

    def test_handshake_with_python_ssl(self):
        ctx = ssl.create_default_context(cafile=self.cert)
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                s.sendall(b"GET / HTTP/1.0\r\n\r\n")
                data = b""
                while chunk := s.recv(4096):
                    data += chunk
        self.assertTrue(data.startswith(b"HTTP/1.1 200 OK\r\n"))
        self.assertTrue(data.endswith(b"\r\n\r\nHello world"))


if __name__ == "__main__":
    main()
