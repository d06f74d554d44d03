#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 OR MIT
# `make bench`, the cost of two features on the check path, in instructions counted by
# callgrind (repeatable whatever else the machine does) and, for authentication, in time:
#   metrics and logging: the default build against one built with RATEWATCH_METRICS=OFF
#     (counting and the access-log test compiled out), same load;
#   authentication: instructions per check inside auth_request_or_respond (a key the worker
#     has verified before), and the time to verify a key it has not (bench/auth_cost.c).
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_DIR"

NOMETRICS_BUILD=${NOMETRICS_BUILD:-build-nometrics}
REQUESTS=${CALLGRIND_REQUESTS:-10000}
RESULTS_DIR=${BENCH_RESULTS_DIR:-$BENCH_DIR/results}

cmake -S . -B "$NOMETRICS_BUILD" -DCMAKE_BUILD_TYPE=Release -DRATEWATCH_METRICS=OFF >/dev/null
cmake --build "$NOMETRICS_BUILD" -j "$(nproc)" --target ratewatch >/dev/null
cmake --build build -j "$(nproc)" --target bench_auth_cost >/dev/null

per_check() { # BINARY LOG: instructions per check from bench/callgrind.sh
    RATEWATCH_BIN=$1 CALLGRIND_NGINX=0 CALLGRIND_REQUESTS=$REQUESTS CALLGRIND_TOP=5 \
        "$BENCH_DIR/callgrind.sh" >"$2" 2>&1 || { cat "$2" >&2; die "callgrind.sh failed"; }
    awk '/^RateWatch: / { print $2 }' "$2"
}

LOG_DIR=$(mktemp -d /tmp/ratewatch-costs.XXXXXX)
trap 'rm -rf "$LOG_DIR"' EXIT
ON=$(per_check "$REPO_DIR/build/ratewatch" "$LOG_DIR/on.txt")
ON_DIR=$(ls -td "$RESULTS_DIR"/callgrind-* | head -1)
OFF=$(per_check "$REPO_DIR/$NOMETRICS_BUILD/ratewatch" "$LOG_DIR/off.txt")

auth_incl() { # RUN: inclusive instructions of auth_request_or_respond in run A or B
    awk '/:auth_request_or_respond / { gsub(",", "", $1); print $1; exit }' \
        "$ON_DIR/ratewatch-$1-inclusive.txt"
}
AUTH_HIT=$(( ($(auth_incl B) - $(auth_incl A)) / REQUESTS ))
AUTH_MISS=$("$REPO_DIR/build/bench_auth_cost" 1000000)

printf '\nCost of features on the check path (callgrind, %s checks)\n' "$REQUESTS"
printf '  metrics and logging on (default):  %s instructions per check\n' "$ON"
printf '  metrics and logging compiled out:  %s instructions per check\n' "$OFF"
printf '  on / off:                          %s\n' \
    "$(python3 -c "print(f'{$ON / $OFF:.3f}x ({$ON - $OFF:+d} instructions)')")"
printf '  authentication, known key:         %s instructions per check\n' "$AUTH_HIT"
printf '  %s\n' "$AUTH_MISS"
mkdir -p "$RESULTS_DIR"
cat >"$RESULTS_DIR/costs-latest.json" <<JSON
{"date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)", "instructions_per_check_metrics_on": $ON,
 "instructions_per_check_metrics_off": $OFF, "auth_known_key_instructions": $AUTH_HIT,
 "auth_unknown_key": "$AUTH_MISS"}
JSON
