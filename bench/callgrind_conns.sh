#!/bin/bash
# callgrind_conns.sh BINARY PATH [N] [CONNS]: per request of BINARY, callgrind's instructions
# and simulated cache misses, serving N requests (after a warm-up round of 2,000) at depth 1
# on CONNS connections (default 64, wrk's count in docs/performance.md's depth-1 rows): each
# turn sends one request on every connection, then reads the CONNS answers, so the server's
# events go round the connections and each one touches another connection's state.
# Deterministic, so valid on a shared machine; the cache figures show what callgrind's
# instruction count does not: how many cache lines of state and code a request touches
# (docs/performance.md, "The depth-1 path, session 23").
# BINARY may be uWebSockets' uws_hello (bench/peers/build_uws.sh, -march=x86-64-v2).
#   CACHE=...   valgrind's cache geometry (default: a recent x86 core, 32K/8-way I1,
#               48K/12-way D1, 2 MB/16-way LL; callgrind's own default is the host's)
#   KEEP=file   keep the callgrind output (callgrind_annotate --inclusive=yes file)
#   EXTRA=...   more arguments for BINARY; VGOPTS=... more for valgrind
# Prints one line: instructions, I1 misses, D1 read + write misses, LL misses (instruction
# and data), all per request. The simulated caches are never flushed by the kernel, so
# they understate the misses of the real run (each system call evicts some of the lines):
# compare builds with each other, not with hardware counters.
bin=$1; path=$2; n=${3:-20000}; conns=${4:-64}; port=$((20000 + RANDOM % 10000))
cache=${CACHE:---I1=32768,8,64 --D1=49152,12,64 --LL=2097152,16,64}
out=/tmp/cgc.$$.out
case $bin in
  *uws_hello*) args=("$port" 127.0.0.1) ;;
  *) args=(--port=$port --address=127.0.0.1) ;;
esac
valgrind --tool=callgrind --cache-sim=yes $cache --compress-strings=no --compress-pos=no \
  $VGOPTS --callgrind-out-file=$out --collect-atstart=yes $bin "${args[@]}" \
  $EXTRA >/dev/null 2>&1 &
vp=$!
for i in $(seq 100); do curl -s -o /dev/null localhost:$port$path && break; sleep 0.2; done
# The client holds its connections across both runs (the warm-up and the measured one), so
# the measured requests open and close nothing.
fifo_in=/tmp/cgc.$$.in; fifo_out=/tmp/cgc.$$.ack
mkfifo $fifo_in $fifo_out
/usr/bin/python3 "$(dirname "$0")/depth1_client.py" "$port" "$path" "$conns" $fifo_in $fifo_out &
cp=$!
exec 3>$fifo_in 4<$fifo_out
ok=done
echo 2000 >&3; read -r ok <&4
if [ "$ok" = done ]; then
  [ -z "$NOZERO" ] && callgrind_control -z $vp >/dev/null 2>&1
  echo $n >&3; read -r ok <&4
  callgrind_control -d $vp >/dev/null 2>&1
  echo quit >&3
fi
exec 3>&- 4<&-
wait $cp
sleep 0.5
kill $vp; wait $vp 2>/dev/null
rm -f $fifo_in $fifo_out
[ "$ok" = done ] || { echo "$bin: the client failed" >&2; rm -f $out $out.*; exit 1; }
# The dump's totals line, in the order of its events line.
awk -v n=$n -v bin="$bin" -v path="$path" -v conns=$conns '
  /^events:/ { for (i = 2; i <= NF; i++) name[i - 1] = $i }
  /^totals:/ { for (i = 2; i <= NF; i++) v[name[i - 1]] = $i }
  END {
    f = "%s %s, %d connections, depth 1, per request: %.0f instructions, I1 misses %.1f, "
    f = f "D1 misses %.1f (read %.1f + write %.1f), LL misses %.2f (instr %.2f, data %.2f)\n"
    printf f, bin, path, conns, v["Ir"] / n, v["I1mr"] / n, (v["D1mr"] + v["D1mw"]) / n,
           v["D1mr"] / n, v["D1mw"] / n, (v["ILmr"] + v["DLmr"] + v["DLmw"]) / n, v["ILmr"] / n,
           (v["DLmr"] + v["DLmw"]) / n
  }' $out.*[0-9]
[ -n "$KEEP" ] && cp $out.*[0-9] $KEEP; rm -f $out $out.*
