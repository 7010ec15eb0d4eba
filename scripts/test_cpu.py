#!/usr/bin/env python3
"""The CPU time of each ctest test: scripts/test_cpu.py BUILD_DIR [JOBS] [NAME_SUBSTRING]

Runs every test of BUILD_DIR (as `ctest --show-only=json-v1` lists it: its command,
working directory and environment), JOBS at a time (default 2), and prints per test the
CPU seconds (user + system of the test and every descendant it waited for) and the wall
seconds. ctest reports wall time only, and on a CI machine that is CPU-bound the CPU is
what a test costs (docs/building.md, Timings). Timeouts are not applied."""
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

build = sys.argv[1]
jobs = int(sys.argv[2]) if len(sys.argv) > 2 else 2
substring = sys.argv[3] if len(sys.argv) > 3 else None
listing = json.loads(subprocess.check_output(['ctest', '--test-dir', build, '--show-only=json-v1']))
tests = []
for test in listing['tests']:
    if substring and substring not in test['name']:
        continue
    props = {p['name']: p['value'] for p in test.get('properties', [])}
    env = dict(os.environ)
    for pair in props.get('ENVIRONMENT', []):
        key, _, value = pair.partition('=')
        env[key] = value
    tests.append((test['name'], test['command'], props.get('WORKING_DIRECTORY', build), env))


def run(test):
    name, command, cwd, env = test
    start = time.time()
    child = subprocess.Popen(command, cwd=cwd, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # wait4's usage covers the child and every descendant reaped below it.
    _, status, usage = os.wait4(child.pid, 0)
    return name, usage.ru_utime + usage.ru_stime, time.time() - start, status


total = 0.0
with ThreadPoolExecutor(jobs) as pool:
    for name, cpu, wall, status in pool.map(run, tests):
        total += cpu
        print(f'{cpu:8.1f} {wall:7.1f} {"ok" if status == 0 else "FAILED"} {name}', flush=True)
print(f'{total:8.1f} CPU-seconds in all, {len(tests)} tests')
