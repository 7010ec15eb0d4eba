#!/usr/bin/python3
"""Python Tornado (Debian's python3-tornado) clients against our HTTPServer: AsyncHTTPClient
and SimpleAsyncHTTPClient, body_producer (chunked) uploads, 100-continue, streaming, and
pipelining over a raw IOStream read back with Tornado's own HTTP1Connection parser."""

import json
import socket
import unittest

from tornado.http1connection import HTTP1Connection
from tornado.httpclient import AsyncHTTPClient, HTTPClientError
from tornado.httputil import HTTPHeaders, HTTPMessageDelegate, RequestStartLine
from tornado.iostream import IOStream
from tornado.simple_httpclient import HTTPTimeoutError, SimpleAsyncHTTPClient
from tornado.testing import AsyncTestCase, gen_test

from interop_common import EchoServer, main, read_response


class Collector(HTTPMessageDelegate):
    """An HTTPMessageDelegate that keeps what Tornado's parser hands it."""

    def __init__(self):
        self.start_line = None
        self.headers = None
        self.chunks = []
        self.finished = False

    def headers_received(self, start_line, headers):
        self.start_line, self.headers = start_line, headers

    def data_received(self, chunk):
        self.chunks.append(chunk)

    def finish(self):
        self.finished = True

    @property
    def body(self):
        return b"".join(self.chunks)


