#!/usr/bin/python3
"""Python requests (urllib3, http.client underneath) against our HTTPServer."""

import unittest

import requests

from interop_common import EchoServer, main


class RequestsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = EchoServer()

    @classmethod
    def tearDownClass(cls):
        assert cls.server.stop() == 0, "echo server exited badly"

    def url(self, path):
        return self.server.url(path)

    def test_get_with_params(self):
        r = requests.get(self.url("/echo"), params={"q": "a b", "n": ["1", "2"]}, timeout=10)
        r.raise_for_status()
        j = r.json()
        self.assertEqual(j["method"], "GET")
        self.assertEqual(j["arguments"], {"q": ["a b"], "n": ["1", "2"]})
        self.assertEqual(r.headers["Content-Type"], "application/json")

    def test_hello(self):
        r = requests.get(self.url("/"), timeout=10)
        self.assertEqual((r.status_code, r.text), (200, "Hello world"))
        self.assertIn("Date", r.headers)

    def test_head(self):
        r = requests.head(self.url("/"), timeout=10)
        self.assertEqual(r.headers["Content-Length"], "11")
        self.assertEqual(r.content, b"")

    def test_post_form(self):
        r = requests.post(self.url("/echo"), data={"a": "1", "b": "é"}, timeout=10)
        j = r.json()
        self.assertEqual(j["arguments"], {"a": ["1"], "b": ["é"]})

    def test_post_json(self):
        r = requests.post(self.url("/echo"), json={"k": [1, 2, {"x": None}]}, timeout=10)
        j = r.json()
        self.assertEqual(j["headers"]["Content-Type"], ["application/json"])
        self.assertEqual(requests.compat.json.loads(j["body"]), {"k": [1, 2, {"x": None}]})
        self.assertEqual(j["arguments"], {})

    def test_multipart_upload(self):
        files = {
            "doc": ("report.txt", b"first line\r\nsecond line\r\n", "text/plain"),
            "blob": ("data.bin", bytes(range(256)) * 4, "application/octet-stream"),
        }
        r = requests.post(self.url("/echo"), files=files, data={"title": "T"}, timeout=10)
        j = r.json()
        self.assertTrue(j["headers"]["Content-Type"][0].startswith("multipart/form-data; "))
        self.assertEqual(j["arguments"], {"title": ["T"]})
        doc = j["files"]["doc"][0]
        self.assertEqual((doc["filename"], doc["content_type"], doc["body"]),
                         ("report.txt", "text/plain", "first line\r\nsecond line\r\n"))
        blob = j["files"]["blob"][0]
        self.assertEqual((blob["filename"], blob["length"]), ("data.bin", 1024))

    def test_session_keeps_one_connection(self):
        with requests.Session() as s:
            ports = {s.get(self.url("/echo"), timeout=10).json()["remote_port"]
                     for _ in range(5)}
            ports.add(s.post(self.url("/echo"), data=b"x" * 100000,
                             timeout=10).json()["remote_port"])
            self.assertEqual(s.get(self.url("/chunked"), timeout=10).text,
                             "part0;part1;part2;")
            ports.add(s.get(self.url("/echo"), timeout=10).json()["remote_port"])
        self.assertEqual(len(ports), 1, ports)

    def test_chunked_upload_from_generator(self):
        # No empty piece: requests 2.28 writes b"" as the last-chunk "0\r\n\r\n", which
        # ends the body there (docs/interop.md).
        pieces = [b"alpha,", b"beta,", b"g" * 70000, b"!"]

        def body():
            yield from pieces

        r = requests.post(self.url("/echo"), data=body(), timeout=10)
        j = r.json()
        self.assertEqual(j["headers"]["Transfer-Encoding"], ["chunked"])
        self.assertEqual(j["body"].encode(), b"".join(pieces))

    def test_streamed_download(self):
        with requests.get(self.url("/big?n=3000000"), stream=True, timeout=10) as r:
            total = sum(len(c) for c in r.iter_content(65536))
        self.assertEqual(total, 3000000)

    def test_chunked_response_streamed(self):
        with requests.get(self.url("/chunked?parts=100"), stream=True, timeout=10) as r:
            self.assertEqual(r.headers["Transfer-Encoding"], "chunked")
            text = b"".join(r.iter_content(None)).decode()
        self.assertEqual(text, "".join("part%d;" % i for i in range(100)))

    def test_status_codes(self):
        for code in (201, 204, 304, 404, 500):
            r = requests.get(self.url("/status?code=%d" % code), timeout=10)
            self.assertEqual(r.status_code, code)
            self.assertEqual(r.content, b"")

    def test_slow_response_and_client_timeout(self):
        self.assertEqual(requests.get(self.url("/slow?ms=50"), timeout=10).text, "slow 50")
        with self.assertRaises(requests.exceptions.ReadTimeout):
            requests.get(self.url("/slow?ms=2000"), timeout=0.2)
        # The abandoned request does not disturb the next one.
        self.assertEqual(requests.get(self.url("/"), timeout=10).text, "Hello world")


if __name__ == "__main__":
    main()
