#!/usr/bin/env bash
# tests/browser/setup.sh DIR — makes DIR/node_modules hold the playwright-core pinned in
# tests/browser/package-lock.json (npm ci), unless it already does; checks that node and
# Debian's chromium are there. Run by the ctest fixture browser_setup before the browser
# tests. Idempotent and quiet when there is nothing to do; a missing network fails within
# two minutes with a message, never hangs.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dest=${1:?usage: setup.sh DIR}
fail() { echo "browser setup: $*" >&2; exit 1; }

command -v node >/dev/null || fail "node not found (the machine's Node.js 20; see docs/testing-browser.md)"
major=$(node -p 'process.versions.node.split(".")[0]')
((major >= 20)) || fail "node $(node --version) is too old: playwright-core needs Node.js 20 or later"
chromium=${CHROMIUM:-/usr/bin/chromium}
[[ -x $chromium ]] || fail "$chromium not found: run scripts/bootstrap (scripts/packages.txt lists chromium)"

mkdir -p "$dest"
stamp="$dest/node_modules/.package-lock.json"
if [[ -f $stamp ]] && cmp -s "$here/package-lock.json" "$dest/package-lock.json" &&
   [[ -f $dest/node_modules/playwright-core/package.json ]]; then
  exit 0  # already installed from this lock file
fi
command -v npm >/dev/null || fail "npm not found (it comes with the machine's Node.js)"
cp "$here/package.json" "$here/package-lock.json" "$dest/"
echo "browser setup: npm ci in $dest (playwright-core as pinned in package-lock.json)"
# --prefer-offline: the npm cache serves a second build directory without the network.
if ! timeout 120 npm ci --prefix "$dest" --no-audit --no-fund --loglevel=error \
     --prefer-offline --fetch-retries=1 --fetch-timeout=30000; then
  rm -f "$dest/package-lock.json"  # so that the next run tries again
  fail "npm ci failed or timed out: the npm registry must be reachable once (then its cache serves)"
fi
