#!/usr/bin/python3
"""tests/hot_layout_check.py ARCHIVE: the library's request path is in .text.hot.

TORNADO_HOT (tornado/hot.h) gathers the functions every request runs on a few pages
(docs/performance.md, "Code layout"). This fails when one layer's function is no longer
there: the attribute dropped, the function renamed or split, or a compiler that ignores it.
One function of each layer is checked, by its demangled name as objdump prints it.
"""
import subprocess
import sys

REQUEST_PATH = [
    "tornado::IOLoop::run_once()",
    "tornado::IOStream::on_events(int, unsigned int)",
    "tornado::IOStream::read_loop()",
    "tornado::http1::parse_request_head(",
    "tornado::HTTP1Connection::serve_head(",
    "tornado::httputil::HTTPHeaders::write_fields(char*) const",
    "tornado::httputil::HTTPServerRequest::~HTTPServerRequest()",
    "tornado::httputil::Responder::send_parts(",
    # (A handler's usual end: finish() without an awaitable, since session 23's web8.)
    "tornado::web::RequestHandler::finish_unawaited()",
]


def main():
    table = subprocess.run(["objdump", "-t", "-C", sys.argv[1]], capture_output=True,
                           text=True, check=True).stdout
    sections = {name: set() for name in REQUEST_PATH}
    for line in table.splitlines():
        # "address flags F section size name": the function symbols only
        parts = line.split(None, 5)
        if len(parts) < 6 or " F " not in line:
            continue
        section, symbol = parts[3], parts[5]
        for name in REQUEST_PATH:
            if symbol.startswith(name):
                sections[name].add(section)
    failed = False
    for name, found in sections.items():
        hot = any(s.startswith(".text.hot") for s in found)
        print(f"{'ok  ' if hot else 'FAIL'} {name}: {', '.join(sorted(found)) or 'not found'}")
        failed |= not hot
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
