#!/usr/bin/env bash
# Memory per idle keep-alive HTTP connection: demos/helloworld_raw beside uWebSockets (when
# bench/peers/build_uws.sh has built it), nginx (1 worker) and Python Tornado's hello world, in
# the same run.
#
#   bench/idle_conns.sh [--connections=10000]
#
# For each server: start it, read its RSS (VmRSS), open N connections that each make one
# request and then stay open and idle (bench/peers/idle_client.py), read the RSS again, and
# report (after - before) / N in KiB, plus the kernel's TCP memory from /proc/net/sockstat
# (the same for every server: socket buffers are the kernel's). Everything started is stopped
# on exit. Reports only.
set -euo pipefail
cd "$(dirname "$0")/.."

connections=10000
for a in "$@"; do
  case "$a" in
    --connections=*) connections=${a#*=} ;;
    *) echo "unknown option $a" >&2; exit 2 ;;
  esac
done
command -v nginx >/dev/null || { echo "missing nginx: run scripts/bootstrap" >&2; exit 1; }
source bench/common.sh
build_targets helloworld helloworld_raw
work=$(mktemp -d)
clients=()
cleanup() {
  for p in "${clients[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${clients[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
# common.sh's EXIT trap stops every server (process group) started with start_server, then
# runs these.
bench_cleanup+=(cleanup)

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
tcp_pages() { awk '/^TCP:/ {for (i = 1; i < NF; i++) if ($i == "mem") print $(i + 1)}' /proc/net/sockstat; }

start_named() {  # NAME PORT -> sets server_pid (common.sh's start_server: own process group)
  local cmd=()
  hello_cmd "$1" "$2"
  start_server "${cmd[@]}" >"$work/$1.log" 2>&1
}

printf '%-15s %8s %10s %10s %14s %16s\n' server conns "rss before" "rss after" "KiB per conn" "kernel TCP KiB/conn"
declare -A per=()
# shellcheck disable=SC2046 # the list is split on purpose
for name in $(without_missing_peers tornado-cpp uws nginx python-tornado); do
  port=$(free_port)
  start_named "$name" "$port"
  wait_port "$port"
  # One warm-up request, so that lazily built state (the first response) is in "before".
  curl -s "http://127.0.0.1:$port/" >/dev/null
  sleep 0.2
  before=$(rss_kib "$server_pid")
  tcp_before=$(tcp_pages)
  coproc CLIENT { exec /usr/bin/python3 bench/peers/idle_client.py "$port" "$connections"; }
  client_pid=$CLIENT_PID
  clients+=("$client_pid")
  read -r ready opened failed <&"${CLIENT[0]}"
  sleep 0.5  # let the server finish its bookkeeping for the last responses
  after=$(rss_kib "$server_pid")
  tcp_after=$(tcp_pages)
  exec {CLIENT[1]}>&-   # the client closes its connections and exits
  wait "$client_pid" 2>/dev/null || true
  stop_group "$server_pid"
  per[$name]=$(awk -v a="$after" -v b="$before" -v n="$opened" 'BEGIN{printf "%.2f", (a-b)/n}')
  ktcp=$(awk -v a="$tcp_after" -v b="$tcp_before" -v n="$opened" 'BEGIN{printf "%.2f", (a-b)*4/n}')
  printf '%-15s %8s %10s %10s %14s %16s\n' "$name" "$opened" "$before" "$after" "${per[$name]}" "$ktcp"
  [ "$failed" = 0 ] || echo "  ($failed connections failed)"
done
awk -v a="${per[tornado-cpp]}" -v u="${per[uws]:-0}" -v n="${per[nginx]}" -v t="${per[python-tornado]}" \
  'BEGIN{printf "ratios (KiB per idle connection): tornado-cpp/uws %s, tornado-cpp/nginx %.2fx, tornado-cpp/python-tornado %.2fx\n", (u>0?sprintf("%.2fx",a/u):"n/a"), (n>0?a/n:0), (t>0?a/t:0)}'
