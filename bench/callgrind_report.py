# SPDX-License-Identifier: Apache-2.0 OR MIT
"""The report of bench/callgrind.sh: instructions per check from the difference of runs
A (warm-up only) and B (warm-up + CALLGRIND_REQUESTS), overall and per function.

Reads the callgrind files and callgrind_annotate listings in OUT_DIR, prints the figures
and writes OUT_DIR/summary.json. Settings come from the environment callgrind.sh exports.
"""
import json
import os
import re
import sys

LINE = re.compile(r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(.+?)\s*$")


def totals(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("totals:") or line.startswith("summary:"):
                value = int(line.split()[1])
                if value > 0:
                    return value
    sys.exit(f"callgrind_report: no instructions counted in {path}")


def functions(path):
    """function name -> Ir, from a callgrind_annotate listing."""
    out = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = LINE.match(line)
            if m and m.group(2) != "PROGRAM TOTALS":
                out[m.group(2)] = out.get(m.group(2), 0) + int(m.group(1).replace(",", ""))
    return out


def short(name):
    """'./path/file.c:func [/usr/lib/libx.so.1]' -> 'func (libx.so.1)'."""
    lib = ""
    m = re.match(r"^(.*?)\s+\[(.+)\]$", name)
    if m:
        name, lib = m.group(1), os.path.basename(m.group(2))
    func = name.rsplit(":", 1)[-1]
    return f"{func} ({lib})" if lib else func


def per_request(out_dir, name, requests, mode):
    a = functions(os.path.join(out_dir, f"{name}-A-{mode}.txt"))
    b = functions(os.path.join(out_dir, f"{name}-B-{mode}.txt"))
    diff = {k: (b.get(k, 0) - a.get(k, 0)) / requests for k in set(a) | set(b)}
    return sorted(((v, k) for k, v in diff.items() if v > 0), reverse=True)


def main():
    out_dir = os.environ["OUT_DIR"]
    requests = int(os.environ["REQUESTS"])
    top = int(os.environ.get("TOP", "25"))
    servers = ["ratewatch"] + (["nginx"] if os.environ.get("WITH_NGINX") == "1" else [])
    label = {"ratewatch": "RateWatch", "nginx": "nginx limit_req"}

    result = {
        "stamp": os.environ.get("STAMP"),
        "requests": requests,
        "warmup": int(os.environ["WARMUP"]),
        "keys": int(os.environ["KEYS"]),
        "auth": os.environ.get("BENCH_AUTH"),
    }
    print()
    for name in servers:
        ir_a = totals(os.path.join(out_dir, f"{name}-A.callgrind"))
        ir_b = totals(os.path.join(out_dir, f"{name}-B.callgrind"))
        per = (ir_b - ir_a) / requests
        result[name] = {"run_a_ir": ir_a, "run_b_ir": ir_b, "ir_per_request": per}
        print(f"{label[name] + ':':<17} {per:10.0f} instructions per check "
              f"(runs A {ir_a:,} and B {ir_b:,} Ir)")
    if "nginx" in result:
        ratio = result["ratewatch"]["ir_per_request"] / result["nginx"]["ir_per_request"]
        result["ratio"] = ratio
        print(f"RateWatch/nginx:  {ratio:10.2f}x")

    per = result["ratewatch"]["ir_per_request"]
    for mode, title in (("self", "own instructions"), ("inclusive", "inclusive instructions")):
        rows = per_request(out_dir, "ratewatch", requests, mode)
        result["ratewatch"][f"top_{mode}"] = [
            {"function": k, "ir_per_request": v, "share": v / per} for v, k in rows[:top]]
        print(f"\nRateWatch, top {top} functions by {title} per check:")
        for v, k in rows[:top]:
            print(f"  {v:9.0f}  {100 * v / per:5.1f}%  {short(k)}")

    # Own instructions summed by the file they are in: the program or a shared library.
    by_object = {}
    for v, k in per_request(out_dir, "ratewatch", requests, "self"):
        m = re.search(r"\[(.+)\]$", k)
        # Lines without an object are inlined parts that glibc's debug data names by file.
        obj = os.path.basename(m.group(1)) if m else (
            "libc.so.6" if k.startswith("./") else "(unknown)")
        by_object[obj] = by_object.get(obj, 0) + v
    rows = sorted(((v, k) for k, v in by_object.items()), reverse=True)
    result["ratewatch"]["by_object"] = {k: v for v, k in rows}
    print("\nRateWatch, own instructions per check by program or library:")
    for v, k in rows[:8]:
        print(f"  {v:9.0f}  {100 * v / per:5.1f}%  {k}")

    with open(os.path.join(out_dir, "summary.json"), "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
