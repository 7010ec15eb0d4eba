"""Python Tornado's file_upload demo shape, the peer of demos/file_upload for bench/upload_rss.sh
(run with /usr/bin/python3).

    tornado_upload.py PORT [DELAY_MS]

PUT /upload/<name>: a stream_request_body handler hashing (SHA-256) each chunk as it arrives,
as Tornado's demo file_receiver.py streams its PUTs. POST /upload: multipart/form-data the
only way Python Tornado parses it, whole (request.files after the body is buffered), as the
demo's POSTHandler does; max_buffer_size is raised to 4 GiB so a 1 GiB upload is accepted.
DELAY_MS > 0 makes each data_received sleep that long (a slow consumer). Answers with the
same JSON as demos/file_upload: {"parts": [{"name", "filename", "size", "sha256"}]}.
"""
import asyncio
import hashlib
import sys

from tornado.httpserver import HTTPServer
from tornado.ioloop import IOLoop
from tornado.web import Application, RequestHandler, stream_request_body

MAX_BODY = 4 << 30
DELAY = 0.0


@stream_request_body
class PutHandler(RequestHandler):
    def prepare(self):
        self.request.connection.set_max_body_size(MAX_BODY)
        self.size = 0
        self.sha = hashlib.sha256()

    async def data_received(self, chunk):
        self.size += len(chunk)
        self.sha.update(chunk)
        if DELAY:
            await asyncio.sleep(DELAY)

    def put(self, filename):
        self.write({"parts": [{"name": "file", "filename": filename, "size": self.size,
                               "sha256": self.sha.hexdigest()}]})


class PostHandler(RequestHandler):
    def post(self):
        parts = []
        for name, files in self.request.files.items():
            for f in files:
                parts.append({"name": name, "filename": f["filename"], "size": len(f["body"]),
                              "sha256": hashlib.sha256(f["body"]).hexdigest()})
        self.write({"parts": parts})


if __name__ == "__main__":
    port = int(sys.argv[1])
    if len(sys.argv) > 2:
        DELAY = float(sys.argv[2]) / 1000
    app = Application([(r"/upload", PostHandler), (r"/upload/(.+)", PutHandler)])
    server = HTTPServer(app, max_buffer_size=MAX_BODY, max_body_size=MAX_BODY)
    server.listen(port, "127.0.0.1")
    IOLoop.current().start()
