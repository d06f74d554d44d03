#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 OR MIT
# `make bench`, Redis part: how hard RateWatch drives Redis, against redis-benchmark running
# the same Lua script (EVALSHA, pipeline 16, the same number of keys) in the same run.
# Redis is pinned to its own core; the load (redis-benchmark, or wrk + RateWatch) to the
# other. Measured for both: checks per second, and Redis CPU per check (utime+stime of the
# redis-server process before and after, divided by the checks done).
#
# Settings: BENCH_DURATION (10 s; BENCH_QUICK=1: 3 s), BENCH_REDIS_CONNECTIONS (256), BENCH_KEYS
# (10000), BENCH_REDIS_CPU (1), BENCH_LOAD_CPU (0), RATEWATCH_BIN (build/ratewatch).
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

if [ "${BENCH_QUICK:-0}" = 1 ]; then DURATION=${BENCH_DURATION:-3}; else DURATION=${BENCH_DURATION:-10}; fi
CONNECTIONS=${BENCH_REDIS_CONNECTIONS:-256}
KEYS=${BENCH_KEYS:-10000}
REDIS_CPU=${BENCH_REDIS_CPU:-1}
LOAD_CPU=${BENCH_LOAD_CPU:-0}
RESULTS_DIR=${BENCH_RESULTS_DIR:-$BENCH_DIR/results}

command -v redis-server >/dev/null || need_packages redis-server
command -v redis-benchmark >/dev/null || need_packages redis-tools
command -v wrk >/dev/null || need_packages wrk
need_commands redis-server redis-cli redis-benchmark wrk taskset python3 curl
need_ratewatch

CLK_TCK=$(getconf CLK_TCK)
BENCH_TMP=$(mktemp -d /tmp/ratewatch-bench-redis.XXXXXX)
trap bench_cleanup EXIT
trap 'exit 130' INT TERM
snapshot_ratewatch

cpu_ticks() { # PID: utime + stime
    awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}

REDIS_PORT=$(free_port)
taskset -c "$REDIS_CPU" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' \
    --appendonly no --logfile "$BENCH_TMP/redis.log" &
REDIS_PID=$!
BENCH_PIDS+=("$REDIS_PID")
for _ in $(seq 50); do
    redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
    sleep 0.1
done
R() { redis-cli -p "$REDIS_PORT" "$@"; }

SHA=$(R SCRIPT LOAD "$(cat "$REPO_DIR/src/store/lua/sliding_window.lua")")

# --- the reference: the script alone, as fast as Redis runs it ------------------------------
# Each call is what RateWatch sends for a check without user_id: one counter, one subject
# index, the limit, the window, the cost, no time, the index member.
REQUESTS=$((DURATION * 60000))
before=$(cpu_ticks "$REDIS_PID")
start=$(date +%s.%N)
timeout $((DURATION * 10 + 60)) taskset -c "$LOAD_CPU" redis-benchmark -p "$REDIS_PORT" -q \
    -c "$CONNECTIONS" -P 16 -n "$REQUESTS" -r "$KEYS" --csv \
    EVALSHA "$SHA" 2 'rw:{bench}:c:__rand_int__' 'rw:{bench}:s:__rand_int__' 1000000000 60000 1 \
    '' '0:60000:__rand_int__' >"$BENCH_TMP/redis-benchmark.csv"
end=$(date +%s.%N)
after=$(cpu_ticks "$REDIS_PID")
REF_RPS=$(python3 -c "print(round($REQUESTS / ($end - $start)))")
REF_CPU_US=$(python3 -c "print(round(($after - $before) / $CLK_TCK / $REQUESTS * 1e6, 2))")

# The same without pipelining, for scale: what one round trip per call costs Redis.
R FLUSHALL >/dev/null
before=$(cpu_ticks "$REDIS_PID")
timeout $((DURATION * 20 + 60)) taskset -c "$LOAD_CPU" redis-benchmark -p "$REDIS_PORT" -q \
    -c "$CONNECTIONS" -P 1 -n "$((REQUESTS / 4))" -r "$KEYS" --csv \
    EVALSHA "$SHA" 2 'rw:{bench}:c:__rand_int__' 'rw:{bench}:s:__rand_int__' 1000000000 60000 1 \
    '' '0:60000:__rand_int__' >/dev/null
