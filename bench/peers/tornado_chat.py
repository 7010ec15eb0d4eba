"""Python Tornado's chat demo (tornado/demos/chat/chatdemo.py) as bench/chat_load.sh's peer,
re-told for /usr/bin/python3 with Debian's python3-tornado (the package has no demos).

Behaviour kept from the demo: one room; a buffer of the last 200 messages and a Condition
notified on every new one; GET / renders the page with the buffer (and sets the _xsrf
cookie); POST /a/message/new (body, _xsrf, optional next) gives the message a uuid4 id,
renders its HTML with message.html, answers it as JSON (or redirects to next) and adds it to
the buffer; POST /a/message/updates (cursor = the id of the last message the client has)
answers the messages after the cursor at once if there are any, else waits on the Condition
(no timeout, as in the demo) and answers {"messages": [...]}; a client that goes away cancels
its wait. No sign-in (the demo has none). XSRF on.

    /usr/bin/python3 bench/peers/tornado_chat.py PORT
"""
import asyncio
import sys
import uuid

import tornado.escape
import tornado.locks
import tornado.template
import tornado.web
from tornado.ioloop import IOLoop

HISTORY = 200

TEMPLATES = {
    "index.html": """<!DOCTYPE html>
<html><head><meta charset="UTF-8"><title>Tornado Chat Demo</title></head>
<body><div id="body"><div id="inbox">
{% for message in messages %}{% module Template("message.html", message=message) %}{% end %}
</div><div id="input"><form action="/a/message/new" method="post" id="messageform">
<input type="text" name="body" id="message" style="width:500px">
<input type="hidden" name="next" value="{{ request.path }}">{% module xsrf_form_html() %}
</form></div></div></body></html>
""",
    "message.html": '<div class="message" id="m{{ message["id"] }}">'
    '{% module linkify(message["body"]) %}</div>\n',
}


class Messages:
    """The newest HISTORY messages; waiters are woken by `arrived` on each new one."""

    def __init__(self):
        self.arrived = tornado.locks.Condition()
        self.kept = []

    def after(self, cursor):
        # Walk back from the newest until the cursor's message: what came after it. A cursor
        # that is not (or no longer) kept yields everything kept, as in the demo.
        newer = []
        for message in reversed(self.kept):
            if message["id"] == cursor:
                break
            newer.append(message)
        newer.reverse()
        return newer

    def add(self, message):
        self.kept.append(message)
        if len(self.kept) > HISTORY:
            del self.kept[: len(self.kept) - HISTORY]
        self.arrived.notify_all()


messages = Messages()


class MainHandler(tornado.web.RequestHandler):
    def get(self):
        self.render("index.html", messages=messages.kept)


class MessageNewHandler(tornado.web.RequestHandler):
    def post(self):
        message = {"id": str(uuid.uuid4()), "body": self.get_argument("body")}
        html = self.render_string("message.html", message=message)
        message["html"] = tornado.escape.to_unicode(html)
        if self.get_argument("next", None):
            self.redirect(self.get_argument("next"))
        else:
            self.write(message)
        messages.add(message)


class MessageUpdatesHandler(tornado.web.RequestHandler):
    waiting = None

    async def post(self):
        cursor = self.get_argument("cursor", None)
        found = messages.after(cursor)
        while not found:
            self.waiting = messages.arrived.wait()
            try:
                await self.waiting
            except asyncio.CancelledError:  # the client went away
                return
            found = messages.after(cursor)
        if self.request.connection.stream.closed():
            return
        self.write({"messages": found})

    def on_connection_close(self):
        if self.waiting is not None:
            self.waiting.cancel()


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8888
    app = tornado.web.Application(
        [
            (r"/", MainHandler),
            (r"/a/message/new", MessageNewHandler),
            (r"/a/message/updates", MessageUpdatesHandler),
        ],
        cookie_secret="bench-chat-not-secret",
        template_loader=tornado.template.DictLoader(TEMPLATES),
        xsrf_cookies=True,
    )
    app.listen(port, "127.0.0.1", backlog=4096)
    IOLoop.current().start()


if __name__ == "__main__":
    main()
