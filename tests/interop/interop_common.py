"""Shared helpers for the interop tests: start tests/interop/echo_server.cpp, make a
certificate, talk raw HTTP/1.1 over a socket.

The server binary comes from $INTEROP_ECHO_SERVER (tests/interop.cmake sets it). Each
EchoServer runs in its own process, prints "LISTENING <port>" and exits when its stdin
closes, so a crashed test never leaves it behind.
"""

import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

SERVER = os.environ.get("INTEROP_ECHO_SERVER", "")


class EchoServer:
    """The interop echo server in a child process; its log goes to a temporary file."""

    def __init__(self, *args):
        if not SERVER or not os.access(SERVER, os.X_OK):
            raise RuntimeError("INTEROP_ECHO_SERVER is not an executable: %r" % SERVER)
        self.log_file = tempfile.NamedTemporaryFile(prefix="echo_server_", suffix=".log")
        self.proc = subprocess.Popen(
            [SERVER, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log_file,
        )
        ready, _, _ = select.select([self.proc.stdout], [], [], 10)
        line = self.proc.stdout.readline().decode() if ready else ""
        if not line.startswith("LISTENING "):
            self.stop()
            raise RuntimeError("echo server did not start: %r; log: %s" % (line, self.log()))
        where = line.split()[1]
        self.unix_path = where[len("unix:"):] if where.startswith("unix:") else None
        self.port = None if self.unix_path else int(where)

    def url(self, path="/", scheme="http", host="127.0.0.1"):
        return "%s://%s:%d%s" % (scheme, host, self.port, path)

    def log(self):
        with open(self.log_file.name, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()  # the server stops at EOF on stdin
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        code = self.proc.returncode
        self.log_file.close()
        return code


def make_certificate(directory):
    """A self-signed certificate for 127.0.0.1 and localhost, made now with openssl."""
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", key, "-out", cert, "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True)
    return cert, key


def read_response(sock_file):
    """Reads one HTTP/1.x response (Content-Length, chunked, or until close) from a binary
    file object made with socket.makefile('rb'). Returns (status_line, headers, body)."""
    status = sock_file.readline()
    if not status:
        raise EOFError("connection closed before a response")
    headers = {}
    while True:
        line = sock_file.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin1").partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    code = int(status.split()[1])
    if code in (204, 304) or 100 <= code < 200:
        return status.decode().rstrip("\r\n"), headers, b""
    if "content-length" in headers:
        body = sock_file.read(int(headers["content-length"][0]))
    elif headers.get("transfer-encoding", [""])[0].lower() == "chunked":
        body = b""
        while True:
            size = int(sock_file.readline().split(b";")[0], 16)
            data = sock_file.read(size + 2)
            if size == 0:
                break
            body += data[:-2]
    else:
        body = sock_file.read()
    return status.decode().rstrip("\r\n"), headers, body


def raw_exchange(address, data, family=socket.AF_INET, timeout=5):
    """Sends `data`, half-closes, and returns every byte until the server closes."""
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(address)
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out
            out += chunk


def require(program):
    path = shutil.which(program)
    if path is None:
        raise unittest.SkipTest("%s is not installed (scripts/packages.txt lists it)" % program)
    return path


def main():
    unittest.main(verbosity=2)
