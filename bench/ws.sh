#!/usr/bin/env bash
# WebSocket benchmarks: demos/echo (our hub) beside node `ws` and Python Tornado, in the same
# run, with bench/ws_load (C++, epoll) as the client of all three.
#
#   bench/ws.sh [--seconds=5] [--subscribers=10000] [--rounds=20] [--idle=10000]
#               [--idle-paths=/echo] [--only=echo,broadcast,idle]
#
#   echo       100 and 1,000 connections, 32-byte messages: messages/s, p50/p99 round trip,
#              and messages per second of server CPU.
#   broadcast  N subscribers on /sub, one publisher on /pub; each round one message, fanned
#              out: p50/p99 of the time until the last subscriber has it, and deliveries per
#              second of server CPU. Ours also with --threads=2 (two loops on the port).
#   idle       memory per idle WebSocket connection: server RSS growth over N connections / N,
#              for each of --idle-paths (/echo: every server; /sub, one hub subscription per
#              connection: ours only, the peers have no hub).
# Every server runs compression off (the peers' defaults differ; the clients never offer it).
# Ratios are ours / peer, per second of server CPU (what the machine's noise affects least).
# As in BASELINES.md: each one-loop server runs on core 1 and ws_load on core 0 (taskset);
# `tornado-cpp-2t` (two loops) and its client are left to the scheduler. Unpinned, the two
# processes migrate and wake each other across cores, which cost the one-loop fan-out about
# 20 % of its deliveries per CPU-second in session 12's runs. net.core.netdev_max_backlog is
# raised to 65536 where the script may (the default 1000 drops loopback packets in a
# 10,000-way fan-out, and a stalled round then waits for a 200 ms retransmission).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=5 subscribers=10000 rounds=20 idle=10000 idle_paths=/echo only=echo,broadcast,idle
for a in "$@"; do
  case "$a" in
    --seconds=*) seconds=${a#*=} ;;
    --subscribers=*) subscribers=${a#*=} ;;
    --rounds=*) rounds=${a#*=} ;;
    --idle=*) idle=${a#*=} ;;
    --idle-paths=*) idle_paths=${a#*=} ;;
    --only=*) only=${a#*=} ;;
    *) echo "unknown option $a" >&2; exit 2 ;;
  esac
done
source bench/common.sh
command -v taskset >/dev/null || { echo "ws.sh needs taskset (util-linux)" >&2; exit 1; }
build_targets echo ws_load
load="$build/bench/ws_load"
backlog=$(sysctl -n net.core.netdev_max_backlog 2>/dev/null || echo unknown)
if [[ $backlog =~ ^[0-9]+$ ]] && ((backlog < 65536)); then
  sysctl -q -w net.core.netdev_max_backlog=65536 2>/dev/null && backlog=65536
fi
echo "net.core.netdev_max_backlog = $backlog"
work=$(mktemp -d)
bench_cleanup+=("rm -rf $work")
export NODE_PATH=/usr/share/nodejs

ws_cmd() {  # NAME PORT -> sets cmd
  case $1 in
    tornado-cpp) cmd=("$build/demos/echo/echo" --port="$2" --compression=false --logging=warning) ;;
    tornado-cpp-2t) cmd=("$build/demos/echo/echo" --port="$2" --threads=2 --compression=false --logging=warning) ;;
    node-ws) cmd=(node bench/peers/node_ws.js "$2") ;;
    python-tornado) cmd=(/usr/bin/python3 bench/peers/tornado_ws.py "$2") ;;
  esac
}
start_named() {  # NAME -> sets port, server_pid
  port=$(free_port)
  local cmd=()
  ws_cmd "$1" "$port"
  if [ "$1" = tornado-cpp-2t ]; then
    client=("$load")
  else
    cmd=(taskset -c 1 "${cmd[@]}")
    client=(taskset -c 0 "$load")
  fi
  start_server "${cmd[@]}" >"$work/$1.log" 2>&1
  wait_port "$port"
}
cpu_s() { awk -v a="$1" -v b="$2" -v t="$ticks" 'BEGIN{printf "%.3f", (b - a) / t}'; }
field() { awk -v k="$1" '{for (i = 1; i < NF; i++) if ($i == k) print $(i + 1)}'; }
declare -A per_cpu=()

