# Sourced by the end-to-end test scripts (bash): start a demo server on port 0 and learn its
# port from its "listening on ADDRESS:PORT" line; stop it with a bounded wait.
#   start_server DIR ADDRESS COMMAND...   sets server_pid and port (exits 1 if it never listens)
#   stop_server                           TERM, up to 10 s, then KILL; safe to call twice

server_pid=
port=

start_server() {
  local dir=$1 address=$2
  shift 2
  # The files exist before the child opens them: the first look must not race its redirect.
  : >"$dir/server.out"
  : >"$dir/server.err"
  "$@" >>"$dir/server.out" 2>>"$dir/server.err" &
  server_pid=$!
  local pattern="s/^listening on ${address//./\\.}:\\([0-9]*\\)\$/\\1/p"
  for _ in $(seq 1 200); do
    port=$(sed -n "$pattern" "$dir/server.out")
    [ -n "$port" ] && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "server did not start"
  cat "$dir/server.out" "$dir/server.err"
  exit 1
}

# A TERM that reaches the forked shell before it execs the server is taken by this
# script's own trap there and lost (the server then runs on), so the wait is bounded and
# ends with KILL.
stop_server() {
  [ -n "$server_pid" ] || return 0
  local pid=$server_pid
  server_pid=
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
