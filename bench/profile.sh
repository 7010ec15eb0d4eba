#!/usr/bin/env bash
# Where a plaintext request's CPU goes: demos/helloworld_raw (the bare HTTPServer) beside nginx and uWebSockets (when
# bench/peers/build_uws.sh has built it), each pinned to core 1 and driven by wrk on core 0.
#
#   bench/profile.sh [--seconds=5] [--connections=64] [--depth=16] [--heads=wrk|browser|both]
#                    [--servers="tornado-cpp nginx uws"] [--out=build/profile]
#
# For each server and kind of request head (wrk's one-header GET, or bench/peers/browser.lua's
# browser-shaped one), pipelined --depth deep, three separate wrk runs of --seconds each:
#   1. CPU per request, nothing attached: user and system µs per request, from the server's
#      utime/stime ticks in /proc/PID/stat and wrk's count of responses;
#   2. `perf record -g` attached to the server: the top 25 symbols of
#      `perf report --no-children --percent-limit 1 --stdio` (perf.data kept in --out);
#   3. `strace -c -f` attached to the server: system calls per request. strace slows the
#      server several-fold, so more requests arrive per read than in run 1: read these as the
#      kinds of calls made and a lower bound of their count per request.
# A summary table of all servers ends the output. Everything started is stopped on exit.
# kernel.perf_event_paranoid is set to -1 for the run when it is higher (root only; restored on
# exit). Reports only.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=5 connections=64 depth=16 heads=wrk servers="tornado-cpp nginx uws" out=build/profile
for a in "$@"; do
  case "$a" in
    --seconds=*) seconds=${a#*=} ;;
    --connections=*) connections=${a#*=} ;;
    --depth=*) depth=${a#*=} ;;
    --heads=wrk | --heads=browser | --heads=both) heads=${a#*=} ;;
    --servers=*) servers=${a#*=} ;;
    --out=*) out=${a#*=} ;;
    *) echo "unknown option $a" >&2; exit 2 ;;
  esac
done
heads_kinds=$([ "$heads" = both ] && echo "wrk browser" || echo "$heads")

for tool in wrk nginx taskset perf strace; do
  command -v "$tool" >/dev/null || { echo "missing $tool: run scripts/bootstrap" >&2; exit 1; }
done
source bench/common.sh
build_targets helloworld helloworld_raw
work=$(mktemp -d)
bench_cleanup+=('rm -rf "$work"')
mkdir -p "$out"
# shellcheck disable=SC2086 # the list is split on purpose
servers=$(without_missing_peers $servers)

paranoid=$(cat /proc/sys/kernel/perf_event_paranoid)
if [ "$paranoid" -gt -1 ]; then
  if sysctl -qw kernel.perf_event_paranoid=-1 2>/dev/null; then
    bench_cleanup+=("sysctl -qw kernel.perf_event_paranoid=$paranoid")
  else
    echo "kernel.perf_event_paranoid is $paranoid and cannot be lowered: perf may fail" >&2
  fi
fi

