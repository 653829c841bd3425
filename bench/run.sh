#!/usr/bin/env bash
# run.sh -- routstr's benchmark (make bench). Method: ../shared/BENCH.md; what each scenario
# measures and how to read the results: bench/README.md.
#
# One run measures four paths to the same mock upstream, interleaved round by round:
#   direct          client -> mock upstream
#   nginx           client -> nginx proxy_pass (1 worker, CPU 0, proxy_buffering off, keep-alive)
#   routstr         client -> build/routstr (taskset -c 0, LOG_LEVEL=warning), billing off
#   routstr_billed  client -> a second build/routstr, billing on: FIXED_COST_PER_REQUEST sats a
#                   request from an sk- key funded on the test mint (tests/mint), SQLite ledger
# The mock upstream (nginx + echo module, 1 worker), the test mint and every load generator run
# on CPU 1.
# Everything listens on 127.0.0.1 and lives in a temp dir under bench/tmp/ (kept only when the
# run fails); every process started here is stopped on exit. Results: bench/results/DATE.md.
#
# Knobs (environment): BENCH_ROUNDS (5), BENCH_S1_SECS (5), BENCH_S3_SECS (5), BENCH_S5_N (100),
# BENCH_S6_SIZES ("1000 4000 8000"), BENCH_S6_ROUNDS (2), BENCH_S7_BYTES_PER_S (204800),
# BENCH_CALLGRIND (1), BENCH_SCENARIOS ("s1 s3 s5 s6 s7 cg sx": a subset for a partial run),
# BENCH_SX_N (50), BENCH_SX_ROUNDS (3), BENCH_SX_SWAP_MS (20),
# BENCH_OUT (results file), BENCH_KEEP_TMP=1 (keep the temp dir), BENCH_QUICK=1 (a short smoke
# run, figures not meant to be kept), BENCH_ROUTSTR_BIN (the binary to measure; default
# build/routstr, which 'make bench' has just built from the working tree), BENCH_REV (a commit:
# measure a binary built from 'git archive REV' in the temp dir instead), BENCH_BILLED (1; 0
# leaves the billed path out), BENCH_BILLED_COST_SATS (1: the price of a request on it),
# BENCH_BILLED_FUND_SATS (20000000: the key's deposit, enough for every request of a full run).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

ROUNDS=${BENCH_ROUNDS:-5}
S1_SECS=${BENCH_S1_SECS:-5}
S3_SECS=${BENCH_S3_SECS:-5}
S3_WARM_SECS=2
S3_CONNS=50
S5_N=${BENCH_S5_N:-100}
S5_PACED_N=${BENCH_S5_PACED_N:-20}
S6_SIZES=${BENCH_S6_SIZES:-"1000 4000 8000"}
S6_ROUNDS=${BENCH_S6_ROUNDS:-2}
S7_RATE=${BENCH_S7_BYTES_PER_S:-204800}
S7_KILL_AFTER=3
CALLGRIND=${BENCH_CALLGRIND:-1}
SCENARIOS=" ${BENCH_SCENARIOS:-s1 s3 s5 s6 s7 cg sx} "
want() { [[ $SCENARIOS == *" $1 "* ]]; }
want cg || CALLGRIND=0
CG_N1=100
CG_N2=600
BUDGET_SECS=${BENCH_BUDGET_SECS:-720} # optional parts are skipped past this (4 paths: ~ +1/3)
SX_N=${BENCH_SX_N:-50}
SX_ROUNDS=${BENCH_SX_ROUNDS:-3}
SX_SWAP_MS=${BENCH_SX_SWAP_MS:-20}
if [[ ${BENCH_QUICK:-0} == 1 ]]; then
  SX_N=15 SX_ROUNDS=1
  ROUNDS=2 S1_SECS=1 S3_SECS=1 S3_WARM_SECS=1 S5_N=20 S5_PACED_N=5 S6_SIZES="500" S6_ROUNDS=1
  S7_RATE=2097152 CG_N1=20 CG_N2=60
fi
PROXY_CPU=0
LOAD_CPU=1
BILLED=${BENCH_BILLED:-1}
BILLED_COST_SATS=${BENCH_BILLED_COST_SATS:-1}
BILLED_FUND_SATS=${BENCH_BILLED_FUND_SATS:-20000000}
PATHS=(direct nginx routstr)
PROXIES=(nginx routstr) # the paths with a proxy process to measure (S6, S7, callgrind)
if [[ $BILLED == 1 ]]; then
  PATHS+=(routstr_billed)
  PROXIES+=(routstr_billed)
fi
ECHO_MODULE=/usr/lib/nginx/modules/ngx_http_echo_module.so
API=/v1/chat/completions
UPSTREAM_KEY=sk-upstream-bench-key
DATE=$(date +%F)
OUT=${BENCH_OUT:-$ROOT/bench/results/$DATE.md}

log() { printf '%s bench: %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------- preconditions
for t in nginx wrk node taskset ss curl awk getconf; do
  command -v "$t" >/dev/null || die "'$t' not found (scripts/deps.sh bench installs it)"
done
[[ -f $ECHO_MODULE ]] || die "$ECHO_MODULE missing (apt-get install libnginx-mod-http-echo)"
[[ $(nproc) -ge 2 ]] || die "needs 2 CPUs (proxy on CPU $PROXY_CPU, load on CPU $LOAD_CPU)"
if [[ $CALLGRIND == 1 ]] && ! command -v valgrind >/dev/null; then
  log "valgrind not found: the callgrind figure is skipped"
  CALLGRIND=0
fi
command -v h2load >/dev/null || { [[ $CALLGRIND == 1 ]] && log "h2load not found: callgrind skipped"; CALLGRIND=0; }
if [[ $BILLED == 1 ]]; then
  [[ -d tests/node_modules/@cashu/cashu-ts ]] || die "the billed path needs the test mint's packages: (cd tests && npm ci), or BENCH_BILLED=0"
fi

# Each proxied stream holds two descriptors in the proxy: take all the hard limit allows.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
[[ $NOFILE == unlimited ]] && NOFILE=1048576
NGX_NOFILE=$((NOFILE > 65536 ? 65536 : NOFILE))
NGX_CONNS=$((NGX_NOFILE - 500))
CLK_TCK=$(getconf CLK_TCK)

mkdir -p bench/tmp bench/results
T=$(mktemp -d "$ROOT/bench/tmp/run-XXXXXX")
RAW=$T/raw.jsonl
CMDS=$T/commands.txt

# The binary under test: build/routstr (from the working tree), another one, or a commit's.
REV=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
ROUTSTR_NOTE=${BENCH_ROUTSTR_NOTE:-}
if [[ -n ${BENCH_REV:-} ]]; then
  REV=$(git rev-parse --short "${BENCH_REV}^{commit}" 2>/dev/null) || die "BENCH_REV=$BENCH_REV is not a commit"
  mkdir -p "$T/rev"
  git archive "$REV" | tar -x -C "$T/rev"
  log "building $REV in the temp dir"
  make -C "$T/rev" -j"$(nproc)" >"$T/rev-build.log" 2>&1 || die "build of $REV failed: $(tail -5 "$T/rev-build.log")"
  ROUTSTR_BIN=$T/rev/build/routstr
  ROUTSTR_NOTE="built by make from \`git archive $REV\`"
else
  ROUTSTR_BIN=$(realpath "${BENCH_ROUTSTR_BIN:-build/routstr}" 2>/dev/null || true)
fi
[[ -x $ROUTSTR_BIN ]] || die "${BENCH_ROUTSTR_BIN:-build/routstr} is missing: run 'make bench' (or 'make' first)"
ROUTSTR_SHOWN=$(sed "s#^$T/#\$TMP/#; s#^$ROOT/##" <<<"$ROUTSTR_BIN")
: >"$RAW"
: >"$CMDS"

# ---------------------------------------------------------------- process bookkeeping
declare -A PIDS=() # name -> pid of every long-lived process started here
OK=0

running() { # pid: alive and not a zombie
  local st
  st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $st && $st != Z ]]
}

