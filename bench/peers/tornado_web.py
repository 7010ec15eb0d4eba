"""Python Tornado's plaintext, JSON and Fortunes handlers: the peer for bench/web.sh (run with /usr/bin/python3)."""
import sys

from tornado.template import DictLoader

from tornado.ioloop import IOLoop
from tornado.web import Application, RequestHandler


class PlaintextHandler(RequestHandler):
    def get(self):
        self.set_header("Content-Type", "text/plain")
        self.write("Hello, World!")


class JsonHandler(RequestHandler):
    def get(self):
        self.write({"message": "Hello, World!"})


ROWS = [
    (1, "fortune: No such file or directory"),
    (2, "A computer scientist is someone who fixes things that aren't broken."),
    (3, "After enough decimal places, nobody gives a damn."),
    (4, "A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1"),
    (5, "A computer program does what you tell it to do, not what you want it to do."),
    (6, "Emacs is a nice operating system, but I prefer UNIX. \u2014 Tom Christaensen"),
    (7, "Any program that runs right is obsolete."),
    (8, "A list is only as strong as its weakest link. \u2014 Donald Knuth"),
    (9, "Feature: A bug with seniority."),
    (10, "Computers make very fast, very accurate mistakes."),
    (11, '<script>alert("This should not be displayed in a browser alert box.");</script>'),
    (12, "\u30d5\u30ec\u30fc\u30e0\u30ef\u30fc\u30af\u306e\u30d9\u30f3\u30c1\u30de\u30fc\u30af"),
]

TEMPLATES = DictLoader({
    "fortunes.html":
        "<!DOCTYPE html>\n<html>\n<head><title>Fortunes</title></head>\n<body>\n<table>\n"
        "<tr><th>id</th><th>message</th></tr>\n"
        "{% for f in fortunes %}<tr><td>{{ f['id'] }}</td><td>{{ f['message'] }}</td></tr>\n"
        "{% end %}</table>\n</body>\n</html>\n"
})


class FortunesHandler(RequestHandler):
    def get(self):
        rows = [{"id": i, "message": m} for i, m in ROWS]
        rows.append({"id": 0, "message": "Additional fortune added at request time."})
        # Sorted by code point like the C++ side's byte order (UTF-8 keeps code point order).
        rows.sort(key=lambda r: r["message"])
        self.render("fortunes.html", fortunes=rows)


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8890
    Application(
        [(r"/plaintext", PlaintextHandler), (r"/json", JsonHandler),
         (r"/fortunes", FortunesHandler)],
        template_loader=TEMPLATES,
    ).listen(
        port, "127.0.0.1", backlog=4096
    )
    IOLoop.current().start()