# wrk_load PORT HEADS -> wrk's output; --seconds of pipelined load from core 0.
wrk_load() {
  local script
  script=$([ "$2" = browser ] && echo bench/peers/browser.lua || echo bench/peers/pipeline.lua)
  PIPELINE_DEPTH=$depth taskset -c 0 wrk -t1 -c"$connections" -d"${seconds}s" -s "$script" \
    "http://127.0.0.1:$1/" 2>&1
}
requests_of() { awk '/requests in/ {print $1}' <<<"$1"; }
# stat_ticks PID FIELD: utime (14) or stime (15) of PID, in clock ticks.
stat_ticks() { awk -v f="$2" '{print $f}' "/proc/$1/stat"; }
# stop_tool PID: ends perf or strace with SIGINT (both then write their results) and waits for
# it however long that takes (stop_group would KILL it after 2 s).
stop_tool() {
  kill -INT "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

declare -A summary=()
for h in $heads_kinds; do
  for server in $servers; do
    tag="$server-$h"
    echo "== $server, $h heads, $connections connections pipelined x$depth, load average $(cut -d' ' -f1-3 /proc/loadavg) =="
    port=$(free_port)
    cmd=()
    hello_cmd "$server" "$port"
    start_server taskset -c 1 "${cmd[@]}" >"$work/$tag.log" 2>&1
    pid=$server_pid
    wait_port "$port"
    wrk_load "$port" "$h" >/dev/null  # warm up: caches, lazily built state, the Date header

    # 1. CPU per request.
    u0=$(stat_ticks "$pid" 14) s0=$(stat_ticks "$pid" 15)
    load=$(wrk_load "$port" "$h")
    u1=$(stat_ticks "$pid" 14) s1=$(stat_ticks "$pid" 15)
    n=$(requests_of "$load")
    cpu=$(awk -v n="$n" -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v t="$ticks" -v d="$seconds" 'BEGIN{
      us = 1e6 / t / n
      printf "%.3f %.3f %.3f %.0f %.0f", u * us, s * us, (u + s) * us, n / d, n / ((u + s) / t) }')
    read -r user_us sys_us total_us rps per_cpu <<<"$cpu"
    echo "cpu: $n requests in ${seconds}s ($rps req/s, $per_cpu per server cpu s): user $user_us µs + system $sys_us µs = $total_us µs per request"

    # 2. perf record.
    perf record -q -g -B -p "$pid" -o "$out/$tag.perf.data" >"$work/$tag.perf.log" 2>&1 &
    perf_pid=$!
    echo "$perf_pid" >>"$bench_started"
    sleep 0.5  # let perf attach
    wrk_load "$port" "$h" >/dev/null
    stop_tool "$perf_pid"
    echo "perf: top 25 symbols (perf report --no-children --percent-limit 1; $out/$tag.perf.data)"
    perf report -i "$out/$tag.perf.data" --no-children --percent-limit 1 --stdio -g none \
      --sort dso,sym 2>/dev/null | grep -E '^ +[0-9.]+%' | head -25 | tee "$out/$tag.perf.txt"

    # 3. strace -c.
    strace -c -f -S calls -o "$out/$tag.strace" -p "$pid" 2>"$work/$tag.strace.log" &
    strace_pid=$!
    echo "$strace_pid" >>"$bench_started"
    for _ in $(seq 100); do grep -q attached "$work/$tag.strace.log" && break; sleep 0.05; done
    traced=$(requests_of "$(wrk_load "$port" "$h")")
    stop_tool "$strace_pid"
    echo "strace -c -f: system calls per request ($traced requests under strace)"
    calls=$(awk -v n="$traced" '
      $1 ~ /^[0-9.]+$/ && $NF != "total" { errors = (NF == 6 ? $5 : 0)
        printf "  %-16s %9.4f per request%s\n", $NF, $4 / n, (errors > 0 ? sprintf(" (%d errors)", errors) : "") }
      $NF == "total" { total = $4 }
      END { printf "  %-16s %9.4f per request\n", "all", total / n }' "$out/$tag.strace")
    echo "$calls"
    stop_group "$pid"
    summary[$tag]="$user_us $sys_us $total_us $per_cpu $(awk '$1 == "all" {print $2}' <<<"$calls")"
    echo
  done
done

echo "summary (pipelined x$depth, $connections connections; CPU from runs without perf or strace)"
printf '%-7s %-12s %10s %10s %10s %14s %14s\n' heads server "user µs" "sys µs" "cpu µs" "req/s per cpu" "syscalls/req"
for h in $heads_kinds; do
  for server in $servers; do
    read -r u s t p c <<<"${summary[$server-$h]}"
    printf '%-7s %-12s %10s %10s %10s %14s %14s\n' "$h" "$server" "$u" "$s" "$t" "$p" "$c"
  done
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
