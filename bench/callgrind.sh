#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 OR MIT
# Instructions per check request, counted by valgrind's callgrind: a figure that does not
# depend on how busy the machine is, unlike the timings of bench/run.sh.
#
# The release binary runs under callgrind twice. A bounded client (bench/check_client.py,
# one keep-alive connection, one request at a time) sends CALLGRIND_WARMUP checks (by
# default one per key, so every counter exists) in run A, and the same plus exactly
# CALLGRIND_REQUESTS more in run B. Instructions are collected only inside the server's
# event loop (h2o_evloop_run), where requests are served, so that start-up, shut-down and
# timer threads whose work depends on wall-clock time (the store's sweeper) do not count.
# (B - A) / CALLGRIND_REQUESTS is the steady-state cost of one check, in user-space
# instructions (the kernel's share is not seen), and the same difference per function
# shows where they go. nginx's limit_req (bench/nginx.conf.in, one process, collected
# inside ngx_process_events_and_timers) is measured the same way for the ratio, unless
# CALLGRIND_NGINX=0.
#
# Settings (environment):
#   CALLGRIND_REQUESTS=20000  measured checks
#   CALLGRIND_WARMUP=         unmeasured checks first (default: CALLGRIND_KEYS)
#   CALLGRIND_KEYS=10000      distinct keys, cycling
#   CALLGRIND_NGINX=1         also measure nginx limit_req
#   CALLGRIND_TOP=25          functions listed
#   BENCH_RESULTS_DIR=bench/results   callgrind files go to <it>/callgrind-<stamp>/
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

REQUESTS=${CALLGRIND_REQUESTS:-20000}
KEYS=${CALLGRIND_KEYS:-10000}
WARMUP=${CALLGRIND_WARMUP:-$KEYS}
WITH_NGINX=${CALLGRIND_NGINX:-1}
TOP=${CALLGRIND_TOP:-25}
for v in "$REQUESTS" "$KEYS" "$WARMUP" "$TOP"; do
    [[ "$v" =~ ^[0-9]+$ ]] || die "CALLGRIND_* settings must be integers (got '$v')"
done
[ "$REQUESTS" -gt 0 ] && [ "$KEYS" -gt 0 ] || die "CALLGRIND_REQUESTS and CALLGRIND_KEYS must be > 0"

command -v valgrind >/dev/null || need_packages valgrind
command -v curl >/dev/null || need_packages curl
if [ "$WITH_NGINX" = 1 ]; then
    command -v nginx >/dev/null || need_packages nginx
fi
need_commands valgrind callgrind_annotate python3 curl
need_ratewatch

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS_DIR=${BENCH_RESULTS_DIR:-$BENCH_DIR/results}
OUT_DIR="$RESULTS_DIR/callgrind-$STAMP"
mkdir -p "$OUT_DIR"
BENCH_TMP=$(mktemp -d /tmp/ratewatch-callgrind.XXXXXX)
chmod 755 "$BENCH_TMP"
trap bench_cleanup EXIT
trap 'exit 130' INT TERM
snapshot_ratewatch

# Client deadline: generous for valgrind's slowdown, but every step still ends by itself.
CLIENT_DEADLINE=$((300 + (REQUESTS + WARMUP) / 20))

client() { # PORT MODE COUNT TOKEN
    [ "$3" -gt 0 ] || return 0
    python3 "$BENCH_DIR/check_client.py" --port "$1" --mode "$2" --requests "$3" \
        --keys "$KEYS" --token "$4" --deadline "$CLIENT_DEADLINE"
}

total_ir() { # CALLGRIND_OUT
    local total
    total=$(grep -m1 '^totals:' "$1" | awk '{print $2}')
    [ -n "$total" ] || total=$(grep -m1 '^summary:' "$1" | awk '{print $2}')
    [ -n "$total" ] && [ "$total" -gt 0 ] || die "no instructions counted in $1"
    echo "$total"
}

# run_ratewatch TAG COUNT: one run under callgrind serving COUNT checks; prints total Ir.
run_ratewatch() {
    local tag=$1 count=$2 port out="$OUT_DIR/ratewatch-$1.callgrind"
    port=$(free_port)
    start_ratewatch "$port" "$OUT_DIR/ratewatch-$tag.log" valgrind --tool=callgrind \
        --toggle-collect=h2o_evloop_run --callgrind-out-file="$out"
    wait_http "http://127.0.0.1:$port/health" 120 "$RW_PID" ||
        die "RateWatch under valgrind did not come up: $(tail -n 5 "$OUT_DIR/ratewatch-$tag.log")"
    client "$port" ratewatch "$count" "$BENCH_API_KEY" ||
        die "the checks against RateWatch (run $tag) failed"
    stop_pid "$RW_PID" 120
    forget_pid "$RW_PID"
    total_ir "$out" >/dev/null
}

run_nginx() { # TAG COUNT
    local tag=$1 count=$2 port out="$OUT_DIR/nginx-$1.callgrind" prefix="$BENCH_TMP/nginx-$1"
    port=$(free_port)
    write_nginx_conf "$prefix" "$port" off
    start_nginx "$prefix" valgrind --tool=callgrind \
        --toggle-collect=ngx_process_events_and_timers --callgrind-out-file="$out"
    wait_http "http://127.0.0.1:$port/" 120 "$NGINX_PID" ||
        die "nginx under valgrind did not come up: $(tail -n 5 "$prefix/logs/error.log")"
    client "$port" nginx "$count" "" || die "the checks against nginx (run $tag) failed"
    stop_pid "$NGINX_PID" 120
    forget_pid "$NGINX_PID"
    cp "$prefix/logs/error.log" "$OUT_DIR/nginx-$tag-error.log" 2>/dev/null || true
    total_ir "$out" >/dev/null
}

annotate() { # NAME: per-function listings of runs A and B, own and inclusive
    local name=$1 run mode
    for run in A B; do
        for mode in self inclusive; do
            callgrind_annotate --inclusive=$([ $mode = self ] && echo no || echo yes) \
                --threshold=100 "$OUT_DIR/$name-$run.callgrind" \
                >"$OUT_DIR/$name-$run-$mode.txt" 2>&1 ||
                die "callgrind_annotate failed on $OUT_DIR/$name-$run.callgrind"
        done
    done
}

say "callgrind: run A $WARMUP checks, run B $WARMUP + $REQUESTS checks, over $KEYS keys"
issue_api_key

say "RateWatch, run A ..."
run_ratewatch A "$WARMUP"
say "RateWatch, run B ..."
run_ratewatch B $((WARMUP + REQUESTS))
annotate ratewatch
if [ "$WITH_NGINX" = 1 ]; then
    say "nginx, run A ..."
    run_nginx A "$WARMUP"
    say "nginx, run B ..."
    run_nginx B $((WARMUP + REQUESTS))
    annotate nginx
fi

export STAMP REQUESTS WARMUP KEYS TOP WITH_NGINX BENCH_AUTH OUT_DIR
python3 "$BENCH_DIR/callgrind_report.py"
echo "callgrind files and full listings: $OUT_DIR/"
