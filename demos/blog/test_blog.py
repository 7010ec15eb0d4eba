"""End-to-end test of demos/blog: drives the built binary over HTTP with requests, as a
browser and a script written for Tornado's blog demo would (same URLs, form fields and
cookie names). Run by ctest as `demo_blog`; the binary comes from $BLOG_BINARY.

Covers: sign-up (first visit redirects there), XSRF (a POST without _xsrf is 403), log in
and out, wrong password and duplicate email refused, compose and edit (authenticated: a
logged-out /compose redirects to the login page), entry pages by unique slug, the archive,
the Atom feed (parsed as XML), Markdown with raw HTML and javascript: links neutralised,
static files through static_url, gzip, open redirects refused, a restart keeping the data.

With $BLOG_DB set to a PostgreSQL URI (and $BLOG_DB_OTHER to a second, empty database) the
same cases run against PostgreSQL, plus test_13: two blog processes sharing the database (a
post created through one shows in the other). tests/postgres_test.cpp runs it that way
against a throwaway cluster (PostgresTest.BlogDemoSuiteAgainstPostgres).
"""

import os
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
import xml.etree.ElementTree as ET

import requests

BINARY = os.environ.get("BLOG_BINARY", "")
POSTGRES_DB = os.environ.get("BLOG_DB", "")  # postgresql://...; SQLite files when empty
POSTGRES_DB_OTHER = os.environ.get("BLOG_DB_OTHER", "")
ATOM = "{http://www.w3.org/2005/Atom}"
PASSWORD = "correct horse battery"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class BlogServer:
    def __init__(self, db_path, *extra_args, cwd=None):
        self.port = free_port()
        self.log = tempfile.NamedTemporaryFile(prefix="blog_", suffix=".log")
        self.proc = subprocess.Popen(
            [BINARY, "--port=%d" % self.port, "--db=" + db_path, "--cookie_secret=test-secret",
             *extra_args],
            stdout=self.log, stderr=self.log, cwd=cwd or os.path.dirname(db_path))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("blog exited: " + self.log_text())
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("blog did not start: " + self.log_text())

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def log_text(self):
        with open(self.log.name, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: the loop stops, the database closes
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


class BlogTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not BINARY or not os.access(BINARY, os.X_OK):
            raise RuntimeError("BLOG_BINARY is not an executable: %r" % BINARY)
        cls.tmp = tempfile.TemporaryDirectory()
        cls.db = POSTGRES_DB or os.path.join(cls.tmp.name, "blog.db")
        cls.server = BlogServer(cls.db, cwd=cls.tmp.name)

    @classmethod
    def tearDownClass(cls):
        code = cls.server.stop()
        cls.tmp.cleanup()
        if code != 0:
            raise RuntimeError("blog exited with %r: %s" % (code, cls.server.log_text()))

    def get(self, session, path, **kw):
        kw.setdefault("allow_redirects", False)
        return session.get(self.server.url(path), timeout=30, **kw)

    def post(self, session, path, data, with_xsrf=True, **kw):
        kw.setdefault("allow_redirects", False)
        data = dict(data)
        if with_xsrf:
            if "_xsrf" not in session.cookies:
                self.get(session, "/auth/create")  # a page with a form sets it
            data["_xsrf"] = session.cookies["_xsrf"]
        return session.post(self.server.url(path), data=data, timeout=30, **kw)

    def new_author(self, email, name="Ann"):
        s = requests.Session()
        r = self.post(s, "/auth/create", {"email": email, "name": name, "password": PASSWORD})
        self.assertEqual(r.status_code, 302, r.text)
        self.assertIn("blogdemo_user", s.cookies)
        return s

    def compose(self, session, title, markdown, entry_id=None):
        data = {"title": title, "markdown": markdown}
        if entry_id is not None:
            data["id"] = str(entry_id)
        r = self.post(session, "/compose", data)
        self.assertEqual(r.status_code, 302, r.text)
        location = r.headers["Location"]
        self.assertTrue(location.startswith("/entry/"), location)
        return location[len("/entry/"):]

    # The tests run in name order (unittest sorts them); the first signs up on an empty blog.
    def test_01_first_visit_leads_to_sign_up(self):
        s = requests.Session()
        r = s.get(self.server.url("/"), timeout=30)  # / → /compose → /auth/login → /auth/create
        self.assertEqual(r.status_code, 200)
        self.assertEqual(urllib.parse.urlparse(r.url).path, "/auth/create")
        self.assertEqual([h.status_code for h in r.history], [302, 302, 302])
        self.assertIn('name="email"', r.text)
        self.assertIn('name="_xsrf"', r.text)

    def test_02_sign_up_without_xsrf_is_403(self):
        s = requests.Session()
        self.get(s, "/auth/create")
        r = self.post(s, "/auth/create", {"email": "x@example.com", "name": "X",
                                          "password": PASSWORD}, with_xsrf=False)
        self.assertEqual(r.status_code, 403)
        self.assertNotIn("blogdemo_user", s.cookies)

    def test_03_sign_up_log_out_log_in(self):
        s = requests.Session()
        r = self.post(s, "/auth/create?next=%2Farchive",
                      {"email": "ann@example.com", "name": "Ann", "password": PASSWORD})
        self.assertEqual(r.status_code, 302, r.text)
        self.assertEqual(r.headers["Location"], "/archive")
        self.assertIn("blogdemo_user", s.cookies)
        set_cookie = r.headers["Set-Cookie"]
        self.assertIn("HttpOnly", set_cookie)
        # The cookie is Tornado's signed v2 value ("2|1:0|...") of the author id.
        self.assertTrue(s.cookies["blogdemo_user"].strip('"').startswith("2|1:0|"))

        r = self.get(s, "/auth/logout?next=%2F")
        self.assertEqual(r.status_code, 302)
        self.assertNotIn("blogdemo_user", s.cookies)

        r = self.post(s, "/auth/login", {"email": "ann@example.com", "password": "wrong password"})
        self.assertEqual(r.status_code, 200)
        self.assertIn("incorrect password", r.text)
        self.assertNotIn("blogdemo_user", s.cookies)

        r = self.post(s, "/auth/login", {"email": "nobody@example.com", "password": PASSWORD})
        self.assertIn("email not found", r.text)
        self.assertNotIn("blogdemo_user", s.cookies)

        r = self.post(s, "/auth/login?next=%2Fcompose",
                      {"email": "ann@example.com", "password": PASSWORD})
        self.assertEqual(r.status_code, 302, r.text)
        self.assertEqual(r.headers["Location"], "/compose")
        r = self.get(s, "/compose")
        self.assertEqual(r.status_code, 200)
        self.assertIn("Publish post", r.text)

    def test_04_duplicate_email_refused(self):
        self.new_author("dup@example.com")
        s = requests.Session()
        r = self.post(s, "/auth/create", {"email": "dup@example.com", "name": "Other",
                                          "password": PASSWORD})
        self.assertEqual(r.status_code, 400)
        self.assertIn("already exists", r.text)
        self.assertNotIn("blogdemo_user", s.cookies)

    def test_05_compose_logged_out(self):
        s = requests.Session()
        r = self.get(s, "/compose")
        self.assertEqual(r.status_code, 302)
        self.assertEqual(r.headers["Location"], "/auth/login?next=%2Fcompose")
        # A POST is refused outright (Tornado's @authenticated), with a valid XSRF token.
        r = self.post(s, "/compose", {"title": "t", "markdown": "m"})
        self.assertEqual(r.status_code, 403)

    def test_06_compose_read_edit(self):
        s = self.new_author("writer@example.com", "Writer")
        text = ("Hello **world**.\n\n<script>alert('x')</script>\n\n"
                "[click](javascript:alert(1)) and [ok](https://example.com/a?b=1&c=2)\n")
        slug = self.compose(s, "My First Post!", text)
        self.assertEqual(slug, "my-first-post")
        self.assertEqual(self.compose(s, "My first post", "again"), "my-first-post-2")

        r = self.get(s, "/entry/" + slug)
        self.assertEqual(r.status_code, 200)
        self.assertIn("<strong>world</strong>", r.text)
        self.assertIn("&lt;script&gt;alert(", r.text)
        self.assertNotIn("<script>alert", r.text)
        self.assertNotIn("javascript:", r.text)
        self.assertIn('href="https://example.com/a?b=1&amp;c=2"', r.text)
        self.assertIn("Edit this post", r.text)
        self.assertIn("by Writer", r.text)

        # Edit: the form shows the entry; the slug stays.
        entry_id = r.text.split("/compose?id=")[1].split('"')[0]
        r = self.get(s, "/compose?id=" + entry_id)
        self.assertEqual(r.status_code, 200)
        self.assertIn('value="My First Post!"', r.text)
        self.assertIn('name="id" value="%s"' % entry_id, r.text)
        self.assertEqual(self.compose(s, "Edited title", "*new* text", entry_id), slug)
        r = self.get(s, "/entry/" + slug)
        self.assertIn("Edited title", r.text)
        self.assertIn("<em>new</em> text", r.text)

        # Another author cannot edit it; a missing entry is 404.
        other = self.new_author("other@example.com", "Other")
        r = self.post(other, "/compose", {"title": "x", "markdown": "y", "id": entry_id})
        self.assertEqual(r.status_code, 403)
        r = self.get(other, "/entry/" + slug)
        self.assertNotIn("Edit this post", r.text)
        self.assertEqual(self.get(s, "/entry/no-such-entry").status_code, 404)
        self.assertEqual(self.get(s, "/compose?id=999999").status_code, 404)

        # Missing form field: 400.
        r = self.post(s, "/compose", {"title": "no markdown"})
        self.assertEqual(r.status_code, 400)

    def test_07_home_archive_feed(self):
        s = self.new_author("feeder@example.com", "Feeder")
        slug = self.compose(s, "Feed <me> & you", "Feed *body* <b>raw</b>")
        anon = requests.Session()
        r = self.get(anon, "/")
        self.assertEqual(r.status_code, 200)
        self.assertIn("Feed &lt;me&gt; &amp; you", r.text)
        self.assertIn("Sign in", r.text)
        self.assertEqual(r.headers.get("Content-Encoding"), "gzip")  # compress_response

        r = self.get(anon, "/archive")
        self.assertEqual(r.status_code, 200)
        self.assertIn('href="/entry/%s"' % slug, r.text)
        self.assertIn('href="/entry/my-first-post-2"', r.text)
        # The dates go through the locale, as in Tornado's blog: "November 30, 2026".
        self.assertRegex(r.text, r'<div class="date">(January|February|March|April|May|June|'
                                 r'July|August|September|October|November|December) '
                                 r'[1-9]\d?, 20\d\d</div>')

        r = self.get(anon, "/feed")
        self.assertEqual(r.status_code, 200)
        self.assertTrue(r.headers["Content-Type"].startswith("application/atom+xml"))
        feed = ET.fromstring(r.content)
        self.assertEqual(feed.tag, ATOM + "feed")
        entries = feed.findall(ATOM + "entry")
        self.assertGreaterEqual(len(entries), 3)
        titles = [e.find(ATOM + "title").text for e in entries]
        self.assertEqual(titles[0], "Feed <me> & you")  # newest first
        content = entries[0].find(ATOM + "content")
        self.assertEqual(content.get("type"), "html")
        self.assertIn("<em>body</em>", content.text)
        self.assertIn("&lt;b&gt;raw", content.text)  # the raw HTML stayed text
        link = entries[0].find(ATOM + "link").get("href")
        self.assertEqual(link, self.server.url("/entry/" + slug))
        self.assertRegex(feed.find(ATOM + "updated").text, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

    def test_08_static_files_through_static_url(self):
        s = requests.Session()
        page = self.get(s, "/auth/create").text
        href = page.split('rel="stylesheet" href="')[1].split('"')[0]
        self.assertRegex(href, r"^/static/blog\.css\?v=[0-9a-f]{64}$")
        r = self.get(s, href)
        self.assertEqual(r.status_code, 200)
        self.assertTrue(r.headers["Content-Type"].startswith("text/css"))
        self.assertIn("max-age=", r.headers.get("Cache-Control", ""))
        self.assertIn("#header", r.text)
        r = self.get(s, href, headers={"If-None-Match": r.headers["ETag"]})
        self.assertEqual(r.status_code, 304)
        self.assertEqual(self.get(s, "/static/missing.css").status_code, 404)

    def test_09_open_redirect_refused(self):
        s = requests.Session()
        for target in ("//evil.example", "http://evil.example/", "/\\evil.example"):
            r = self.get(s, "/auth/logout?next=" + urllib.parse.quote(target, safe=""))
            self.assertEqual(r.status_code, 400, target)

    def test_10_concurrent_readers_and_a_writer(self):
        # Requests overlap on the loop while the database thread serves them in turn.
        import concurrent.futures
        writer = requests.Session()
        r = self.post(writer, "/auth/login", {"email": "ann@example.com", "password": PASSWORD})
        self.assertEqual(r.status_code, 302)

        def read(i):
            path = ("/", "/archive", "/feed", "/entry/my-first-post")[i % 4]
            return requests.get(self.server.url(path), timeout=30).status_code

        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            reads = [pool.submit(read, i) for i in range(200)]
            slugs = [self.compose(writer, "Concurrent %d" % i, "text") for i in range(5)]
            self.assertEqual([f.result() for f in reads], [200] * 200)
        self.assertEqual(slugs, ["concurrent-%d" % i for i in range(5)])

    def test_11_restart_keeps_the_data(self):
        self.assertEqual(self.server.stop(), 0, self.server.log_text())
        type(self).server = BlogServer(self.db, cwd=self.tmp.name)
        r = self.get(requests.Session(), "/entry/my-first-post")
        self.assertEqual(r.status_code, 200)
        self.assertIn("Edited title", r.text)
        s = requests.Session()
        r = self.post(s, "/auth/login", {"email": "ann@example.com", "password": PASSWORD})
        self.assertEqual(r.status_code, 302)


    def test_12_templates_and_static_from_directories(self):
        here = os.path.dirname(os.path.abspath(__file__))
        other_db = POSTGRES_DB_OTHER if POSTGRES_DB else os.path.join(self.tmp.name, "other.db")
        other = BlogServer(other_db,
                           "--template_path=" + os.path.join(here, "templates"),
                           "--static_path=" + os.path.join(here, "static"), cwd=self.tmp.name)
        try:
            s = requests.Session()
            r = s.get(other.url("/"), timeout=30)  # a fresh database: on to sign-up
            self.assertEqual(urllib.parse.urlparse(r.url).path, "/auth/create")
            href = r.text.split('rel="stylesheet" href="')[1].split('"')[0]
            # StaticFileHandler's version (SHA-512) this time.
            self.assertRegex(href, r"^/static/blog\.css\?v=[0-9a-f]{128}$")
            css = s.get(other.url(href), timeout=30)
            self.assertEqual(css.status_code, 200)
            with open(os.path.join(here, "static", "blog.css"), "rb") as f:
                self.assertEqual(css.content, f.read())
        finally:
            self.assertEqual(other.stop(), 0, other.log_text())

    def test_13_two_processes_share_one_database(self):
        if not POSTGRES_DB:
            self.skipTest("SQLite: one process per database file (set BLOG_DB to a PostgreSQL URI)")
        second = BlogServer(self.db, cwd=self.tmp.name)
        try:
            # Signed in on the first process: the same cookie secret makes the session good on
            # the second, and the author is in the shared database.
            s = requests.Session()
            r = self.post(s, "/auth/login", {"email": "ann@example.com", "password": PASSWORD})
            self.assertEqual(r.status_code, 302, r.text)
            slug = self.compose(s, "Written through process one", "shared *text*")
            r = requests.get(second.url("/entry/" + slug), timeout=30)
            self.assertEqual(r.status_code, 200)
            self.assertIn("Written through process one", r.text)
            self.assertIn("<em>text</em>", r.text)
            self.assertIn("Written through process one", requests.get(second.url("/"), timeout=30).text)
            # And the other way: composed on the second, read on the first.
            data = {"title": "Written through process two", "markdown": "two",
                    "_xsrf": s.cookies["_xsrf"]}
            r = s.post(second.url("/compose"), data=data, timeout=30, allow_redirects=False)
            self.assertEqual(r.status_code, 302, r.text)
            slug2 = r.headers["Location"][len("/entry/"):]
            r = self.get(requests.Session(), "/entry/" + slug2)
            self.assertEqual(r.status_code, 200)
            self.assertIn("Written through process two", r.text)
        finally:
            self.assertEqual(second.stop(), 0, second.log_text())


if __name__ == "__main__":
    unittest.main()