stop_pid() { # pid [signal]: signal it, wait up to 5 s, then SIGKILL
  local pid=$1 sig=${2:-TERM} i
  running "$pid" || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -"$sig" "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    running "$pid" || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$? name
  trap - EXIT INT TERM
  for name in "${!PIDS[@]}"; do stop_pid "${PIDS[$name]}"; done
  if [[ $OK == 1 && ${BENCH_KEEP_TMP:-0} != 1 ]]; then
    rm -rf "$T"
  else
    log "temp dir kept: $T"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

used_ports=" "
free_port() { # VAR: a free loopback port, distinct from the others handed out
  local p
  while :; do
    p=$((20000 + RANDOM % 12000))
    [[ $used_ports == *" $p "* ]] && continue
    [[ -n $(ss -Htln "sport = :$p") ]] && continue
    used_ports+="$p "
    printf -v "$1" '%s' "$p"
    return
  done
}

wait_http() { # url seconds [pid]: until the URL answers (fails if pid dies)
  local url=$1 secs=$2 pid=${3:-} i
  for ((i = 0; i < secs * 20; i++)); do
    curl -s -o /dev/null -m 2 "$url" && return 0
    [[ -n $pid ]] && ! running "$pid" && return 1
    sleep 0.05
  done
  return 1
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
cpu_ticks() { # utime + stime of the whole process, in clock ticks
  local s
  s=$(<"/proc/$1/stat")
  s=${s##*) }
  read -r -a f <<<"$s"
  echo $((f[11] + f[12]))
}
cpu_stat() { # "busy steal" ticks of one CPU since boot (/proc/stat: user nice system irq softirq; steal)
  awk -v c="cpu$1" '$1 == c {print $2 + $3 + $4 + $7 + $8, $9}' /proc/stat
}
fd_count() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
child_of() { # the one child of a pid (an nginx master's worker)
  local i c
  for ((i = 0; i < 50; i++)); do
    c=$(pgrep -P "$1" | head -n1 || true)
    [[ -n $c ]] && { echo "$c"; return 0; }
    sleep 0.1
  done
  return 1
}

note_cmd() { # kind command...: records a command line for the report (duplicates dropped there)
  local kind=$1 a line=""
  shift
  for a in "$@"; do
    if [[ $a =~ ^[A-Za-z0-9_./:=,@%+-]+$ || $a == "# "* ]]; then line+="$a "; else line+="'$a' "; fi
  done
  # The billed key never lands in the report: its value shows as the variable that holds it.
  printf '%s\t%s\n' "$kind" "${line% }" |
    sed "s#$T/#\$TMP/#g; s#$ROOT/##g${BENCH_BILLED_KEY:+; s#$BENCH_BILLED_KEY#\$BENCH_BILLED_KEY#g}" >>"$CMDS"
}
note_raw() { printf '%s\t%s\n' "$1" "$2" >>"$CMDS"; }
cmd() { # kind command...: note_cmd, then run it in the foreground
  note_cmd "$@"
  shift
  "$@"
}

raw() { printf '%s\n' "$1" >>"$RAW"; }

# ---------------------------------------------------------------- configuration
free_port MOCK_D # direct clients
free_port MOCK_N # nginx's upstream connections
free_port MOCK_R # routstr's upstream connections
free_port MOCK_B # the billed routstr's upstream connections
free_port NGINX_PORT
free_port ROUTSTR_PORT
free_port ROUTSTR_B_PORT
free_port MINT_PORT
USER_LINE=""
[[ $(id -u) -eq 0 ]] && USER_LINE="user $(id -un) $(id -gn);" # workers stay the current user

# The mock upstream's answers.
JSON='{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"bench-model","choices":[{"index":0,"message":{"role":"assistant","content":"Hello!"},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":14,"completion_tokens":2,"total_tokens":16}}'
chunk() { printf 'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"bench-model","choices":[{"index":0,"delta":{"content":"tok%02d "},"finish_reason":null}]}\\n\\n' "$1"; }
USAGE_CHUNK='data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"bench-model","choices":[],"usage":{"prompt_tokens":14,"completion_tokens":20,"total_tokens":34}}\n\n'
DONE_CHUNK='data: [DONE]\n\n'
# A 1024-byte SSE event for the 8 MB stream (8192 of them, then [DONE]).
big_pad=$(printf '%*s' 1024 '' | tr ' ' 'x')
BIG_EVENT_HEAD='data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"'
BIG_EVENT_TAIL='"}}]}'
pad_len=$((1024 - ${#BIG_EVENT_HEAD} - ${#BIG_EVENT_TAIL} - 2))
BIG_EVENT="$BIG_EVENT_HEAD${big_pad:0:$pad_len}$BIG_EVENT_TAIL\\n\\n"
BIG_BODY_BYTES=$((8192 * 1024 + 14))
HUGE_BODY_BYTES=$((65536 * 1024 + 14))

sse_body() { # delay between chunks (seconds, 0 = none)
  local i
  for ((i = 1; i <= 20; i++)); do
    printf "      echo -n '%s'; echo_flush;\n" "$(chunk "$i")"
    [[ $1 != 0 ]] && printf '      echo_sleep %s;\n' "$1"
  done
  printf "      echo -n '%s'; echo_flush;\n" "$USAGE_CHUNK"
  printf "      echo -n '%s';\n" "$DONE_CHUNK"
}
idle_body() { # a first data event, then a comment every 5 s for an hour (a write is how nginx notices a gone peer)
  local i
  # A data event, not a comment: a billed routstr drops keep-alive comments (clients.md §1.5).
  printf "      echo -n '%s'; echo_flush;\n" "$(chunk 0)"
  for ((i = 0; i < 720; i++)); do printf "      echo_sleep 5; echo -n ': idle\\\\n\\\\n'; echo_flush;\n"; done
}

temp_paths() { # dir
  local k
  for k in client_body proxy fastcgi uwsgi scgi; do printf '  %s_temp_path %s/%s;\n' "$k" "$1" "$k"; done
}

# The head both nginx configs share: one worker, no daemon, files under DIR, the http block
# opened with keep-alive that outlives every scenario.
nginx_head() { # dir
  cat <<EOF
$USER_LINE
worker_processes 1;
worker_rlimit_nofile $NGX_NOFILE;
daemon off;
pid $1/nginx.pid;
error_log $1/error.log warn;
events { worker_connections $NGX_CONNS; }
http {
  access_log off;
$(temp_paths "$1")
  keepalive_requests 1000000;
  keepalive_timeout 600s;
EOF
}

mkdir -p "$T/mock" "$T/nginx" "$T/routstr" "$T/routstr_billed" "$T/mint"
cat >"$T/mock/nginx.conf" <<EOF
# The mock upstream: nginx + echo module, one worker on CPU $LOAD_CPU. Four listeners, one per
# path, so each proxy's upstream connections can be told apart. A fixed 64 KB send buffer (no
# autotuning up to 4 MB) keeps most of the 8 MB stream in the mock until the proxy reads it, so
# S7 sees whether a proxy buffers it and whether it lets go of it when its client dies.
load_module $ECHO_MODULE;
$(nginx_head "$T/mock")
  log_format big '\$server_port \$arg_tag \$status \$bytes_sent \$request_time \$msec';
  server {
    listen 127.0.0.1:$MOCK_D backlog=4096 sndbuf=64k;
    listen 127.0.0.1:$MOCK_N backlog=4096 sndbuf=64k;
    listen 127.0.0.1:$MOCK_R backlog=4096 sndbuf=64k;
    listen 127.0.0.1:$MOCK_B backlog=4096 sndbuf=64k;
    default_type application/json;
    location = /health { return 200 'ok\n'; }
    location = /_status { stub_status; }
    # /v1/anything: JSON with usage; ?mock=slow the same after 50 ms; ?mock=sse 20 chunks, a
    # usage chunk and [DONE]; ?mock=paced the same 5 ms apart; ?mock=idle a first event, then
    # idle; ?mock=big 8 MB of SSE; ?mock=huge 64 MB of SSE.
    location /v1/ {
      if (\$arg_mock = slow) { rewrite ^ /_mock/slow last; }
      if (\$arg_mock = sse) { rewrite ^ /_mock/sse last; }
      if (\$arg_mock = paced) { rewrite ^ /_mock/paced last; }
      if (\$arg_mock = idle) { rewrite ^ /_mock/idle last; }
      if (\$arg_mock = big) { rewrite ^ /_mock/big last; }
      if (\$arg_mock = huge) { rewrite ^ /_mock/huge last; }
      return 200 '$JSON';
    }
    location = /_mock/slow {
      internal;
      echo_sleep 0.05;
      echo -n '$JSON';
    }
    location = /_mock/sse {
      internal;
      default_type text/event-stream;
$(sse_body 0)
    }
    location = /_mock/paced {
      internal;
      default_type text/event-stream;
$(sse_body 0.005)
    }
    location = /_mock/idle {
      internal;
      default_type text/event-stream;
$(idle_body)
    }
    location = /_mock/big {
      internal;
      default_type text/event-stream;
      access_log $T/mock/big.log big;
      echo_duplicate 8192 '$BIG_EVENT';
      echo -n '$DONE_CHUNK';
    }
    location = /_mock/huge {
      internal;
      default_type text/event-stream;
      access_log $T/mock/big.log big;
      echo_duplicate 65536 '$BIG_EVENT';
      echo -n '$DONE_CHUNK';
    }
  }
}
EOF

# The nginx baseline; master_process stays unset so that callgrind can run it as one process.
nginx_conf() { # file
  cat >"$1" <<EOF
$(nginx_head "$T/nginx")
  upstream mock {
    server 127.0.0.1:$MOCK_N;
    keepalive 256;
    keepalive_requests 1000000;
    keepalive_timeout 600s;
  }
  server {
    listen 127.0.0.1:$NGINX_PORT backlog=4096;
    location /v1/ {
      proxy_pass http://mock;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Authorization "Bearer $UPSTREAM_KEY";
      proxy_buffering off;
      proxy_read_timeout 3600s;
      proxy_send_timeout 3600s;
    }
  }
}
EOF
}
nginx_conf "$T/nginx/nginx.conf"

# ---------------------------------------------------------------- start / stop
MOCK_MASTER="" MOCK_WORKER="" NGINX_MASTER="" NGINX_WORKER="" ROUTSTR_PID="" ROUTSTR_B_PID="" MINT_PID=""

start_mock() {
  note_cmd mock taskset -c "$LOAD_CPU" nginx -p "$T/mock" -c "$T/mock/nginx.conf" -e "$T/mock/error.log"
  taskset -c "$LOAD_CPU" nginx -p "$T/mock" -c "$T/mock/nginx.conf" -e "$T/mock/error.log" \
    >"$T/mock/stdout.log" 2>&1 &
  MOCK_MASTER=$!
  PIDS[mock]=$MOCK_MASTER
  wait_http "http://127.0.0.1:$MOCK_D/health" 10 "$MOCK_MASTER" || die "mock upstream did not start: $(cat "$T/mock/error.log")"
  MOCK_WORKER=$(child_of "$MOCK_MASTER") || die "no mock worker"
}

start_nginx() {
  note_cmd nginx taskset -c "$PROXY_CPU" nginx -p "$T/nginx" -c "$T/nginx/nginx.conf" -e "$T/nginx/error.log" \
    -g "master_process on;"
  taskset -c "$PROXY_CPU" nginx -p "$T/nginx" -c "$T/nginx/nginx.conf" -e "$T/nginx/error.log" \
    -g "master_process on;" >"$T/nginx/stdout.log" 2>&1 &
  NGINX_MASTER=$!
  PIDS[nginx]=$NGINX_MASTER
  wait_http "http://127.0.0.1:$NGINX_PORT$API" 10 "$NGINX_MASTER" || die "nginx did not start: $(cat "$T/nginx/error.log")"
  NGINX_WORKER=$(child_of "$NGINX_MASTER") || die "no nginx worker"
}
stop_nginx() { stop_pid "$NGINX_MASTER" TERM; unset 'PIDS[nginx]'; }

# Billing OFF: a free node (FIXED_PRICING with a cost of 0) forwards without auth or ledger.
# RELAYS empty: no Nostr relay connections (and their DNS retries) in the background.
routstr_env=(env -u TOR_PROXY_URL -u DATABASE_URL -u CORS_ORIGINS -u CASHU_MINTS -u NSEC
  -u HTTP_URL -u ONION_URL
  UPSTREAM_BASE_URL="http://127.0.0.1:$MOCK_R/v1" UPSTREAM_API_KEY="$UPSTREAM_KEY"
  HOST=127.0.0.1 PORT="$ROUTSTR_PORT" LOG_LEVEL=warning SHUTDOWN_GRACE_SECONDS=2
  FIXED_PRICING=true FIXED_COST_PER_REQUEST=0 RELAYS=)

# Starts the routstr under test on CPU 0 with the env command given, from DIR (no .env of the
# working tree is read, a database file lands there, its log is DIR/routstr.log), as PIDS[KEY],
# and waits up to SECS for PORT's /health. Its pid is left in SPAWNED.
spawn_routstr() { # key dir port secs env-command...
  local key=$1 dir=$2 port=$3 secs=$4
  shift 4
  (cd "$dir" && exec "$@" taskset -c "$PROXY_CPU" "$ROUTSTR_BIN") >>"$dir/routstr.log" 2>&1 &
  SPAWNED=$!
  PIDS[$key]=$SPAWNED
  wait_http "http://127.0.0.1:$port/health" "$secs" "$SPAWNED" || die "$key did not start: $(tail -5 "$dir/routstr.log")"
}

start_routstr() {
  spawn_routstr routstr "$T/routstr" "$ROUTSTR_PORT" 10 "${routstr_env[@]}"
  ROUTSTR_PID=$SPAWNED
}
stop_routstr() {
  stop_pid "$ROUTSTR_PID" TERM
  unset 'PIDS[routstr]'
}
note_raw routstr "cd \$TMP/routstr && ${routstr_env[*]} taskset -c $PROXY_CPU $ROUTSTR_SHOWN"

# The test mint of tests/mint (Node, fake Lightning) that funds the billed key; on CPU 1.
start_mint() {
  note_cmd mint taskset -c "$LOAD_CPU" node tests/mint/mint.js --port "$MINT_PORT"
  taskset -c "$LOAD_CPU" node tests/mint/mint.js --port "$MINT_PORT" >"$T/mint/mint.log" 2>&1 &
  MINT_PID=$!
  PIDS[mint]=$MINT_PID
  wait_http "http://127.0.0.1:$MINT_PORT/v1/info" 20 "$MINT_PID" || die "test mint did not start: $(cat "$T/mint/mint.log")"
}

# Billing ON: every request costs BILLED_COST_SATS (nothing per token), reserved then settled on
# an sk- key in a SQLite ledger of its own; the wallet trusts the test mint only.
routstr_b_env=(env -u TOR_PROXY_URL -u CORS_ORIGINS -u NSEC -u HTTP_URL -u ONION_URL
  UPSTREAM_BASE_URL="http://127.0.0.1:$MOCK_B/v1" UPSTREAM_API_KEY="$UPSTREAM_KEY"
  HOST=127.0.0.1 PORT="$ROUTSTR_B_PORT" LOG_LEVEL=warning SHUTDOWN_GRACE_SECONDS=2
  FIXED_PRICING=true FIXED_COST_PER_REQUEST="$BILLED_COST_SATS" FIXED_PER_1K_INPUT_TOKENS=0
  FIXED_PER_1K_OUTPUT_TOKENS=0 RELAYS= CASHU_MINTS="http://127.0.0.1:$MINT_PORT"
  DATABASE_URL="sqlite:///$T/routstr_billed/routstr.db")

start_routstr_billed() {
  spawn_routstr routstr_billed "$T/routstr_billed" "$ROUTSTR_B_PORT" 20 "${routstr_b_env[@]}"
  ROUTSTR_B_PID=$SPAWNED
}
stop_routstr_billed() {
  stop_pid "$ROUTSTR_B_PID" TERM
  unset 'PIDS[routstr_billed]'
}
[[ $BILLED == 1 ]] && note_raw routstr_billed "$(sed "s#$T/#\$TMP/#g" <<<"cd \$TMP/routstr_billed && ${routstr_b_env[*]} taskset -c $PROXY_CPU $ROUTSTR_SHOWN")"

restart_proxy() { # path: a freshly started proxy
  case $1 in
    nginx) stop_nginx; start_nginx ;;
    routstr) stop_routstr; start_routstr ;;
    routstr_billed) stop_routstr_billed; start_routstr_billed ;;
  esac
}

url_of() {
  case $1 in
    direct) echo "http://127.0.0.1:$MOCK_D$API" ;;
    nginx) echo "http://127.0.0.1:$NGINX_PORT$API" ;;
    routstr) echo "http://127.0.0.1:$ROUTSTR_PORT$API" ;;
    routstr_billed) echo "http://127.0.0.1:$ROUTSTR_B_PORT$API" ;;
  esac
}
is_billed() { [[ $1 == *"127.0.0.1:$ROUTSTR_B_PORT/"* ]]; } # url
wrk_key() { is_billed "$1" && printf '%s\n' -- BENCH_BILLED_KEY; return 0; } # url: wrk.lua's args
client_key() { is_billed "$1" && printf '%s\n' --key-env BENCH_BILLED_KEY; return 0; } # url: client.js's
pid_of() {
  case $1 in
    direct) echo "$MOCK_WORKER" ;;
    nginx) echo "$NGINX_WORKER" ;;
    routstr) echo "$ROUTSTR_PID" ;;
    routstr_billed) echo "$ROUTSTR_B_PID" ;;
  esac
}
routstr_check() { # where [path]: dies with routstr's exit status if it is gone (a crash is a finding)
  local path=${2:-routstr} pid rc=0
  pid=$(pid_of "$path")
  running "$pid" && return 0
  wait "$pid" 2>/dev/null || rc=$?
  raw "{\"s\":\"exit\",\"path\":\"$path\",\"where\":\"$1\",\"status\":$rc}"
  die "$path (pid $pid) exited during $1 with status $rc$( ((rc > 128)) && echo " (signal $((rc - 128)))"); log tail: $(tail -5 "$T/$path/routstr.log")"
}
alive_check() { # every proxy still running?
  routstr_check "$1"
  [[ $BILLED == 1 ]] && routstr_check "$1" routstr_billed
  running "$NGINX_WORKER" || die "nginx worker exited during $1"
  running "$MOCK_WORKER" || die "mock upstream exited during $1"
}

