#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 OR MIT
# Fails when a C file is not as .clang-format would write it, or has a line over 100 columns.
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files --cached --others --exclude-standard 'src/*.[ch]' 'tests/*.[ch]' 'fuzz/*.c')
bad=0
for f in $files; do
    [ -f "$f" ] || continue
    if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
        echo "format: $f differs from clang-format's layout (run: make format)"
        bad=1
    fi
    if awk 'length > 100 { exit 1 }' "$f"; then :; else
        echo "format: $f has a line over 100 columns"
        bad=1
    fi
done
[ $bad -eq 0 ] && echo "format: $(echo "$files" | wc -w) C files clean"
exit $bad
