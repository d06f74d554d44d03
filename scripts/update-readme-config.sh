#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 OR MIT
# Rewrites the configuration table in README.md from the binary's own settings table.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/ratewatch}
table=$("$bin" --help-markdown)
python3 - "$table" <<'PY'
import re, sys
readme = open("README.md").read()
begin, end = "<!-- config-table:begin -->", "<!-- config-table:end -->"
new = f"{begin}\n{sys.argv[1]}\n{end}"
readme = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: new, readme, flags=re.S)
open("README.md", "w").write(readme)
PY