mock_accepts() { # connections the mock has accepted so far (stub_status; this request included)
  curl -s -m 2 "http://127.0.0.1:$MOCK_D/_status" | awk 'NR == 3 {print $1}'
}

wrk_run() { # kind conns secs url [cpu] -> the RESULT json
  local kind=$1 c=$2 d=$3 url=$4 cpu=${5:-$LOAD_CPU} out
  out=$(cmd "$kind" timeout $((d + 30)) taskset -c "$cpu" wrk -t1 -c"$c" -d"${d}s" --latency \
    -s "$ROOT/bench/wrk.lua" "$url" $(wrk_key "$url") 2>&1) || die "wrk failed: $out"
  grep '^RESULT ' <<<"$out" | cut -c8- || die "wrk printed no result: $out"
}

# ---------------------------------------------------------------- start
LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)
log "temp dir $T"
log "ports: mock $MOCK_D/$MOCK_N/$MOCK_R/$MOCK_B, nginx $NGINX_PORT, routstr $ROUTSTR_PORT, billed $ROUTSTR_B_PORT, mint $MINT_PORT; nofile $NOFILE"
start_mock
start_nginx
start_routstr
BILLED_FUND_MSAT=0
if [[ $BILLED == 1 ]]; then
  start_mint
  start_routstr_billed
  # The key, funded through the balance API like any client's; kept in a 0600 file and the
  # environment of the load generators, never in a command line or the report.
  cmd fund timeout 120 taskset -c "$LOAD_CPU" node bench/fund.mjs --mint "http://127.0.0.1:$MINT_PORT" \
    --routstr "http://127.0.0.1:$ROUTSTR_B_PORT" --sats "$BILLED_FUND_SATS" --key-file "$T/routstr_billed/key" \
    >"$T/routstr_billed/fund.out" 2>&1 || die "funding the billed key: $(cat "$T/routstr_billed/fund.out")"
  BENCH_BILLED_KEY=$(<"$T/routstr_billed/key")
  export BENCH_BILLED_KEY
  BILLED_FUND_MSAT=$((BILLED_FUND_SATS * 1000))
  log "billed key funded: $(cat "$T/routstr_billed/fund.out")"
