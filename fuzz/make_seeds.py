#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/corpus/<target>/.

Requests come from tests/data/http_corpus/requests.jsonl (decoded, one file per case, named
after its llhttp case number); responses, chunked bodies, header blocks and multipart bodies
are written out below. Crash inputs found by fuzzing are added by hand as
corpus/<target>/crash-<what>; this script leaves every other file alone.

Usage: fuzz/make_seeds.py   (from anywhere; rerun after changing the samples below)
"""
import base64
import json
import pathlib

FUZZ = pathlib.Path(__file__).resolve().parent
ROOT = FUZZ.parent
CORPUS = FUZZ / "corpus"


def write(target, name, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data.encode("latin-1") if isinstance(data, str) else data)


def requests():
    for line in (ROOT / "tests/data/http_corpus/requests.jsonl").read_text().splitlines():
        case = json.loads(line)
        n = case["id"].rsplit("#", 1)[1]
        write("request_parser_fuzzer", f"llhttp-{int(n):03d}-{case['expect']}",
              base64.b64decode(case["request_b64"]))
    # Pipelining with every framing kind, and leading empty lines.
    write("request_parser_fuzzer", "pipelined-framings",
          "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
          "POST /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
          "3;x=y\r\nabc\r\n0\r\nT: v\r\n\r\n"
          "GET /c HTTP/1.0\r\n\r\n")
    write("request_parser_fuzzer", "leading-crlf-obsfold",
          "\r\n\nGET / HTTP/1.1\nHost: h\nX: a\n  b\n\t\nY:\n\n")


RESPONSES = {
    "length": "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello",
    "chunked": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               "5\r\nhello\r\n6;ext=\"q\"\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n",
    "until-close": "HTTP/1.0 200 OK\r\nServer: x\r\n\r\nbody until the connection closes",
    "no-body-codes": "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n"
                     "HTTP/1.1 304 Not Modified\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    "te-over-cl": "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "0\r\n\r\n",
    "empty-reason": "HTTP/1.1 599 \r\nContent-Length: 1, 1\r\n\r\nx",
    "no-reason": "HTTP/1.1 200\nContent-Length: 2\n\nok",
    "bad-version": "HTTP/2.0 200 OK\r\n\r\n",
    "bad-code": "HTTP/1.1 20x OK\r\n\r\n",
    "conflicting-cl": "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    "obs-fold": "HTTP/1.1 301 Moved\r\nLocation: /a\r\nX-Long: one\r\n two\r\n\r\n",
    "reason-obs-text": "HTTP/1.1 200 \xc3\xa9t\xe9\r\nSet-Cookie: a=b\r\nSet-Cookie: c=d\r\n\r\n",
}

CHUNKED = {
    "simple": "5\r\nhello\r\n0\r\n\r\n",
    "several": "1\r\na\r\nA\r\n0123456789\r\n00010\r\n0123456789abcdef\r\n0\r\n\r\n",
    "extensions": "3;a=1;b=\"x\\\"y\"\r\nabc\r\n2 ; c\r\nde\r\n0;last\r\n\r\n",
    "trailers": "4\r\ndata\r\n0\r\nExpires: never\r\nX-Sum: 12\r\n\r\n",
    "after-end": "2\r\nok\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n",
    "bare-lf-size": "5\nhello\r\n0\r\n\r\n",
    "bad-data-end": "5\r\nhelloXX0\r\n\r\n",
    "huge-size": "ffffffffffffffffff\r\n",
    "bad-ext": "5;=x\r\nhello\r\n0\r\n\r\n",
    "truncated": "a\r\n01234",
}

HEADERS = {
    "basic": "Content-Type: text/html\r\nContent-Length: 42\r\n",
    "multi": "Set-Cookie: a=1\r\nset-cookie: b=2\r\nSET-COOKIE: c=3\r\nX: \r\n",
    "obs-fold": "X-Folded: first\r\n  second\r\n\tthird\r\nY: z\r\n",
    "bare-lf": "A: 1\nB: 2\n",
    "blank-lines": "A: 1\r\n\r\nB: 2\r\n",
    "space-before-colon": "Bad : value\r\n",
    "leading-space": " X: y\r\n",
    "ctl-in-value": "X: a\x01b\r\n",
    "obs-text": "X: caf\xe9\r\nY:\t tabbed \t\r\n",
    "no-colon": "just a line\r\n",
    "bare-cr": "X: a\rb\r\n",
}

MULTIPART = {
    "form": "1234\n"
            "--1234\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue a\r\n"
            "--1234\r\nContent-Disposition: form-data; name=\"files\"; filename=\"ab.txt\"\r\n"
            "Content-Type: text/plain\r\n\r\nfile body\r\n"
            "--1234--\r\n",
    "quoted-boundary": "\"a b\"\n--a b\r\nContent-Disposition: form-data; name=x\r\n\r\n1\r\n--a b--",
    "unicode-filename": "B\n--B\r\nContent-Disposition: form-data; name=\"f\"; "
                        "filename*=UTF-8''%C3%A1b.txt\r\n\r\n\xff\x00\r\n--B--\r\n",
    "many-parts": "x\n" + "".join(
        f"--x\r\nContent-Disposition: form-data; name=\"n{i}\"\r\n\r\n{i}\r\n" for i in range(5))
        + "--x--",
    "no-final": "B\n--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n",
    "no-headers": "B\n--B\r\nno header end\r\n--B--",
    "no-name": "B\n--B\r\nContent-Disposition: form-data\r\n\r\nv\r\n--B--",
    "not-form-data": "B\n--B\r\nContent-Disposition: attachment; name=a\r\n\r\nv\r\n--B--",
    "folded-header": "B\n--B\r\nContent-Disposition: form-data;\r\n name=\"a\"\r\n\r\nv\r\n--B--",
    "empty-value": "B\n--B\r\nContent-Disposition: form-data; name=\"e\"\r\n\r\n\r\n--B--\r\n",
}

# The streaming parser takes the multipart seeds plus bodies aimed at its chunk-boundary
# logic: near-delimiters, preamble and epilogue, a 70-character boundary.
MULTIPART_STREAM = {
    "near-delimiters": "bd\n--bd\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n"
                       "\r\r\n-\r\n--\r\n--b\r\n--bdX\r\n--bd-x\r\n--bd \r\n\r\n--bd--",
    "preamble-epilogue": "B\npreamble\r\n--B\r\nContent-Disposition: form-data; name=a\r\n\r\n"
                         "1\r\n--B--\r\nepilogue\r\n--B\r\n",
    "long-boundary": "z" * 70 + "\n--" + "z" * 70 + "\r\nContent-Disposition: form-data; "
                     "name=\"f\"; filename=\"f.bin\"\r\nContent-Type: application/x\r\n\r\n"
                     "\x00\xff\r\n--" + "z" * 69 + "\r\n--" + "z" * 70 + "--",
    "no-parts": "B\n--B--",
}

COOKIES = {
    "simple": "a=1; b=2",
    "quoted": 'a="quoted \\"value\\" \\073"; b=x',
    "browser": "_xsrf=2|1a2b3c4d|00112233445566778899aabbccddeeff|1300000000; "
               "user=\"2|1:0|10:1300000000|4:user|8:YWxpY2U=|abc\"",
    "odd": "  ; =; a; =b; c=d=e;;  f = g ;\n h=1; expires=x; $Path=/",
    "illegal-names": "a b=1; c,d=2; e\x7f=3; \xc3\xa9=4",
}

SIGNED = {
    "v1": "dmFsdWU=|1300000000|31c934969f53e48164c50768b40cbd7e2daaaa4f",
    "v2": "2|1:0|10:1300000000|3:key|8:dmFsdWU=|"
          "3d4e60b996ff9c5d5788e333a0cba6f238a22c6c0f94788870e1a9ecd482e152",
    "v2-key-version": "2|1:7|10:1300000000|3:key|8:dmFsdWU=|00",
    "xsrf-v2": "2|01020304|011321374557|1300000000",
    "xsrf-v1": "00112233445566778899aabbccddeeff",
    "malformed": "2|99999999999999999999:0|",
}


def ws_frame(first, payload, masked=True, form=None):
    """A WebSocket frame (RFC 6455 5.2), masked with a fixed key by default."""
    n = len(payload)
    form = form or (7 if n < 126 else 16 if n <= 0xFFFF else 64)
    mask_bit = 0x80 if masked else 0
    out = bytes([first])
    if form == 7:
        out += bytes([mask_bit | n])
    elif form == 16:
        out += bytes([mask_bit | 126]) + n.to_bytes(2, "big")
    else:
        out += bytes([mask_bit | 127]) + n.to_bytes(8, "big")
    key = b"\x37\xfa\x21\x3d"
    if masked:
        out += key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    else:
        out += payload
    return out


def websocket_seeds():
    import zlib

    def deflated(data):
        c = zlib.compressobj(6, zlib.DEFLATED, -15)
        return (c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH))[:-4]

    close = ws_frame(0x88, (1000).to_bytes(2, "big") + b"bye")
    # First byte: bit 0 server side (masked frames), bit 1 permessage-deflate.
    frames = {
        "text": b"\x01" + ws_frame(0x81, b"Hello") + close,
        "binary-16bit": b"\x01" + ws_frame(0x82, bytes(range(256)) * 2),
        "binary-64bit": b"\x01" + ws_frame(0x82, b"x" * 65536),
        "fragments-ping": b"\x01" + ws_frame(0x01, b"frag") + ws_frame(0x89, b"p") + ws_frame(0x80, b"ment"),
        "utf8-split": b"\x01" + ws_frame(0x01, "κόσμε".encode()[:3]) + ws_frame(0x80, "κόσμε".encode()[3:]),
        "utf8-bad": b"\x01" + ws_frame(0x81, b"\xce\xba\xed\xa0\x80"),
        "close-codes": b"\x01" + ws_frame(0x88, (1005).to_bytes(2, "big")) + ws_frame(0x88, b""),
        "nonminimal": b"\x01" + ws_frame(0x81, b"abc", form=16),
        "unmasked-server": b"\x00" + ws_frame(0x81, b"from server", masked=False) + ws_frame(0x8A, b"", masked=False),
        "rsv-opcode": b"\x01" + ws_frame(0xC1, b"x") + ws_frame(0x83, b""),
        "deflate": b"\x03" + ws_frame(0xC1, deflated(b"Hello Hello Hello")) + ws_frame(0xC2, deflated(bytes(1000))),
        "deflate-fragments": b"\x03" + ws_frame(0x41, deflated(b"abcabcabc")[:3]) + ws_frame(0x80, deflated(b"abcabcabc")[3:]),
    }
    for name, data in frames.items():
        write("websocket_frame_fuzzer", name, data)
    inflate = {
        "hello": b"\x00" + deflated(b"Hello, Hello, Hello"),
        "zeros": b"\x01" + deflated(bytes(100000)),
        "stored": b"\x00" + b"\x00\x05\x00\xfa\xffhello",
        "final-block": b"\x00" + zlib.compressobj(6, zlib.DEFLATED, -15).compress(b"x") + b"\x03\x00",
        "text": b"\x10plain text goes through the deflater and back",
    }
    for name, data in inflate.items():
        write("websocket_inflate_fuzzer", name, data)
    handshakes = {
        "upgrade": "Host: example.com\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                   "Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n",
        "deflate-offers": "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, "
                          "permessage-deflate; server_no_context_takeover; server_max_window_bits=10; "
                          "client_max_window_bits=\"12\"; client_no_context_takeover\r\n",
        "bad-offers": "Sec-WebSocket-Extensions: permessage-deflate; foo=1, permessage-deflate; "
                      "server_max_window_bits=8, x-webkit-deflate-frame\r\nUpgrade: h2c\r\n",
        "version": "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 8\r\n",
    }
    for name, data in handshakes.items():
        write("websocket_handshake_fuzzer", name, data)


def main():
    requests()
    websocket_seeds()
    for name, data in RESPONSES.items():
        write("response_parser_fuzzer", name, data)
    for name, data in CHUNKED.items():
        write("chunked_fuzzer", name, data)
    for name, data in HEADERS.items():
        write("headers_fuzzer", name, data)
    for name, data in MULTIPART.items():
        write("multipart_fuzzer", name, data)
        write("multipart_stream_fuzzer", name, data)
    for name, data in MULTIPART_STREAM.items():
        write("multipart_stream_fuzzer", name, data)
    for name, data in COOKIES.items():
        write("cookie_fuzzer", name, data)
    for name, data in SIGNED.items():
        write("signed_value_fuzzer", name, data)


if __name__ == "__main__":
    main()
