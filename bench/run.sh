#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 OR MIT
# `make bench`: RateWatch against nginx's limit_req in the same run, on 127.0.0.1 only.
# Each server is pinned to one core, wrk to another; both get the same load (a rate-limit
# check for one of BENCH_KEYS keys, cycling) and the same measurement:
#   requests/s and p50/p99 latency from wrk --latency,
#   server CPU per request: utime+stime from /proc/<pid>/stat (nginx: master + worker),
#   read just before and just after the measured run, divided by the requests completed.
# Then the ratios RateWatch/nginx. Results go to bench/results/<stamp>.json (and latest.json).
#
# Settings (environment):
#   BENCH_QUICK=1          2 s runs after a 1 s warm-up (defaults below otherwise)
#   BENCH_DURATION=10      seconds of each measured run
#   BENCH_WARMUP=2         seconds of unmeasured load before each measured run
#   BENCH_CONNECTIONS=50   wrk connections
#   BENCH_THREADS=1        wrk threads
#   BENCH_KEYS=10000       distinct keys
#   BENCH_ROUNDS=1         rounds; each round runs both servers, alternating which goes first
#   BENCH_SERVER_CPU=0     the core the server runs on
#   BENCH_CLIENT_CPU=1     the core wrk runs on
#   BENCH_TARGET=1.3       the CPU-per-request ratio RateWatch/nginx aimed at
#   BENCH_ENFORCE=0        1: exit 3 when the ratio is above BENCH_TARGET
#   BENCH_NGINX_RATE=16666r/s   nginx's limit_req rate (never trips at the default load)
#   BENCH_RESULTS_DIR=bench/results
#   RATEWATCH_BIN=build/ratewatch
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

uint_setting() { # NAME VALUE
    [[ "$2" =~ ^[0-9]+$ ]] && [ "$2" -gt 0 ] || die "$1 must be a positive integer (got '$2')"
}

QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
    DURATION=${BENCH_DURATION:-2}
    WARMUP=${BENCH_WARMUP:-1}
else
    DURATION=${BENCH_DURATION:-10}
    WARMUP=${BENCH_WARMUP:-2}
fi
CONNECTIONS=${BENCH_CONNECTIONS:-50}
THREADS=${BENCH_THREADS:-1}
KEYS=${BENCH_KEYS:-10000}
ROUNDS=${BENCH_ROUNDS:-1}
SERVER_CPU=${BENCH_SERVER_CPU:-0}
CLIENT_CPU=${BENCH_CLIENT_CPU:-1}
TARGET=${BENCH_TARGET:-1.3}
ENFORCE=${BENCH_ENFORCE:-0}
RESULTS_DIR=${BENCH_RESULTS_DIR:-$BENCH_DIR/results}
for s in DURATION WARMUP CONNECTIONS THREADS KEYS ROUNDS; do
    uint_setting "BENCH_$s" "${!s}"
done
[[ "$SERVER_CPU" =~ ^[0-9]+$ && "$CLIENT_CPU" =~ ^[0-9]+$ ]] ||
    die "BENCH_SERVER_CPU and BENCH_CLIENT_CPU must be core numbers"
[ "$SERVER_CPU" != "$CLIENT_CPU" ] || die "the server and wrk must run on different cores"
[ "$THREADS" -le "$CONNECTIONS" ] || die "BENCH_THREADS must not exceed BENCH_CONNECTIONS"
NCPU=$(nproc --all)
[ "$SERVER_CPU" -lt "$NCPU" ] && [ "$CLIENT_CPU" -lt "$NCPU" ] ||
    die "this machine has $NCPU cores; set BENCH_SERVER_CPU and BENCH_CLIENT_CPU to two of 0..$((NCPU - 1))"

command -v nginx >/dev/null || need_packages nginx
command -v wrk >/dev/null || need_packages wrk
command -v curl >/dev/null || need_packages curl
need_commands nginx wrk curl taskset python3 pgrep
need_ratewatch

