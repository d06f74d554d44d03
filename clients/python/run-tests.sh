#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 OR MIT
# The Python client's tests, as `make test` runs them:
#   1. the pytest suite (unit tests, and tests against the real server that its fixtures
#      start and stop themselves);
#   2. test_client.py, the end-to-end smoke script, against a server this script starts on
#      a free loopback port with a freshly issued key, then stops with SIGTERM.
# Exits non-zero if either fails or the server does not stop cleanly.
#
# Environment:
#   RATEWATCH_BIN  the server binary (default: build-san/ratewatch if built, else build/ratewatch)
#   VENV           a venv where `pip install -e clients/python[test]` was done (default: the
#                  python3 on PATH, which must then have the package and pytest)
#   PYTEST_TIMEOUT, SMOKE_TIMEOUT  seconds allowed for each part (default 600, 120)
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

if [ -z "${RATEWATCH_BIN:-}" ]; then
    if [ -x "$ROOT/build-san/ratewatch" ]; then
        RATEWATCH_BIN=$ROOT/build-san/ratewatch
    else
        RATEWATCH_BIN=$ROOT/build/ratewatch
    fi
fi
export RATEWATCH_BIN
# As `make test` sets them: sanitizer reports fail the run, known library leaks do not.
if [ -z "${LSAN_OPTIONS:-}" ] && [ -f "$ROOT/tests/lsan.supp" ]; then
    export LSAN_OPTIONS=suppressions=$ROOT/tests/lsan.supp
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:exitcode=66}
abspath() { case "$1" in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
RATEWATCH_BIN=$(abspath "$RATEWATCH_BIN") # relative paths are the caller's, and we cd
if [ -n "${VENV:-}" ]; then
    PY=$(abspath "$VENV")/bin/python
else
    PY=$(command -v python3)
fi
PYTEST_TIMEOUT=${PYTEST_TIMEOUT:-600}
SMOKE_TIMEOUT=${SMOKE_TIMEOUT:-120}

[ -x "$RATEWATCH_BIN" ] || { echo "run-tests.sh: no server binary at $RATEWATCH_BIN" >&2; exit 2; }
[ -x "$PY" ] || { echo "run-tests.sh: no python at $PY" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ratewatch-python.XXXXXX")
SERVER_PID=
cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -KILL "$SERVER_PID" 2>/dev/null
        wait "$SERVER_PID" 2>/dev/null
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

failed=()

# -- 1. pytest ------------------------------------------------------------------------------
echo "--- pytest (clients/python/tests, server $RATEWATCH_BIN)"
(cd "$HERE" && timeout -k 10 "$PYTEST_TIMEOUT" "$PY" -m pytest -q -p no:cacheprovider tests)
rc=$?
[ $rc -eq 0 ] || failed+=("pytest (exit $rc)")

# -- 2. test_client.py against a server started here ------------------------------------------
echo "--- test_client.py"
smoke() {
    local port secret key
    port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])') ||
        return 1
    secret=$("$PY" -c 'import secrets; print(secrets.token_hex(32))') || return 1
    mkdir -p "$WORK/data"

    PORT=$port RATEWATCH_WORKERS=1 API_KEY_SECRET=$secret RATEWATCH_DATA_DIR=$WORK/data \
        "$RATEWATCH_BIN" >"$WORK/server.log" 2>&1 &
    SERVER_PID=$!

    local url=http://127.0.0.1:$port
    # Healthy within 15 s, or give up (one python process polls: no start-up cost per try).
    if ! "$PY" - "$url" "$SERVER_PID" <<'EOF'; then
import os, sys, time, httpx
deadline = time.monotonic() + 15
while time.monotonic() < deadline:
    try:
        if httpx.get(sys.argv[1] + "/health", timeout=1).status_code == 200:
            sys.exit(0)
    except httpx.TransportError:
        pass
    try:
        os.kill(int(sys.argv[2]), 0)
    except OSError:
        sys.exit("the server exited before it was healthy")
    time.sleep(0.1)
sys.exit("the server was not healthy within 15 s")
EOF
        cat "$WORK/server.log"; return 1
    fi

    key=$(API_KEY_SECRET=$secret RATEWATCH_DATA_DIR=$WORK/data timeout 30 "$RATEWATCH_BIN" keys issue --tenant smoke 2>"$WORK/keys.err" | head -n 1)
    if [[ "$key" != rw_* ]]; then
        echo "\`ratewatch keys issue\` printed no key: $(cat "$WORK/keys.err")"
        # go on without one: the smoke test then reports what fails because of it
        key=
    fi

    local status=0
    (cd "$HERE" && RATEWATCH_URL=$url RATEWATCH_API_KEY=$key timeout -k 5 "$SMOKE_TIMEOUT" "$PY" test_client.py) ||
        status=1

    kill -TERM "$SERVER_PID"
    local waited=0
    while kill -0 "$SERVER_PID" 2>/dev/null && [ $waited -lt 200 ]; do # 20 s at most
        sleep 0.1; waited=$((waited + 1))
    done
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "the server did not stop within 20 s of SIGTERM"; status=1
    else
        wait "$SERVER_PID"; local code=$?
        if [ $code -ne 0 ]; then
            echo "the server exited with status $code after SIGTERM:"; tail -n 40 "$WORK/server.log"; status=1
        fi
    fi
    SERVER_PID=
    return $status
}
smoke || failed+=("test_client.py")

echo
if [ ${#failed[@]} -eq 0 ]; then
    echo "python client: all passed"
    exit 0
fi
echo "python client: FAILED: ${failed[*]}"
exit 1
