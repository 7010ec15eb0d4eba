#!/usr/bin/env bash
# The web layer's cost: GET /plaintext and GET /json through web::Application
# (demos/helloworld) beside the same answers from the bare HTTPServer callback
# (helloworld_raw), nginx (1 worker, `return 200`) and Python Tornado's RequestHandlers, in the
# same run.
#
#   bench/web.sh [--seconds=5] [--rounds=3] [--servers="app raw nginx python-tornado"]
#
# As bench/plaintext.sh: every server single-threaded on core 1, wrk -t1 on core 0, rounds
# interleaved, medians; the figure to compare is requests per second of server CPU time.
# Cases: plaintext c64 keep-alive, plaintext c64 pipelined x16, json c64 keep-alive, and
# fortunes c64 keep-alive (a template render per request: app and python-tornado only; the
# raw server and nginx answer 404 there and are left out of that row), and noetag c64
# pipelined x16 (the app's /plaintext without Tornado's default ETag, the body's SHA-1,
# beside the bare server's /plaintext: what the ETag costs; a path as short as /plaintext, so
# that the request's strings stay as short).
# The goals (issue 7): app costs at most 15 % over raw, i.e. app/raw >= 0.87 per server cpu;
# fortunes stays above half of plaintext (app fortunes/plaintext >= 0.5, printed at the end).
# BUILD_DIR picks the build (default build-release, configured Release on first use).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=5 rounds=3 servers="app raw nginx python-tornado"
for a in "$@"; do
  case "$a" in
    --seconds=*) seconds=${a#*=} ;;
    --rounds=*) rounds=${a#*=} ;;
    --servers=*) servers=${a#*=} ;;
    *) echo "unknown option $a" >&2; exit 2 ;;
  esac
done
for tool in wrk nginx taskset; do
  command -v "$tool" >/dev/null || { echo "missing $tool: run scripts/bootstrap" >&2; exit 1; }
done
source bench/common.sh
build_targets helloworld helloworld_raw
work=$(mktemp -d)
bench_cleanup+=('rm -rf "$work"')

# nginx answering both paths as the others do.
nginx_web() {
  local dir=$1 port=$2
  mkdir -p "$dir/logs"
  cat >"$dir/nginx.conf" <<CONF
worker_processes 1;
master_process off;
daemon off;
error_log $dir/logs/error.log;
pid $dir/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$port backlog=4096;
    location = /plaintext { default_type text/plain; return 200 "Hello, World!"; }
    location = /json { default_type application/json; return 200 '{"message":"Hello, World!"}'; }
  }
}
CONF
  cmd=(nginx -p "$dir" -c "$dir/nginx.conf")
}

server_cmd() {
  case $1 in
    app) cmd=("$build/demos/helloworld/helloworld" --address=127.0.0.1 --port="$2" --logging=warning) ;;
    raw) cmd=("$build/demos/helloworld/helloworld_raw" --address=127.0.0.1 --port="$2") ;;
    nginx) nginx_web "$work/nginx" "$2" ;;
    python-tornado) cmd=(/usr/bin/python3 bench/peers/tornado_web.py "$2") ;;
    *) echo "unknown server $1" >&2; return 1 ;;
  esac
}

# run SERVER PATH PIPELINED -> "req_per_s req_per_cpu_s"
run() {
  local server=$1 path=$2 pipelined=$3
  local port; port=$(free_port)
  local cmd=()
  server_cmd "$server" "$port"
  start_server taskset -c 1 "${cmd[@]}" >"$work/server.log" 2>&1
  local pid=$server_pid
  wait_port "$port"
  local script=() depth=1
  if [ "$pipelined" = 1 ]; then script=(-s bench/peers/pipeline.lua); depth=16; fi
  local before after out
  before=$(cpu_ticks "$pid")
  out=$(PIPELINE_DEPTH=$depth taskset -c 0 wrk -t1 -c64 -d"${seconds}s" "${script[@]}" \
        "http://127.0.0.1:$port$path" 2>&1)
  after=$(cpu_ticks "$pid" 2>/dev/null || echo "$before")
  stop_group "$pid"
  local total rps cpu
  total=$(awk '/requests in/ {print $1}' <<<"$out")
  rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out")
  cpu=$(awk -v a="$before" -v b="$after" -v t="$ticks" 'BEGIN{printf "%.3f", (b-a)/t}')
  awk -v r="$rps" -v n="$total" -v c="$cpu" 'BEGIN{ printf "%s %.0f\n", r, (c > 0 ? n/c : 0) }'
}

ratio() { awk -v a="${1:-0}" -v b="${2:-0}" 'BEGIN{ if (a > 0 && b > 0) printf "%.2fx", a/b; else print "n/a" }'; }

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $rounds rounds of ${seconds}s, medians; build $build"
printf '%-22s %-16s %10s %14s\n' case server "req/s" "req/s per cpu"
declare -A app_per_cpu=()
for case_ in "plaintext keepalive" "plaintext pipe16" "noetag pipe16" "json keepalive" \
             "fortunes keepalive"; do
  set -- $case_
  path=/$1 pipelined=$([ "$2" = pipe16 ] && echo 1 || echo 0)
  case_servers=$servers
  [ "$1" = fortunes ] && case_servers=$(tr ' ' '\n' <<<"$servers" | grep -E '^(app|python-tornado)$' | xargs)
  # The app without its default ETag, beside the bare server's /plaintext (which sends none).
  [ "$1" = noetag ] && case_servers=$(tr ' ' '\n' <<<"$servers" | grep -E '^(app|raw)$' | xargs)
  declare -A results=() pc=()
  for _ in $(seq "$rounds"); do
    for server in $case_servers; do
      server_path=$path
      [ "$server" = raw ] && [ "$path" = /noetag ] && server_path=/plaintext
      results[$server]+="$(run "$server" "$server_path" "$pipelined")"$'\n'
    done
  done
  for server in $case_servers; do
    rps=$(awk 'NF {print $1}' <<<"${results[$server]}" | median)
    per=$(awk 'NF {print $2}' <<<"${results[$server]}" | median)
    pc[$server]=$per
    printf '%-22s %-16s %10s %14s\n' "$case_" "$server" "$rps" "$per"
  done
  printf '%-22s ratios per server cpu: app/raw %s, app/nginx %s, app/python-tornado %s\n' "$case_" \
    "$(ratio "${pc[app]:-}" "${pc[raw]:-}")" "$(ratio "${pc[app]:-}" "${pc[nginx]:-}")" \
    "$(ratio "${pc[app]:-}" "${pc[python-tornado]:-}")"
  app_per_cpu[$case_]=${pc[app]:-}
  unset results pc
done
echo "fortunes/plaintext (app, keep-alive, per server cpu): $(ratio "${app_per_cpu[fortunes keepalive]:-}" "${app_per_cpu[plaintext keepalive]:-}") (goal >= 0.50x)"
