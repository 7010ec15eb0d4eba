"""Byte-for-byte interop of the template language: every template in tests/interop/templates/
(except the _partials it includes and extends) is rendered by Python Tornado and by
tornado-cpp (INTEROP_TEMPLATE_RENDER, tests/interop/template_render.cpp) with the values in
<stem>.json, and the two outputs must be the same bytes. A render error must be the same
Python exception class on both sides.

Debian's python3-tornado is 6.2, whose xhtml_escape writes &#39; for an apostrophe; Tornado
6.3+ (and tornado-cpp, docs/escape.md) write &#x27; (html.escape). The Python side is set to
the 6.3 definition so both follow the same Tornado version.
"""
import html
import json
import os
import subprocess
import tempfile
import unittest

try:
    import tornado.escape
    import tornado.template
    from tornado.util import ObjectDict
except ImportError:  # python3-tornado absent: the test skips
    tornado = None

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "templates")
RENDER = os.environ.get("INTEROP_TEMPLATE_RENDER")


def cases():
    return sorted(
        n for n in os.listdir(ROOT) if not n.startswith("_") and not n.endswith(".json")
    )


def load_values(name):
    path = os.path.join(ROOT, os.path.splitext(name)[0] + ".json")
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as f:
        # nlohmann::json keeps object keys sorted: give Python the same order, and
        # attribute access to dicts as tornado-cpp's `a.b` on an object.
        return json.load(f, object_pairs_hook=lambda pairs: ObjectDict(sorted(pairs)))


def python_render(loader, name):
    widget = lambda x: "<b>%s</b>" % x  # noqa: E731
    namespace = dict(load_values(name))
    namespace.update(upper=lambda s: s.upper(), Widget=widget, _tt_modules=ObjectDict(Widget=widget))
    try:
        template = loader.load(name)
    except (tornado.template.ParseError, SyntaxError):  # both refuse it at load time
        return b"!PARSEERROR\n"
    try:
        return template.generate(**namespace)
    except Exception as e:  # the class name is what both sides must agree on
        return ("!ERROR %s\n" % type(e).__name__).encode()


@unittest.skipIf(tornado is None, "python3-tornado is not installed")
@unittest.skipIf(not RENDER, "INTEROP_TEMPLATE_RENDER (the tornado-cpp renderer) not set")
class TemplateInteropTest(unittest.TestCase):
    def test_at_least_40_cases(self):
        self.assertGreaterEqual(len(cases()), 40)

    def test_same_bytes_as_python_tornado(self):
        tornado.escape.xhtml_escape = lambda value: html.escape(tornado.escape.to_unicode(value))
        loader = tornado.template.Loader(ROOT)
        names = cases()
        with tempfile.TemporaryDirectory() as out:
            subprocess.run([RENDER, ROOT, out] + names, check=True, stderr=subprocess.DEVNULL)
            for name in names:
                with self.subTest(template=name):
                    expected = python_render(loader, name)
                    with open(os.path.join(out, name), "rb") as f:
                        got = f.read()
                    self.assertEqual(got, expected)


if __name__ == "__main__":
    unittest.main()
