"""Signed cookies and XSRF tokens end to end between Python Tornado and a tornado-cpp
web::Application sharing the secret (tests/interop/web_app_server.cpp).

- a cookie signed by Python Tornado (v1, v2, key versions) is read by the C++ handler;
- the C++ Set-Cookie, parsed by Python's http.cookies, decodes with Python Tornado;
- an XSRF cookie and token made by a Python Tornado app pass the C++ check, and the C++
  ones pass Python Tornado's check; mismatched pairs are refused by both.
"""

import asyncio
import http.cookies
import os
import threading
import unittest
import urllib.error
import urllib.parse
import urllib.request

import tornado.web
from interop_common import EchoServer

SECRET = "interop-secret"
os.environ.setdefault("INTEROP_ECHO_SERVER", os.environ.get("INTEROP_WEB_APP_SERVER", ""))


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def fetch(url, cookie=None, data=None, headers=None):
    """(status, body, [Set-Cookie values]) without raising on HTTP errors."""
    req = urllib.request.Request(url, data=data.encode() if data is not None else None)
    if cookie:
        req.add_header("Cookie", cookie)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(req, timeout=10) as r:
            return r.status, r.read().decode(), r.headers.get_all("Set-Cookie") or []
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), e.headers.get_all("Set-Cookie") or []


def cookie_header(name, value):
    """What a browser sends back for a cookie a Python Tornado app set."""
    c = http.cookies.SimpleCookie()
    c[name] = value
    return c[name].OutputString()


def cookie_value(set_cookies, name):
    for line in set_cookies:
        c = http.cookies.SimpleCookie()
        c.load(line)
        if name in c:
            return c[name].value
    return None


class PythonApp:
    """A Python Tornado app with xsrf_cookies, on its own thread and loop."""

    class XsrfHandler(tornado.web.RequestHandler):
        def get(self):
            self.write(self.xsrf_token)

        def post(self):
            self.write("python posted")

    def __init__(self):
        self.ready = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self.main()), daemon=True)
        self.thread.start()
        self.ready.wait(10)

    async def main(self):
        app = tornado.web.Application(
            [("/xsrf", self.XsrfHandler)], cookie_secret=SECRET, xsrf_cookies=True)
        server = app.listen(0, "127.0.0.1")
        self.port = list(server._sockets.values())[0].getsockname()[1]
        self.stop = asyncio.Event()
        self.loop = asyncio.get_running_loop()
        self.ready.set()
        await self.stop.wait()
        server.stop()

    def close(self):
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(5)


class WebAppInterop(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        binary = os.environ.get("INTEROP_WEB_APP_SERVER", "")
        import interop_common
        interop_common.SERVER = binary
        cls.cpp = EchoServer("--secret=" + SECRET)
        cls.cpp_versioned = EchoServer("--secret=" + SECRET, "--versioned")
        cls.py = PythonApp()

    @classmethod
    def tearDownClass(cls):
        cls.cpp.stop()
        cls.cpp_versioned.stop()
        cls.py.close()

    def test_python_signed_cookie_is_read_by_cpp(self):
        for version in (1, 2):
            value = tornado.web.create_signed_value(SECRET, "user", "ann", version=version)
            status, body, _ = fetch(self.cpp.url("/get_signed"),
                                    cookie_header("user", value.decode()))
            self.assertEqual((status, body), (200, "ann"), version)
        v1 = tornado.web.create_signed_value(SECRET, "user", "ann", version=1).decode()
        _, body, _ = fetch(self.cpp.url("/get_signed?min_version=2"), cookie_header("user", v1))
        self.assertEqual(body, "(none)")

    def test_python_versioned_key_cookie_is_read_by_cpp(self):
        secrets = {0: SECRET + "0", 1: SECRET + "1"}
        for kv in (0, 1):
            value = tornado.web.create_signed_value(secrets, "user", "kv%d" % kv, key_version=kv)
            _, body, _ = fetch(self.cpp_versioned.url("/get_signed"),
                               cookie_header("user", value.decode()))
            self.assertEqual(body, "kv%d" % kv)

    def test_wrong_secret_is_refused_by_cpp(self):
        value = tornado.web.create_signed_value("other", "user", "ann").decode()
        _, body, _ = fetch(self.cpp.url("/get_signed"), cookie_header("user", value))
        self.assertEqual(body, "(none)")

    def test_cpp_signed_cookie_is_read_by_python(self):
        for version in (1, 2):
            status, _, cookies = fetch(self.cpp.url("/set_signed?value=bob%%20b&version=%d" % version))
            self.assertEqual(status, 200)
            value = cookie_value(cookies, "user")
            self.assertIsNotNone(value, cookies)
            self.assertEqual(tornado.web.decode_signed_value(SECRET, "user", value), b"bob b")
        _, _, cookies = fetch(self.cpp_versioned.url("/set_signed?value=v"))
        value = cookie_value(cookies, "user")
        secrets = {0: SECRET + "0", 1: SECRET + "1"}
        self.assertEqual(tornado.web.decode_signed_value(secrets, "user", value), b"v")
        self.assertEqual(tornado.web.get_signature_key_version(value), 1)

    def xsrf_pair(self, base):
        status, token, cookies = fetch(base + "/xsrf")
        self.assertEqual(status, 200)
        return cookie_header("_xsrf", cookie_value(cookies, "_xsrf")), token

    def test_python_xsrf_token_passes_cpp_check(self):
        cookie, token = self.xsrf_pair("http://127.0.0.1:%d" % self.py.port)
        status, body, _ = fetch(self.cpp.url("/xsrf"), cookie,
                                data="_xsrf=" + urllib.parse.quote(token))
        self.assertEqual((status, body), (200, "posted"))
        status, _, _ = fetch(self.cpp.url("/xsrf"), cookie, data="x=1",
                             headers={"X-XSRFToken": token})
        self.assertEqual(status, 200)

    def test_cpp_xsrf_token_passes_python_check(self):
        cookie, token = self.xsrf_pair(self.cpp.url("").rstrip("/"))
        status, body, _ = fetch("http://127.0.0.1:%d/xsrf" % self.py.port, cookie,
                                data="_xsrf=" + urllib.parse.quote(token))
        self.assertEqual((status, body), (200, "python posted"))

    def test_mismatched_xsrf_pairs_are_refused_by_both(self):
        py_cookie, py_token = self.xsrf_pair("http://127.0.0.1:%d" % self.py.port)
        cpp_cookie, cpp_token = self.xsrf_pair(self.cpp.url("").rstrip("/"))
        status, _, _ = fetch(self.cpp.url("/xsrf"), cpp_cookie,
                             data="_xsrf=" + urllib.parse.quote(py_token))
        self.assertEqual(status, 403)
        status, _, _ = fetch("http://127.0.0.1:%d/xsrf" % self.py.port, py_cookie,
                             data="_xsrf=" + urllib.parse.quote(cpp_token))
        self.assertEqual(status, 403)


if __name__ == "__main__":
    unittest.main()
