#!/usr/bin/python3
"""curl (the command-line client, libcurl 7.88) against our HTTPServer."""

import gzip
import json
import os
import subprocess
import tempfile
import unittest

from interop_common import EchoServer, main, require


class CurlTest(unittest.TestCase):
    server_args = ()

    @classmethod
    def setUpClass(cls):
        cls.curl = require("curl")
        cls.server = EchoServer(*cls.server_args)
        cls.tmp = tempfile.TemporaryDirectory()

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()
        assert cls.server.stop() == 0, "echo server exited badly"

    def run_curl(self, *args, check=True):
        proc = subprocess.run([self.curl, "-sS", "--max-time", "10", *args],
                              capture_output=True)
        if check:
            self.assertEqual(proc.returncode, 0, proc.stderr.decode())
        return proc

    def body_file(self, name, data):
        path = os.path.join(self.tmp.name, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def echo(self, *args):
        return json.loads(self.run_curl(*args, self.server.url("/echo")).stdout)


class PlainCurlTest(CurlTest):
    def test_get(self):
        proc = self.run_curl("-i", self.server.url("/"))
        head, _, body = proc.stdout.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200 OK\r\n"), head)
        self.assertIn(b"\r\nDate: ", head)
        self.assertEqual(body, b"Hello world")

    def test_head_has_length_but_no_body(self):
        proc = self.run_curl("-I", self.server.url("/"))
        self.assertIn(b"Content-Length: 11\r\n", proc.stdout)
        self.assertTrue(proc.stdout.endswith(b"\r\n\r\n"))

    def test_head_of_chunked_resource_ends_at_headers(self):
        # No Content-Length and no Transfer-Encoding on a HEAD answer: curl must not wait for
        # a body (RFC 9110 9.3.2); --max-time would fail the run if it did.
        proc = self.run_curl("-I", self.server.url("/chunked"))
        self.assertNotIn(b"Transfer-Encoding", proc.stdout)

    def test_post_form(self):
        j = self.echo("-d", "a=1&b=x%20y")
        self.assertEqual(j["method"], "POST")
        self.assertEqual(j["headers"]["Content-Type"], ["application/x-www-form-urlencoded"])
        self.assertEqual(j["arguments"], {"a": ["1"], "b": ["x y"]})

    def test_put_and_custom_method(self):
        self.assertEqual(self.echo("-X", "PUT", "--data-binary", "abc")["method"], "PUT")
        j = self.echo("-X", "PATCH", "--data-binary", "xyz")
        self.assertEqual((j["method"], j["body"]), ("PATCH", "xyz"))

    def test_chunked_upload(self):
        data = b"".join(b"line %06d\n" % i for i in range(20000))  # 220 KB
        path = self.body_file("upload.txt", data)
        j = self.echo("-H", "Transfer-Encoding: chunked", "--data-binary", "@" + path)
        self.assertEqual(j["headers"]["Transfer-Encoding"], ["chunked"])
        self.assertNotIn("Content-Length", j["headers"])
        self.assertEqual(j["body_length"], len(data))
        self.assertEqual(j["body"].encode(), data)

    def test_expect_100_continue(self):
        data = b"z" * 5000
        path = self.body_file("expect.txt", data)
        proc = self.run_curl("-v", "-H", "Expect: 100-continue", "--data-binary", "@" + path,
                             self.server.url("/echo"))
        # curl saw the interim response and only then sent the body.
        self.assertIn(b"< HTTP/1.1 100 ", proc.stderr)
        self.assertNotIn(b"Done waiting for 100-continue", proc.stderr)
        j = json.loads(proc.stdout)
        self.assertEqual(j["headers"]["Expect"], ["100-continue"])
        self.assertEqual(j["body_length"], len(data))

    def test_keep_alive_reuses_one_connection(self):
        proc = self.run_curl("-v", self.server.url("/"), self.server.url("/chunked"),
                             self.server.url("/echo?x=1"), self.server.url("/status?code=204"))
        self.assertEqual(proc.stderr.count(b"Re-using existing connection"), 3,
                         proc.stderr.decode())
        self.assertEqual(proc.stderr.count(b"Connected to"), 1)
        self.assertTrue(proc.stdout.startswith(b"Hello worldpart0;part1;part2;{"))

    def test_keep_alive_across_post_and_get(self):
        proc = self.run_curl("-v", "-d", "a=1", self.server.url("/echo"), "--next",
                             self.server.url("/"))
        self.assertIn(b"Re-using existing connection", proc.stderr)
        self.assertTrue(proc.stdout.endswith(b"}Hello world"), proc.stdout)

    def test_http10(self):
        proc = self.run_curl("--http1.0", "-i", self.server.url("/chunked"))
        head, _, body = proc.stdout.partition(b"\r\n\r\n")
        # We answer with our own version (RFC 9110 2.5) and never chunk for an HTTP/1.0
        # client: the body ends at the close.
        self.assertTrue(head.startswith(b"HTTP/1.1 200 OK"), head)
        self.assertNotIn(b"Transfer-Encoding", head)
        self.assertEqual(body, b"part0;part1;part2;")

    def test_http10_keep_alive(self):
        proc = self.run_curl("-v", "--http1.0", "-H", "Connection: keep-alive",
                             self.server.url("/"), self.server.url("/echo"))
        self.assertIn(b"< Connection: Keep-Alive", proc.stderr)
        self.assertIn(b"Re-using existing connection", proc.stderr)
        self.assertEqual(json.loads(proc.stdout[len(b"Hello world"):])["version"], "HTTP/1.0")

    def test_http10_closes_without_keep_alive(self):
        # Our status line says HTTP/1.1, so without "Connection: close" curl would take the
        # connection as persistent (RFC 9112 9.3), reuse it, and meet a reset.
        proc = self.run_curl("-v", "--http1.0", self.server.url("/"), self.server.url("/"))
        self.assertEqual(proc.stderr.count(b"< Connection: close"), 2, proc.stderr)
        self.assertNotIn(b"Re-using existing connection", proc.stderr)
        self.assertNotIn(b"Connection died", proc.stderr)
        self.assertEqual(proc.stdout, b"Hello worldHello world")

    def test_large_download(self):
        out = os.path.join(self.tmp.name, "big")
        self.run_curl("-o", out, self.server.url("/big?n=5000000"))
        self.assertEqual(os.path.getsize(out), 5000000)

    def test_no_content_and_not_modified(self):
        for code in (204, 304):
            proc = self.run_curl("-i", self.server.url("/status?code=%d" % code))
            self.assertTrue(proc.stdout.startswith(b"HTTP/1.1 %d " % code))
            self.assertNotIn(b"Content-Length", proc.stdout)
            self.assertNotIn(b"Transfer-Encoding", proc.stdout)

    def test_gzip_body_without_decompress_request_is_left_alone(self):
        packed = gzip.compress(b"a=1&b=2")
        path = self.body_file("form.gz", packed)
        j = self.echo("-H", "Content-Encoding: gzip", "--data-binary", "@" + path)
        self.assertEqual(j["body_length"], len(packed))
        self.assertEqual(j["headers"]["Content-Encoding"], ["gzip"])
        # Tornado refuses to parse form arguments out of an encoded body: so do we.
        self.assertEqual(j["arguments"], {})


class DecompressCurlTest(CurlTest):
    server_args = ("--decompress-request",)

    def test_gzip_request_body(self):
        packed = gzip.compress(b"a=1&b=2")
        path = self.body_file("form.gz", packed)
        j = self.echo("-H", "Content-Encoding: gzip", "--data-binary", "@" + path)
        self.assertEqual(j["body"], "a=1&b=2")
        self.assertEqual(j["arguments"], {"a": ["1"], "b": ["2"]})
        self.assertEqual(j["headers"]["X-Consumed-Content-Encoding"], ["gzip"])
        self.assertNotIn("Content-Encoding", j["headers"])

    def test_gzip_chunked_upload(self):
        data = b"".join(b"row %d\n" % i for i in range(50000))
        path = self.body_file("rows.gz", gzip.compress(data))
        j = self.echo("-H", "Content-Encoding: gzip", "-H", "Transfer-Encoding: chunked",
                      "--data-binary", "@" + path)
        self.assertEqual(j["body_length"], len(data))
        self.assertEqual(j["body"].encode(), data)

    def test_corrupt_gzip_is_400(self):
        path = self.body_file("bad.gz", b"\x1f\x8b\x08\x00garbage-that-is-not-deflate")
        proc = self.run_curl("-i", "-H", "Content-Encoding: gzip", "--data-binary", "@" + path,
                             self.server.url("/echo"))
        self.assertTrue(proc.stdout.startswith(b"HTTP/1.1 400 "), proc.stdout)
        self.assertTrue(self.server.alive())


if __name__ == "__main__":
    main()
