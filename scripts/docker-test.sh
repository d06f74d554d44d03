#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 OR MIT
# Builds the Dockerfile for real on this machine and tries the image, with no Docker engine:
#
#   1. a Debian 12 root from `debootstrap --variant=minbase bookworm`, through the mirror that
#      apt is configured with, kept in build/docker-base between runs;
#   2. `podman import`ed as debian:bookworm-slim (skipped while the cached import is there);
#   3. `podman build --isolation chroot --pull=never` of the unchanged Dockerfile;
#   4. the image mounted with `podman image mount`, and its binary run with `chroot` (running
#      containers fails here on cgroups and rlimits) as the image's user, with the image's
#      environment, on a free loopback port in production mode: /health, the image's own
#      HEALTHCHECK command, a real /v1/check with a key issued by the image's binary, SIGTERM.
#
# Podman keeps its images in a storage of this script's own, next to the base root, so that
# nothing in the machine's podman storage is touched and old layers can be pruned; to look at
# the image afterwards: podman --root build/docker-base/storage images.
#
# Exits non-zero on any failure; stops what it started and unmounts what it mounted; every
# step is bounded in time, and so is the whole run (DOCKER_TEST_TIMEOUT_S, 2700 s).
#
#   DOCKER_TEST_CACHE     where the base root and podman's storage are kept (build/docker-base)
#   DOCKER_TEST_IMAGE     the image it builds                (localhost/ratewatch:docker-test)
#   DOCKER_TEST_NO_CACHE  1: build without podman's layer cache
#   DOCKER_TEST_REFRESH   1: debootstrap the base root again
#   DEBIAN_MIRROR         the mirror to debootstrap from     (from apt's sources)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

# The whole run is bounded: the script runs itself under timeout(1), and every step has a
# bound of its own; on the signal the EXIT trap below stops the step and cleans up.
# (--foreground leaves the script in the terminal's process group, so Ctrl-C reaches it.)
LIMIT_S=${DOCKER_TEST_TIMEOUT_S:-2700}
if [ -z "${_DOCKER_TEST_BOUNDED:-}" ]; then
    export _DOCKER_TEST_BOUNDED=1
    exec timeout --foreground --kill-after=60 "$LIMIT_S" "$0" "$@"
fi

CACHE=${DOCKER_TEST_CACHE:-$ROOT/build/docker-base}
IMAGE=${DOCKER_TEST_IMAGE:-localhost/ratewatch:docker-test}
BASE_NAME=debian:bookworm-slim           # what the Dockerfile says FROM
BASE_REF=localhost/$BASE_NAME            # what podman calls an image imported under that name
BUILD_STAGE_IMAGE=$IMAGE-build-stage     # tagged to keep the build stage's layer cache
STORE=$CACHE/storage
RUNROOT=/run/ratewatch-docker-test
PM=(podman --root "$STORE" --runroot "$RUNROOT" --storage-driver overlay)
SECRET="docker-test-secret-$(date +%s)-0123456789abcdef"
START=$(date +%s)

log() { printf '[docker-test %4ss] %s\n' "$(($(date +%s) - START))" "$*"; }
die() { log "FAILED: $*"; exit 1; }

WORK=$(mktemp -d /tmp/ratewatch-docker-test.XXXXXX)
MOUNTED=""
DATA_MOUNT=""
SERVER_PID=""
STEP_PID=""

# Unmounts whatever is mounted under $1, deepest first (an interrupted debootstrap leaves its
# /proc, /sys and /dev mounts in the new root), then says whether anything is left.
unmount_under() {
    local m
    awk -v d="$1" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo |
        sort -r | while read -r m; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
    ! awk -v d="$1" '$5 == d || index($5, d "/") == 1 { found = 1 } END { exit !found }' \
        /proc/self/mountinfo
}

# Removes a directory tree of this script's, never crossing into a mounted file system.
remove_tree() {
    if unmount_under "$1"; then
        rm -rf --one-file-system "$1"
    else
        log "warning: $1 still has mounts under it; left in place"
    fi
}

