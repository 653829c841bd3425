#!/usr/bin/env bash
# demo.sh -- `make demo`: test mint + fake upstream + routstr, one chat paid with X-Cashu.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ! -d tests/node_modules ]]; then
  (cd tests && npm ci --no-audit --no-fund --loglevel=error)
fi
exec node tests/demo/demo.js
