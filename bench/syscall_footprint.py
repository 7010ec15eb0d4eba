#!/usr/bin/python3
"""bench/syscall_footprint.py MAPS REQUESTS [--pages [--lines]] [--by-call] < LOG

What a server touches between two system calls, from valgrind's lackey trace
(--trace-mem=yes --trace-syscalls=yes) on standard input.

Run by bench/syscall_footprint.sh, which sends this process SIGUSR1 when the measured
requests start and SIGUSR2 when they are done; only the trace between the two counts.

Why between system calls: this VM's kernel isolates its page tables (PTI) on a CPU without
PCID, so every kernel entry flushes the TLB, and the kernel's own work on the way evicts
much of L1. Every 4 KiB page the server touches after a system call is a page walk, and
every 64-byte line a likely L1 miss, again after each call. The sum over the intervals of
the distinct pages (lines) each touches, per request, prices that; callgrind's instruction
count and its simulated caches (never flushed) do not (docs/performance.md, session 25).

--by-call lists, for each system call, the functions whose lines run before it.
--pages lists every page touched on at least every other request, with the symbols of the
lines touched there; --lines adds the bytes of each data line touched (string literals and
tables have no symbol).

MAPS is the server's /proc/PID/maps, read before it stopped: the report splits the pages by
mapping (the binary, each library, anonymous memory: heap, stacks, buffers).
"""
import bisect
import collections
import signal
import subprocess
import sys

counting = False
finished = False
PAGES = "--pages" in sys.argv  # per-line hits are kept only for the page listing
BY_CALL = "--by-call" in sys.argv
# Calls the C library answers from the vDSO without entering the kernel (here, with the
# kvm-clock clocksource): valgrind, which does not map the vDSO, makes them system calls.
VDSO_CALLS = (b"sys_time ", b"sys_clock_gettime ", b"sys_gettimeofday ", b"sys_getcpu ")


def start(*_):
    global counting
    counting = True


def stop(*_):
    global counting, finished
    counting, finished = False, True


class Resolver:
    """Addresses to mappings and symbols, from the server's /proc/PID/maps: anonymous
    mappings are named by their address; a file's first mapping is its base (which holds for
    PIE executables and shared libraries), its symbols read with nm when first asked."""

    def __init__(self, maps_path):
        self.maps = []
        with open(maps_path) as f:
            for line in f:
                parts = line.split()
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                path = parts[5] if len(parts) > 5 else ""
                name = path.rsplit("/", 1)[-1] if path else f"anon@{lo:x}"
                self.maps.append((lo, hi, name, path))
        self.maps.sort()
        self.starts = [m[0] for m in self.maps]
        self.base = {}
        for lo, _, name, path in self.maps:
            if path.startswith("/") and name not in self.base:
                self.base[name] = (lo, path)
        self.tables = {}

    def mapping(self, address):
        """The name of the mapping holding `address` ("?" if none)."""
        i = bisect.bisect_right(self.starts, address) - 1
        return self.maps[i][2] if i >= 0 and address < self.maps[i][1] else "?"

    def symbol(self, name, address):
        """(ELF address, name) of the symbol at or before `address` in the file mapped as
        `name`, or None (an anonymous mapping, a stripped file)."""
        if name not in self.base:
            return None
        lo, path = self.base[name]
        if path not in self.tables:
            table = symbols_of(path)
            self.tables[path] = ([a for a, _ in table], table)
        addresses, table = self.tables[path]
        j = bisect.bisect_right(addresses, address - lo) - 1
        return table[j] if j >= 0 else None

    def elf_address(self, name, address):
        lo, path = self.base[name]
        return address - lo, path


def symbols_of(path):
    """[(address, name)] of an ELF file's code and data symbols, sorted."""
    nm = subprocess.run(["nm", "-n", "-C", "--defined-only", path], capture_output=True,
                        text=True).stdout
    out = []
    for line in nm.splitlines():
        parts = line.split(None, 2)
        if len(parts) == 3 and parts[1] in "tTwWdDbBrRvV":
            out.append((int(parts[0], 16), parts[2]))
    return out


def list_by_call(calls, call_hits, where, requests):
    """For each system call that ends at least every other request's intervals, the code
    lines run before it (on most of those intervals), by function in address order: the
    functions one interval runs, to lay out together."""
    for call, n in calls.most_common():
        if n < requests // 2:
            continue
        per_function = collections.Counter()
        for (c, line), hits in call_hits.items():
            if c != call or hits < n // 2:
                continue
            name = where.mapping(line << 6)
            symbol = where.symbol(name, line << 6) or (0, "?")
            per_function[name, symbol[0], symbol[1]] += 1
        print(f"before {call} ({n / requests:.2f} a request): "
              f"{sum(per_function.values())} code lines")
        for (name, address, function), lines in sorted(per_function.items()):
            print(f"  {name[:16]:16s} {address:#8x} {lines:3d}  {function[:90]}")