# Runs a long step for at most $1 seconds, its output to the file $2. In the background, so
# that a signal to this script (the overall limit, Ctrl-C) interrupts the wait at once and
# the cleanup stops the step.
bounded() {
    local limit=$1 out=$2 rc=0
    shift 2
    timeout -k 10 "$limit" "$@" >>"$out" 2>&1 &
    STEP_PID=$!
    wait "$STEP_PID" || rc=$?
    STEP_PID=""
    return "$rc"
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$STEP_PID" ] && kill -0 "$STEP_PID" 2>/dev/null; then
        log "stopping the step in progress"
        kill -TERM "$STEP_PID" 2>/dev/null || true
        for _ in $(seq 150); do kill -0 "$STEP_PID" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$STEP_PID" 2>/dev/null || true
        wait "$STEP_PID" 2>/dev/null || true
        # An interrupted build leaves its working containers (and their mounts) behind; in
        # this script's own storage every container is one of its builds.
        for c in $(timeout 60 "${PM[@]}" ps -a --external -q 2>/dev/null); do
            timeout 60 "${PM[@]}" rm -f "$c" >/dev/null 2>&1 || log "warning: could not remove $c"
        done
    fi
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [ -n "$DATA_MOUNT" ]; then
        umount "$DATA_MOUNT" 2>/dev/null || umount -l "$DATA_MOUNT" 2>/dev/null ||
            log "warning: could not unmount $DATA_MOUNT"
    fi
    if [ -n "$MOUNTED" ]; then
        timeout --foreground -k 10 60 "${PM[@]}" image unmount "$IMAGE" >/dev/null 2>&1 ||
            log "warning: could not unmount $IMAGE"
    fi
    remove_tree "$WORK"
    if [ "$rc" -eq 0 ]; then log "passed"; else log "failed (exit $rc)"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'log "error: line $LINENO: $BASH_COMMAND"' ERR
trap 'exit 130' INT
trap 'exit 143' TERM

[ "$(id -u)" -eq 0 ] || die "run as root: debootstrap, podman image mount and chroot need it"

# ---- tools ------------------------------------------------------------------------------
need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v podman >/dev/null || need+=(podman)
command -v curl >/dev/null || need+=(curl)
command -v python3 >/dev/null || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    bounded 300 "$WORK/apt.log" apt-get update -qq || { cat "$WORK/apt.log"; die "apt-get update failed"; }
    bounded 600 "$WORK/apt.log" apt-get install -y -qq --no-install-recommends "${need[@]}" ||
        { tail -n 20 "$WORK/apt.log"; die "apt-get install ${need[*]} failed"; }
fi

# ---- the mirror apt is configured with --------------------------------------------------
# The first URI that serves the suite (one-line .list entries and deb822 .sources stanzas).
apt_uri_for() {
    local suite=$1 f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        case $f in
        *.sources)
            awk -v suite="$suite" '
                function flush() { if (deb && uri != "" && has) { print uri; found = 1; exit }
                                   deb = 0; uri = ""; has = 0 }
                /^[ \t]*$/ { flush(); next }
                /^[ \t]*#/ { next }
                tolower($1) == "types:"  { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
                tolower($1) == "uris:"   { uri = $2 }
                tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == suite) has = 1 }
                tolower($1) == "enabled:" && tolower($2) == "no" { deb = 0 }
                END { if (!found) flush() }' "$f"
            ;;
        *)
            awk -v suite="$suite" '
                $1 == "deb" { i = 2; if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
                              if ($(i + 1) == suite) { print $i; exit } }' "$f"
            ;;
        esac
    done | sed -n 1p
}
MIRROR=${DEBIAN_MIRROR:-$(apt_uri_for bookworm)}
SECURITY=${DEBIAN_SECURITY_MIRROR:-$(apt_uri_for bookworm-security)}
[ -n "$MIRROR" ] || die "no apt source serves bookworm (set DEBIAN_MIRROR)"
[ -n "$SECURITY" ] || SECURITY=${MIRROR%/debian}/debian-security
log "mirror $MIRROR, security $SECURITY"