fi
auth_header() { # url: the curl -H argument a request through that path sends
  if is_billed "$1"; then echo "authorization: Bearer $BENCH_BILLED_KEY"; else echo 'authorization: Bearer sk-bench-client-key'; fi
}
for p in "${PATHS[@]}"; do
  code=$(curl -s -o "$T/probe.json" -w '%{http_code}' -H 'content-type: application/json' \
    -H "$(auth_header "$(url_of "$p")")" -d '{"model":"bench-model"}' "$(url_of "$p")")
  [[ $code == 200 ]] && grep -q '"usage"' "$T/probe.json" || die "$p: probe answered $code: $(head -c 300 "$T/probe.json")"
done
log "warm-up"
for p in "${PATHS[@]}"; do wrk_run warmup 10 1 "$(url_of "$p")" >/dev/null; done

# ---------------------------------------------------------------- S1 added latency, 1 connection
want s1 && log "S1: 1 connection, ${S1_SECS}s x $ROUNDS rounds x ${#PATHS[@]} paths"
for ((r = 1; r <= ROUNDS; r++)); do
  want s1 || break
  for p in "${PATHS[@]}"; do
    res=$(wrk_run s1 1 "$S1_SECS" "$(url_of "$p")")
    raw "{\"s\":\"s1\",\"round\":$r,\"path\":\"$p\",\"wrk\":$res}"
  done
  # Calibration: direct again with the client on the other CPU (two cross-CPU wake-ups per
  # request; a proxied request has four). Nothing else runs on CPU 0 meanwhile.
  res=$(wrk_run s1x 1 "$S1_SECS" "$(url_of direct)" "$PROXY_CPU")
  raw "{\"s\":\"s1x\",\"round\":$r,\"path\":\"direct_xcpu\",\"wrk\":$res}"