after=$(cpu_ticks "$REDIS_PID")
REF1_CPU_US=$(python3 -c "print(round(($after - $before) / $CLK_TCK / ($REQUESTS / 4) * 1e6, 2))")

# --- RateWatch on the same Redis -------------------------------------------------------------
R FLUSHALL >/dev/null
issue_api_key
RW_PORT=$(free_port)
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
start_ratewatch "$RW_PORT" "$BENCH_TMP/ratewatch.log" taskset -c "$LOAD_CPU"
wait_http "http://127.0.0.1:$RW_PORT/health/ready" 20 "$RW_PID" || die "RateWatch did not get ready"

run_load() { # SECONDS OUTFILE
    timeout $(($1 + 60)) taskset -c "$LOAD_CPU" wrk -t 1 -c "$CONNECTIONS" -d "${1}s" \
        -s "$BENCH_DIR/wrk-keys.lua" "http://127.0.0.1:$RW_PORT" -- ratewatch "$KEYS" \
        "$BENCH_API_KEY" >"$2"
}
run_load 2 "$BENCH_TMP/warmup.txt"
before=$(cpu_ticks "$REDIS_PID")
calls_before=$(R INFO commandstats | grep -o 'cmdstat_evalsha:calls=[0-9]*' | cut -d= -f2)
run_load "$DURATION" "$BENCH_TMP/wrk.txt"
after=$(cpu_ticks "$REDIS_PID")
calls_after=$(R INFO commandstats | grep -o 'cmdstat_evalsha:calls=[0-9]*' | cut -d= -f2)
RW_RPS=$(awk '/Requests\/sec/ { printf "%d", $2 }' "$BENCH_TMP/wrk.txt")
NON2XX=$(awk '/Non-2xx/ { print $5 }' "$BENCH_TMP/wrk.txt")
CHECKS=$((calls_after - calls_before))
RW_CPU_US=$(python3 -c "print(round(($after - $before) / $CLK_TCK / max($CHECKS, 1) * 1e6, 2))")
DEGRADED=$(curl -s "http://127.0.0.1:$RW_PORT/metrics" |
    awk '/^ratewatch_checks_total.*outcome="degraded"/ { s += $2 } END { print s + 0 }')

mkdir -p "$RESULTS_DIR"
python3 - "$RESULTS_DIR/redis-latest.json" <<PY
import json, sys
r = {"date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)", "duration_s": $DURATION,
     "connections": $CONNECTIONS, "keys": $KEYS,
     "redis_benchmark": {"checks_per_s": $REF_RPS, "redis_cpu_us_per_check": $REF_CPU_US},
     "redis_benchmark_unpipelined": {"redis_cpu_us_per_check": $REF1_CPU_US},
     "ratewatch": {"checks_per_s": $RW_RPS, "evalsha_calls": $CHECKS,
                   "redis_cpu_us_per_check": $RW_CPU_US, "non_2xx": ${NON2XX:-0},
                   "degraded": $DEGRADED},
     "ratio_checks_per_s": round($RW_RPS / $REF_RPS, 3),
     "ratio_redis_cpu_per_check": round($RW_CPU_US / $REF_CPU_US, 3)}
json.dump(r, open(sys.argv[1], "w"), indent=2)
PY

printf '\nRedis store (Redis on core %s; load and RateWatch on core %s; %s s)\n' \
    "$REDIS_CPU" "$LOAD_CPU" "$DURATION"
printf '%-34s %12s %22s\n' "" "checks/s" "Redis CPU us/check"
printf '%-34s %12s %22s\n' "redis-benchmark EVALSHA -P 16" "$REF_RPS" "$REF_CPU_US"
printf '%-34s %12s %22s\n' "redis-benchmark EVALSHA -P 1" "" "$REF1_CPU_US"
printf '%-34s %12s %22s\n' "RateWatch (wrk -> HTTP -> Redis)" "$RW_RPS" "$RW_CPU_US"
printf '%-34s %12s %22s\n' "RateWatch / redis-benchmark" \
    "$(python3 -c "print(f'{$RW_RPS / $REF_RPS:.2f}x')")" \
    "$(python3 -c "print(f'{$RW_CPU_US / $REF_CPU_US:.2f}x')")"
printf 'EVALSHA calls during the run: %s; non-2xx: %s; degraded answers: %s\n' \
    "$CHECKS" "${NON2XX:-0}" "$DEGRADED"
