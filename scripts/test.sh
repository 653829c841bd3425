#!/usr/bin/env bash
# test.sh -- runs every test suite and ends with one line "N passed, N failed".
#
# Suites: the C unit tests (build/san/tests/test_*, ASan+UBSan, each with a timeout, run from
# the repo root so they find tests/vectors/), then the Node suites under tests/ (the test mint's
# own tests and the end-to-end tests against build/san/routstr). Usage:
#   scripts/test.sh            all suites
#   scripts/test.sh unit|e2e   one kind
set -uo pipefail
cd "$(dirname "$0")/.."

what=${1:-all}
# PostgreSQL: the store tests run on it too when a server can be had (CI sets PG_TEST_URL).
if [[ -z ${PG_TEST_URL:-} && $(id -u) -eq 0 ]] && command -v pg_lsclusters >/dev/null; then
  PG_TEST_URL=$(scripts/pg-test.sh 2>/dev/null) || PG_TEST_URL=""
fi
export PG_TEST_URL=${PG_TEST_URL:-}
[[ -n $PG_TEST_URL ]] || echo "note: no PostgreSQL (PG_TEST_URL unset): store tests run on SQLite only"
passed=0
failed=0
failures=()
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

run_unit() {
  local bin out p f rc
  for bin in build/san/tests/test_*; do
    [[ -x $bin ]] || continue
    out=$(timeout 300 "$bin" 2>&1); rc=$?
    p=$(grep -oE '^\[  PASSED  \] [0-9]+' <<<"$out" | grep -oE '[0-9]+$' | awk '{s+=$1} END {print s+0}')
    f=$(grep -oE '^\[  FAILED  \] [0-9]+ test' <<<"$out" | grep -oE '[0-9]+' | awk '{s+=$1} END {print s+0}')
    if [[ $rc -ne 0 && $f -eq 0 ]]; then f=1; fi   # crashed, leaked or timed out
    passed=$((passed + p)); failed=$((failed + f))
    if [[ $f -ne 0 ]]; then
      failures+=("$bin"); echo "$out"
    fi
    printf '%-50s %3d passed, %d failed\n' "$(basename "$bin")" "$p" "$f"
  done
}

npm_ready() {
  if [[ ! -d tests/node_modules || tests/package-lock.json -nt tests/node_modules/.package-lock.json ]]; then
    (cd tests && npm ci --no-audit --no-fund --loglevel=error) || return 1
  fi
}

# Runs 'node --test' on the given paths (relative to tests/) and adds its counts.
run_node() {
  local name=$1; shift
  local tap=build/$name.tap rc p f
  mkdir -p build
  (cd tests && ROUTSTR_BIN=${ROUTSTR_BIN:-$PWD/../build/san/routstr} \
     timeout 1200 node --test --test-concurrency=1 \
     --test-reporter=spec --test-reporter-destination=stdout \
     --test-reporter=tap --test-reporter-destination="../$tap" "$@"); rc=$?
  p=$(grep -E '^# pass [0-9]+' "$tap" | awk '{print $3}' | tail -1)
  f=$(grep -E '^# fail [0-9]+' "$tap" | awk '{print $3}' | tail -1)
  p=${p:-0}; f=${f:-0}
  if [[ $rc -ne 0 && $f -eq 0 ]]; then f=1; fi
  passed=$((passed + p)); failed=$((failed + f))
  [[ $f -ne 0 ]] && failures+=("node:$name")
  printf '%-50s %3d passed, %d failed\n' "$name" "$p" "$f"
}

# The Node packages first: some C tests drive Node fixtures (the test relay).
npm_ok=true
npm_ready || npm_ok=false
if [[ $what == all || $what == unit ]]; then
  run_unit
fi
if [[ $what == all || $what == e2e ]]; then
  if $npm_ok; then
    [[ -d tests/mint/test ]] && run_node mint mint/test/
    run_node e2e e2e/
  else
    echo "npm ci failed"; failed=$((failed + 1)); failures+=("npm ci")
  fi
fi

[[ ${#failures[@]} -gt 0 ]] && echo "failing: ${failures[*]}"
echo "$passed passed, $failed failed"
[[ $failed -eq 0 && $passed -gt 0 ]]
