# Helpers shared by the bench/*.sh scripts (sourced, not run).

ticks=$(getconf CLK_TCK)
# utime + stime of a process, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Waits up to 5 s for something to listen on 127.0.0.1:$1.
wait_port() {
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "server on port $1 did not start" >&2; return 1
}
# The median of the numbers on stdin, one per line.
median() { sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }

# Every server a script starts runs as the leader of its own process group (setsid), and its
# pid is recorded in $bench_started (a file: servers are started inside $(...) subshells).
# stop_group ends one group; the EXIT trap (set by common.sh, also on ^C and on errors) ends
# every group still recorded, so no benchmark leaves a server behind.
bench_started=$(mktemp)
# start_server CMD...: starts the command CMD in the background in a new process group; sets
# server_pid to its pid (= the group id: setsid execs, it does not fork, in a script).
start_server() {
  setsid "$@" &
  server_pid=$!
  echo "$server_pid" >>"$bench_started"
}
# stop_group PID: TERM to the whole group, KILL after 2 s, then reaps it if it is our child.
stop_group() {
  local pid=$1
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 40); do
    kill -0 -- "-$pid" 2>/dev/null || break
    sleep 0.05
  done
  kill -KILL -- "-$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
stop_all_servers() {
  local pid
  [ -f "$bench_started" ] || return 0
  while read -r pid; do stop_group "$pid"; done <"$bench_started"
  rm -f "$bench_started"
}
# The scripts add their own cleanup to bench_cleanup (e.g. removing a work directory).
bench_cleanup=()
on_exit() {
  stop_all_servers
  local c
  for c in "${bench_cleanup[@]}"; do eval "$c"; done
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# build_targets TARGET...: a Release build (in $BUILD_DIR, default build-release) of the named
# targets, configured on first use; sets `build` to the directory.
build_targets() {
  build=${BUILD_DIR:-build-release}
  # BENCH_SKIP_BUILD=1: use the binaries as they are (a build is running in that directory).
  [ -n "${BENCH_SKIP_BUILD:-}" ] && return 0
  if [ ! -f "$build/build.ninja" ]; then
    cmake -G Ninja -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DTORNADO_BUILD_TESTS=OFF >/dev/null
  fi
  ninja -C "$build" "$@" >/dev/null
}

# nginx_hello DIR PORT: nginx's hello world, the peer of demos/helloworld in every script: one
# process (no master), access log off, `return 200 "Hello, world"` as text/html like ours, room for
# 19,000 connections (the machine's hard limit on open files is 20,000) and keep-alive long
# enough for idle-connection runs. Writes DIR/nginx.conf and sets `nginx_cmd` to the command
# that runs it in the foreground.
nginx_hello() {
  local dir=$1 port=$2
  mkdir -p "$dir/logs"
  cat >"$dir/nginx.conf" <<CONF
worker_processes 1;
master_process off;
daemon off;
error_log $dir/logs/error.log;
pid $dir/nginx.pid;
worker_rlimit_nofile 20000;
events { worker_connections 19000; }
http {
  access_log off;
  default_type "text/html; charset=UTF-8";
  keepalive_timeout 3600s;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$port backlog=4096;
    location / { return 200 "Hello, world"; }
  }
}
CONF
  nginx_cmd=(nginx -p "$dir" -c "$dir/nginx.conf")
}

# The uWebSockets peer (bench/peers/build_uws.sh builds it), used when present.
uws_hello=${UWS_HELLO:-build/bench-peers/uws_hello}
# without_missing_peers NAME...: prints the names, minus uws (with a message on stderr) when
# its binary is absent.
without_missing_peers() {
  local name
  for name in "$@"; do
    if [ "$name" = uws ] && [ ! -x "$uws_hello" ]; then
      echo "uWebSockets peer not built ($uws_hello): skipped; bench/peers/build_uws.sh builds it" >&2
      continue
    fi
    printf '%s ' "$name"
  done
}
# hello_cmd NAME PORT: sets `cmd` to the command line of the hello-world server NAME
# (tornado-cpp, tornado-cpp-views, tornado-cpp-app, uws, nginx, python-tornado) on
# 127.0.0.1:PORT, one thread, unpinned. tornado-cpp is the bare HTTPServer (helloworld_raw:
# the HTTP/1.1 layer, as uws_hello is uWebSockets' without a framework); tornado-cpp-views
# the same answers through the view path (helloworld_views); tornado-cpp-app is
# web::Application (helloworld, its access log at warning: no peer here writes a line per
# request).
# Needs `build` (build_targets) and `work` (a scratch directory).
hello_cmd() {
  case $1 in
    tornado-cpp) cmd=("$build/demos/helloworld/helloworld_raw" --address=127.0.0.1 --port="$2") ;;
    tornado-cpp-views)
      cmd=("$build/demos/helloworld/helloworld_views" --address=127.0.0.1 --port="$2") ;;
    tornado-cpp-app)
      cmd=("$build/demos/helloworld/helloworld" --address=127.0.0.1 --port="$2" --logging=warning) ;;
    uws) cmd=("$uws_hello" "$2" 127.0.0.1) ;;
    nginx) nginx_hello "$work/nginx" "$2" && cmd=("${nginx_cmd[@]}") ;;
    python-tornado) cmd=(/usr/bin/python3 bench/peers/tornado_hello.py "$2") ;;
    *) echo "unknown server $1" >&2; return 1 ;;
  esac
}
