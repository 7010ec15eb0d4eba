"""End-to-end test of the dashboard executable (ctest `demo_dashboard`; the binary comes from
$DASHBOARD_BINARY): --threads=N serves one dashboard from N loops, and --redis=HOST:PORT makes
two processes share one: each one's page (samples.json and the event stream) carries both
processes' samples. A redis-server is started on a free port in a temporary directory (the
Redis case fails, never skips, when /usr/bin/redis-server is missing: scripts/packages.txt
installs it). Everything listens on 127.0.0.1 and is stopped at the end.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.request

BINARY = os.environ.get("DASHBOARD_BINARY", "")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def wait_for(what, check, seconds=15):
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.1)


class Dashboard:
    def __init__(self, *args):
        self.proc = subprocess.Popen([BINARY, "--port=0", "--logging=warning", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("listening on port "):
            self.proc.kill()
            raise RuntimeError("dashboard did not start: " + line + self.proc.stdout.read())
        self.port = int(line.split()[-1])

    def samples(self):
        return get_json("http://127.0.0.1:%d/dashboard/samples.json" % self.port)["samples"]

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        self.proc.stdout.close()
        return code


class DashboardTest(unittest.TestCase):
    def test_threads_share_one_dashboard_and_sigterm_exits_cleanly(self):
        d = Dashboard("--threads=3", "--process-id=threaded", "--self-load=20")
        try:
            def loaded():
                samples = d.samples()
                return samples if len(samples) >= 3 and samples[-1]["requests_per_s"] > 0 else None
            samples = wait_for("three samples, the last with requests", loaded)
            self.assertTrue(all(s["pid"] == "threaded" for s in samples))
            self.assertGreater(samples[-1]["rss_bytes"], 1 << 20)
        finally:
            self.assertEqual(d.stop(), 0)

    def test_two_processes_on_redis_share_one_dashboard(self):
        redis = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.assertTrue(os.path.exists(redis), "redis-server missing: scripts/bootstrap installs it")
        directory = tempfile.mkdtemp(prefix="dashboard_redis_")
        port = free_port()
        server = subprocess.Popen([redis, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                   "--appendonly", "no", "--dir", directory],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        dashboards = []
        try:
            def redis_up():
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    return True
                except OSError:
                    return False
            wait_for("redis", redis_up)
            for name, load in (("alpha", "10"), ("beta", "30")):
                dashboards.append(Dashboard("--redis=127.0.0.1:%d" % port, "--process-id=" + name,
                                            "--self-load=" + load))
            for d in dashboards:  # each process's page has both processes' samples
                wait_for("both processes in one page",
                         lambda: {s["pid"] for s in d.samples()} == {"alpha", "beta"})
            # Live over the event stream of alpha: beta's samples arrive too.
            seen = set()
            with urllib.request.urlopen(
                    "http://127.0.0.1:%d/dashboard/events" % dashboards[0].port, timeout=10) as r:
                deadline = time.monotonic() + 10
                while seen != {"alpha", "beta"} and time.monotonic() < deadline:
                    line = r.readline().decode()
                    if line.startswith("data: {"):
                        seen.add(json.loads(line[6:])["pid"])
            self.assertEqual(seen, {"alpha", "beta"})
        finally:
            codes = [d.stop() for d in dashboards]
            server.terminate()
            server.wait(timeout=10)
            shutil.rmtree(directory, ignore_errors=True)
        self.assertEqual(codes, [0, 0])


if __name__ == "__main__":
    unittest.main()
