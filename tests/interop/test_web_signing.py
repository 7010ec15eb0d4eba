#!/usr/bin/python3
"""Signed values and XSRF tokens shared with Python Tornado (Debian's python3-tornado).

Values Python Tornado makes (tornado.web.create_signed_value, a RequestHandler's
xsrf_token) are read by tornado-cpp, and the ones tornado-cpp makes are read by Python
Tornado (decode_signed_value, _decode_xsrf_token, check_xsrf_cookie): both signed-value
versions, with one secret and with key versions. tornado-cpp's side is
tests/interop/signing_tool.cpp ($INTEROP_SIGNING_TOOL), one JSON request a line.
"""

import json
import os
import subprocess
import unittest
from unittest import mock

try:
    from tornado import web
    from tornado.httputil import HTTPHeaders, HTTPServerRequest
except ImportError:  # pragma: no cover - depends on the machine
    web = None

from interop_common import main

TOOL = os.environ.get("INTEROP_SIGNING_TOOL", "")
SECRET = "It's a secret to everybody"
SECRET_DICT = {0: "asdfbasdf", 1: "12312312", 2: "2342342"}
CLOCK = 1300000000
VALUES = [b"value", b"\xe9", b"", bytes(range(256)), b"a|b:c\n"]
NAMES = ["key", "user", "_xsrf", "a|b"]


