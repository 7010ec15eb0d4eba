#!/usr/bin/env bash
# The chat under load (issue 9): demos/chat holding many signed-in users on three transports
# in rooms of different sizes while messages are posted at a set rate; and, in the same run,
# demos/chat beside Python Tornado's chat demo (bench/peers/tornado_chat.py) with long polling
# only, the one transport Tornado's demo has, in one room, as its demo has. bench/chat_load
# (C++, epoll, raw sockets) is the client of both.
#
#   bench/chat_load.sh [--users=10000] [--mix=70,20,10] [--rate=100] [--spread=rooms]
#                      [--seconds=20] [--rooms=SPEC] [--compare_users=1000]
#                      [--compare_rate=2] [--threads=1] [--sources=4] [--only=mixed,compare]
#
#   mixed    demos/chat, --users users: one room of users/2, 8 rooms of users/20 and rooms of 10
#            for the rest (10,000: 5,000 + 8 x 500 + 100 x 10; --rooms=SIZExCOUNT,... to
#            choose), transports in --mix percent (WebSocket, SSE, long polling) in every
#            room, all signed in (POST /auth/login per name: the signed `chatuser` cookie),
#            --rate messages/s in total for --seconds (--spread=rooms: every room equally
#            busy; users: a room's share of the rate is its share of the users).
#   compare  --compare_users long-polling users in one room, --compare_rate messages/s, on
#            demos/chat, then on Python Tornado's demo; ratios of latency, memory per user
#            and deliveries per second of server CPU.
#
# Reported per run: delivery latency p50/p99 (send time in the body, taken at every receiving
# user), messages lost (what each user should have had in its room, minus what it got) and
# duplicated, server RSS growth per user (after the users connect, before posting), server
# CPU seconds while posting and delivering, deliveries per CPU-second.
# Loopback only; every run bounded (the client's own limits, and `timeout` around it); the
# servers run in their own process groups, ended on exit (bench/common.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
users=10000 mix=70,20,10 rate=100 spread=rooms seconds=20 rooms="" compare_users=1000 compare_rate=2
threads=1 sources=4 only=mixed,compare
for a in "$@"; do
  case "$a" in
    --users=*) users=${a#*=} ;;
    --mix=*) mix=${a#*=} ;;
    --rate=*) rate=${a#*=} ;;
    --spread=*) spread=${a#*=} ;;
    --seconds=*) seconds=${a#*=} ;;
    --rooms=*) rooms=${a#*=} ;;
    --compare_users=*) compare_users=${a#*=} ;;
    --compare_rate=*) compare_rate=${a#*=} ;;
    --threads=*) threads=${a#*=} ;;
    --sources=*) sources=${a#*=} ;;
    --only=*) only=${a#*=} ;;
    *) echo "unknown option $a" >&2; exit 2 ;;
  esac
done

if [ -z "$rooms" ]; then
  big=$((users / 2)) mid=$((users / 20))
  small=$(((users - big - 8 * mid) / 10))
  rest=$((users - big - 8 * mid - 10 * small))
  rooms="${big}x1,${mid}x8"
  [ "$small" -gt 0 ] && rooms+=",10x$small"
  [ "$rest" -gt 0 ] && rooms+=",${rest}x1"
fi
source bench/common.sh
build_targets chat chat_load
load="$build/bench/chat_load"
work=$(mktemp -d)
bench_cleanup+=("rm -rf $work")
# Every user is one connection (plus a few posting ones); the machine allows 20,000 per process.
ulimit -n 20000
# The client's own bounds: connecting 300 s, settling 300 s, posting --seconds, draining 30 s;
# `timeout` on top.
max_s=$((2 * 300 + seconds + 30 + 60))

# run_load NAME SERVER_CMD... -- CLIENT_ARGS...: starts the server, runs the client against
# it, stops the server; the client's output in $work/NAME.out.
run_load() {
  local name=$1
  shift
  local server=()
  while [ "$1" != -- ]; do server+=("$1"); shift; done
  shift
  port=$(free_port)
  start_server "${server[@]/@PORT@/$port}" >"$work/$name.log" 2>&1
  wait_port "$port"
  # The client in its own group too, waited for in the background: a signal to this script
  # runs the EXIT trap at once, which ends both groups.
  setsid timeout -k 5 "$max_s" "$load" --port="$port" --server_pid="$server_pid" --threads="$threads" \
    --sources="$sources" --seconds="$seconds" --drain=30 "$@" >"$work/$name.out" &
  local client=$!
  echo "$client" >>"$bench_started"
  if ! wait "$client"; then
    echo "$name: the client failed; server log:" >&2
    tail -20 "$work/$name.log" >&2
  fi
  stop_group "$server_pid"
  cat "$work/$name.out"
}
field() { awk -v k="$1" 'NR == 1 {for (i = 1; i < NF; i++) if ($i == k) print $(i + 1)}' "$2"; }
chat_cmd=("$build/demos/chat/chat" --port=@PORT@ --cookie_secret=chat-load-bench --logging=warning
          --max_posts=0)

if [[ $only == *mixed* ]]; then
  echo "== mixed: demos/chat, $users users in rooms $rooms, transports $mix % (WebSocket,SSE,poll),"
  echo "   $rate messages/s (spread: $spread) for $seconds s"
  run_load mixed "${chat_cmd[@]}" -- --rooms="$rooms" --mix="$mix" --rate="$rate" --spread="$spread"
fi

if [[ $only == *compare* ]]; then
  echo "== compare: $compare_users long-polling users in one room, $compare_rate messages/s for $seconds s"
  echo "-- tornado-cpp (demos/chat)"
  run_load cpp-poll "${chat_cmd[@]}" -- --rooms="${compare_users}x1" --mix=0,0,100 --rate="$compare_rate"
  echo "-- python-tornado (bench/peers/tornado_chat.py, Tornado $(/usr/bin/python3 -c 'import tornado; print(tornado.version)'))"
  run_load py-poll /usr/bin/python3 bench/peers/tornado_chat.py @PORT@ -- \
    --rooms="${compare_users}x1" --mix=0,0,100 --rate="$compare_rate" --login=0
  ratio() { awk -v a="$1" -v b="$2" 'BEGIN{if (a > 0 && b > 0) printf "%.2fx", a / b; else print "-"}'; }
  c="$work/cpp-poll.out" p="$work/py-poll.out"
  if [ -s "$c" ] && [ -s "$p" ]; then
    echo "== ratios (long polling, one room): python-tornado / tornado-cpp, higher = ours better"
    printf '%-28s %12s %12s %8s\n' figure tornado-cpp python ratio
    for k in p50_ms p99_ms kib_per_user; do
      printf '%-28s %12s %12s %8s\n' "$k" "$(field "$k" "$c")" "$(field "$k" "$p")" \
        "$(ratio "$(field "$k" "$p")" "$(field "$k" "$c")")"
    done
    k=deliveries_per_cpu_s
    printf '%-28s %12s %12s %8s\n' "$k (ours/python)" "$(field "$k" "$c")" "$(field "$k" "$p")" \
      "$(ratio "$(field "$k" "$c")" "$(field "$k" "$p")")"
    printf '%-28s %12s %12s\n' "lost" "$(field lost "$c")" "$(field lost "$p")"
    printf '%-28s %12s %12s\n' "dup" "$(field dup "$c")" "$(field dup "$p")"
  fi
fi
