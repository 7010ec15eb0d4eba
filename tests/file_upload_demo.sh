#!/usr/bin/env bash
# demos/file_upload end to end: the server and file_uploader in separate processes; every
# SHA-256 and size the server reports must match sha256sum and the file (a few MiB file, a
# zero-length file, a name with a space), by multipart POST and by PUT; and a malformed
# multipart body gets a 400.
# usage: file_upload_demo.sh FILE_UPLOAD_BINARY FILE_UPLOADER_BINARY
set -eu
server_bin=$1
uploader_bin=$2
dir=$(mktemp -d)
source "$(dirname "$0")/server_process.sh"
cleanup() {
  stop_server
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

start_server "$dir" 127.0.0.1 "$server_bin" --port=0 --address=127.0.0.1

mkdir "$dir/files"
head -c 3500001 /dev/urandom >"$dir/files/big.bin"   # not a multiple of the read size
: >"$dir/files/empty.txt"
printf 'a file with a space in its name\n' >"$dir/files/with space.txt"
cd "$dir/files"

url=http://127.0.0.1:$port/upload
timeout 60 "$uploader_bin" --method=POST --url="$url" big.bin empty.txt "with space.txt" >"$dir/post.out"
timeout 60 "$uploader_bin" --method=PUT --url="$url" big.bin empty.txt "with space.txt" >"$dir/put.out"
# Small read buffers: many writes, parts split across the server's reads everywhere.
timeout 60 "$uploader_bin" --method=POST --chunk_size=1000 --url="$url" big.bin empty.txt >"$dir/post_small.out"

# Each answer lists the parts in order; compare with sha256sum and the sizes on disk.
python3 - "$dir" <<'PY'
import hashlib, json, os, sys
d = sys.argv[1]
files = {n: open(os.path.join(d, "files", n), "rb").read() for n in ("big.bin", "empty.txt", "with space.txt")}
def check(out, names, per_line):
    lines = [l for l in open(os.path.join(d, out)).read().splitlines() if l]
    parts = [p for l in lines for p in json.loads(l)["parts"]]
    assert len(lines) == (len(names) if per_line else 1), (out, lines)
    assert [p["filename"] for p in parts] == names, (out, parts)
    for p in parts:
        data = files[p["filename"]]
        assert p["size"] == len(data), (out, p)
        assert p["sha256"] == hashlib.sha256(data).hexdigest(), (out, p)
check("post.out", ["big.bin", "empty.txt", "with space.txt"], False)
check("put.out", ["big.bin", "empty.txt", "with space.txt"], True)
check("post_small.out", ["big.bin", "empty.txt"], False)
print("all parts match sha256sum")
PY
# The same digests as sha256sum prints them (the tool the issue names).
for f in big.bin empty.txt; do
  sum=$(sha256sum "$f" | cut -d' ' -f1)
  grep -q "\"sha256\":\"$sum\"" "$dir/post.out" || { echo "POST: $f $sum missing"; exit 1; }
  grep -q "\"sha256\":\"$sum\"" "$dir/put.out" || { echo "PUT: $f $sum missing"; exit 1; }
done

# A body that is not multipart, and one with no final boundary: 400, and the server lives on.
python3 - "$port" <<'PY'
import http.client, sys
port = int(sys.argv[1])
for ctype, body in (("text/plain", b"x"), ("multipart/form-data; boundary=b", b"--b\r\nno end")):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("POST", "/upload", body=body, headers={"Content-Type": ctype})
    r = c.getresponse()
    assert r.status == 400, (ctype, r.status)
    c.close()
print("malformed bodies get 400")
PY
timeout 60 "$uploader_bin" --method=PUT --url="$url" empty.txt >/dev/null
echo "file_upload demo: ok"
