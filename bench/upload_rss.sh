#!/usr/bin/env bash
# Streamed uploads: the server's peak memory while it receives a 1 GiB file, by PUT and by
# multipart POST, for demos/file_upload beside Python Tornado's file_upload-shaped server
# (bench/peers/tornado_upload.py), in the same run; then a slow consumer (each body piece
# waits --delay in data_received) with a fast uploader.
#
#   bench/upload_rss.sh [--size-mib=1024] [--slow-size-mib=256] [--delay-ms=1]
#                       [--servers="cpp python-tornado"]
#
# One fresh server process per case, so its VmHWM (/proc/PID/status: the peak resident set)
# is that upload's. The client is demos/file_upload's file_uploader (body_producer) for
# every server; its own peak RSS (GNU time) is shown too. Each answer's SHA-256 is checked
# against sha256sum of the file. The goal (issue 7): the C++ server's peak RSS under 50 MiB.
# Python Tornado parses multipart/form-data only whole (request.files), as its demo's
# POSTHandler does: its POST row shows what buffering costs. BUILD_DIR picks the build
# (default build-release, configured Release on first use). Server on core 1, client on 0.
set -euo pipefail
cd "$(dirname "$0")/.."

size_mib=1024 slow_size_mib=256 delay_ms=1 servers="cpp python-tornado"
for a in "$@"; do
  case "$a" in
    --size-mib=*) size_mib=${a#*=} ;;
    --slow-size-mib=*) slow_size_mib=${a#*=} ;;
    --delay-ms=*) delay_ms=${a#*=} ;;
    --servers=*) servers=${a#*=} ;;
    *) echo "unknown option $a" >&2; exit 2 ;;
  esac
done
for tool in taskset sha256sum /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
done
source bench/common.sh
build_targets file_upload file_uploader
uploader=$build/demos/file_upload/file_uploader
work=$(mktemp -d)
bench_cleanup+=('rm -rf "$work"')

# The files, from /dev/urandom (incompressible, no pattern a parser could favour).
head -c "$((size_mib << 20))" /dev/urandom >"$work/big.bin"
head -c "$((slow_size_mib << 20))" /dev/urandom >"$work/slow.bin"
big_sum=$(sha256sum "$work/big.bin" | cut -d' ' -f1)
slow_sum=$(sha256sum "$work/slow.bin" | cut -d' ' -f1)

kib() { awk -v k="$1" 'BEGIN{printf "%.1f", k / 1024}'; }
status_kib() { awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status"; }

# run_case SERVER METHOD FILE SUM DELAY_MS: one server process, one upload; prints a row.
run_case() {
  local server=$1 method=$2 file=$3 sum=$4 delay=$5
  local port cmd start_kib before after t0 t1 out client_kib
  port=$(free_port)
  case "$server" in
    cpp) cmd=("$build/demos/file_upload/file_upload" --port="$port" --logging=warning
              --data_delay="${delay}ms") ;;
    python-tornado) cmd=(/usr/bin/python3 bench/peers/tornado_upload.py "$port" "$delay") ;;
  esac
  start_server taskset -c 1 "${cmd[@]}" >"$work/server.log" 2>&1
  wait_port "$port"
  start_kib=$(status_kib "$server_pid" VmRSS)
  before=$(cpu_ticks "$server_pid")
  t0=$(date +%s.%N)
  /usr/bin/time -f '%M' -o "$work/client.time" taskset -c 0 "$uploader" --method="$method" \
    --url="http://127.0.0.1:$port/upload" "$file" >"$work/answer.json"
  t1=$(date +%s.%N)
  after=$(cpu_ticks "$server_pid")
  local hwm
  hwm=$(status_kib "$server_pid" VmHWM)
  stop_group "$server_pid"
  client_kib=$(tail -1 "$work/client.time")
  local ok=ok
  grep -Eq "\"sha256\": ?\"$sum\"" "$work/answer.json" || ok="WRONG SHA-256: $(head -c 300 "$work/answer.json")"
  local mib secs
  mib=$(($(stat -c %s "$file") >> 20))
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b - a}')
  printf '%-15s %-5s %6s %7s %9s %9s %14s %14s %14s  %s\n' "$server" "$method" "$mib" \
    "$secs" "$(awk -v m="$mib" -v s="$secs" 'BEGIN{printf "%.0f", (s > 0 ? m / s : 0)}')" \
    "$(awk -v a="$before" -v b="$after" -v t="$ticks" 'BEGIN{printf "%.1f", (b - a) / t}')" \
    "$(kib "$start_kib")" "$(kib "$hwm")" "$(kib "$client_kib")" "$ok"
  if [ "$server" = cpp ] && [ "$hwm" -ge $((50 * 1024)) ]; then
    echo "  GOAL MISSED: server peak RSS $(kib "$hwm") MiB >= 50 MiB"
  fi
}

printf '%-15s %-5s %6s %7s %9s %9s %14s %14s %14s  %s\n' server method MiB seconds "MiB/s" \
  "srv cpu s" "srv start MiB" "srv peak MiB" "client peak" check
for server in $servers; do
  for method in PUT POST; do run_case "$server" "$method" "$work/big.bin" "$big_sum" 0; done
done
echo "slow consumer: data_received waits ${delay_ms} ms per piece"
for server in $servers; do
  run_case "$server" PUT "$work/slow.bin" "$slow_sum" "$delay_ms"
done
