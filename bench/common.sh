# SPDX-License-Identifier: Apache-2.0 OR MIT
# Helpers shared by bench/run.sh and bench/callgrind.sh; sourced, not run.
# Every server these helpers start is recorded in BENCH_PIDS and stopped by bench_cleanup,
# by its own process id, on any exit.

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$BENCH_DIR/.." && pwd)"
RATEWATCH_BIN="${RATEWATCH_BIN:-$REPO_DIR/build/ratewatch}"
BENCH_PIDS=()

say() { printf '%s\n' "$*"; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

# Installs Debian packages that are missing (root, or sudo), and only those.
need_packages() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing Debian packages: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
}

need_commands() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null || die "'$c' is not installed"
    done
}

need_ratewatch() {
    [ -x "$RATEWATCH_BIN" ] || die "$RATEWATCH_BIN is missing: run 'make build' first"
}

# Copies the binary into BENCH_TMP and uses the copy from then on, so that a rebuild in the
# work tree during the run cannot change the server half-way. Sets RATEWATCH_SHA256.
snapshot_ratewatch() {
    cp "$RATEWATCH_BIN" "$BENCH_TMP/ratewatch"
    RATEWATCH_SHA256=$(sha256sum "$BENCH_TMP/ratewatch" | cut -c1-16)
    RATEWATCH_BIN="$BENCH_TMP/ratewatch"
}

# A TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# wait_http URL SECONDS [PID]: until URL answers 200; fails if PID dies or time runs out.
wait_http() {
    local url=$1 secs=$2 pid=${3:-} deadline=$((SECONDS + $2))
    while [ $SECONDS -lt "$deadline" ]; do
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
            return 1
        fi
        [ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$url")" = 200 ] && return 0
        sleep 0.1
    done
    return 1
}

# stop_pid PID [SECONDS]: SIGTERM, then SIGKILL if it has not gone after SECONDS (default 10).
stop_pid() {
    local pid=$1 secs=${2:-10} i
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < secs * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "bench: process $pid did not stop on SIGTERM within ${secs}s; sending SIGKILL" >&2
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

bench_cleanup() {
    local pid
    for pid in "${BENCH_PIDS[@]}"; do
        stop_pid "$pid" 5
    done
    BENCH_PIDS=()
    if [ -n "${BENCH_TMP:-}" ] && [ -d "$BENCH_TMP" ]; then
        rm -rf "$BENCH_TMP"
    fi
}

forget_pid() {
    local keep=() p
    for p in "${BENCH_PIDS[@]}"; do
        [ "$p" = "$1" ] || keep+=("$p")
    done
    BENCH_PIDS=("${keep[@]}")
}

# Obtains an API key for tenant "bench" into BENCH_API_KEY, with BENCH_API_SECRET as the
# server's secret. Leaves BENCH_API_KEY empty, and BENCH_AUTH=none, only when
# `ratewatch keys issue` exits non-zero (a build from before API keys).
issue_api_key() {
    BENCH_API_SECRET="${BENCH_API_SECRET:-$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')}"
    local out rc=0
    out="$(API_KEY_SECRET="$BENCH_API_SECRET" "$RATEWATCH_BIN" keys issue --tenant bench \
        2>"$BENCH_TMP/keys-issue.err")" || rc=$?
    if [ $rc -eq 0 ]; then
        BENCH_API_KEY="$(printf '%s\n' "$out" | head -n 1)"
        [ -n "$BENCH_API_KEY" ] || die "'ratewatch keys issue' exited 0 but printed no key"
        BENCH_AUTH=bearer
        say "auth: sending 'Authorization: Bearer <key>' from 'ratewatch keys issue --tenant bench'"
    else
        BENCH_API_KEY=""
        BENCH_AUTH=none
        say "auth: NONE. 'ratewatch keys issue --tenant bench' exited $rc" \
            "($(head -c 200 "$BENCH_TMP/keys-issue.err" | tr '\n' ' ')); sending requests without" \
            "an Authorization header"
    fi
}

# start_ratewatch PORT LOGFILE [command prefix...]: starts RateWatch with one worker on
# 127.0.0.1 (in production mode when it has API keys) and sets RW_PID. The prefix
# (taskset, valgrind) is exec'd, so RW_PID is the server's own pid.
start_ratewatch() {
    local port=$1 log=$2
    shift 2
    (
        export PORT="$port" RATEWATCH_WORKERS=1 RATEWATCH_BIND=127.0.0.1
        export API_KEY_SECRET="$BENCH_API_SECRET"
        # With API keys, run as deployed; production mode is what requires the secret.
        [ "${BENCH_AUTH:-none}" = bearer ] && export RATEWATCH_ENV=production
        exec "$@" "$RATEWATCH_BIN" >>"$log" 2>&1
    ) &
    RW_PID=$!
    BENCH_PIDS+=("$RW_PID")
}

# write_nginx_conf PREFIX PORT MASTER_PROCESS(on|off): the config from bench/nginx.conf.in.
write_nginx_conf() {
    local prefix=$1 port=$2 master=$3
    mkdir -p "$prefix/tmp" "$prefix/html" "$prefix/logs"
    sed -e "s|@PREFIX@|$prefix|g" -e "s|@PORT@|$port|g" -e "s|@MASTER_PROCESS@|$master|g" \
        -e "s|@RATE@|${BENCH_NGINX_RATE:-16666r/s}|g" \
        "$BENCH_DIR/nginx.conf.in" >"$prefix/nginx.conf"
}

# start_nginx PREFIX [command prefix...]: runs nginx in the foreground; sets NGINX_PID.
start_nginx() {
    local prefix=$1
    shift
    (exec "$@" nginx -p "$prefix/" -e "$prefix/logs/error.log" -c "$prefix/nginx.conf" \
        >>"$prefix/logs/stdout.log" 2>&1) &
    NGINX_PID=$!
    BENCH_PIDS+=("$NGINX_PID")
}
