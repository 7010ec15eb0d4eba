#!/usr/bin/env bash
# TCP line-echo benchmark: demos/tcpecho beside Python Tornado's echo server, same run.
#
#   bench/tcpecho.sh [--seconds=5] [--size=32] [--connections="100 1000"] [--rounds=3]
#
# Each server runs single-threaded on core 1 (taskset -c 1), the load generator
# (bench/echo_load, independent of the library) on core 0. The load generator saturates its
# core before a fast server does, so the figure to compare is messages per second of *server
# CPU time* (utime+stime from /proc/PID/stat), printed beside the raw rate and the ratio.
# Reports; never fails on speed.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=5 size=32 connections="100 1000" rounds=3
for a in "$@"; do
  case "$a" in
    --seconds=*) seconds=${a#*=} ;;
    --size=*) size=${a#*=} ;;
    --connections=*) connections=${a#*=} ;;
    --rounds=*) rounds=${a#*=} ;;
    *) echo "unknown option $a" >&2; exit 2 ;;
  esac
done

source bench/common.sh
build_targets tcpecho echo_load

# run_one CONNS ours|theirs -> prints "rate per_cpu p50 p99"
run_one() {
  local conns=$1 kind=$2
  local port; port=$(free_port)
  local cmd
  if [ "$kind" = ours ]; then
    cmd=("$build/demos/tcpecho/tcpecho" --address=127.0.0.1 --port="$port")
  else
    cmd=(/usr/bin/python3 bench/peers/tornado_echo.py "$port")
  fi
  start_server taskset -c 1 "${cmd[@]}" >/dev/null 2>&1
  local pid=$server_pid
  wait_port "$port"
  local before; before=$(cpu_ticks "$pid")
  local out; out=$(taskset -c 0 "$build/bench/echo_load" --port="$port" --connections="$conns" \
                   --seconds="$seconds" --size="$size")
  local after; after=$(cpu_ticks "$pid")
  stop_group "$pid"
  local msgs rate p50 p99
  msgs=$(sed -E 's/.*messages=([0-9]+).*/\1/' <<<"$out")
  rate=$(sed -E 's/.*msgs_per_s=([0-9]+).*/\1/' <<<"$out")
  p50=$(sed -E 's/.*p50_ms=([0-9.]+).*/\1/' <<<"$out")
  p99=$(sed -E 's/.*p99_ms=([0-9.]+).*/\1/' <<<"$out")
  local cpu; cpu=$(awk -v a="$before" -v b="$after" -v t="$ticks" 'BEGIN{printf "%.3f", (b-a)/t}')
  local per_cpu; per_cpu=$(awk -v m="$msgs" -v c="$cpu" 'BEGIN{ if (c > 0) printf "%.0f", m/c; else print "inf"}')
  echo "$rate $per_cpu $p50 $p99"
}


printf '%-6s %-16s %12s %16s %9s %9s\n' conns server "msgs/s" "msgs/s per cpu" "p50 ms" "p99 ms"
for c in $connections; do
  declare -A per_cpu=()
  for name in ours theirs; do
    results=()
    for _ in $(seq "$rounds"); do results+=("$(run_one "$c" "$name")"); done
    rate=$(printf '%s\n' "${results[@]}" | awk '{print $1}' | median)
    pc=$(printf '%s\n' "${results[@]}" | awk '{print $2}' | median)
    p50=$(printf '%s\n' "${results[@]}" | awk '{print $3}' | median)
    p99=$(printf '%s\n' "${results[@]}" | awk '{print $4}' | median)
    label=$([ "$name" = ours ] && echo "tornado-cpp" || echo "python-tornado")
    printf '%-6s %-16s %12s %16s %9s %9s\n' "$c" "$label" "$rate" "$pc" "$p50" "$p99"
    per_cpu[$name]=$pc
  done
  awk -v a="${per_cpu[ours]}" -v b="${per_cpu[theirs]}" -v c="$c" \
    'BEGIN{ if (b > 0) printf "%-6s ratio tornado-cpp / python-tornado (msgs per server cpu second): %.1fx\n", c, a/b }'
done