done
alive_check S1

# ---------------------------------------------------------------- S3 saturation, 50 connections
want s3 && log "S3: $S3_CONNS connections, ${S3_WARM_SECS}s warm-up + ${S3_SECS}s x $ROUNDS rounds"
for ((r = 1; r <= ROUNDS; r++)); do
  want s3 || break
  for p in "${PATHS[@]}"; do
    url=$(url_of "$p")
    wrk_run s3warm "$S3_CONNS" "$S3_WARM_SECS" "$url" >/dev/null
    pid=$(pid_of "$p")
    a0=$(mock_accepts)
    read -r b0 s0 <<<"$(cpu_stat "$PROXY_CPU")"
    c0=$(cpu_ticks "$pid") m0=$(cpu_ticks "$MOCK_WORKER") t0=$(date +%s%N)
    res=$(wrk_run s3 "$S3_CONNS" "$S3_SECS" "$url")
    c1=$(cpu_ticks "$pid") m1=$(cpu_ticks "$MOCK_WORKER") t1=$(date +%s%N)
    read -r b1 s1 <<<"$(cpu_stat "$PROXY_CPU")"
    a1=$(mock_accepts)
    raw "{\"s\":\"s3\",\"round\":$r,\"path\":\"$p\",\"wrk\":$res,\"proxy_ticks\":$((c1 - c0)),\"mock_ticks\":$((m1 - m0)),\"wall_ns\":$((t1 - t0)),\"clk_tck\":$CLK_TCK,\"mock_accepts\":$((a1 - a0 - 1)),\"cpu0_busy_ticks\":$((b1 - b0)),\"cpu0_steal_ticks\":$((s1 - s0))}"
  done
done
alive_check S3

# ---------------------------------------------------------------- S5 streaming
want s5 && log "S5: SSE $S5_N + paced SSE $S5_PACED_N per path x $ROUNDS rounds"
for ((r = 1; r <= ROUNDS; r++)); do
  want s5 || break
  for p in "${PATHS[@]}"; do
    url=$(url_of "$p")
    out=$(cmd s5 timeout 120 taskset -c "$LOAD_CPU" node bench/client.js sse --url "$url?mock=sse" --n "$S5_N" $(client_key "$url") 2>&1) || die "S5 client: $out"
    res=$(grep '^RESULT ' <<<"$out" | cut -c8-)
    out=$(cmd s5paced timeout 120 taskset -c "$LOAD_CPU" node bench/client.js sse --url "$url?mock=paced" --n "$S5_PACED_N" --warm 2 $(client_key "$url") 2>&1) || die "S5 client: $out"
    resp=$(grep '^RESULT ' <<<"$out" | cut -c8-)
    raw "{\"s\":\"s5\",\"round\":$r,\"path\":\"$p\",\"sse\":$res,\"paced\":$resp}"
  done
done
alive_check S5

# ---------------------------------------------------------------- S6 memory per idle stream
mock_streams() { # connections the mock holds from the proxies
  ss -Htn state established state close-wait "( sport = :$MOCK_N or sport = :$MOCK_R or sport = :$MOCK_B )" | wc -l
}
wait_mock_quiet() {
  local i
  for ((i = 0; i < 300; i++)); do
    [[ $(mock_streams) -lt 300 ]] && return 0
    sleep 0.1
  done
  log "S6: the mock still holds $(mock_streams) connections"
}
s6_sizes=()
want s6 || S6_SIZES=""
for n in $S6_SIZES; do
  # The proxy holds 2 descriptors per stream, the client and the mock one each.
  if ((2 * n + 200 <= NOFILE && 2 * n + 200 <= NGX_CONNS)); then s6_sizes+=("$n"); else
    log "S6: $n streams skipped: needs 2x$n descriptors, limit $NOFILE"
    raw "{\"s\":\"s6skip\",\"n\":$n,\"nofile\":$NOFILE}"
  fi
done
hold_streams() { # path n: holds n idle streams through path; sets HOLD_{READY,HELD,FD,AFTER}
  local p=$1 n=$2 url pid i
  url=$(url_of "$p")
  pid=$(pid_of "$p")
  [[ $p == routstr* ]] && routstr_check "S6 before holding $n streams" "$p"
  rm -f "$T/hold.ready"
  hold=(taskset -c "$LOAD_CPU" node bench/client.js hold --url "$url?mock=idle" --n "$n"
    --par 100 --timeout 90 --max-hold 150 --ready-file "$T/hold.ready" $(client_key "$url"))
  note_cmd s6 "${hold[@]}"
  "${hold[@]}" >"$T/hold.out" 2>&1 & # taskset execs node: $! is node, and gets SIGUSR2
  PIDS[hold]=$!
  local t0=$SECONDS
  while [[ ! -s $T/hold.ready ]] && running "${PIDS[hold]}" && ((SECONDS - t0 < 120)); do sleep 0.1; done
  HOLD_READY=$(cat "$T/hold.ready" 2>/dev/null || true)
  [[ $p == routstr* ]] && routstr_check "S6 while opening $n streams" "$p"
  if [[ -z $HOLD_READY ]]; then
    local rc=0 state
    state=$(awk '{print $3}' "/proc/${PIDS[hold]}/stat" 2>/dev/null || echo gone)
    stop_pid "${PIDS[hold]}" KILL
    wait "${PIDS[hold]}" 2>/dev/null || rc=$?
    unset 'PIDS[hold]'
    die "S6 client (holding $n streams through $p) not ready after $((SECONDS - t0)) s (process state $state, exit status $rc): $(cat "$T/hold.out")"
  fi
  sleep 1
  HOLD_HELD=$(rss_kb "$pid") HOLD_FD=$(fd_count "$pid")
  stop_pid "${PIDS[hold]}" USR2
  unset 'PIDS[hold]'
  sleep 1
  HOLD_AFTER=$(rss_kb "$pid" 2>/dev/null || echo null)
}