CLK_TCK=$(getconf CLK_TCK)
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT_DIR="$RESULTS_DIR/$STAMP"
mkdir -p "$OUT_DIR"
BENCH_TMP=$(mktemp -d /tmp/ratewatch-bench.XXXXXX)
# nginx's worker runs as an unprivileged user when started as root: it must reach its root.
chmod 755 "$BENCH_TMP"
trap bench_cleanup EXIT
trap 'exit 130' INT TERM
snapshot_ratewatch
RECORDS="$OUT_DIR/records.txt"
: >"$RECORDS"

# "utime stime" ticks summed over the given pids (fields 14 and 15 of /proc/<pid>/stat,
# which cover every thread of the process).
proc_ticks() {
    local utime=0 stime=0 pid line rest
    for pid in "$@"; do
        read -r line <"/proc/$pid/stat" || die "process $pid is gone"
        rest=${line##*) }
        # shellcheck disable=SC2086
        set -- $rest
        utime=$((utime + ${12}))
        stime=$((stime + ${13}))
    done
    echo "$utime $stime"
}

# "busy total" ticks of one core from /proc/stat.
core_ticks() {
    local name user nice system idle iowait irq softirq steal rest
    while read -r name user nice system idle iowait irq softirq steal rest; do
        if [ "$name" = "cpu$1" ]; then
            echo "$((user + nice + system + irq + softirq + steal))" \
                "$((user + nice + system + idle + iowait + irq + softirq + steal))"
            return
        fi
    done </proc/stat
    die "no cpu$1 in /proc/stat"
}

# Runs wrk on the client core; its own CPU seconds ("user sys") go to OUTFILE.cpu.
run_wrk() { # OUTFILE SECONDS URL MODE TOKEN [extra wrk flags]
    local out=$1 secs=$2 url=$3 mode=$4 token=$5 TIMEFORMAT='%3U %3S'
    shift 5
    { time timeout $((secs + 60)) taskset -c "$CLIENT_CPU" wrk -t "$THREADS" \
        -c "$CONNECTIONS" -d "${secs}s" "$@" -s "$BENCH_DIR/wrk-keys.lua" "$url" \
        -- "$mode" "$KEYS" "$token" >"$out" 2>&1; } 2>"$out.cpu" ||
        { cat "$out" >&2; die "wrk failed against $url"; }
}

# measure ROUND NAME URL MODE TOKEN PID...: warm-up, then the measured run.
measure() {
    local round=$1 name=$2 url=$3 mode=$4 token=$5
    shift 5
    local pids=("$@") tag="round${round}-${name}"

    run_wrk "$OUT_DIR/$tag-warmup.txt" "$WARMUP" "$url" "$mode" "$token"
    local u0 u1 k0 k1 s0 s1 c0 c1 s0total s1total c0total c1total
    read -r s0 s0total < <(core_ticks "$SERVER_CPU")
    read -r c0 c0total < <(core_ticks "$CLIENT_CPU")
    read -r u0 k0 < <(proc_ticks "${pids[@]}")
    run_wrk "$OUT_DIR/$tag.txt" "$DURATION" "$url" "$mode" "$token" --latency
    read -r u1 k1 < <(proc_ticks "${pids[@]}")
    read -r s1 s1total < <(core_ticks "$SERVER_CPU")
    read -r c1 c1total < <(core_ticks "$CLIENT_CPU")
    [ -n "$u0" ] && [ -n "$u1" ] && [ -n "$s1" ] && [ -n "$c1" ] ||
        die "could not read the CPU time of $name (pids ${pids[*]}): did it exit?"
    local ticks=$((u1 - u0 + k1 - k0))

    local result wrk_user wrk_sys
    result=$(grep '^BENCH_RESULT ' "$OUT_DIR/$tag.txt" | head -n 1) ||
        die "no result line in $OUT_DIR/$tag.txt"
    read -r wrk_user wrk_sys <"$OUT_DIR/$tag.txt.cpu"
    echo "round=$round server=$name ${result#BENCH_RESULT } server_ticks=$ticks" \
        "server_user_ticks=$((u1 - u0)) server_sys_ticks=$((k1 - k0))" \
        "server_core_busy=$((s1 - s0)) server_core_total=$((s1total - s0total))" \
        "client_core_busy=$((c1 - c0)) client_core_total=$((c1total - c0total))" \
        "wrk_cpu_s=$(awk -v u="$wrk_user" -v s="$wrk_sys" 'BEGIN { printf "%.3f", u + s }')" \
        >>"$RECORDS"
    local req=${result#*requests=}
    req=${req%% *}
    say "  $name: $req requests in ${DURATION}s, server CPU $((ticks * 1000000 / CLK_TCK)) µs"
}

check_nginx_limits() { # BASE_URL
    local base=$1 code n429=0 i
    code=$(curl -s -o "$BENCH_TMP/nginx-check.body" -w '%{http_code}' -m 5 -X POST \
        -H 'Content-Type: application/json' -H 'X-Key: check:one' \
        --data '{"key":"check:one","limit":1000000,"window":60}' "$base/")
    [ "$code" = 200 ] && grep -q '"allowed":true' "$BENCH_TMP/nginx-check.body" ||
        die "nginx answered $code to a check, not 200 with the decision body"
    for i in 1 2 3 4 5; do
        code=$(curl -s -o /dev/null -w '%{http_code}' -m 5 -X POST -H 'X-Key: check:tight' \
            -H 'Content-Type: application/json' --data '{}' "$base/tight")
        if [ "$code" = 429 ] || [ "$code" = 503 ]; then
            n429=$((n429 + 1))
        fi
    done
    [ "$n429" -ge 4 ] ||
        die "limit_req is not limiting: only $n429 of 5 requests at 1r/m were refused"
    say "  nginx self-check: limit_req refused $n429 of 5 requests under a 1 r/min limit"
}

check_ratewatch() { # BASE_URL TOKEN
    local base=$1 token=$2 code i auth=()
    [ -n "$token" ] && auth=(-H "Authorization: Bearer $token")
    code=$(curl -s -o "$BENCH_TMP/rw-check.body" -w '%{http_code}' -m 5 -X POST "${auth[@]}" \
        -H 'Content-Type: application/json' \
        --data '{"key":"check:one","limit":1000000,"window":60}' "$base/v1/check")
    [ "$code" = 200 ] && grep -q '"allowed":true' "$BENCH_TMP/rw-check.body" ||
        die "RateWatch answered $code to a check: $(head -c 300 "$BENCH_TMP/rw-check.body")"
    for i in 1 2; do
        curl -s -o "$BENCH_TMP/rw-check.body" -m 5 -X POST "${auth[@]}" \
            -H 'Content-Type: application/json' \
            --data '{"key":"check:tight","limit":1,"window":60}' "$base/v1/check"
    done
    grep -q '"allowed":false' "$BENCH_TMP/rw-check.body" ||
        die "RateWatch allowed a second check under limit 1"
    say "  RateWatch self-check: a second check under limit 1 was denied"
}

run_nginx() { # ROUND
    local prefix="$BENCH_TMP/nginx" port
    port=$(free_port)
    rm -rf "$prefix"
    write_nginx_conf "$prefix" "$port" on
    start_nginx "$prefix" taskset -c "$SERVER_CPU"
    wait_http "http://127.0.0.1:$port/" 15 "$NGINX_PID" ||
        die "nginx did not come up: $(tail -n 5 "$prefix/logs/error.log" 2>/dev/null)"
    local workers
    workers=$(pgrep -P "$NGINX_PID" | tr '\n' ' ')
    [ "$(wc -w <<<"$workers")" -eq 1 ] || die "expected one nginx worker, found: $workers"
    say "nginx $(nginx -v 2>&1 | sed 's/.*\///') on 127.0.0.1:$port, master $NGINX_PID," \
        "worker $workers(core $SERVER_CPU)"
    check_nginx_limits "http://127.0.0.1:$port"
    # shellcheck disable=SC2086
    measure "$1" nginx "http://127.0.0.1:$port/" nginx "" "$NGINX_PID" $workers
    cp "$prefix/nginx.conf" "$OUT_DIR/nginx.conf"
    # The log holds the self-check's refusals; anything else logged is a fault of the setup
    # that would also cost nginx CPU per request.
    grep -v 'limiting requests' "$prefix/logs/error.log" >"$OUT_DIR/round$1-nginx-error.log" || true
    if grep -qE '\[(crit|alert|emerg|error)\]' "$OUT_DIR/round$1-nginx-error.log"; then
        die "nginx logged errors during the run, see $OUT_DIR/round$1-nginx-error.log:" \
            "$(head -n 2 "$OUT_DIR/round$1-nginx-error.log")"
    fi
    stop_pid "$NGINX_PID"
    forget_pid "$NGINX_PID"
}

run_ratewatch() { # ROUND
    local port log="$OUT_DIR/round$1-ratewatch.log"
    port=$(free_port)
    start_ratewatch "$port" "$log" taskset -c "$SERVER_CPU"
    wait_http "http://127.0.0.1:$port/health" 15 "$RW_PID" ||
        die "RateWatch did not come up: $(tail -n 5 "$log")"
    say "RateWatch $("$RATEWATCH_BIN" --version | head -n 1) on 127.0.0.1:$port, pid $RW_PID" \
        "(core $SERVER_CPU)"
    check_ratewatch "http://127.0.0.1:$port" "$BENCH_API_KEY"
    measure "$1" ratewatch "http://127.0.0.1:$port/v1/check" ratewatch "$BENCH_API_KEY" "$RW_PID"
    stop_pid "$RW_PID"
    forget_pid "$RW_PID"
}

say "RateWatch benchmark: ${DURATION}s runs after ${WARMUP}s warm-up, $CONNECTIONS connections," \
    "$THREADS wrk thread(s), $KEYS keys, $ROUNDS round(s); servers on core $SERVER_CPU," \
    "wrk on core $CLIENT_CPU"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
say "load average before: $LOAD_BEFORE"
issue_api_key

for ((round = 1; round <= ROUNDS; round++)); do
    [ "$ROUNDS" -gt 1 ] && say "round $round of $ROUNDS"
    if ((round % 2 == 1)); then
        run_nginx "$round"
        run_ratewatch "$round"
    else
        run_ratewatch "$round"
        run_nginx "$round"
    fi
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

RW_VERSION=$("$RATEWATCH_BIN" --version | head -n 1)
NGINX_VERSION=$(nginx -v 2>&1 | sed 's/^nginx version: //')
WRK_VERSION=$({ wrk -v 2>&1 || true; } | head -n 1 | cut -d' ' -f1-2)
GIT_COMMIT=$(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)
GIT_DIRTY=false
if [ -n "$(git -C "$REPO_DIR" status --porcelain --untracked-files=no 2>/dev/null || true)" ]; then
    GIT_DIRTY=true
fi
CPU_MODEL=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')

export STAMP DURATION WARMUP CONNECTIONS THREADS KEYS ROUNDS SERVER_CPU CLIENT_CPU TARGET \
    RATEWATCH_SHA256 CLK_TCK NCPU LOAD_BEFORE LOAD_AFTER RW_VERSION NGINX_VERSION \
    WRK_VERSION GIT_COMMIT GIT_DIRTY CPU_MODEL BENCH_AUTH QUICK
export BENCH_NGINX_RATE=${BENCH_NGINX_RATE:-16666r/s}
rc=0
python3 "$BENCH_DIR/summarize.py" "$RECORDS" "$RESULTS_DIR/$STAMP.json" || rc=$?
if [ -f "$RESULTS_DIR/$STAMP.json" ]; then
    cp "$RESULTS_DIR/$STAMP.json" "$RESULTS_DIR/latest.json"
fi
say "results: $RESULTS_DIR/$STAMP.json (wrk output and logs in $OUT_DIR/)"
if [ $rc -eq 3 ] && [ "$ENFORCE" != 1 ]; then
    rc=0
fi
exit $rc