def peek(path, address):
    """The 64 bytes at ELF address `address` of the file, as text (dots for the rest)."""
    out = subprocess.run(["objdump", "-s", f"--start-address={address:#x}",
                          f"--stop-address={address + 64:#x}", path], capture_output=True,
                         text=True).stdout
    section, text = "?", ""
    for line in out.splitlines():
        if line.startswith("Contents of section"):
            if section != "?":
                break  # the first allocated section only (debug sections start at 0 too)
            section = line.split()[-1].rstrip(":")
        elif section != "?" and line.startswith(" ") and len(line) > 43:
            text += line[43:]  # objdump's text column
    return f"{section}: {text}"


def list_pages(page_hits, line_hits, where, requests):
    """Every page touched on at least every other request, with the symbols of the lines the
    run touched there (file-backed pages, by ELF address)."""
    for (kind, page), n in sorted(page_hits.items(), key=lambda kv: kv[0][1]):
        if n < requests // 2:
            continue
        name = where.mapping(page << 12)
        text = ""
        if name in where.base:
            hot = [line << 6 for line in range(page << 6, (page + 1) << 6)
                   if line_hits[kind, line] >= requests // 2]
            names = []
            for address in hot:
                symbol = where.symbol(name, address)
                if symbol and symbol[1] not in names:
                    names.append(symbol[1])
            elf, path = where.elf_address(name, page << 12)
            text = f"elf {elf:#x}: " + "; ".join(x[:50] for x in names)
            if kind == "data" and "--lines" in sys.argv:
                text += "".join(f"\n      {elf + a % 4096:#x} {peek(path, elf + a % 4096)}"
                                for a in hot)
        print(f"  {kind} {n / requests:5.2f}/req  {name:24s} {text}")


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    maps_path, requests = sys.argv[1], int(sys.argv[2])
    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)
    code_pages, data_pages, code_lines, data_lines = set(), set(), set(), set()
    totals = collections.Counter()
    page_hits = collections.Counter()  # (kind, page) -> intervals that touched it
    line_hits = collections.Counter()  # (kind, line) -> the same, with --pages
    calls = collections.Counter()  # with --by-call: intervals by the call that ends them
    call_hits = collections.Counter()  # (that call, code line) -> intervals
    intervals = 0

    def close_interval(call):
        nonlocal intervals
        if code_pages or data_pages:
            if BY_CALL:
                calls[call] += 1
                for l in code_lines:
                    call_hits[call, l] += 1
            intervals += 1
            totals["code pages"] += len(code_pages)
            totals["data pages"] += len(data_pages)
            totals["code lines"] += len(code_lines)
            totals["data lines"] += len(data_lines)
            for p in code_pages:
                page_hits["code", p] += 1
            for p in data_pages:
                page_hits["data", p] += 1
            if PAGES:
                for l in code_lines:
                    line_hits["code", l] += 1
                for l in data_lines:
                    line_hits["data", l] += 1
        code_pages.clear(), data_pages.clear(), code_lines.clear(), data_lines.clear()

    for line in sys.stdin.buffer:
        if not counting:
            if finished:
                break
            continue
        c = line[:2]
        if c == b"I ":
            a = int(line[3:line.index(b",")], 16)
            code_pages.add(a >> 12)
            code_lines.add(a >> 6)
        elif c in (b" L", b" S", b" M"):
            a = int(line[3:line.index(b",")], 16)
            data_pages.add(a >> 12)
            data_lines.add(a >> 6)
        elif b"SYSCALL[" in line and not any(c in line for c in VDSO_CALLS):
            m = line.find(b" sys_")
            close_interval(line[m + 1:line.index(b" ", m + 1)].decode() if m >= 0 else "?")
    where = Resolver(maps_path)
    by_map = collections.Counter()
    for (kind, page), n in page_hits.items():
        by_map[kind, where.mapping(page << 12)] += n
    print(f"{intervals / requests:.2f} system-call intervals per request; per request, summed "
          f"over them: code pages {totals['code pages'] / requests:.1f}, data pages "
          f"{totals['data pages'] / requests:.1f}, code lines {totals['code lines'] / requests:.0f}, "
          f"data lines {totals['data lines'] / requests:.0f}")
    for (kind, name), n in sorted(by_map.items(), key=lambda kv: -kv[1]):
        if n / requests >= 0.05:
            print(f"  {kind} pages {n / requests:5.2f}  {name}")
    if PAGES:
        list_pages(page_hits, line_hits, where, requests)
    if BY_CALL:
        list_by_call(calls, call_hits, where, requests)


if __name__ == "__main__":
    main()