if [[ $only == *echo* ]]; then
  echo "== echo: $seconds s, 32-byte messages"
  printf '%-16s %6s %10s %9s %9s %10s %16s\n' server conns msgs/s p50_ms p99_ms cpu_s msgs/cpu_s
  for conns in 100 1000; do
    for name in tornado-cpp node-ws python-tornado; do
      start_named "$name"
      t0=$(cpu_ticks "$server_pid")
      out=$("${client[@]}" --mode=echo --port="$port" --connections="$conns" --seconds="$seconds" --size=32)
      t1=$(cpu_ticks "$server_pid")
      stop_group "$server_pid"
      cpu=$(cpu_s "$t0" "$t1")
      n=$(echo "$out" | field messages)
      rate=$(awk -v n="$n" -v c="$cpu" 'BEGIN{printf "%.0f", (c > 0 ? n / c : 0)}')
      per_cpu["echo$conns-$name"]=$rate
      printf '%-16s %6s %10s %9s %9s %10s %16s\n' "$name" "$conns" "$(echo "$out" | field msgs/s)" \
        "$(echo "$out" | field p50_ms)" "$(echo "$out" | field p99_ms)" "$cpu" "$rate"
    done
  done
fi

if [[ $only == *broadcast* ]]; then
  echo "== broadcast: $subscribers subscribers, $rounds rounds of one 32-byte message"
  printf '%-16s %12s %12s %12s %10s %18s\n' server deliveries/s p50_ms p99_ms cpu_s deliveries/cpu_s
  for name in tornado-cpp tornado-cpp-2t node-ws python-tornado; do
    start_named "$name"
    # The subscribers connect first (not measured): ws_load prints nothing until the rounds
    # are over, so the CPU of the whole run is taken and the setup's share removed by a
    # second run with one round.
    t0=$(cpu_ticks "$server_pid")
    setup=$("${client[@]}" --mode=broadcast --port="$port" --subscribers="$subscribers" --rounds=1)
    t1=$(cpu_ticks "$server_pid")
    out=$("${client[@]}" --mode=broadcast --port="$port" --subscribers="$subscribers" --rounds="$((rounds + 1))")
    t2=$(cpu_ticks "$server_pid")
    stop_group "$server_pid"
    # (t2 - t1) - (t1 - t0): the CPU of `rounds` rounds, without the connections' setup.
    cpu=$(awk -v a="$t0" -v b="$t1" -v c="$t2" -v t="$ticks" 'BEGIN{printf "%.3f", ((c - b) - (b - a)) / t}')
    rate=$(awk -v n="$((subscribers * rounds))" -v c="$cpu" 'BEGIN{printf "%.0f", (c > 0 ? n / c : 0)}')
    per_cpu["broadcast-$name"]=$rate
    printf '%-16s %12s %12s %12s %10s %18s\n' "$name" "$(echo "$out" | field deliveries/s)" \
      "$(echo "$out" | field fanout_p50_ms)" "$(echo "$out" | field fanout_p99_ms)" "$cpu" "$rate"
    : "$setup"
  done
fi

if [[ $only == *idle* ]]; then
  for path in ${idle_paths//,/ }; do
    echo "== idle: $idle WebSocket connections on $path"
    printf '%-16s %12s %12s %14s\n' server "rss before" "rss after" "KiB per conn"
    names="tornado-cpp node-ws python-tornado"
    [ "$path" = /echo ] || names=tornado-cpp
    for name in $names; do
      start_named "$name"
      "$load" --mode=idle --port="$port" --path="$path" --connections=1 --hold=0 >/dev/null  # warm-up
      sleep 0.2
      before=$(awk '/^VmRSS:/ {print $2}' "/proc/$server_pid/status")
      coproc IDLE { exec "$load" --mode=idle --port="$port" --path="$path" --connections="$idle" --hold=3; }
      read -r _ready _n <&"${IDLE[0]}"
      sleep 1
      after=$(awk '/^VmRSS:/ {print $2}' "/proc/$server_pid/status")
      wait "$IDLE_PID" || true
      stop_group "$server_pid"
      printf '%-16s %12s %12s %14s\n' "$name" "$before" "$after" \
        "$(awk -v a="$before" -v b="$after" -v n="$idle" 'BEGIN{printf "%.2f", (b - a) / n}')"
    done
  done
fi

echo "== ratios, tornado-cpp / peer, per second of server CPU"
for key in "${!per_cpu[@]}"; do
  case $key in *-tornado-cpp) ;; *) continue ;; esac
  base=${key%-tornado-cpp}
  for peer in node-ws python-tornado; do
    p=${per_cpu[$base-$peer]:-}
    [ -n "$p" ] && [ "$p" != 0 ] &&
      printf '%-12s vs %-15s %6.2fx\n' "$base" "$peer" "$(awk -v a="${per_cpu[$key]}" -v b="$p" 'BEGIN{print a / b}')"
  done
done
