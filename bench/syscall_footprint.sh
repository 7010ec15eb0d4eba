#!/bin/bash
# syscall_footprint.sh BINARY PATH [N] [CONNS]: the code and data pages and lines BINARY
# touches between two system calls, summed per request, serving N requests (default 4,000,
# after 2,000 to warm up) at depth 1 on CONNS connections (default 64), driven by
# bench/depth1_client.py as in bench/callgrind_conns.sh. Runs BINARY under valgrind's lackey
# (every instruction fetch and data access, and every system call, traced);
# bench/syscall_footprint.py reads the trace.
# Deterministic enough for a shared machine; slow (about a minute for the defaults).
# BINARY may be uWebSockets' uws_hello (bench/peers/build_uws.sh, -march=x86-64-v2).
#   EXTRA=...   more arguments for BINARY
#   PAGES=--pages  also list each page touched on most requests, with its symbols
#   PAGES=--by-call  also list the functions run before each system call (both: "--pages --by-call")
bin=$1; path=$2; n=${3:-4000}; conns=${4:-64}; port=$((20000 + RANDOM % 10000))
here=$(cd "$(dirname "$0")" && pwd)
case $bin in
  *uws_hello*) args=("$port" 127.0.0.1) ;;
  *) args=(--port=$port --address=127.0.0.1) ;;
esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkfifo "$tmp/log" "$tmp/in" "$tmp/ack"
/usr/bin/python3 "$here/syscall_footprint.py" "$tmp/maps" "$n" $PAGES <"$tmp/log" >"$tmp/report" &
ap=$!
valgrind --tool=lackey --trace-mem=yes --trace-syscalls=yes --log-file="$tmp/log" \
  "$bin" "${args[@]}" $EXTRA >/dev/null 2>&1 &
vp=$!
for i in $(seq 300); do curl -s -o /dev/null "localhost:$port$path" && break; sleep 0.2; done
/usr/bin/python3 "$here/depth1_client.py" "$port" "$path" "$conns" "$tmp/in" "$tmp/ack" &
cp=$!
exec 3>"$tmp/in" 4<"$tmp/ack"
ok=done
echo 2000 >&3; read -r ok <&4
if [ "$ok" = done ]; then
  kill -USR1 $ap
  echo "$n" >&3; read -r ok <&4
  cp /proc/$vp/maps "$tmp/maps"  # first: the reader reads it, and ends, on SIGUSR2
  kill -USR2 $ap
  echo quit >&3
fi
exec 3>&- 4<&-
wait $cp
kill $vp 2>/dev/null; wait $vp 2>/dev/null
wait $ap
[ "$ok" = done ] || { echo "$bin: the client failed" >&2; exit 1; }
echo "$bin $path, $conns connections, depth 1:"
cat "$tmp/report"