want s6 && log "S6: idle streams ${s6_sizes[*]} x $S6_ROUNDS rounds, fresh proxy each"
for n in "${s6_sizes[@]}"; do
  for ((r = 1; r <= S6_ROUNDS; r++)); do
    for p in "${PROXIES[@]}"; do
      restart_proxy "$p"
      wrk_run s6warm 20 1 "$(url_of "$p")" >/dev/null # code and pools warmed as after real traffic
      [[ $p == routstr* ]] && routstr_check "S6 warm-up" "$p"
      wait_mock_quiet
      pid=$(pid_of "$p")
      sleep 0.5
      base=$(rss_kb "$pid") fd0=$(fd_count "$pid")
      hold_streams "$p" "$n"
      again=null
      if [[ $n == "${s6_sizes[-1]}" && $r == "$S6_ROUNDS" ]]; then
        # The same N again on the same process: memory freed by the first hold should be reused.
        first_ready=$HOLD_READY first_held=$HOLD_HELD first_fd=$HOLD_FD first_after=$HOLD_AFTER
        wait_mock_quiet
        hold_streams "$p" "$n"
        again="{\"held_kb\":$HOLD_HELD,\"after_kb\":$HOLD_AFTER,\"client\":$HOLD_READY}"
        HOLD_READY=$first_ready HOLD_HELD=$first_held HOLD_FD=$first_fd HOLD_AFTER=$first_after
      fi
      raw "{\"s\":\"s6\",\"n\":$n,\"round\":$r,\"path\":\"$p\",\"base_kb\":$base,\"held_kb\":$HOLD_HELD,\"after_kb\":$HOLD_AFTER,\"fd_base\":$fd0,\"fd_held\":$HOLD_FD,\"client\":$HOLD_READY,\"again\":$again}"
      log "S6: $p n=$n base ${base} kB held ${HOLD_HELD} kB ($(((HOLD_HELD - base) / n)) kB/stream) $HOLD_READY"
    done
  done
done
alive_check S6

# ---------------------------------------------------------------- S7 backpressure
s7() {
log "S7: 8 MB stream read at $S7_RATE B/s by ${PROXIES[*]} clients at once"
for p in "${PROXIES[@]}"; do restart_proxy "$p"; done
for p in "${PROXIES[@]}"; do wrk_run s7warm 10 1 "$(url_of "$p")" >/dev/null; done
declare -A slow_pid=() rss0=() rssmax=() rss_series=()
for p in "${PROXIES[@]}"; do
  note_cmd s7 taskset -c "$LOAD_CPU" node bench/client.js slow --url "$(url_of "$p")?mock=big&tag=slow-$p" \
    --rate "$S7_RATE" $(client_key "$(url_of "$p")")
  taskset -c "$LOAD_CPU" node bench/client.js slow --url "$(url_of "$p")?mock=big&tag=slow-$p" \
    --rate "$S7_RATE" $(client_key "$(url_of "$p")") >"$T/slow-$p.out" 2>&1 &
  slow_pid[$p]=$!
  PIDS[slow-$p]=$!
  pid=$(pid_of "$p")
  rss0[$p]=$(rss_kb "$pid")
  rssmax[$p]=${rss0[$p]}
  rss_series[$p]=""
done
t_start=$SECONDS
while :; do
  running=0
  for p in "${PROXIES[@]}"; do
    kill -0 "${slow_pid[$p]}" 2>/dev/null && running=1
    v=$(rss_kb "$(pid_of "$p")" 2>/dev/null || echo 0)
    rss_series[$p]+="$v,"
    ((v > rssmax[$p])) && rssmax[$p]=$v
  done
  [[ $running == 0 ]] && break
  ((SECONDS - t_start > 170)) && break
  sleep 0.5
done
for p in "${PROXIES[@]}"; do
  wait "${slow_pid[$p]}" 2>/dev/null || true
  unset "PIDS[slow-$p]"
  res=$(grep '^RESULT ' "$T/slow-$p.out" | cut -c8- || true)
  [[ -n $res ]] || res='{"complete":false,"error":"no result"}'
  big=$(grep " slow-$p " "$T/mock/big.log" | tail -n1 || true)
  raw "{\"s\":\"s7\",\"path\":\"$p\",\"rss_start_kb\":${rss0[$p]},\"rss_max_kb\":${rssmax[$p]},\"rss_end_kb\":$(rss_kb "$(pid_of "$p")"),\"series_kb\":[${rss_series[$p]%,}],\"client\":$res,\"mock_log\":\"$big\",\"expect_body_bytes\":$BIG_BODY_BYTES}"
  log "S7: $p RSS start ${rss0[$p]} kB max ${rssmax[$p]} kB; client $res"
done

# The kill test streams 64 MB: on loopback the kernel's socket buffers (up to 4 MB per send
# buffer, more per autotuned receive buffer) can hold all of an 8 MB answer a few hundred ms
# after it starts, and then the mock has finished sending before the kill whatever the proxy does.
log "S7: a client killed ${S7_KILL_AFTER}s into a 64 MB stream"
for p in "${PROXIES[@]}"; do
  pid=$(pid_of "$p")
  note_cmd s7kill taskset -c "$LOAD_CPU" node bench/client.js slow --url "$(url_of "$p")?mock=huge&tag=kill-$p" \
    --rate "$S7_RATE" $(client_key "$(url_of "$p")") "# then kill -KILL after ${S7_KILL_AFTER}s"
  taskset -c "$LOAD_CPU" node bench/client.js slow --url "$(url_of "$p")?mock=huge&tag=kill-$p" \
    --rate "$S7_RATE" $(client_key "$(url_of "$p")") >"$T/kill-$p.out" 2>&1 &
  kpid=$!
  PIDS[kill-$p]=$kpid
  sleep "$S7_KILL_AFTER"
  read_bytes=$(grep '^PROGRESS ' "$T/kill-$p.out" | tail -n1 | grep -o '"wire_bytes":[0-9]*' | cut -d: -f2 || true)
  t_kill=$(date +%s.%N)
  kill -KILL "$kpid" 2>/dev/null || true
  wait "$kpid" 2>/dev/null || true
  unset "PIDS[kill-$p]"
  line=""
  for ((i = 0; i < 100; i++)); do # up to 10 s for the mock to log the end of that transfer
    line=$(grep " kill-$p " "$T/mock/big.log" | tail -n1 || true)
    [[ -n $line ]] && break
    sleep 0.1
  done
  sleep 0.5
  health=$(curl -s -o /dev/null -w '%{http_code}' -m 5 -H 'content-type: application/json' \
    -H "$(auth_header "$(url_of "$p")")" -d '{}' "$(url_of "$p")" || true)
  raw "{\"s\":\"s7kill\",\"path\":\"$p\",\"t_kill\":$t_kill,\"client_read_bytes\":${read_bytes:-null},\"mock_log\":\"$line\",\"rss_kb\":$(rss_kb "$pid"),\"after_status\":\"$health\",\"expect_body_bytes\":$HUGE_BODY_BYTES}"
  log "S7: killed $p client; mock log: ${line:-nothing within 10 s}; next request $health"
done
alive_check S7
}
want s7 && s7

# ---------------------------------------------------------------- instructions per request
if [[ $CALLGRIND == 1 ]] && ((SECONDS > BUDGET_SECS)); then
  log "callgrind skipped: ${SECONDS}s spent, budget ${BUDGET_SECS}s"
  CALLGRIND=0
