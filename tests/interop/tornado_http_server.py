#!/usr/bin/python3
"""Python Tornado as a real server for tornado-cpp's HTTP client interop tests.

Usage: tornado_http_server.py PORT   (listens on 127.0.0.1:PORT until killed)
"""
import json
import sys

import tornado.ioloop
import tornado.web


class Hello(tornado.web.RequestHandler):
    def get(self):
        self.write("Hello from Python Tornado")

    def head(self):
        self.set_header("Content-Length", "25")


class Echo(tornado.web.RequestHandler):
    def post(self):
        self.write(self.request.method + " " + self.request.body.decode("latin1"))

    put = post


class Chunked(tornado.web.RequestHandler):
    async def get(self):
        # Two flushes without a Content-Length: a chunked response.
        self.write("a" * 10)
        await self.flush()
        self.write("b" * 10)


class Text(tornado.web.RequestHandler):
    def get(self):
        # Compressible and long enough for compress_response to gzip it.
        self.set_header("Content-Type", "text/plain")
        self.write("tornado " * 1000)


class Redirect(tornado.web.RequestHandler):
    def get(self):
        self.redirect(self.get_argument("to"), status=int(self.get_argument("status", "302")))

    post = get


class Method(tornado.web.RequestHandler):
    def get(self):
        self.write(self.request.method + " " + str(len(self.request.body)))


class Stream(tornado.web.RequestHandler):
    def get(self):
        # The connection's stream lives as long as the TCP connection.
        self.write(str(id(self.request.connection.stream)))


class Headers(tornado.web.RequestHandler):
    def get(self):
        self.write(json.dumps(dict(self.request.headers.get_all())))


class Status(tornado.web.RequestHandler):
    def get(self, code):
        self.set_status(int(code))
        self.write("status " + code)


def main():
    port = int(sys.argv[1])
    app = tornado.web.Application(
        [
            (r"/hello", Hello),
            (r"/echo", Echo),
            (r"/chunked", Chunked),
            (r"/text", Text),
            (r"/redirect", Redirect),
            (r"/method", Method),
            (r"/stream", Stream),
            (r"/headers", Headers),
            (r"/status/(\d+)", Status),
        ],
        compress_response=True,
    )
    app.listen(port, address="127.0.0.1")
    print("listening", flush=True)
    tornado.ioloop.IOLoop.current().start()


if __name__ == "__main__":
    main()