# ---- the base root, kept between runs ---------------------------------------------------
mkdir -p "$CACHE"
TARBALL=$CACHE/bookworm-minbase.tar
if [ "${DOCKER_TEST_REFRESH:-0}" = 1 ] || [ ! -s "$TARBALL" ]; then
    log "debootstrap --variant=minbase bookworm (about a minute, once)"
    rootfs=$WORK/rootfs
    if ! bounded 1200 "$WORK/debootstrap.log" \
            debootstrap --variant=minbase bookworm "$rootfs" "$MIRROR"; then
        tail -n 30 "$WORK/debootstrap.log" || true
        die "debootstrap failed (log above)"
    fi
    # Shape it like the slim image: apt sources in deb822 with updates and security, no
    # documentation or locales, empty package lists and caches.
    rm -f "$rootfs/etc/apt/sources.list"
    cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $SECURITY
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    # This machine's apt may accept mirror snapshots past their Valid-Until; so does the base.
    if apt-config dump 2>/dev/null | grep -q '^Acquire::Check-Valid-Until "false"'; then
        echo 'Acquire::Check-Valid-Until "false";' >"$rootfs/etc/apt/apt.conf.d/99docker-test"
    fi
    cat >"$rootfs/etc/dpkg/dpkg.cfg.d/90docker-test-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