fi
if [[ $CALLGRIND == 1 ]]; then
  log "callgrind: $CG_N1 and $CG_N2 requests through ${PROXIES[*]}"
  stop_nginx
  stop_routstr
  [[ $BILLED == 1 ]] && stop_routstr_billed
  printf '%s' '{"model":"bench-model","messages":[{"role":"user","content":"Say hello in one word."}],"max_tokens":16}' >"$T/body.json"
  cg_total() { awk '/^(summary|totals):/ {print $2; exit}' "$1"; }
  # Self cost per function of a callgrind output: "Ir<TAB>function<TAB>object" lines.
  cg_functions() {
    callgrind_annotate --inclusive=no --auto=no --threshold=100 "$1" 2>/dev/null | awk '
      /^ *[0-9,]+ +\(/ && !/PROGRAM TOTALS/ {
        ir = $1; gsub(",", "", ir)
        line = $0; sub(/^ *[0-9,]+ +\( *[0-9.]+%\) +/, "", line)
        obj = "?"
        if (match(line, / \[[^]]*\]$/)) {
          obj = substr(line, RSTART + 2, RLENGTH - 3); line = substr(line, 1, RSTART - 1)
          n = split(obj, a, "/"); obj = a[n]
        }
        fn = line; sub(/^.*:/, "", fn)
        printf "%s\t%s\t%s\n", ir, fn, obj
      }'
  }
  # Per request: (n2 run - n1 run) / (n2 - n1), by object and the top functions, as JSON.
  cg_breakdown() { # file1 file2 n1 n2
    awk -F'\t' -v d=$(($4 - $3)) '
      FNR == 1 { f++ }
      { k = $2 "\t" $3; v = (f == 1 ? -$1 : $1); fn[k] += v; ob[$3] += v }
      END {
        printf "{\"objects\":{"; sep = ""
        for (o in ob) if (ob[o] / d >= 50) { printf "%s\"%s\":%.0f", sep, o, ob[o] / d; sep = "," }
        printf "},\"functions\":["; sep = ""
        for (k in fn) if (fn[k] / d >= 500) { split(k, a, "\t"); printf "%s[\"%s\",\"%s\",%.0f]", sep, a[1], a[2], fn[k] / d; sep = "," }
        printf "]}"
      }' <(cg_functions "$1") <(cg_functions "$2")
  }
  for p in "${PROXIES[@]}"; do
    for n in "$CG_N1" "$CG_N2"; do
      out=$T/cg-$p-$n.out
      vg=(valgrind --tool=callgrind --callgrind-out-file="$out" --dump-instr=no)
      if [[ $p == routstr ]]; then
        (cd "$T/routstr" && exec "${routstr_env[@]}" taskset -c "$PROXY_CPU" "${vg[@]}" "$ROUTSTR_BIN") \
          >"$T/cg-$p-$n.log" 2>&1 &
        health="http://127.0.0.1:$ROUTSTR_PORT/health"
      elif [[ $p == routstr_billed ]]; then
        (cd "$T/routstr_billed" && exec "${routstr_b_env[@]}" taskset -c "$PROXY_CPU" "${vg[@]}" "$ROUTSTR_BIN") \
          >"$T/cg-$p-$n.log" 2>&1 &
        health="http://127.0.0.1:$ROUTSTR_B_PORT/health"
      else
        taskset -c "$PROXY_CPU" "${vg[@]}" nginx -p "$T/nginx" -c "$T/nginx/nginx.conf" -e "$T/nginx/error.log" \
          -g "master_process off;" >"$T/cg-$p-$n.log" 2>&1 &
        health="http://127.0.0.1:$NGINX_PORT/health"
      fi
      PIDS[cg]=$!
      note_cmd cg taskset -c "$PROXY_CPU" "${vg[@]}" "<the $p command line above>"
      wait_http "$health" 60 "${PIDS[cg]}" || die "$p under valgrind did not start: $(tail -5 "$T/cg-$p-$n.log")"
      cmd cg timeout 120 taskset -c "$LOAD_CPU" h2load --h1 -n "$n" -c 1 -d "$T/body.json" \
        -H 'content-type: application/json' -H "$(auth_header "$(url_of "$p")")" \
        "$(url_of "$p")" >"$T/cg-h2load-$p-$n.log" 2>&1 || die "h2load: $(cat "$T/cg-h2load-$p-$n.log")"
      stop_pid "${PIDS[cg]}" TERM
      unset 'PIDS[cg]'
      ok=$(grep '^requests:' "$T/cg-h2load-$p-$n.log" | grep -o '[0-9]* succeeded' | cut -d' ' -f1 || true)
      [[ $ok == "$n" ]] || log "callgrind: h2load $p: $(grep '^requests:' "$T/cg-h2load-$p-$n.log")"
      raw "{\"s\":\"cg\",\"path\":\"$p\",\"n\":$n,\"succeeded\":${ok:-0},\"ir\":$(cg_total "$out")}"
    done
    if command -v callgrind_annotate >/dev/null; then
      raw "{\"s\":\"cgsplit\",\"path\":\"$p\",\"split\":$(cg_breakdown "$T/cg-$p-$CG_N1.out" "$T/cg-$p-$CG_N2.out" "$CG_N1" "$CG_N2")}"
    fi
  done
  log "callgrind done"
fi

