#!/usr/bin/env bash
# bash, not sh: dash 0.5.12 (Debian 12) can miss a child's exit in a command substitution
# while an EXIT/INT/TERM trap is set, and then waits forever (seen 3 times in ~20 runs here).
# The 10,000-connection echo test: tcpecho server and load client in separate processes
# (each process may hold at most 20,000 files, so neither could hold both ends).
# usage: tcpecho_load.sh TCPECHO_BINARY CONNECTIONS MESSAGES
set -eu
bin=$1
connections=$2
messages=$3
dir=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT INT TERM

somaxconn=$(cat /proc/sys/net/core/somaxconn 2>/dev/null || echo unknown)
echo "somaxconn=$somaxconn; open files limit: soft $(ulimit -Sn) hard $(ulimit -Hn)"

# Port 0: the server picks a free port and prints it.
"$bin" server --port=0 --address=127.0.0.1 --backlog=8192 >"$dir/server.out" 2>"$dir/server.err" &
server_pid=$!
port=
for _ in $(seq 1 100); do
  port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$dir/server.out")
  [ -n "$port" ] && break
  if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
  sleep 0.1
done
if [ -z "$port" ]; then
  echo "server did not start"; cat "$dir/server.out" "$dir/server.err"; exit 1
fi
echo "server pid $server_pid on port $port"

status=0
timeout 100 "$bin" client --port="$port" --address=127.0.0.1 --connections="$connections" \
  --messages="$messages" --connect-concurrency=512 --connect-retries=5 || status=$?

if ! kill -0 "$server_pid" 2>/dev/null; then
  echo "server died during the test"; cat "$dir/server.err"; status=1
fi
if [ -s "$dir/server.err" ]; then
  echo "server stderr:"; tail -n 20 "$dir/server.err"
fi
exit $status
