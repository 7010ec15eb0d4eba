#!/usr/bin/env bash
# User and system CPU per HTTP request of several server binaries, measured in turn and
# alternated round by round, so that a shared machine's drift falls on all of them alike:
# the A/B of two builds (copy the older binary aside first) or of a server and a peer.
#
#   bench/cpu_ab.sh [--seconds=5] [--rounds=5] [--depth=16] [--connections=64] \
#                   [--heads=wrk|browser] \
#                   BINARY:PATH [BINARY:PATH...]
#
# Each BINARY is started alone on core 1 with `--port=P --logging=warning` (a binary whose
# name contains `uws_hello` gets uWebSockets' positional `P 127.0.0.1`), then wrk on core 0
# sends GET PATH pipelined --depth deep over --connections connections
# (bench/peers/pipeline.lua, or bench/peers/browser.lua's 12-field head with --heads=browser).
# CPU per request comes from the server's own utime and stime ticks (/proc/PID/stat) over
# wrk's count of responses.
# Prints every round, then per binary the median user µs and the mean system µs.
# Stop the machine's other load first (fuzzers, builds): the figures are only as quiet as
# the machine. Everything started is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=5 rounds=5 depth=16 connections=64 heads=wrk specs=()
for a in "$@"; do
  case "$a" in
    --seconds=*) seconds=${a#*=} ;;
    --rounds=*) rounds=${a#*=} ;;
    --depth=*) depth=${a#*=} ;;
    --connections=*) connections=${a#*=} ;;
    --heads=wrk | --heads=browser) heads=${a#*=} ;;
    --*) echo "unknown option $a" >&2; exit 2 ;;
    *:*) specs+=("$a") ;;
    *) echo "expected BINARY:PATH, got $a" >&2; exit 2 ;;
  esac
done
[ ${#specs[@]} -gt 0 ] || { echo "usage: bench/cpu_ab.sh [options] BINARY:PATH..." >&2; exit 2; }
for tool in wrk taskset curl; do
  command -v "$tool" >/dev/null || { echo "missing $tool: run scripts/bootstrap" >&2; exit 1; }
done
source bench/common.sh
script=bench/peers/pipeline.lua
[ "$heads" = browser ] && script=bench/peers/browser.lua

results=$(mktemp)
bench_cleanup+=("rm -f $results")
for round in $(seq "$rounds"); do
  for spec in "${specs[@]}"; do
    bin=${spec%%:*} path=${spec#*:}
    port=$(free_port)
    case "$bin" in
      *uws_hello*) start_server taskset -c 1 "$bin" "$port" 127.0.0.1 >/dev/null 2>&1 ;;
      *) start_server taskset -c 1 "$bin" --port="$port" --logging=warning >/dev/null 2>&1 ;;
    esac
    wait_port "$port"
    curl -s -o /dev/null "http://127.0.0.1:$port$path"  # warm: first connection, first page
    read -r user0 sys0 < <(awk '{print $14, $15}' "/proc/$server_pid/stat")
    out=$(PIPELINE_DEPTH=$depth taskset -c 0 wrk -t1 -c"$connections" -d"${seconds}s" -s "$script" \
      "http://127.0.0.1:$port$path")
    read -r user1 sys1 < <(awk '{print $14, $15}' "/proc/$server_pid/stat")
    stop_group "$server_pid"
    n=$(echo "$out" | awk '/requests in/ {print $1}')
    line=$(awk -v n="$n" -v u=$((user1 - user0)) -v s=$((sys1 - sys0)) -v t="$ticks" \
      'BEGIN { printf "user %.3f sys %.3f", u * 1e6 / t / n, s * 1e6 / t / n }')
    echo "round $round $spec $line"
    echo "$spec $line" >>"$results"
  done
done
echo "median user µs / mean system µs per request ($heads heads, pipelined x$depth, $connections connections):"
for spec in "${specs[@]}"; do
  # (the spec matched whole: one binary's path may be part of another's)
  user=$(awk -v spec="$spec" '$1 == spec {print $3}' "$results" | median)
  sys=$(awk -v spec="$spec" '$1 == spec {s += $5; k++} END {printf "%.3f", s / k}' "$results")
  echo "  $spec user $user sys $sys"
done
