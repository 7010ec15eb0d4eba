#!/usr/bin/python3
"""The web spider demo end to end: it crawls a site this test serves (with Python Tornado),
fetching every page beneath the base URL exactly once, never one outside it, reporting dead
links, and honouring --max-pages, --progress and bad options.

Run by ctest (tests/webspider_demo.cmake) with WEBSPIDER_BINARY set."""
import asyncio
import collections
import os
import socket
import subprocess
import threading
import time
import unittest

import tornado.httpserver
import tornado.ioloop
import tornado.netutil
import tornado.web

BINARY = os.environ.get("WEBSPIDER_BINARY", "build/demos/webspider/webspider")

SITE = {
    "/site/": '<a href="page1">1</a> <a href="./page2#frag">2</a>'
              '<a href="/site/page3?x=1&amp;y=2">3</a> <a href="{base}page1">1 again</a>'
              '<a href="../outside">out</a> <a href="http://example.invalid/">ext</a>'
              '<a href="missing">404</a> <a href="#top">self</a>',
    "/site/page1": '<a href="sub/deep">deep</a><a href="page2">2</a>',
    "/site/page2": '<a href="/site/">home</a><a href="slow">slow</a>',
    "/site/page3?x=1&y=2": '<a href="page1">1</a>',
    "/site/sub/deep": '<a href="../page1">1</a><a href="../../outside2">out</a>',
    "/site/slow": 'no links',
}


class Site:
    """A Tornado server on its own thread; counts each path?query it serves."""

    def __init__(self, pages=None):
        self.hits = collections.Counter()
        self.pages = pages
        sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
        self.port = sockets[0].getsockname()[1]
        self.base = "http://127.0.0.1:%d/site/" % self.port
        ready = threading.Event()
        site = self

        class Page(tornado.web.RequestHandler):
            async def get(self, path):
                uri = self.request.uri
                site.hits[uri] += 1
                if site.pages is not None:
                    body = site.pages(uri)
                else:
                    body = SITE.get(uri)
                if body is None:
                    raise tornado.web.HTTPError(404)
                if uri == "/site/slow":
                    await tornado.gen.sleep(0.3)
                self.write("<html><body>" + body.replace("{base}", site.base) + "</body></html>")

        def run():
            asyncio.set_event_loop(asyncio.new_event_loop())
            self.loop = tornado.ioloop.IOLoop.current()
            app = tornado.web.Application([(r"(/.*)", Page)])
            server = tornado.httpserver.HTTPServer(app)
            server.add_sockets(sockets)
            ready.set()
            self.loop.start()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        ready.wait(5)

    def stop(self):
        self.loop.add_callback(self.loop.stop)
        self.thread.join(5)


class Result:
    def __init__(self, done):
        self.returncode = done.returncode
        # Decoded here: text=True would turn the progress line's \r into \n.
        self.stdout = done.stdout.decode()
        self.stderr = done.stderr.decode()


def spider(*args, timeout=60):
    return Result(subprocess.run([BINARY] + list(args), capture_output=True, timeout=timeout))


class WebSpiderTest(unittest.TestCase):
    def test_fetches_every_page_beneath_the_base_once(self):
        site = Site()
        try:
            r = spider("--url=" + site.base, "--concurrency=3")
        finally:
            site.stop()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        fetched = sorted(line[len("fetched "):] for line in r.stdout.splitlines()
                         if line.startswith("fetched "))
        want = sorted(site.base[:-len("/site/")] + uri for uri in SITE)
        self.assertEqual(fetched, want)
        self.assertIn("fetched 6 URLs.", r.stdout)
        self.assertIn("Unable to fetch 1 URLs.", r.stdout)
        self.assertIn(site.base + "missing: HTTP 404", r.stdout)
        for uri in list(SITE) + ["/site/missing"]:
            self.assertEqual(site.hits[uri], 1, uri)  # each once
        self.assertEqual(site.hits["/outside"] + site.hits["/outside2"], 0)
        self.assertEqual(sum(site.hits.values()), 7)

    def test_five_hundred_pages_with_many_links_each_fetched_once(self):
        def pages(uri):
            if uri == "/site/":
                return '<a href="p1">start</a><a href="/site/p1#again">again</a>'
            n = int(uri[len("/site/p"):]) if uri[len("/site/p"):].isdigit() else 0
            if not uri.startswith("/site/p") or n < 1 or n > 500:
                return None
            links = {n + 1, n * 2, n // 2, 1, (n * 7) % 500 + 1}
            return "".join('<a href="p%d#f">x</a>' % k for k in links if 1 <= k <= 500)

        site = Site(pages)
        try:
            start = time.time()
            r = spider("--url=" + site.base, "--concurrency=20")
            elapsed = time.time() - start
        finally:
            site.stop()
        self.assertEqual(r.returncode, 0, r.stderr)
        want = {"/site/"} | {"/site/p%d" % k for k in range(1, 501)}
        self.assertEqual(set(site.hits), want)
        self.assertTrue(all(v == 1 for v in site.hits.values()), site.hits.most_common(3))
        self.assertIn("fetched 501 URLs.", r.stdout)
        self.assertIn("Unable to fetch 0 URLs.", r.stdout)
        self.assertLess(elapsed, 30)

    def test_max_pages_bounds_the_crawl(self):
        site = Site()
        try:
            r = spider("--url=" + site.base, "--max-pages=3")
        finally:
            site.stop()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertLessEqual(sum(site.hits.values()), 3)
        self.assertIn("Not followed past --max-pages=3", r.stdout)

    def test_progress_line_on_stderr(self):
        site = Site()
        try:
            r = spider("--url=" + site.base, "--progress=on")
        finally:
            site.stop()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stderr, r"\r\x1b\[K\d+ done, \d+ queued, \d+ errors, [\d.]+ pages/s")

    def test_unreachable_base_is_a_dead_link(self):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()  # nothing listens there
        r = spider("--url=http://127.0.0.1:%d/" % port)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("fetched 0 URLs.", r.stdout)
        self.assertIn("Unable to fetch 1 URLs.", r.stdout)

    def test_timeout_stops_the_crawl_with_status_1(self):
        site = Site()
        try:
            r = spider("--url=" + site.base + "slow", "--timeout=0.1")
        finally:
            site.stop()
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("Stopped after --timeout", r.stdout)

    def test_bad_options_exit_2(self):
        for args in (["--url=ftp://x/"], ["--concurrency=0"], ["--progress=maybe"],
                     ["--max-pages=-1"], ["--no-such-option=1"]):
            r = spider(*args)
            self.assertEqual(r.returncode, 2, (args, r.stdout, r.stderr))


if __name__ == "__main__":
    unittest.main()