EOF
    find "$rootfs/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete 2>/dev/null || true
    rm -rf "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/*
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/var/log/*.log \
           "$rootfs"/tmp/* "$rootfs"/debootstrap
    : >"$rootfs/etc/resolv.conf"
    unmount_under "$rootfs" || die "mounts are left under $rootfs"
    tar --numeric-owner --xattrs -C "$rootfs" -cf "$TARBALL.tmp" .
    remove_tree "$rootfs"
    mv "$TARBALL.tmp" "$TARBALL"
    rm -f "$CACHE/image-id"
    log "base root cached in ${TARBALL#"$ROOT"/} ($(du -h "$TARBALL" | cut -f1))"
else
    log "base root from the cache (${TARBALL#"$ROOT"/})"
fi

# ---- import it as debian:bookworm-slim (once per cached root) ---------------------------
current_id=$("${PM[@]}" image inspect --format '{{.Id}}' "$BASE_REF" 2>/dev/null || true)
if [ -n "$current_id" ] && [ -s "$CACHE/image-id" ] && [ "$current_id" = "$(cat "$CACHE/image-id")" ]; then
    log "base image $BASE_REF already imported (${current_id:0:12})"
else
    log "podman import as $BASE_NAME"
    bounded 600 "$WORK/import.log" "${PM[@]}" import --change 'CMD ["bash"]' "$TARBALL" "$BASE_NAME" ||
        { cat "$WORK/import.log"; die "podman import failed"; }
    "${PM[@]}" image inspect --format '{{.Id}}' "$BASE_REF" >"$CACHE/image-id" ||
        die "podman import did not create $BASE_REF"
fi

# ---- build the unchanged Dockerfile -----------------------------------------------------
build_args=(--isolation chroot --pull=never --format docker --layers -t "$IMAGE" -f Dockerfile)
[ "${DOCKER_TEST_NO_CACHE:-0}" = 1 ] && build_args+=(--no-cache)
log "podman build ${build_args[*]} ."
if ! bounded 1800 "$WORK/build.log" "${PM[@]}" build "${build_args[@]}" .; then
    cp "$WORK/build.log" "$CACHE/last-build.log" || true
    tail -n 40 "$WORK/build.log" || true
    die "podman build failed (log above; all of it in ${CACHE#"$ROOT"/}/last-build.log)"
fi
cp "$WORK/build.log" "$CACHE/last-build.log"
grep -E '^(\[[0-9]+/[0-9]+\] )?STEP|^--> Using cache|^COMMIT' "$WORK/build.log" | cut -c1-110 |
    sed 's/^/    /' || true
# The build stage under a tag of its own keeps its layers as the next run's cache; what the
# previous runs built and nothing names any more goes.
bounded 300 "$WORK/build.log" "${PM[@]}" build --isolation chroot --pull=never --format docker \
    --layers --target build -t "$BUILD_STAGE_IMAGE" -f Dockerfile . ||
    die "tagging the build stage failed"
bounded 300 "$WORK/prune.log" "${PM[@]}" image prune -f || log "warning: podman image prune failed"
new_id=$("${PM[@]}" image inspect --format '{{.Id}}' "$IMAGE")
log "built $IMAGE (${new_id:0:12}, $("${PM[@]}" image inspect --format '{{.Size}}' "$IMAGE" |
    awk '{ printf "%.1f MB", $1 / 1e6 }'))"

# ---- what the image says about itself ---------------------------------------------------
inspect() { "${PM[@]}" image inspect --format "$1" "$IMAGE"; }
user=$(inspect '{{.Config.User}}')
inspect '{{range .Config.Env}}{{println .}}{{end}}' | grep -v '^$' >"$WORK/image.env"
[ -n "$user" ] && [ "${user%%:*}" != root ] && [ "${user%%:*}" != 0 ] ||
    die "the image runs as '${user:-root}', not as a non-root user"
inspect '{{json .Config.ExposedPorts}}' | grep -q '"8081/tcp"' || die "the image does not expose 8081"
grep -qx 'RATEWATCH_ENV=production' "$WORK/image.env" || die "RATEWATCH_ENV=production is not set"
if grep -q '^RATEWATCH_BIND=' "$WORK/image.env"; then die "the image sets RATEWATCH_BIND"; fi
if grep -q '^API_KEY_SECRET=' "$WORK/image.env"; then die "the image bakes in API_KEY_SECRET"; fi
healthcheck=$(inspect '{{if .Config.Healthcheck}}{{range .Config.Healthcheck.Test}}{{println .}}{{end}}{{end}}')
[ "$(head -n 1 <<<"$healthcheck")" = CMD ] || die "no exec-form HEALTHCHECK in the image"
mapfile -t hc_cmd < <(tail -n +2 <<<"$healthcheck" | grep -v '^$')
entrypoint=$(inspect '{{range .Config.Entrypoint}}{{println .}}{{end}}' | sed -n 1p)
log "user $user, entrypoint $entrypoint, healthcheck ${hc_cmd[*]}"

MNT=$(timeout --foreground -k 10 120 "${PM[@]}" image mount "$IMAGE")
MOUNTED=1
[ -x "$MNT$entrypoint" ] || die "$entrypoint is not in the image"
name=${user%%:*}
uid=$(awk -F: -v u="$name" '$1 == u || $3 == u { print $3; exit }' "$MNT/etc/passwd")
gid=$(awk -F: -v u="$name" '$1 == u || $3 == u { print $4; exit }' "$MNT/etc/passwd")
[ -n "$uid" ] && [ "$uid" != 0 ] || die "user $name is not in the image's /etc/passwd"
if chroot "$MNT" /usr/bin/ldd "$entrypoint" | grep -q 'not found'; then
    chroot "$MNT" /usr/bin/ldd "$entrypoint"
    die "the runtime image lacks a library"
fi
for tool in gcc cc cmake make pkg-config; do
    [ ! -e "$MNT/usr/bin/$tool" ] || die "build tool $tool is in the runtime image"
done

# The image is mounted read-only; its data directory gets a writable directory of its own,
# as a volume would in a container.
data_dir=$(sed -n 's/^RATEWATCH_DATA_DIR=//p' "$WORK/image.env")
if [ -n "$data_dir" ]; then
    [ -d "$MNT$data_dir" ] || die "RATEWATCH_DATA_DIR $data_dir is not in the image"
    install -d -o "$uid" -g "$gid" -m 0750 "$WORK/data"
    mount --bind "$WORK/data" "$MNT$data_dir"
    DATA_MOUNT=$MNT$data_dir
fi

# A command of the image, run as its user with only the image's environment plus $extra.
mapfile -t image_env <"$WORK/image.env"
in_image_for() {
    local limit=$1
    shift
    timeout --foreground -k 5 "$limit" \
        env -i "${image_env[@]}" "${extra[@]}" chroot --userspec="$uid:$gid" "$MNT" "$@"
}

# ---- run it -----------------------------------------------------------------------------
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# Production mode from the image; the test binds loopback only (the image leaves the bind
# unset, which is 0.0.0.0) and pins the worker count (no /sys in the chroot).
extra=("API_KEY_SECRET=$SECRET" "PORT=$PORT" "RATEWATCH_BIND=127.0.0.1" "RATEWATCH_WORKERS=2"
       "RATEWATCH_SHUTDOWN_TIMEOUT_S=5")

KEY=$(in_image_for 30 "$entrypoint" keys issue --tenant docker | sed -n 1p)
case $KEY in rw_*) log "key issued by the image's binary: ${KEY:0:20}..." ;;
*) die "keys issue gave '$KEY'" ;; esac

# A simple command in the background: env and chroot exec, so $! is ratewatch itself.
env -i "${image_env[@]}" "${extra[@]}" chroot --userspec="$uid:$gid" "$MNT" "$entrypoint" \
    >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
log "ratewatch (pid $SERVER_PID) on 127.0.0.1:$PORT"
up=""
for _ in $(seq 100); do
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log"; die "ratewatch exited at start"; }
    if curl -fsS --max-time 2 "http://127.0.0.1:$PORT/health" >"$WORK/health.json" 2>/dev/null; then
        up=1
        break
    fi
    sleep 0.1
done
[ -n "$up" ] || { cat "$WORK/server.log"; die "/health did not answer 200 within 10 s"; }
log "GET /health: $(cat "$WORK/health.json")"
if grep -q 'development mode' "$WORK/server.log"; then die "the image runs in development mode"; fi

in_image_for 10 "${hc_cmd[@]}" ||
    die "the image's HEALTHCHECK (${hc_cmd[*]}) failed against a healthy server"
log "HEALTHCHECK command passed"

check() {
    curl -sS --max-time 5 -o "$WORK/check.json" -w '%{http_code}' "http://127.0.0.1:$PORT/v1/check" \
        -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
        -d '{"key": "docker-test", "limit": 1, "window": 60}'
}
code=$(check "$KEY")
[ "$code" = 200 ] && grep -q '"allowed":true' "$WORK/check.json" ||
    die "/v1/check answered $code: $(cat "$WORK/check.json")"
log "POST /v1/check: $(cat "$WORK/check.json")"
code=$(check "$KEY")
[ "$code" = 200 ] && grep -q '"allowed":false' "$WORK/check.json" ||
    die "a second check over the limit answered $code: $(cat "$WORK/check.json")"
log "POST /v1/check over the limit: denied"
code=$(check "rw_not_a_key")
[ "$code" = 401 ] || die "a bad key answered $code, not 401"
log "POST /v1/check with a bad key: 401"

# ---- stop it ----------------------------------------------------------------------------
kill -TERM "$SERVER_PID"
rc=""
for _ in $(seq 100); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        rc=0
        wait "$SERVER_PID" || rc=$?
        break
    fi
    sleep 0.1
done
[ -n "$rc" ] || { cat "$WORK/server.log"; die "ratewatch did not stop within 10 s of SIGTERM"; }
SERVER_PID=""
[ "$rc" = 0 ] || { cat "$WORK/server.log"; die "ratewatch exited $rc on SIGTERM"; }
log "SIGTERM: exited 0"
if grep '"level":"error"' "$WORK/server.log"; then die "ratewatch logged errors (above)"; fi
grep '"level":"warn"' "$WORK/server.log" | sed 's/^/    warning logged: /' || true
[ -z "$data_dir" ] || log "left in $data_dir: $(ls -A "$WORK/data" | tr '\n' ' ')"
