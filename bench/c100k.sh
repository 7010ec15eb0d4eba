#!/usr/bin/env bash
# bench/c100k.sh — 100,000 open WebSocket connections on this machine, and one broadcast to
# all of them (issue 10). Every address is loopback; everything started is stopped on exit.
#
#   bench/c100k.sh [--connections=100000] [--servers=6] [--clients=6] [--rounds=5]
#                  [--peer-connections=15000] [--timeout=300]
#
# The machine's hard limit of 20,000 open files per process means several processes on each
# side: --servers echo processes (demos/echo --reuse_port) share one port through
# SO_REUSEPORT and one hub through a Redis server this script starts; --clients processes of
# bench/ws_load --mode=scale each open connections/clients subscribers to /sub from their
# own source address (127.A.B.2, 127.A.B.3, ..., A.B random per run: one address has about
# 28,000 ephemeral ports towards one server port, and a run's closed ones stay in TIME_WAIT
# for a minute). Then ws_load --mode=publish sends --rounds messages to
# /pub, one a second; each is published through Redis to every process's subscribers.
#
# Reported for the run: the time to open every connection (all clients at once), server RSS
# per connection (the servers' VmRSS after - before, summed), kernel memory per connection
# (/proc/meminfo's Slab after - before: both ends of each loopback connection, their socket,
# file and inode objects), per round the time
# until the LAST of all subscribers had the message (the max over the client processes),
# and messages lost (must be 0) and repeated.
#
# The peer row: with --peer-connections > 0, the same measurement first at that size on ONE
# process each (no Redis), tornado-cpp and Python Tornado (bench/peers/tornado_ws.py, which
# has no cross-process hub), so the ratio compares like with like.
#
# Exit status 1 if a connection failed or a message was lost or repeated.
set -euo pipefail
cd "$(dirname "$0")/.."

connections=100000 servers=6 clients=6 rounds=5 peer_connections=15000 timeout=300
for a in "$@"; do
  case "$a" in
    --connections=*) connections=${a#*=} ;;
    --servers=*) servers=${a#*=} ;;
    --clients=*) clients=${a#*=} ;;
    --rounds=*) rounds=${a#*=} ;;
    --peer-connections=*) peer_connections=${a#*=} ;;
    --timeout=*) timeout=${a#*=} ;;
    *) echo "c100k: unknown option $a" >&2; exit 2 ;;
  esac
done
per_client=$(((connections + clients - 1) / clients))
if ((per_client > 19000)); then
  echo "c100k: $per_client connections per client process: over the 20,000 open files a" \
       "process may have here; use more --clients" >&2
  exit 2
