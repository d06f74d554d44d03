#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 OR MIT
# Runs every suite: format, unit tests under ASan+UBSan, the fuzz corpus and regressions,
# integration tests against the real (sanitized) binary, and the client libraries' tests.
# Every server a suite needs is started by that suite on a free loopback port and stopped
# by it.
set -uo pipefail
cd "$(dirname "$0")/.."

BUILD_SAN=${BUILD_SAN:-build-san}
VENV=${VENV:-build/venv}
case "$VENV" in /*) ;; *) VENV=$PWD/$VENV ;; esac
export VENV
failed=()
passed=()

step() {
    local name=$1; shift
    echo
    echo "=== $name"
    if "$@"; then passed+=("$name"); else failed+=("$name"); fi
}

python_env() {
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV" || return 1
    "$VENV/bin/pip" install -q --disable-pip-version-check -r tests/requirements.txt || return 1
    if [ -f clients/python/pyproject.toml ]; then
        "$VENV/bin/pip" install -q --disable-pip-version-check -e "clients/python[test]" ||
            return 1
    fi
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:exitcode=66}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp}
export RATEWATCH_BIN=$PWD/$BUILD_SAN/ratewatch

step "format" scripts/format-check.sh
step "build (release)" make --no-print-directory build
step "build (ASan+UBSan)" make --no-print-directory build-san
step "unit tests" ctest --test-dir "$BUILD_SAN" --output-on-failure
step "fuzz corpus replay" scripts/fuzz.sh --replay
step "python environment" python_env
step "integration tests" "$VENV/bin/python" -m pytest -q tests/integration
for suite in clients/*/run-tests.sh; do
    [ -x "$suite" ] && step "$(dirname "$suite") tests" "$suite"
done
step "docker image (podman)" scripts/docker-test.sh

echo
echo "=== summary"
for s in "${passed[@]}"; do echo "ok     $s"; done
for s in "${failed[@]}"; do echo "FAILED $s"; done
echo "${#passed[@]} passed, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]
