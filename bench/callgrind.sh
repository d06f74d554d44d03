#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 OR MIT
# Instructions per check request, counted by valgrind's callgrind: a figure that does not
# depend on how busy the machine is, unlike the timings of bench/run.sh.
#
# The release binary runs under callgrind with instrumentation off. A bounded client
# (bench/check_client.py) first sends CALLGRIND_WARMUP checks (by default one per key, so
# every counter exists), then instrumentation is switched on for exactly CALLGRIND_REQUESTS
# checks, one keep-alive connection, one request at a time, and off again. The instructions
# counted (user space only: the kernel's share is not seen) divided by the requests give
# instructions per request. nginx's limit_req (bench/nginx.conf.in, one process) is
# measured the same way for the ratio, unless CALLGRIND_NGINX=0.
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
need_commands valgrind callgrind_control callgrind_annotate python3 curl
need_ratewatch

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS_DIR=${BENCH_RESULTS_DIR:-$BENCH_DIR/results}
OUT_DIR="$RESULTS_DIR/callgrind-$STAMP"
mkdir -p "$OUT_DIR"
BENCH_TMP=$(mktemp -d /tmp/ratewatch-callgrind.XXXXXX)
chmod 755 "$BENCH_TMP"
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

# Client deadline: generous for valgrind's slowdown, but every step still ends by itself.
CLIENT_DEADLINE=$((120 + (REQUESTS + WARMUP) / 50))

client() { # PORT MODE COUNT TOKEN
    python3 "$BENCH_DIR/check_client.py" --port "$1" --mode "$2" --requests "$3" \
        --keys "$KEYS" --token "$4" --deadline "$CLIENT_DEADLINE"
}

callgrind_switch() { # PID on|off
    callgrind_control -i "$2" "$1" >"$BENCH_TMP/callgrind_control.out" 2>&1 || {
        cat "$BENCH_TMP/callgrind_control.out" >&2
        die "callgrind_control -i $2 failed for pid $1"
    }
}

total_ir() { # CALLGRIND_OUT
    local total
    total=$(grep -m1 '^totals:' "$1" | awk '{print $2}')
    [ -n "$total" ] || total=$(grep -m1 '^summary:' "$1" | awk '{print $2}')
    [ -n "$total" ] && [ "$total" -gt 0 ] || die "no instructions counted in $1"
    echo "$total"
}

VALGRIND=(valgrind --tool=callgrind --instr-atstart=no --collect-jumps=no)

say "callgrind: $WARMUP warm-up checks, then $REQUESTS measured checks over $KEYS keys"
issue_api_key

# RateWatch.
port=$(free_port)
RW_OUT="$OUT_DIR/ratewatch.callgrind"
start_ratewatch "$port" "$OUT_DIR/ratewatch.log" "${VALGRIND[@]}" --callgrind-out-file="$RW_OUT"
wait_http "http://127.0.0.1:$port/health" 120 "$RW_PID" ||
    die "RateWatch under valgrind did not come up: $(tail -n 5 "$OUT_DIR/ratewatch.log")"
[ "$WARMUP" -eq 0 ] || client "$port" ratewatch "$WARMUP" "$BENCH_API_KEY" ||
    die "the warm-up against RateWatch failed"
callgrind_switch "$RW_PID" on
client "$port" ratewatch "$REQUESTS" "$BENCH_API_KEY" || die "the measured checks against RateWatch failed"
callgrind_switch "$RW_PID" off
stop_pid "$RW_PID" 60
forget_pid "$RW_PID"
RW_IR=$(total_ir "$RW_OUT")

# nginx limit_req: one process (master_process off), the same requests with X-Key.
if [ "$WITH_NGINX" = 1 ]; then
    prefix="$BENCH_TMP/nginx"
    port=$(free_port)
    write_nginx_conf "$prefix" "$port" off
    NG_OUT="$OUT_DIR/nginx.callgrind"
    start_nginx "$prefix" "${VALGRIND[@]}" --callgrind-out-file="$NG_OUT"
    wait_http "http://127.0.0.1:$port/" 120 "$NGINX_PID" ||
        die "nginx under valgrind did not come up: $(tail -n 5 "$prefix/logs/error.log")"
    [ "$WARMUP" -eq 0 ] || client "$port" nginx "$WARMUP" "" || die "the warm-up against nginx failed"
    callgrind_switch "$NGINX_PID" on
    client "$port" nginx "$REQUESTS" "" || die "the measured checks against nginx failed"
    callgrind_switch "$NGINX_PID" off
    stop_pid "$NGINX_PID" 60
    forget_pid "$NGINX_PID"
    cp "$prefix/logs/error.log" "$OUT_DIR/nginx-error.log" 2>/dev/null || true
    NG_IR=$(total_ir "$NG_OUT")
fi

callgrind_annotate --inclusive=no --threshold=100 "$RW_OUT" >"$OUT_DIR/ratewatch-self.txt" 2>&1 || true
callgrind_annotate --inclusive=yes --threshold=100 "$RW_OUT" >"$OUT_DIR/ratewatch-inclusive.txt" 2>&1 || true

# Functions by self cost, as instructions per request and share of the total.
top_functions() { # ANNOTATE_FILE TOTAL
    awk -v total="$2" -v n="$REQUESTS" -v top="$TOP" '
        /^-+$/ { dashes++; next }
        dashes >= 3 && NF >= 2 && $1 ~ /^[0-9,]+$/ {
            ir = $1; gsub(",", "", ir)
            name = $0; sub(/^ *[0-9,]+ +(\([^)]*\) +)?/, "", name)
            printf "  %10.0f  %5.1f%%  %s\n", ir / n, 100 * ir / total, name
            if (++shown >= top) exit
        }' "$1"
}

echo
printf 'RateWatch:        %12.0f instructions per check  (%s in %s checks)\n' \
    "$(awk -v a="$RW_IR" -v n="$REQUESTS" 'BEGIN { print a / n }')" "$RW_IR" "$REQUESTS"
if [ "$WITH_NGINX" = 1 ]; then
    printf 'nginx limit_req:  %12.0f instructions per check  (%s in %s checks)\n' \
        "$(awk -v a="$NG_IR" -v n="$REQUESTS" 'BEGIN { print a / n }')" "$NG_IR" "$REQUESTS"
    printf 'RateWatch/nginx:  %12.2fx\n' "$(awk -v a="$RW_IR" -v b="$NG_IR" 'BEGIN { print a / b }')"
fi
echo
echo "RateWatch, top $TOP functions by own instructions (per check, share):"
top_functions "$OUT_DIR/ratewatch-self.txt" "$RW_IR"
echo
echo "callgrind files and full listings: $OUT_DIR/"

python3 - "$OUT_DIR/summary.json" <<EOF
import json, sys
out = {"stamp": "$STAMP", "requests": $REQUESTS, "warmup": $WARMUP, "keys": $KEYS,
       "auth": "$BENCH_AUTH", "ratewatch_ir": $RW_IR,
       "ratewatch_ir_per_request": $RW_IR / $REQUESTS}
if "$WITH_NGINX" == "1":
    out["nginx_ir"] = ${NG_IR:-0}
    out["nginx_ir_per_request"] = ${NG_IR:-0} / $REQUESTS
    out["ratio"] = $RW_IR / ${NG_IR:-1}
json.dump(out, open(sys.argv[1], "w"), indent=2)
EOF