# ---------------------------------------------------------------- SX X-Cashu: plain vs speculative
# Issue 5: the latency of requests paid per request with X-Cashu when the mint answers swaps
# SX_SWAP_MS late, with speculative forwarding off and on. Two billed routstr processes (CPU 0,
# fixed price 1 sat, SQLite in their own temp dirs, CASHU_SPECULATIVE=false / true) and the test
# mint of tests/mint (CPU 1, --path-delay: only swaps wait, minting does not); the client mints
# a fresh 1-sat token per request with cashu-ts before timing (a 1-sat token pays exactly: no
# change token, so no second mint round trip). Upstream: the mock's JSON at once ("fast"), and
# after 50 ms ("slow", ?mock=slow: what speculation can hide behind the swap). Self-contained:
# its own processes, ports and rows ({"s":"sx"}), started and stopped here.
sx() {
  if [[ ! -d tests/node_modules/@cashu/cashu-ts ]]; then
    log "SX skipped: tests/node_modules is missing (cd tests && npm ci)"
    raw '{"s":"sxskip","why":"tests/node_modules missing"}'
    return 0
  fi
  local mint_port mode up r out res port dir
  declare -A sx_port=() sx_pid=()
  free_port mint_port
  mkdir -p "$T/sx"
  note_cmd sx taskset -c "$LOAD_CPU" node tests/mint/mint.js --port "$mint_port" --path-delay "/v1/swap=$SX_SWAP_MS"
  taskset -c "$LOAD_CPU" node tests/mint/mint.js --port "$mint_port" --path-delay "/v1/swap=$SX_SWAP_MS" \
    >"$T/sx/mint.log" 2>&1 &
  PIDS[sx-mint]=$!
  wait_http "http://127.0.0.1:$mint_port/v1/info" 20 "${PIDS[sx-mint]}" || die "SX: test mint did not start: $(cat "$T/sx/mint.log")"
  for mode in plain speculative; do
    free_port port
    sx_port[$mode]=$port
    dir=$T/sx/$mode
    mkdir -p "$dir"
    local env_sx=(env -u TOR_PROXY_URL -u DATABASE_URL -u CORS_ORIGINS -u NSEC -u HTTP_URL -u ONION_URL
      UPSTREAM_BASE_URL="http://127.0.0.1:$MOCK_R/v1" UPSTREAM_API_KEY="$UPSTREAM_KEY"
      HOST=127.0.0.1 PORT="$port" LOG_LEVEL=warning SHUTDOWN_GRACE_SECONDS=2 RELAYS=
      FIXED_PRICING=true FIXED_COST_PER_REQUEST=1 CASHU_MINTS="http://127.0.0.1:$mint_port"
      CASHU_SPECULATIVE=$([[ $mode == speculative ]] && echo true || echo false))
    note_raw sx "cd \$TMP/sx/$mode && ${env_sx[*]} taskset -c $PROXY_CPU $ROUTSTR_SHOWN"
    spawn_routstr "sx-$mode" "$dir" "$port" 10 "${env_sx[@]}"
    sx_pid[$mode]=$SPAWNED
  done
  log "SX: X-Cashu, swap answered after ${SX_SWAP_MS} ms: plain vs speculative, $SX_N requests x $SX_ROUNDS rounds"
  for ((r = 1; r <= SX_ROUNDS; r++)); do
    for up in fast slow; do
      for mode in plain speculative; do
        local url="http://127.0.0.1:${sx_port[$mode]}$API"
        [[ $up == slow ]] && url+="?mock=slow"
        out=$(cmd sx timeout 300 taskset -c "$LOAD_CPU" node bench/client.js xcashu --url "$url" \
          --mint "http://127.0.0.1:$mint_port" --n "$SX_N" 2>&1) || die "SX client ($mode, $up): $out"
        res=$(grep '^RESULT ' <<<"$out" | cut -c8-)
        running "${sx_pid[$mode]}" || die "SX: routstr ($mode) exited: $(tail -5 "$T/sx/$mode/routstr.log")"
        raw "{\"s\":\"sx\",\"round\":$r,\"mode\":\"$mode\",\"upstream\":\"$up\",\"swap_ms\":$SX_SWAP_MS,\"res\":$res}"
        log "SX: $mode, $up upstream: $res"
      done
    done
  done
  for mode in plain speculative; do
    stop_pid "${sx_pid[$mode]}" TERM
    unset "PIDS[sx-$mode]"
  done
  stop_pid "${PIDS[sx-mint]}" TERM
  unset 'PIDS[sx-mint]'
}
want sx && sx
# ---------------------------------------------------------------- the billed key's account
# Every request through the billed path was reserved and then charged BILLED_COST_SATS (or
# released, uncounted): the key must hold its deposit minus requests x cost, nothing reserved,
# and 'routstr audit' must find the ledger consistent. Counted by routstr (total_requests), since
# a load generator does not count the requests still in flight when its time is up.
if [[ $BILLED == 1 ]]; then
  running "$ROUTSTR_B_PID" || start_routstr_billed
  info=$(curl -s -m 10 -H "$(auth_header "$(url_of routstr_billed)")" "http://127.0.0.1:$ROUTSTR_B_PORT/v1/balance/info") ||
    die "billed key: /v1/balance/info did not answer"
  stop_routstr_billed
  audit_rc=0
  audit_out=$(cd "$T/routstr_billed" && "${routstr_b_env[@]}" "$ROUTSTR_BIN" audit 2>&1) || audit_rc=$?
  note_cmd billed curl -H "$(auth_header "$(url_of routstr_billed)")" "http://127.0.0.1:$ROUTSTR_B_PORT/v1/balance/info"
  note_cmd billed "$ROUTSTR_BIN" audit "# with the billed routstr's environment"
  raw "{\"s\":\"billed\",\"path\":\"routstr_billed\",\"fund_msat\":$BILLED_FUND_MSAT,\"cost_msat\":$((BILLED_COST_SATS * 1000)),\"info\":$(node -e 'const j = JSON.parse(require("fs").readFileSync(0, "utf8")); delete j.api_key; process.stdout.write(JSON.stringify(j))' <<<"$info"),\"audit_status\":$audit_rc,\"audit\":$(node -e 'process.stdout.write(JSON.stringify(require("fs").readFileSync(0, "utf8").trim()))' <<<"$audit_out")}"
  log "billed key: $(sed 's/"api_key":"[^"]*",//' <<<"$info"); audit exit $audit_rc"
fi

# ---------------------------------------------------------------- report
git_rev=$REV
git_dirty=false # read-only check: no index refresh, no lock
[[ -z ${BENCH_REV:-} ]] && ! git --no-optional-locks diff --quiet HEAD -- src Makefile 2>/dev/null && git_dirty=true
cat >"$T/meta.json" <<EOF
{"date":"$DATE","commit":"$git_rev","src_dirty":$git_dirty,
 "routstr_version":"$("$ROUTSTR_BIN" --version 2>/dev/null)",
 "routstr_bin":"$ROUTSTR_SHOWN","routstr_bin_note":"$ROUTSTR_NOTE",
 "nginx":"$(nginx -v 2>&1 | sed 's/.*version: //')",
 "wrk":"$(wrk -v 2>&1 | head -n1 | awk '{print $2}')",
 "libcurl":"$(curl-config --version 2>/dev/null | awk '{print $2}' || pkg-config --modversion libcurl)",
 "libevent":"$(pkg-config --modversion libevent 2>/dev/null)",
 "libevent_pkg":"$(dpkg-query -W -f='${Version}' libevent-2.1-7 2>/dev/null)",
 "libcurl_pkg":"$(dpkg-query -W -f='${Version}' libcurl4 2>/dev/null)",
 "nginx_pkg":"$(dpkg-query -W -f='${Version}' nginx-light 2>/dev/null || dpkg-query -W -f='${Version}' nginx-core 2>/dev/null)",
 "echo_pkg":"$(dpkg-query -W -f='${Version}' libnginx-mod-http-echo 2>/dev/null)",
 "h2load":"$(h2load --version 2>/dev/null | awk '{print $2}')",
 "node":"$(node -v)",
 "valgrind":"$(valgrind --version 2>/dev/null)",
 "kernel":"$(uname -r)",
 "cpu":"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')",
 "loadavg_start":"$LOADAVG_START","loadavg_end":"$(cut -d' ' -f1-3 /proc/loadavg)",
 "ncpu":$(nproc),
 "nofile":$NOFILE,
 "proxy_cpu":$PROXY_CPU,"load_cpu":$LOAD_CPU,
 "rounds":$ROUNDS,"s1_secs":$S1_SECS,"s3_secs":$S3_SECS,"s3_warm_secs":$S3_WARM_SECS,"s3_conns":$S3_CONNS,
 "s5_n":$S5_N,"s5_paced_n":$S5_PACED_N,"s6_rounds":$S6_ROUNDS,"s7_rate":$S7_RATE,"s7_kill_after":$S7_KILL_AFTER,
 "cg_n1":$CG_N1,"cg_n2":$CG_N2,"sx_n":$SX_N,"sx_rounds":$SX_ROUNDS,"sx_swap_ms":$SX_SWAP_MS,
 "quick":${BENCH_QUICK:-0},"elapsed_secs":$SECONDS,
 "billed":$BILLED,"billed_cost_sats":$BILLED_COST_SATS,"billed_fund_sats":$BILLED_FUND_SATS}
EOF
jstr() { node -e 'process.stdout.write(JSON.stringify(require("fs").readFileSync(0, "utf8")))' <"$1"; }
{
  printf '{"s":"meta","meta":%s}\n' "$(tr -d '\n' <"$T/meta.json")"
  printf '{"s":"commands","text":%s}\n' "$(jstr "$CMDS")"
  printf '{"s":"nginx_conf","text":%s}\n' "$(jstr "$T/nginx/nginx.conf")"
  cat "$RAW"
} >"$T/results.jsonl"
node bench/report.js "$T/results.jsonl" >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
cp "$T/results.jsonl" "${OUT%.md}.raw.jsonl"
log "results: ${OUT#"$ROOT"/} (raw figures: ${OUT%.md}.raw.jsonl), ${SECONDS}s"
sed -n '/^## Summary/,/^## S1/p' "$OUT" | sed '$d' >&2
OK=1
