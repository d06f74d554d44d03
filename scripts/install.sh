#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 OR MIT
# Installs RateWatch for systemd (`make install`):
#   $DESTDIR$PREFIX/bin/ratewatch                  the release binary
#   $DESTDIR$UNITDIR/ratewatch.service             the unit, ExecStart pointing at the binary
#   $DESTDIR$SYSCONFDIR/ratewatch/ratewatch.env    the environment file, only if there is none
#
#   PREFIX      /usr/local
#   DESTDIR     (empty)            a staging root, for packages and tests
#   SYSCONFDIR  /etc
#   UNITDIR     /etc/systemd/system
#   BUILD       build              where the release build is (make build)
set -euo pipefail
cd "$(dirname "$0")/.."

PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
SYSCONFDIR=${SYSCONFDIR:-/etc}
UNITDIR=${UNITDIR:-/etc/systemd/system}
BUILD=${BUILD:-build}
BIN=$BUILD/ratewatch

fail() { echo "install: $*" >&2; exit 1; }

case $PREFIX in /*) ;; *) fail "PREFIX must be an absolute path, not '$PREFIX'" ;; esac
[ -x "$BIN" ] || fail "$BIN is missing: run make build first"
version=$("$BIN" --version) || fail "$BIN --version failed"
case $version in
*"(release)"*) ;;
*) fail "$BIN is not a release build ($version): run make build, or set BUILD" ;;
esac

bindir=$DESTDIR$PREFIX/bin
unit=$DESTDIR$UNITDIR/ratewatch.service
envdir=$DESTDIR$SYSCONFDIR/ratewatch
envfile=$envdir/ratewatch.env

# The binary: install(1) unlinks and recreates, so a running service keeps its old copy.
install -d -m 0755 "$bindir"
install -m 0755 "$BIN" "$bindir/ratewatch"
echo "installed $bindir/ratewatch ($version)"

# The unit, with the paths of this installation (not DESTDIR: that is only the staging root).
install -d -m 0755 "$(dirname "$unit")"
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
sed -e "s|^ExecStart=/usr/local/bin/ratewatch|ExecStart=$PREFIX/bin/ratewatch|" \
    -e "s|^EnvironmentFile=/etc/ratewatch/ratewatch.env|EnvironmentFile=$SYSCONFDIR/ratewatch/ratewatch.env|" \
    deploy/ratewatch.service >"$tmp"
grep -qx "ExecStart=$PREFIX/bin/ratewatch" "$tmp" || fail "could not set ExecStart in the unit"
install -m 0644 "$tmp" "$unit"
echo "installed $unit"

# The environment file holds the secret: root only, and never overwritten. The directory
# stays readable: the service's own user reads RATEWATCH_ENV_FILE from it on reload.
install -d -m 0755 "$envdir"
if [ -e "$envfile" ]; then
    echo "kept $envfile (exists; the current defaults are in deploy/ratewatch.env)"
else
    install -m 0600 deploy/ratewatch.env "$envfile"
    echo "installed $envfile"
fi

if [ -z "$DESTDIR" ]; then
    cat <<EOF

next: set API_KEY_SECRET (openssl rand -hex 32) in $SYSCONFDIR/ratewatch/ratewatch.env, then
  systemctl daemon-reload && systemctl enable --now ratewatch
EOF
fi