fi
if ((rounds > 64)); then echo "c100k: at most 64 rounds" >&2; exit 2; fi
command -v redis-server >/dev/null || { echo "c100k: missing redis-server: run scripts/bootstrap" >&2; exit 1; }
source bench/common.sh
build_targets echo ws_load
work=$(mktemp -d)
client_pids=()
cleanup() {
  for p in "${client_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${client_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
bench_cleanup+=(cleanup)

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
# The kernel's slab memory (sockets, their files, dentries and inodes live there), in KiB:
# machine-wide, so other activity during the run blurs it.
slab_kib() { awk '/^Slab:/ {print $2}' /proc/meminfo; }

# scale_run NAME SERVERS CONNECTIONS CLIENTS: one measurement; prints its report line and
# sets run_failed=1 if it lost anything.
run_failed=0
scale_run() {
  local name=$1 nservers=$2 total=$3 nclients=$4
  local port rport pids=() i
  port=$(free_port)
  local redis_opt=()
  if [[ $name == tornado-cpp ]] && ((nservers > 1)); then
    rport=$(free_port)
    start_server redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no \
      --dir "$work" --maxclients 1000 >"$work/redis.log" 2>&1
    local redis_pid=$server_pid
    wait_port "$rport"
    redis_opt=(--redis="127.0.0.1:$rport")
  fi
  for ((i = 0; i < nservers; i++)); do
    if [[ $name == tornado-cpp ]]; then
      start_server "$build/demos/echo/echo" --port="$port" --reuse_port --compression=0 \
        --logging=warning "${redis_opt[@]}" >"$work/server$i.log" 2>&1
    else
      start_server /usr/bin/python3 bench/peers/tornado_ws.py "$port" >"$work/server$i.log" 2>&1
    fi
    pids+=("$server_pid")
    wait_port "$port"
  done
  sleep 0.3
  local rss_before=0 tcp_before
  for p in "${pids[@]}"; do rss_before=$((rss_before + $(rss_kib "$p"))); done
  tcp_before=$(slab_kib)

  local each=$(((total + nclients - 1) / nclients)) left=$total t0 t1
  # Source addresses fresh for this run: a run's closed connections stay in TIME_WAIT for a
  # minute, holding their ports on the addresses that used them.
  local src_net="127.$((RANDOM % 200 + 20)).$((RANDOM % 250))"
  client_pids=()
  t0=$(date +%s.%N)
  for ((i = 0; i < nclients; i++)); do
    local n=$((left < each ? left : each))
    left=$((left - n))
    "$build/bench/ws_load" --mode=scale --port="$port" --path=/sub --connections="$n" \
      --source="$src_net.$((2 + i))" --rounds="$rounds" --timeout="$timeout" \
      >"$work/client$i.out" 2>"$work/client$i.err" &
    client_pids+=($!)
  done
  # Every client has printed "ready" (or one died).
  local deadline=$((SECONDS + timeout)) ready=0
  while ((ready < nclients)); do
    ready=0
    for ((i = 0; i < nclients; i++)); do
      grep -q '^ready' "$work/client$i.out" 2>/dev/null && ready=$((ready + 1))
      if ! kill -0 "${client_pids[$i]}" 2>/dev/null && ! grep -q '^ready' "$work/client$i.out"; then
        echo "c100k: $name: client $i failed: $(cat "$work/client$i.err")" >&2
        run_failed=1
        return 0
      fi
    done
    ((SECONDS < deadline)) || { echo "c100k: $name: not every client was ready in ${timeout}s" >&2; run_failed=1; return 0; }
    ((ready == nclients)) || sleep 0.05
  done
  t1=$(date +%s.%N)
  sleep 1  # the last subscriptions are made after their handshake
  local rss_after=0 tcp_after
  for p in "${pids[@]}"; do rss_after=$((rss_after + $(rss_kib "$p"))); done
  tcp_after=$(slab_kib)

  "$build/bench/ws_load" --mode=publish --port="$port" --path=/pub --rounds="$rounds" \
    --interval-ms=1000 --size=32
  local status=0
  for p in "${client_pids[@]}"; do wait "$p" || status=1; done
  client_pids=()
  cat "$work"/client*.out >"$work/all.out"
  local lost dup worst median
  lost=$(awk '/^lost/ {s += $2} END {print s + 0}' "$work/all.out")
  dup=$(awk '/^lost/ {s += $4} END {print s + 0}' "$work/all.out")
  # Per round, the latest subscriber over every client process; then the rounds' median
  # and worst.
  awk '/^round/ {if ($8 > m[$2]) m[$2] = $8} END {for (r in m) print m[r]}' "$work/all.out" \
    >"$work/rounds"
  median=$(median <"$work/rounds")
  worst=$(sort -n "$work/rounds" | tail -1)
  printf '%-12s %8d %7d %7d %8.2f %10.2f %12.2f %14.1f %12.1f %6d %5d\n' "$name" "$total" \
    "$nservers" "$nclients" "$(echo "$t1 - $t0" | bc)" \
    "$(echo "scale=3; ($rss_after - $rss_before) / $total" | bc)" \
    "$(echo "scale=3; ($tcp_after - $tcp_before) / $total" | bc)" \
    "$median" "$worst" "$lost" "$dup"
  ((status == 0 && lost == 0 && dup == 0)) || run_failed=1
  for p in "${pids[@]}"; do stop_group "$p"; done
  [[ -n ${redis_pid:-} ]] && stop_group "$redis_pid"
  rm -f "$work"/client*.out "$work"/client*.err
  sleep 1  # the closed connections leave TIME_WAIT to the kernel, not the next run's figures
}

printf '%-12s %8s %7s %7s %8s %10s %12s %14s %12s %6s %5s\n' server conns servers clients \
  open_s "KiB/conn" "slab KiB/c" "bcast p50 ms" "bcast max ms" lost dup
if ((peer_connections > 0)); then
  peer_clients=$(((peer_connections + 18999) / 19000))
  scale_run tornado-cpp 1 "$peer_connections" "$peer_clients"
  scale_run python-tornado 1 "$peer_connections" "$peer_clients"
fi
scale_run tornado-cpp "$servers" "$connections" "$clients"
exit "$run_failed"
