#!/usr/bin/env bash
# HTTP/1.1 plaintext benchmark: tornado-cpp's bare HTTPServer (demos/helloworld's
# helloworld_raw), the same through the view path (helloworld_views: tornado/httputil_view.h)
# and its web::Application (helloworld, access log at warning) beside
# uWebSockets (when built), nginx (1 worker, `return 200`) and Python Tornado's hello world,
# in the same run.
#
#   bench/plaintext.sh [--seconds=5] [--connections="64 256"] [--rounds=3] [--multicore]
#                      [--servers="tornado-cpp tornado-cpp-views tornado-cpp-app uws nginx python-tornado"]
#                      [--heads=wrk|browser|both]
#
# Every server runs single-threaded on core 1, wrk -t1 on core 0. wrk saturates its core
# before a fast server does, so the figure to compare is requests per second of *server CPU
# time* (utime+stime from /proc/PID/stat), printed beside raw req/s, p99 latency and the
# ratios. Plain keep-alive and pipelined (depth 16). --heads=browser sends browser-shaped
# requests (bench/peers/browser.lua: 12 header fields, ~600 bytes) instead of wrk's one-header
# GET, at 64 connections unless --connections says otherwise; --heads=both runs both kinds and
# also compares each server's browser-head rate with its wrk-head rate. The rounds are interleaved (round 1 of
# every server, then round 2...), so a burst of load on the shared machine hits all alike.
# --multicore adds a run of helloworld_raw with 2 loops on SO_REUSEPORT over both cores (wrk then
# shares core 0). The uWebSockets peer is build/bench-peers/uws_hello (bench/peers/build_uws.sh
# builds it; skipped when absent). Reports only.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=5 connections="" rounds=3 multicore=0 heads=wrk
servers="tornado-cpp tornado-cpp-views tornado-cpp-app uws nginx python-tornado"
for a in "$@"; do
  case "$a" in
    --seconds=*) seconds=${a#*=} ;;
    --connections=*) connections=${a#*=} ;;
    --rounds=*) rounds=${a#*=} ;;
    --servers=*) servers=${a#*=} ;;
    --multicore) multicore=1 ;;
    --heads=wrk | --heads=browser | --heads=both) heads=${a#*=} ;;
    *) echo "unknown option $a" >&2; exit 2 ;;
  esac
done

heads_kinds=$([ "$heads" = both ] && echo "wrk browser" || echo "$heads")
[ -n "$connections" ] || connections=$([ "$heads" = browser ] && echo 64 || echo "64 256")

for tool in wrk nginx taskset; do
  command -v "$tool" >/dev/null || { echo "missing $tool: run scripts/bootstrap" >&2; exit 1; }
done
source bench/common.sh
build_targets helloworld helloworld_raw helloworld_views
work=$(mktemp -d)
bench_cleanup+=('rm -rf "$work"')
# shellcheck disable=SC2086 # the list is split on purpose
servers=$(without_missing_peers $servers)

# run() starts each server with start_server, so the server process itself leads the process
# group that stop_group ends.
# run SERVER CONNS PIPELINED [HEADS] -> "req_per_s req_per_cpu_s p99_ms"
run() {
  local server=$1 conns=$2 pipelined=$3 heads=${4:-wrk}
  local port; port=$(free_port)
  local cmd=()
  if [ "$server" = multicore ]; then
    hello_cmd tornado-cpp "$port"
    cmd+=(--threads=2)
  else
    hello_cmd "$server" "$port"
    cmd=(taskset -c 1 "${cmd[@]}")
  fi
  start_server "${cmd[@]}" >"$work/server.log" 2>&1
  local pid=$server_pid
  wait_port "$port"
  local script=() depth=$([ "$pipelined" = 1 ] && echo 16 || echo 1)
  if [ "$heads" = browser ]; then
    script=(-s bench/peers/browser.lua)
  elif [ "$pipelined" = 1 ]; then
    script=(-s bench/peers/pipeline.lua)
  fi
  local pids; pids=$(pgrep -P "$pid" || true); pids="$pid $pids"
  local before=0 after=0 p
  for p in $pids; do before=$((before + $(cpu_ticks "$p"))); done
  local out
  out=$(PIPELINE_DEPTH=$depth taskset -c 0 wrk -t1 -c"$conns" -d"${seconds}s" --latency "${script[@]}" \
        "http://127.0.0.1:$port/" 2>&1)
  for p in $pids; do after=$((after + $(cpu_ticks "$p" 2>/dev/null || echo 0))); done
  stop_group "$pid"
  local total rps p99
  total=$(awk '/requests in/ {print $1}' <<<"$out")
  rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; printf "%.2f", v}' <<<"$out")
  local cpu; cpu=$(awk -v a="$before" -v b="$after" -v t="$ticks" 'BEGIN{printf "%.3f", (b-a)/t}')
  local per_cpu; per_cpu=$(awk -v n="$total" -v c="$cpu" 'BEGIN{ if (c > 0) printf "%.0f", n/c; else print 0}')
  # wrk's latency histogram is empty for pipelined batches (it prints 99% as 0.00us).
  [ "${p99:-0}" = "0.00" ] && p99=n/a
  echo "$rps $per_cpu ${p99:-n/a}"
}

