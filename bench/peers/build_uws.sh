#!/usr/bin/env bash
# Builds bench/peers/uws_hello.cpp against uWebSockets + uSockets into build/bench-peers/uws_hello,
# the same-run peer bench/plaintext.sh and bench/profile.sh use when it exists.
#
#   bench/peers/build_uws.sh            (or: UWS_DIR=... USOCKETS_DIR=... bench/peers/build_uws.sh)
#
# Sources, first found wins:
#   1. UWS_DIR (a uWebSockets checkout: its src/App.h) and USOCKETS_DIR (a uSockets checkout:
#      its src/libusockets.h; default $UWS_DIR/uSockets, the submodule);
#   2. the read-only git mirrors under ${UWS_MIRROR:-/work/.mirror} (uNetworking+uWebSockets/repo,
#      uNetworking+uSockets/repo): their HEAD is extracted into build/bench-peers/src.
# Otherwise it says "uWebSockets sources not found: peer skipped" and exits 0 (a missing peer is
# not an error: the benchmarks then run without it).
# UWS_MARCH=x86-64-v2 (with UWS_OUT=build/bench-peers-v2) builds it for valgrind, which cannot
# run AVX-512 code (bench/callgrind_*.sh, bench/syscall_footprint.sh).
#
# Flags follow uWebSockets' own default build (its build.c and uSockets' Makefile): -O3, LTO,
# -march=native, plain TCP (LIBUS_NO_SSL), epoll (the Linux default), no zlib (no
# permessage-deflate, which a hello world never uses). No uWebSockets code lives in this repo.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${UWS_OUT:-build/bench-peers}
mirror=${UWS_MIRROR:-/work/.mirror}

skip() { echo "uWebSockets sources not found: peer skipped ($1)"; exit 0; }

# extract NAME: the HEAD of the mirror uNetworking+NAME into $out/src/NAME (again only when the
# mirror's HEAD changed); prints the directory.
extract() {
  local git_dir="$mirror/uNetworking+$1/repo" dir="$out/src/$1"
  local head; head=$(git --git-dir="$git_dir" rev-parse HEAD)
  if [ "$(cat "$dir.commit" 2>/dev/null)" != "$head" ]; then
    rm -rf "$dir" && mkdir -p "$dir"
    git --git-dir="$git_dir" archive HEAD | tar -x -C "$dir"
    echo "$head" >"$dir.commit"
  fi
  echo "$dir"
}

if [ -n "${UWS_DIR:-}" ]; then
  uws=$UWS_DIR
  usockets=${USOCKETS_DIR:-$UWS_DIR/uSockets}
  origin="from $UWS_DIR"
elif [ -d "$mirror/uNetworking+uWebSockets/repo" ] && [ -d "$mirror/uNetworking+uSockets/repo" ]; then
  mkdir -p "$out/src"
  uws=$(extract uWebSockets)
  usockets=${USOCKETS_DIR:-$(extract uSockets)}
  origin="mirror HEAD $(cut -c1-7 "$out/src/uWebSockets.commit")"
else
  skip "set UWS_DIR and USOCKETS_DIR, or fetch the mirrors into $mirror"
fi
[ -f "$uws/src/App.h" ] || skip "no $uws/src/App.h"
[ -f "$usockets/src/libusockets.h" ] || skip "no $usockets/src/libusockets.h"

cc=${CC:-gcc} cxx=${CXX:-g++}
objects="$out/obj/usockets"
rm -rf "$objects" && mkdir -p "$objects"
common=(-O3 -flto=auto "-march=${UWS_MARCH:-native}" -DLIBUS_NO_SSL)
# uSockets: the core, the epoll/kqueue loop and the (disabled: LIBUS_NO_SSL) crypto stubs.
for src in "$usockets"/src/*.c "$usockets"/src/eventing/epoll_kqueue.c "$usockets"/src/crypto/openssl.c; do
  nice -n 5 "$cc" "${common[@]}" -std=c11 -I"$usockets/src" -c "$src" \
    -o "$objects/$(basename "$src" .c).o"
done
nice -n 5 "$cxx" "${common[@]}" -std=c++2b -DUWS_NO_ZLIB -I"$uws/src" -I"$usockets/src" \
  -Wno-stringop-overflow bench/peers/uws_hello.cpp "$objects"/*.o -o "$out/uws_hello"
echo "built $out/uws_hello (uWebSockets $origin)"
