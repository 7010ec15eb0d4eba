#!/usr/bin/env bash
# HTTP/1.1 plaintext benchmark: demos/helloworld beside nginx (1 worker, `return 200`) and
# Python Tornado's hello world, in the same run.
#
#   bench/plaintext.sh [--seconds=5] [--connections="64 256"] [--rounds=3] [--multicore]
#
# Every server runs single-threaded on core 1, wrk -t1 on core 0. wrk saturates its core
# before a fast server does, so the figure to compare is requests per second of *server CPU
# time* (utime+stime from /proc/PID/stat), printed beside raw req/s, p99 latency and the
# ratios. Plain keep-alive and pipelined (depth 16). --multicore adds a run of helloworld
# with 2 loops on SO_REUSEPORT over both cores (wrk then shares core 0). Reports only.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=5 connections="64 256" rounds=3 multicore=0
for a in "$@"; do
  case "$a" in
    --seconds=*) seconds=${a#*=} ;;
    --connections=*) connections=${a#*=} ;;
    --rounds=*) rounds=${a#*=} ;;
    --multicore) multicore=1 ;;
    *) echo "unknown option $a" >&2; exit 2 ;;
  esac
done

for tool in wrk nginx taskset; do
  command -v "$tool" >/dev/null || { echo "missing $tool: run scripts/bootstrap" >&2; exit 1; }
done
source bench/common.sh
build_targets helloworld
work=$(mktemp -d)
bench_cleanup+=('rm -rf "$work"')

# Each server function sets `cmd` to the command that serves on port $1; run() starts it with
# start_server, so the server process itself leads the process group that stop_group ends.
ours() { cmd=(taskset -c 1 "$build/demos/helloworld/helloworld" --address=127.0.0.1 --port="$1"); }
ours_multicore() { cmd=("$build/demos/helloworld/helloworld" --address=127.0.0.1 --port="$1" --threads=2); }
tornado() { cmd=(taskset -c 1 /usr/bin/python3 bench/peers/tornado_hello.py "$1"); }
nginx_one() {
  mkdir -p "$work/nginx/logs"
  cat >"$work/nginx/nginx.conf" <<CONF
worker_processes 1;
master_process off;
daemon off;
error_log $work/nginx/logs/error.log;
pid $work/nginx/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$1 backlog=4096;
    location / { return 200 "Hello, world"; }
  }
}
CONF
  cmd=(taskset -c 1 nginx -p "$work/nginx" -c "$work/nginx/nginx.conf")
}

# run SERVER CONNS PIPELINED -> "req_per_s req_per_cpu_s p99_ms"
run() {
  local server=$1 conns=$2 pipelined=$3
  local port; port=$(free_port)
  local cmd=()
  $server "$port"
  start_server "${cmd[@]}" >"$work/server.log" 2>&1
  local pid=$server_pid
  wait_port "$port"
  local script=()
  [ "$pipelined" = 1 ] && script=(-s bench/peers/pipeline.lua)
  local pids; pids=$(pgrep -P "$pid" || true); pids="$pid $pids"
  local before=0 after=0 p
  for p in $pids; do before=$((before + $(cpu_ticks "$p"))); done
  local out
  out=$(taskset -c 0 wrk -t1 -c"$conns" -d"${seconds}s" --latency "${script[@]}" \
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

printf '%-5s %-10s %-16s %10s %14s %8s\n' conns mode server "req/s" "req/s per cpu" "p99 ms"
for c in $connections; do
  for pipelined in 0 1; do
    mode=$([ $pipelined = 1 ] && echo "pipe16" || echo "keepalive")
    declare -A pc=()
    for server in ours nginx_one tornado; do
      results=()
      for _ in $(seq "$rounds"); do results+=("$(run "$server" "$c" "$pipelined")"); done
      rps=$(printf '%s\n' "${results[@]}" | awk '{print $1}' | median)
      per=$(printf '%s\n' "${results[@]}" | awk '{print $2}' | median)
      p99=$(printf '%s\n' "${results[@]}" | awk '{print $3}' | median)
      label=$(case $server in ours) echo tornado-cpp;; nginx_one) echo nginx;; *) echo python-tornado;; esac)
      printf '%-5s %-10s %-16s %10s %14s %8s\n' "$c" "$mode" "$label" "$rps" "$per" "$p99"
      pc[$server]=$per
    done
    awk -v a="${pc[ours]}" -v n="${pc[nginx_one]}" -v t="${pc[tornado]}" -v c="$c" -v m="$mode" \
      'BEGIN{ printf "%-5s %-10s ratios per server cpu: tornado-cpp/nginx %.2fx, tornado-cpp/python-tornado %.1fx\n", c, m, (n>0?a/n:0), (t>0?a/t:0) }'
  done
done

if [ "$multicore" = 1 ]; then
  echo "multi-core: helloworld with 2 SO_REUSEPORT loops (wrk shares core 0 with one of them)"
  for c in $connections; do
    r=$(run ours_multicore "$c" 0)
    printf '%-5s keepalive  tornado-cpp x2 loops  %s req/s\n' "$c" "$(cut -d' ' -f1 <<<"$r")"
  done
fi