class TornadoClientTest(AsyncTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = EchoServer()

    @classmethod
    def tearDownClass(cls):
        assert cls.server.stop() == 0, "echo server exited badly"

    def setUp(self):
        super().setUp()
        self.client = AsyncHTTPClient(force_instance=True)
        self.simple = SimpleAsyncHTTPClient(force_instance=True)

    def tearDown(self):
        self.client.close()
        self.simple.close()
        super().tearDown()

    def url(self, path):
        return self.server.url(path)

    @gen_test
    def test_get_both_clients(self):
        for client in (self.client, self.simple):
            r = yield client.fetch(self.url("/"))
            self.assertEqual((r.code, r.body), (200, b"Hello world"))

    @gen_test
    def test_post_and_put(self):
        r = yield self.client.fetch(self.url("/echo?x=1"), method="POST", body="a=2&b=3")
        j = json.loads(r.body)
        self.assertEqual(j["arguments"], {"x": ["1"], "a": ["2"], "b": ["3"]})
        r = yield self.simple.fetch(self.url("/echo"), method="PUT", body=b"\x00raw")
        self.assertEqual(json.loads(r.body)["body_length"], 4)

    @gen_test
    def test_head_and_no_content(self):
        r = yield self.client.fetch(self.url("/"), method="HEAD")
        self.assertEqual((r.headers["Content-Length"], r.body), ("11", b""))
        r = yield self.client.fetch(self.url("/status?code=204"))
        self.assertEqual((r.code, r.body), (204, b""))

    @gen_test
    def test_http_error_status(self):
        with self.assertRaises(HTTPClientError) as cm:
            yield self.client.fetch(self.url("/nowhere"))
        self.assertEqual(cm.exception.code, 404)

    @gen_test
    def test_body_producer_chunked_upload(self):
        pieces = [b"first,", b"second,", b"x" * 100000]

        async def producer(write):
            for p in pieces:
                await write(p)

        r = yield self.simple.fetch(self.url("/echo"), method="POST", body_producer=producer)
        j = json.loads(r.body)
        self.assertEqual(j["headers"]["Transfer-Encoding"], ["chunked"])
        self.assertEqual(j["body"].encode(), b"".join(pieces))

    @gen_test
    def test_body_producer_with_content_length(self):
        async def producer(write):
            await write(b"12345")
            await write(b"67890")

        r = yield self.simple.fetch(self.url("/echo"), method="PUT", body_producer=producer,
                                    headers={"Content-Length": "10"})
        j = json.loads(r.body)
        self.assertNotIn("Transfer-Encoding", j["headers"])
        self.assertEqual(j["body"], "1234567890")

    @gen_test
    def test_expect_100_continue(self):
        r = yield self.simple.fetch(self.url("/echo"), method="POST", body="y" * 3000,
                                    expect_100_continue=True)
        j = json.loads(r.body)
        self.assertEqual(j["headers"]["Expect"], ["100-continue"])
        self.assertEqual(j["body_length"], 3000)

    @gen_test
    def test_streaming_and_header_callbacks(self):
        chunks, lines = [], []
        r = yield self.client.fetch(self.url("/chunked?parts=20"),
                                    streaming_callback=chunks.append,
                                    header_callback=lines.append)
        self.assertEqual(r.body, b"")
        self.assertEqual(b"".join(chunks), b"".join(b"part%d;" % i for i in range(20)))
        self.assertEqual(lines[0], "HTTP/1.1 200 OK\r\n")
        self.assertIn("Transfer-Encoding: chunked\r\n", lines)
        self.assertEqual(lines[-1], "\r\n")

    @gen_test
    def test_request_timeout_then_next_request(self):
        with self.assertRaises(HTTPTimeoutError):
            yield self.client.fetch(self.url("/slow?ms=2000"), request_timeout=0.2)
        r = yield self.client.fetch(self.url("/"))
        self.assertEqual(r.body, b"Hello world")

    @gen_test
    def test_large_download(self):
        r = yield self.client.fetch(self.url("/big?n=4000000"))
        self.assertEqual(len(r.body), 4000000)

    @gen_test
    def test_concurrent_fetches(self):
        responses = yield [self.client.fetch(self.url("/slow?ms=%d" % (10 * i)))
                           for i in range(10)]
        self.assertEqual([r.body for r in responses],
                         [b"slow %d" % (10 * i) for i in range(10)])

    PIPELINE = (
        b"GET /slow?ms=100 HTTP/1.1\r\nHost: x\r\n\r\n"
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
        b"GET /chunked?parts=2 HTTP/1.1\r\nHost: x\r\n\r\n"
    )

    @gen_test
    def test_pipelining_with_tornado_http1connection(self):
        # Tornado's own HTTP1Connection (client mode) writes three requests on one stream
        # before reading any response (the POST goes out chunked: Tornado chunks a POST
        # without Content-Length), then parses our three responses in order.
        stream = IOStream(socket.socket())
        yield stream.connect(("127.0.0.1", self.server.port))
        requests = [("GET", "/slow?ms=100", []), ("POST", "/echo", [b"abc", b"de"]),
                    ("GET", "/chunked?parts=2", [])]
        conns = []
        for method, path, body in requests:
            conn = HTTP1Connection(stream, True)
            conn.write_headers(RequestStartLine(method, path, "HTTP/1.1"),
                               HTTPHeaders({"Host": "x"}))
            for piece in body:
                conn.write(piece)
            conn.finish()
            conns.append(conn)
        delegates = []
        for conn in conns:
            d = Collector()
            yield conn.read_response(d)
            delegates.append(d)
        stream.close()
        self.assertTrue(all(d.finished for d in delegates))
        self.assertEqual(delegates[0].body, b"slow 100")
        j = json.loads(delegates[1].body)
        self.assertEqual((j["method"], j["body"]), ("POST", "abcde"))
        self.assertEqual(j["headers"]["Transfer-Encoding"], ["chunked"])
        self.assertEqual(delegates[2].headers["Transfer-Encoding"], "chunked")
        self.assertEqual(delegates[2].body, b"part0;part1;")

    def test_pipelining_raw_socket(self):
        # Three requests in one write; the first answers last in time but first on the wire.
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=5) as s:
            s.sendall(self.PIPELINE)
            f = s.makefile("rb")
            bodies = [read_response(f)[2] for _ in range(3)]
        self.assertEqual(bodies[0], b"slow 100")
        self.assertEqual(json.loads(bodies[1])["body"], "abcde")
        self.assertEqual(bodies[2], b"part0;part1;")

    def test_pipelined_burst_of_identical_requests(self):
        # Requests answered at once, all parsed from one read: every response is complete
        # and in order (they leave in one writev; the framing is what a peer can check).
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=5) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 3)
            f = s.makefile("rb")
            self.assertEqual([read_response(f)[2] for _ in range(3)], [b"Hello world"] * 3)


if __name__ == "__main__":
    main()
