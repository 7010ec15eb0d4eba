#!/usr/bin/env bash
# The 10,000-connection echo test: tcpecho server and load client in separate processes
# (each process may hold at most 20,000 files, so neither could hold both ends).
# usage: tcpecho_load.sh TCPECHO_BINARY CONNECTIONS MESSAGES
set -eu
bin=$1
connections=$2
messages=$3
dir=$(mktemp -d)
source "$(dirname "$0")/server_process.sh"
cleanup() {
  stop_server
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

somaxconn=$(cat /proc/sys/net/core/somaxconn 2>/dev/null || echo unknown)
echo "somaxconn=$somaxconn; open files limit: soft $(ulimit -Sn) hard $(ulimit -Hn)"

# Port 0: the server picks a free port and prints it.
start_server "$dir" 127.0.0.1 "$bin" server --port=0 --address=127.0.0.1 --backlog=8192
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
