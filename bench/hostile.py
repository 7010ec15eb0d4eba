#!/usr/bin/env python3
"""Hostile HTTP/1.1 clients against one server: memory and loop time (docs/http1connection.md).

    bench/hostile.py -- build/bench/hostile_server {port}
    bench/hostile.py -- /usr/bin/python3 bench/peers/tornado_hostile.py {port}

Starts the server command ({port} is replaced), runs each scenario on a fresh server and
prints one line per scenario: the server's RSS before and after (VmRSS, and the peak VmHWM),
the loop's worst lag during the attack, and the wall time the answer took. Every server it
starts is stopped.
1. pipeline: sends pipelined GETs for 8 s and never reads an answer.
2. multipart: a 10 MB multipart body of '-' with a 30,000-character boundary of '-'.
3. gzip: 1 GiB of zeros gzipped (about 1 MB) as a request body, against the 100 MiB limit.
"""
import socket
import subprocess
import sys
import time
import zlib

PORT = 8893


def start(cmd):
    argv = [a.replace("{port}", str(PORT)) for a in cmd]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    proc.stdout.readline()  # "listening on ..."
    return proc


def request(raw, timeout=120):
    s = socket.create_connection(("127.0.0.1", PORT))
    s.settimeout(timeout)
    try:
        s.sendall(raw)
    except ConnectionResetError:  # answered (413) and closed before the body was sent
        return "reset while sending", ""
    out = b""
    while b"\r\n\r\n" not in out:
        data = s.recv(65536)
        if not data:
            break
        out += data
    head, _, body = out.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    while len(body) < length:
        data = s.recv(65536)
        if not data:
            break
        body += data
    s.close()
    return head.split(b"\r\n")[0].decode(), body.decode(errors="replace")


def stats():
    _, body = request(b"GET /stats HTTP/1.1\r\nHost: x\r\n\r\n")
    return dict(kv.split("=") for kv in body.split())


def pipeline(_):
    s = socket.create_connection(("127.0.0.1", PORT))
    s.setblocking(False)
    batch = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 1000
    sent, end = 0, time.time() + 8
    while time.time() < end:
        try:
            sent += s.send(batch)
        except BlockingIOError:
            time.sleep(0.01)
    return s, "sent %d MB of requests" % (sent // 1000000)


def multipart_body():
    # All '-': every position of the body starts a long near-match of the delimiter.
    boundary = b"-" * 30000
    body = b"--" + boundary + b"\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n"
    body += b"-" * (10 * 1000 * 1000) + b"\r\n--" + boundary + b"--\r\n"
    return boundary, body


def multipart(prepared):
    boundary, body = prepared
    t = time.time()
    status, answer = request(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; "
                             b"boundary=" + boundary + b"\r\nContent-Length: " +
                             str(len(body)).encode() + b"\r\n\r\n" + body)
    return None, "%s %s in %.2f s" % (status, answer, time.time() - t)


def gzip_bomb_body():
    z = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1 << 20)
    return b"".join(z.compress(zeros) for _ in range(1024)) + z.flush()


def gzip_bomb(gz):
    t = time.time()
    status, _ = request(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\n"
                        b"Content-Length: " + str(len(gz)).encode() + b"\r\n\r\n" + gz)
    return None, "%s (%d KB gzipped) in %.2f s" % (status, len(gz) // 1000, time.time() - t)


def main():
    cmd = sys.argv[sys.argv.index("--") + 1:]
    # Inputs are built before the server starts: the lag measured is the attack's alone.
    for name, scenario, prepare in [("pipeline", pipeline, lambda: None),
                                    ("multipart", multipart, multipart_body),
                                    ("gzip", gzip_bomb, gzip_bomb_body)]:
        prepared = prepare()
        proc = start(cmd)
        try:
            time.sleep(0.3)
            before = stats()
            held, what = scenario(prepared)
            time.sleep(0.5)
            after = stats()
            if held:
                held.close()
            print("%-9s rss %5d -> %6d KB (peak %6d KB), max loop lag %5s ms; %s" % (
                name, int(before["rss_kb"]), int(after["rss_kb"]), int(after["hwm_kb"]),
                after["max_lag_ms"], what), flush=True)
        finally:
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    main()
