#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 OR MIT
# Builds the libFuzzer target fuzz/fuzz_check_request.c with clang (ASan + UBSan) into
# build-fuzz/ and runs it.
#   scripts/fuzz.sh [SECONDS]   fuzzes for SECONDS (default 60); exits non-zero on a finding,
#                               which libFuzzer saves under fuzz/regressions/
#   scripts/fuzz.sh --replay    runs every file of fuzz/corpus/ and fuzz/regressions/ through
#                               the target once, without fuzzing (for the test suite)
# The seeds in fuzz/corpus/ are read only; what the fuzzer learns goes to fuzz/corpus-run/
# (ignored by git), so later runs start from it.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${BUILD_FUZZ:-build-fuzz}
BIN=$OUT/fuzz_check_request
mode=fuzz
seconds=60
case "${1:-}" in
"") ;;
--replay) mode=replay ;;
-h | --help)
    sed -n '3,10p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
*)
    if [[ ! "$1" =~ ^[0-9]+$ ]] || [ "$1" -lt 1 ]; then
        echo "usage: scripts/fuzz.sh [SECONDS | --replay]" >&2
        exit 2
    fi
    seconds=$1
    ;;
esac

# clang and its fuzzer runtime (Debian ships libFuzzer in libclang-rt-<major>-dev).
can_link_fuzzer() {
    command -v clang >/dev/null || return 1
    local probe
    probe=$(mktemp -d)
    printf '%s\n' 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n)' \
        '{ (void)d; (void)n; return 0; }' >"$probe/p.c"
    clang -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" >/dev/null 2>&1
    local rc=$?
    rm -rf "$probe"
    return $rc
}
if ! can_link_fuzzer; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    echo "fuzz: installing clang and its fuzzer runtime with apt-get"
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends clang >/dev/null
    major=$(clang --version | sed -n 's/.*clang version \([0-9]*\).*/\1/p' | head -n1)
    $sudo apt-get install -y -qq --no-install-recommends "libclang-rt-$major-dev" >/dev/null
    if ! can_link_fuzzer; then
        echo "fuzz: clang cannot link -fsanitize=fuzzer even after installing it" >&2
        exit 1
    fi
fi

# Build: the sources under test get coverage instrumentation; BLAKE3 (portable code only)
# and jansson (the system library) do not.
blake3_dir=$(ls -d /usr/share/cargo/registry/blake3-*/c 2>/dev/null | sort -V | tail -n1)
if [ -z "$blake3_dir" ] || [ ! -f "$blake3_dir/blake3.h" ]; then
    echo "fuzz: BLAKE3 C sources not found: apt-get install librust-blake3-dev" >&2
    exit 1
fi
mkdir -p "$OUT"
common=(-g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined
        -fno-sanitize-recover=undefined -D_GNU_SOURCE -DH2O_USE_LIBUV=0)
pkg_cflags=$(pkg-config --cflags libh2o-evloop jansson openssl)
pkg_libs=$(pkg-config --libs jansson openssl)
clang "${common[@]}" -std=gnu11 -w -DBLAKE3_NO_SSE2 -DBLAKE3_NO_SSE41 -DBLAKE3_NO_AVX2 \
    -DBLAKE3_NO_AVX512 -c "$blake3_dir/blake3.c" -o "$OUT/blake3.o"
clang "${common[@]}" -std=gnu11 -w -DBLAKE3_NO_SSE2 -DBLAKE3_NO_SSE41 -DBLAKE3_NO_AVX2 \
    -DBLAKE3_NO_AVX512 -c "$blake3_dir/blake3_dispatch.c" -o "$OUT/blake3_dispatch.o"
clang "${common[@]}" -std=gnu11 -w -c "$blake3_dir/blake3_portable.c" \
    -o "$OUT/blake3_portable.o"
# shellcheck disable=SC2086
clang "${common[@]}" -fsanitize=fuzzer -std=gnu11 -Wall -Wextra -Werror -Isrc \
    -I"$blake3_dir" $pkg_cflags \
    fuzz/fuzz_check_request.c src/api/check_request.c src/limiter/sliding_window.c src/util/utf8.c \
    src/crypto/apikey.c src/crypto/derive.c \
    "$OUT/blake3.o" "$OUT/blake3_dispatch.o" "$OUT/blake3_portable.o" \
    $pkg_libs -o "$BIN"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
mkdir -p fuzz/regressions

if [ "$mode" = replay ]; then
    mapfile -t inputs < <(find fuzz/corpus fuzz/regressions -type f ! -name '.*' | sort)
    if [ ${#inputs[@]} -eq 0 ]; then
        echo "fuzz: no inputs to replay" >&2
        exit 1
    fi
    if "$BIN" "${inputs[@]}" >"$OUT/replay.log" 2>&1; then
        echo "fuzz: replayed ${#inputs[@]} inputs, no finding"
        exit 0
    fi
    cat "$OUT/replay.log" >&2
    echo "fuzz: an input of fuzz/corpus or fuzz/regressions breaks the target (above)" >&2
    exit 1
fi

mkdir -p fuzz/corpus-run
set +e
"$BIN" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8300 \
    -dict=fuzz/check_request.dict -artifact_prefix=fuzz/regressions/ -print_final_stats=1 \
    fuzz/corpus-run fuzz/corpus
rc=$?
set -e
if [ $rc -ne 0 ]; then
    echo "fuzz: finding (exit $rc); the input is in fuzz/regressions/" >&2
fi
exit $rc
