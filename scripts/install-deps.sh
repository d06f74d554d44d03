#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 OR MIT
# Installs the Debian packages RateWatch needs, only those missing.
#   install-deps.sh build   what building needs
#   install-deps.sh test    what building, testing and benchmarking need
set -euo pipefail

build_pkgs=(cmake gcc make pkg-config libh2o-evloop-dev libjansson-dev libssl-dev
            libhiredis-dev librust-blake3-dev)
test_pkgs=(redis-server redis-tools nginx wrk clang clang-format libfaketime
           prometheus openssl curl python3-venv)

want=("${build_pkgs[@]}")
[ "${1:-build}" = test ] && want+=("${test_pkgs[@]}")

missing=()
for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing Debian packages: ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts the servers it installs; the tests start their own on free ports.
for svc in redis-server nginx prometheus; do
    if command -v systemctl >/dev/null && systemctl is-active --quiet "$svc" 2>/dev/null; then
        $sudo systemctl stop "$svc" || true
        $sudo systemctl disable "$svc" >/dev/null 2>&1 || true
    fi
done
