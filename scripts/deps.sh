#!/usr/bin/env bash
# deps.sh -- installs the Debian packages routstr builds, tests and benchmarks with.
#
# Idempotent: asks dpkg which packages are missing and installs only those, running
# 'apt-get update' once first. A no-op (and silent) when everything is present.
# Usage: scripts/deps.sh [build|test|bench|all]   (default: build)
set -euo pipefail

# nodejs and npm build too: npm installs the dashboard's browser libraries (web/package-lock.json).
build=(build-essential pkg-config libevent-dev libcurl4-openssl-dev libjansson-dev
       libcbor-dev libsecp256k1-dev libssl-dev libsqlite3-dev libpq-dev libwslay-dev nodejs npm)
# chromium: the dashboard's browser test (tests/e2e/85-admin-ui.test.js, driven by playwright-core).
test=(libcmocka-dev clang libclang-rt-14-dev postgresql openssl chromium)
bench=(nginx-light libnginx-mod-http-echo wrk nghttp2-client valgrind)

want=("${build[@]}")
case "${1:-build}" in
  build) ;;
  test)  want+=("${test[@]}") ;;
  bench) want+=("${test[@]}" "${bench[@]}") ;;
  all)   want+=("${test[@]}" "${bench[@]}") ;;
  *) echo "usage: $0 [build|test|bench|all]" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  # Node may come from elsewhere than Debian (a newer build on PATH): accept it.
  if [[ $p == nodejs || $p == npm ]] && command -v "${p/nodejs/node}" >/dev/null 2>&1; then
    continue
  fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 || { echo "deps.sh: need root to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