class Tool:
    """tornado-cpp's signing functions in a child process."""

    def __init__(self):
        if not TOOL or not os.access(TOOL, os.X_OK):
            raise RuntimeError("INTEROP_SIGNING_TOOL is not an executable: %r" % TOOL)
        self.proc = subprocess.Popen([TOOL], stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def call(self, **request):
        self.proc.stdin.write(json.dumps(request).encode() + b"\n")
        self.proc.stdin.flush()
        reply = json.loads(self.proc.stdout.readline())
        if "error" in reply:
            raise RuntimeError(reply["error"])
        return reply["result"]

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(5)
        self.proc.stdout.close()


def json_secret(secret):
    return {str(k): v for k, v in secret.items()} if isinstance(secret, dict) else secret


def handler(cookie=None, header=None, **settings):
    """A RequestHandler on a POST request carrying an _xsrf cookie and an X-Xsrftoken."""
    headers = HTTPHeaders()
    if cookie is not None:
        headers["Cookie"] = "_xsrf=" + cookie
    if header is not None:
        headers["X-Xsrftoken"] = header
    app = web.Application(cookie_secret=SECRET, xsrf_cookies=True, **settings)
    request = HTTPServerRequest(method="POST", uri="/", headers=headers, connection=mock.Mock())
    return web.RequestHandler(app, request)


class SigningInteropTest(unittest.TestCase):
    def setUp(self):
        if web is None:
            raise unittest.SkipTest("python3-tornado is not installed (scripts/packages.txt)")
        self.tool = Tool()

    def tearDown(self):
        self.tool.close()

    def cases(self):
        """(secret, version, key_version) triples Tornado supports."""
        yield SECRET, 1, None
        yield SECRET, 2, None
        yield SECRET, 2, 5  # one secret, a key version written anyway
        for key_version in SECRET_DICT:
            yield SECRET_DICT, 2, key_version

    def test_signed_values_are_byte_identical_and_read_by_both(self):
        for secret, version, key_version in self.cases():
            for name in NAMES:
                for value in VALUES:
                    with self.subTest(secret=secret, version=version, kv=key_version,
                                      name=name, value=value):
                        py = web.create_signed_value(secret, name, value, version=version,
                                                     clock=lambda: CLOCK,
                                                     key_version=key_version)
                        cpp = self.tool.call(op="sign", secret=json_secret(secret), name=name,
                                             value=value.hex(), version=version, clock=CLOCK,
                                             key_version=key_version)
                        self.assertEqual(cpp.encode(), py)
                        # Python's value read by tornado-cpp ...
                        decoded = self.tool.call(op="decode", secret=json_secret(secret),
                                                 name=name, value=py.decode(), clock=CLOCK)
                        self.assertEqual(decoded, value.hex())
                        # ... and tornado-cpp's read by Python.
                        self.assertEqual(
                            web.decode_signed_value(secret, name, cpp, clock=lambda: CLOCK),
                            value)
                        self.assertEqual(self.tool.call(op="key_version", value=cpp),
                                         web.get_signature_key_version(py))

    def test_a_value_made_now_by_python_is_read_with_the_real_clock(self):
        py = web.create_signed_value(SECRET_DICT, "user", "alice", key_version=1).decode()
        import time
        now = int(time.time())
        self.assertEqual(self.tool.call(op="decode", secret=json_secret(SECRET_DICT),
                                        name="user", value=py, clock=now),
                         b"alice".hex())

    def test_both_refuse_the_same_values(self):
        good = web.create_signed_value(SECRET, "key", "value", clock=lambda: CLOCK).decode()
        good_v1 = web.create_signed_value(SECRET, "key", "value", version=1,
                                          clock=lambda: CLOCK).decode()
        cases = [
            (good, "other", {}),                       # wrong name
            (good[:-1] + "0", "key", {}),               # tampered signature
            (good.replace("1:0", "1:1"), "key", {}),    # tampered key version
            (good, "key", {"max_age_days": 1, "now": CLOCK + 2 * 86400}),  # expired
            (good_v1, "key", {"min_version": 2}),      # v1 refused
            (good_v1, "key", {"now": CLOCK - 40 * 86400}),  # v1 in the future
            ("2|1:0|10:1300000000|3:key|", "key", {}),
            ("garbage", "key", {}),
            ("4|x", "key", {}),
        ]
        for value, name, options in cases:
            with self.subTest(value=value, options=options):
                now = options.get("now", CLOCK)
                kwargs = {k: v for k, v in options.items() if k != "now"}
                self.assertIsNone(web.decode_signed_value(SECRET, name, value,
                                                          clock=lambda: now, **kwargs))
                self.assertIsNone(self.tool.call(op="decode", secret=SECRET, name=name,
                                                 value=value, clock=now, **kwargs))
        # A versioned secret missing the value's key: both refuse.
        value = web.create_signed_value(SECRET_DICT, "key", "v", key_version=2).decode()
        self.assertIsNone(web.decode_signed_value({0: "x"}, "key", value))
        import time
        self.assertIsNone(self.tool.call(op="decode", secret={"0": "x"}, name="key",
                                         value=value, clock=int(time.time())))

    def test_python_xsrf_tokens_are_read_by_tornado_cpp(self):
        for version in (1, 2):
            with self.subTest(xsrf_cookie_version=version):
                h = handler(xsrf_cookie_version=version)
                token_text = h.xsrf_token.decode()
                _, raw, timestamp = h._get_raw_xsrf_token()
                decoded = self.tool.call(op="xsrf_decode", text=token_text)
                self.assertEqual(decoded["version"], version)
                self.assertEqual(decoded["token"], raw.hex())
                if version == 2:
                    self.assertEqual(decoded["timestamp"], int(timestamp))

    def test_tornado_cpp_xsrf_tokens_pass_python_check_xsrf_cookie(self):
        # A cookie made by Python (v2 and v1) and a form token made by tornado-cpp from the
        # same raw token: Python's check_xsrf_cookie accepts the pair.
        for version in (1, 2):
            with self.subTest(cookie_version=version):
                cookie = handler(xsrf_cookie_version=version).xsrf_token.decode()
                raw = self.tool.call(op="xsrf_decode", text=cookie)["token"]
                cpp = self.tool.call(op="xsrf_encode", token=raw, timestamp=CLOCK)
                self.assertEqual(handler()._decode_xsrf_token(cpp),
                                 (2, bytes.fromhex(raw), CLOCK))
                handler(cookie=cookie, header=cpp).check_xsrf_cookie()  # raises on mismatch
                # And a tornado-cpp cookie with Python's masked token of it.
                h = handler(cookie=cpp)
                handler(cookie=cpp, header=h.xsrf_token.decode()).check_xsrf_cookie()

    def test_a_wrong_tornado_cpp_token_fails_python_check(self):
        cookie = handler().xsrf_token.decode()
        other = self.tool.call(op="xsrf_encode", token="00" * 16, timestamp=CLOCK)
        with self.assertRaises(web.HTTPError) as raised:
            handler(cookie=cookie, header=other).check_xsrf_cookie()
        self.assertEqual(raised.exception.status_code, 403)

    def test_both_decode_the_same_xsrf_texts(self):
        texts = ["a", "xoxo", "00112233", "2|01020304|011321374557|1300000000",
                 "2|0A020304|0B|1", "3|01020304|0011|1", "2|01020304|0011",
                 "2|01020304|001|1", "2|01020304|0011|12a"]
        h = handler()
        for text in texts:
            with self.subTest(text=text):
                version, token, timestamp = h._decode_xsrf_token(text)
                cpp = self.tool.call(op="xsrf_decode", text=text)
                if token is None:
                    self.assertIsNone(cpp)
                else:
                    self.assertEqual((cpp["version"], cpp["token"]), (version, token.hex()))
                    if version == 2:
                        self.assertEqual(cpp["timestamp"], timestamp)
        # Deliberately stricter (docs/web_security.md): Tornado never writes a mask that is
        # not 4 bytes, and Python only reads one when the token is short enough.
        for text in ("2|010203|0011|1", "2|0102030405|0011|1"):
            self.assertIsNotNone(h._decode_xsrf_token(text)[1])
            self.assertIsNone(self.tool.call(op="xsrf_decode", text=text))


if __name__ == "__main__":
    main()