# ratio A B: A/B with two decimals, or n/a when either is missing.
ratio() { awk -v a="${1:-0}" -v b="${2:-0}" 'BEGIN{ if (a > 0 && b > 0) printf "%.2fx", a/b; else print "n/a" }'; }

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $rounds rounds of ${seconds}s, medians"
printf '%-7s %-5s %-10s %-16s %10s %14s %8s\n' heads conns mode server "req/s" "req/s per cpu" "p99 ms"
declare -A per_case=()  # "heads conns mode server" -> median req/s per server cpu
for h in $heads_kinds; do
  for c in $connections; do
    for pipelined in 0 1; do
      mode=$([ $pipelined = 1 ] && echo "pipe16" || echo "keepalive")
      declare -A results=() pc=()
      for _ in $(seq "$rounds"); do
        for server in $servers; do
          results[$server]+="$(run "$server" "$c" "$pipelined" "$h")"$'\n'
        done
      done
      for server in $servers; do
        rps=$(awk 'NF {print $1}' <<<"${results[$server]}" | median)
        per=$(awk 'NF {print $2}' <<<"${results[$server]}" | median)
        p99=$(awk 'NF {print $3}' <<<"${results[$server]}" | median)
        printf '%-7s %-5s %-10s %-16s %10s %14s %8s\n' "$h" "$c" "$mode" "$server" "$rps" "$per" "$p99"
        pc[$server]=$per
        per_case["$h $c $mode $server"]=$per
      done
      printf '%-7s %-5s %-10s ratios per server cpu: tornado-cpp-views/uws %s, tornado-cpp/uws %s, tornado-cpp/nginx %s, tornado-cpp/python-tornado %s, tornado-cpp-app/uws %s\n' \
        "$h" "$c" "$mode" "$(ratio "${pc[tornado-cpp-views]:-}" "${pc[uws]:-}")" \
        "$(ratio "${pc[tornado-cpp]:-}" "${pc[uws]:-}")" \
        "$(ratio "${pc[tornado-cpp]:-}" "${pc[nginx]:-}")" \
        "$(ratio "${pc[tornado-cpp]:-}" "${pc[python-tornado]:-}")" \
        "$(ratio "${pc[tornado-cpp-app]:-}" "${pc[uws]:-}")"
      unset results pc
    done
  done
done
if [ "$heads" = both ]; then
  # Issue 6's goal: tornado-cpp with browser heads within 20% of uWebSockets with wrk's heads.
  echo "browser heads against wrk heads (req/s per server cpu):"
  for c in $connections; do
    for mode in keepalive pipe16; do
      line="$(printf '%-5s %-10s' "$c" "$mode")"
      for server in $servers; do
        line+=" $server $(ratio "${per_case[browser $c $mode $server]:-}" "${per_case[wrk $c $mode $server]:-}")"
      done
      line+=", tornado-cpp(browser)/uws(wrk) $(ratio "${per_case[browser $c $mode tornado-cpp]:-}" "${per_case[wrk $c $mode uws]:-}")"
      echo "$line"
    done
  done
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

if [ "$multicore" = 1 ]; then
  echo "multi-core: helloworld_raw with 2 SO_REUSEPORT loops (wrk shares core 0 with one of them)"
  for c in $connections; do
    r=$(run multicore "$c" 0)
    printf '%-5s keepalive  tornado-cpp x2 loops  %s req/s\n' "$c" "$(cut -d' ' -f1 <<<"$r")"
  done
fi
