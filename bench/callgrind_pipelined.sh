#!/bin/bash
# callgrind_pipelined.sh BINARY PATH [N] [DEPTH]: callgrind instructions per request of BINARY
# serving N requests (after 2,000 warm-up ones) pipelined DEPTH at a time on one connection.
# Deterministic, so valid on a shared machine (docs/performance.md, "Pipelined request path").
# BINARY may be uWebSockets' uws_hello (bench/peers/build_uws.sh; valgrind needs it built
# without AVX-512: -march=x86-64-v2).
#   HEAD=browser   send bench/peers/browser.lua's 12-field Chrome head instead of one field
#   HEAD=wrkport   "Host: localhost:PORT" (wrk's head for a URL with a port) instead of
#                  "Host: localhost" (the default, the head of the earlier figures)
#   KEEP=file      keep the callgrind output (callgrind_annotate --inclusive=yes file)
#   EXTRA=...      more arguments for BINARY; VGOPTS=... more for valgrind
bin=$1; path=$2; n=${3:-20000}; depth=${4:-16}; port=$((20000 + RANDOM % 10000))
out=/tmp/cgp.$$.out
# uWebSockets' hello server takes its port and address as positional arguments.
case $bin in
  *uws_hello*) args=("$port" 127.0.0.1) ;;
  *) args=(--port=$port --address=127.0.0.1) ;;
esac
valgrind --tool=callgrind --compress-strings=no --compress-pos=no $VGOPTS \
  --callgrind-out-file=$out --collect-atstart=yes $bin "${args[@]}" \
  $EXTRA >/dev/null 2>&1 &
vp=$!
for i in $(seq 100); do curl -s -o /dev/null localhost:$port$path && break; sleep 0.2; done
run() {
/usr/bin/python3 - "$port" "$path" "$1" "$depth" "${HEAD:-wrk}" <<'PY'
import socket, sys
port, path, n, depth, shape = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
host = f"localhost:{port}"
if shape == "browser":  # bench/peers/browser.lua's fields, in Chrome's order
    fields = [
        f"Host: {host}", "Connection: keep-alive", "Cache-Control: max-age=0",
        "Upgrade-Insecure-Requests: 1",
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
        "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
        "image/apng,*/*;q=0.8",
        "Sec-Fetch-Site: same-origin", "Sec-Fetch-Mode: navigate", f"Referer: http://{host}/",
        "Accept-Encoding: gzip, deflate", "Accept-Language: en-US,en;q=0.9",
        "Cookie: _ga=GA1.1.1876543210.1732800000; sessionid=7f3c9a1e5b2d4c6f8a0b1c2d3e4f5a6b; "
        "csrftoken=Xk9mQ2pL7vR4",
    ]
elif shape == "wrkport":  # what wrk sends for a URL with a port
    fields = [f"Host: {host}"]
else:  # /work/cgp.sh's head, the figures of docs/performance.md
    fields = ["Host: localhost"]
req = (f"GET {path} HTTP/1.1\r\n" + "\r\n".join(fields) + "\r\n\r\n").encode()
s = socket.create_connection(("127.0.0.1", port))
buf = b""
done = 0
while done < n:
    k = min(depth, n - done)
    s.sendall(req * k)
    got = 0
    while got < k:
        head_end = buf.find(b"\r\n\r\n")
        if head_end >= 0:
            head = buf[:head_end].decode()
            cl = int([l.split(":")[1] for l in head.split("\r\n") if l.lower().startswith("content-length")][0])
            if len(buf) >= head_end + 4 + cl:
                buf = buf[head_end + 4 + cl:]
                got += 1
                continue
        buf += s.recv(65536)
    done += k
PY
}
run 2000
[ -z "$NOZERO" ] && callgrind_control -z $vp >/dev/null
run $n
callgrind_control -d $vp >/dev/null
sleep 0.5
kill $vp; wait $vp 2>/dev/null
tot=$(callgrind_annotate $out.* 2>/dev/null | grep -m1 'PROGRAM TOTALS' | awk '{gsub(",","",$1); print $1}')
echo "$bin $path (${HEAD:-wrk} head): $((tot / n)) instructions/request (pipelined $depth)"
[ -n "$KEEP" ] && cp $out.* $KEEP; rm -f $out $out.*
