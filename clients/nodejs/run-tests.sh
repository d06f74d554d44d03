#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 OR MIT
# The Node.js client's suite, as `make test` runs it: install, build, unit and integration
# tests (node --test), then the end-to-end smoke script against a server started here on a
# free loopback port. RATEWATCH_BIN names the server binary. Exits non-zero on any failure;
# every step is bounded in time.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

if [ -n "${RATEWATCH_BIN:-}" ]; then
    bin=$(realpath -- "$RATEWATCH_BIN") || { echo "run-tests.sh: no such file: $RATEWATCH_BIN" >&2; exit 1; }
elif [ -x "$repo/build-san/ratewatch" ]; then
    bin=$repo/build-san/ratewatch
else
    bin=$repo/build/ratewatch
fi
if [ ! -x "$bin" ]; then
    echo "run-tests.sh: no server binary at $bin; build it or set RATEWATCH_BIN" >&2
    exit 1
fi
export RATEWATCH_BIN=$bin
cd "$here"

workdir=$(mktemp -d "${TMPDIR:-/tmp}/ratewatch-node.XXXXXX")
server_pid=
cleanup() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -KILL "$server_pid" 2>/dev/null
        wait "$server_pid" 2>/dev/null
    fi
    rm -rf "$workdir"
}
trap cleanup EXIT

echo "--- npm ci"
if ! timeout 600 npm ci --no-audit --no-fund --loglevel=error >"$workdir/npm-ci.log" 2>&1; then
    cat "$workdir/npm-ci.log" >&2
    echo "run-tests.sh: npm ci failed" >&2
    exit 1
fi

echo "--- npm run build"
timeout 300 npm run --silent build || { echo "run-tests.sh: build failed" >&2; exit 1; }

failed=0

echo "--- npm test (server: $bin)"
if ! timeout 900 npm test --silent; then
    echo "run-tests.sh: npm test failed" >&2
    failed=1
fi

echo "--- test_client.js against a fresh server"
smoke() {
    local secret port key i
    secret=$(node -e 'process.stdout.write(require("crypto").randomBytes(32).toString("hex"))') || return 1
    port=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{process.stdout.write(String(s.address().port));s.close()})') ||
        return 1
    if ! key=$(API_KEY_SECRET=$secret timeout 30 "$bin" keys issue --tenant nodetest 2>"$workdir/keys.log" | head -n 1) ||
        [[ $key != rw_* ]]; then
        echo "run-tests.sh: 'ratewatch keys issue --tenant nodetest' did not print a key:" >&2
        cat "$workdir/keys.log" >&2
        return 1
    fi

    PORT=$port RATEWATCH_WORKERS=1 API_KEY_SECRET=$secret "$bin" >"$workdir/server.log" 2>&1 &
    server_pid=$!
    for ((i = 0; i < 200; i++)); do
        if ! kill -0 "$server_pid" 2>/dev/null; then
            echo "run-tests.sh: the server exited at start:" >&2
            cat "$workdir/server.log" >&2
            return 1
        fi
        if node -e 'fetch(process.argv[1],{signal:AbortSignal.timeout(1000)}).then(r=>process.exit(r.status===200?0:1),()=>process.exit(1))' \
            "http://127.0.0.1:$port/health"; then
            break
        fi
        sleep 0.1
    done
    if ((i == 200)); then
        echo "run-tests.sh: the server did not become healthy:" >&2
        cat "$workdir/server.log" >&2
        return 1
    fi

    local rc=0
    RATEWATCH_URL=http://127.0.0.1:$port RATEWATCH_API_KEY=$key timeout 180 node test_client.js || rc=1

    kill -TERM "$server_pid"
    local status stopped=0
    for ((i = 0; i < 200; i++)); do
        if ! kill -0 "$server_pid" 2>/dev/null; then stopped=1; break; fi
        sleep 0.1
    done
    if ((stopped == 0)); then
        echo "run-tests.sh: the server did not stop within 20 s of SIGTERM" >&2
        rc=1
    else
        wait "$server_pid"
        status=$?
        server_pid=
        if ((status != 0)); then
            echo "run-tests.sh: the server exited with $status after SIGTERM:" >&2
            cat "$workdir/server.log" >&2
            rc=1
        fi
    fi
    return $rc
}
if ! smoke; then
    echo "run-tests.sh: test_client.js failed" >&2
    failed=1
fi

if ((failed)); then
    echo "run-tests.sh: FAILED"
    exit 1
fi
echo "run-tests.sh: all Node.js client tests passed"
