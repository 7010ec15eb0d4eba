#!/usr/bin/python3
"""bench/code_footprint.py — the code a request runs through, from a callgrind profile.

    VGOPTS=--dump-instr=yes KEEP=prof.cg bench/callgrind_pipelined.sh BINARY PATH N DEPTH
    bench/code_footprint.py prof.cg N BINARY [--functions]

Counts the distinct 64-byte lines and 4 KiB pages of instructions executed at least N/2
times over N requests (the per-request path, not start-up), per object. After every system
call the kernel has had the instruction cache and TLB, so each of these lines and pages is
fetched again by the next request: fewer of them is fewer cycles, which callgrind's
instruction count does not show (docs/performance.md, "Code layout").

--functions also lists BINARY's functions on that path by address, marking those on a page
far from the rest: a function of the library there is one that tornado/hot.h's TORNADO_HOT
does not yet gather with the others.
"""
import bisect
import collections
import subprocess
import sys


def executed(profile):
    """{address: instructions executed there} and {address: object}, from a profile made
    with --dump-instr=yes (the cost line after a calls= line is the call's, skipped)."""
    cost, owner = collections.Counter(), {}
    obj, after_call = None, False
    with open(profile) as f:
        for line in f:
            if line.startswith("calls="):
                after_call = True
                continue
            if after_call:
                after_call = False
                continue
            if line.startswith("ob="):
                obj = line[3:].strip()
            elif line.startswith("0x"):
                parts = line.split()  # address, source line, Ir ("positions: instr line")
                if len(parts) >= 3 and parts[2].isdigit():
                    address = int(parts[0], 16)
                    cost[address] += int(parts[2])
                    owner[address] = obj
    return cost, owner


def functions_of(binary):
    symbols = []
    nm = subprocess.run(["nm", "-n", "-C", "--defined-only", binary], capture_output=True,
                        text=True, check=True).stdout
    for line in nm.splitlines():
        address, kind, name = line.split(None, 2)
        if kind in "tTwW":
            symbols.append((int(address, 16), name))
    return symbols


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    profile, requests, binary = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    cost, owner = executed(profile)
    hot = [a for a, c in cost.items() if c >= requests // 2]
    by_object = collections.defaultdict(lambda: [set(), set(), 0])
    for a in hot:
        o = (owner[a] or "?").rsplit("/", 1)[-1]
        by_object[o][0].add(a >> 6)
        by_object[o][1].add(a >> 12)
        by_object[o][2] += cost[a]
    lines = sum(len(v[0]) for v in by_object.values())
    pages = sum(len(v[1]) for v in by_object.values())
    print(f"{profile}: {lines} lines ({lines * 64 / 1024:.1f} KiB), {pages} pages per request")
    for o, (ls, ps, ir) in sorted(by_object.items(), key=lambda kv: -len(kv[1][0])):
        print(f"  {o:32s} lines {len(ls):4d}  pages {len(ps):3d}  instructions {ir / requests:6.0f}")
    if "--functions" not in sys.argv:
        return
    name = binary.rsplit("/", 1)[-1]
    symbols = functions_of(binary)
    starts = [s[0] for s in symbols]
    per_function, start_of = collections.Counter(), {}
    for a in hot:
        if not (owner[a] or "").endswith(name):
            continue
        i = bisect.bisect_right(starts, a) - 1
        if i >= 0:
            per_function[symbols[i][1]] += cost[a]
            start_of[symbols[i][1]] = symbols[i][0]
    page_counts = collections.Counter(start_of[f] >> 12 for f in per_function)
    centre = max(page_counts, key=page_counts.get)
    for f in sorted(per_function, key=start_of.get):
        far = abs((start_of[f] >> 12) - centre) > 16
        print(f"  {'far ' if far else '    '}{start_of[f]:#9x} {per_function[f] / requests:6.0f}  "
              f"{f[:110]}")


if __name__ == "__main__":
    main()
