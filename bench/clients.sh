#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 OR MIT
# `make bench`, client part: what the Python client adds per check over a bare HTTP POST on
# a kept-alive connection, sync and async (bench/client_python.py), against a release
# server this script starts on a free loopback port and stops.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_DIR"

VENV=${VENV:-$REPO_DIR/build/venv}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check -r tests/requirements.txt \
    -e clients/python >/dev/null
need_ratewatch

BENCH_TMP=$(mktemp -d /tmp/ratewatch-bench-clients.XXXXXX)
trap bench_cleanup EXIT
trap 'exit 130' INT TERM
snapshot_ratewatch
issue_api_key
PORT=$(free_port)
start_ratewatch "$PORT" "$BENCH_TMP/ratewatch.log"
wait_http "http://127.0.0.1:$PORT/health" 20 "$RW_PID" || die "RateWatch did not start"

printf '\nPython client overhead per check (median of per-round differences)\n'
"$VENV/bin/python" bench/client_python.py --url "http://127.0.0.1:$PORT" \
    --api-key "$BENCH_API_KEY" --iterations "${BENCH_CLIENT_ITERATIONS:-3000}" \
    --rounds "${BENCH_CLIENT_ROUNDS:-6}" --max-seconds 120 --in-process \
    --json "${BENCH_RESULTS_DIR:-$BENCH_DIR/results}/client-python-latest.json"
