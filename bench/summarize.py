# SPDX-License-Identifier: Apache-2.0 OR MIT
"""Turns the records of bench/run.sh into a table on stdout and a JSON file.

usage: summarize.py RECORDS OUT_JSON   (settings come from the environment run.sh exports)
Exits 3 when RateWatch's CPU per request is above BENCH_TARGET times nginx's.
"""
import json
import os
import statistics
import sys

SERVERS = ("nginx", "ratewatch")
LABELS = {"nginx": "nginx limit_req", "ratewatch": "RateWatch"}


def env(name, default=None):
    return os.environ.get(name, default)


def read_records(path):
    records = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            fields = dict(kv.split("=", 1) for kv in line.split())
            rec = {"round": int(fields.pop("round")), "server": fields.pop("server")}
            for k, v in fields.items():
                rec[k] = float(v) if "." in v else int(v)
            records.append(rec)
    return records


def derive(rec, clk_tck):
    """Adds the figures the report shows to one run's record."""
    seconds = rec["duration_us"] / 1e6
    server_us = rec["server_ticks"] * 1e6 / clk_tck
    non2xx = rec["errors_status"]
    socket_errors = sum(rec["errors_" + k] for k in ("connect", "read", "write", "timeout"))
    rec.update(
        requests_per_s=rec["requests"] / seconds if seconds else 0.0,
        server_cpu_us=server_us,
        cpu_us_per_request=server_us / rec["requests"] if rec["requests"] else None,
        user_us_per_request=(rec["server_user_ticks"] * 1e6 / clk_tck / rec["requests"]
                             if rec["requests"] else None),
        sys_us_per_request=(rec["server_sys_ticks"] * 1e6 / clk_tck / rec["requests"]
                            if rec["requests"] else None),
        server_core_busy_pct=100.0 * rec["server_core_busy"] / max(rec["server_core_total"], 1),
        server_process_pct_of_core=100.0 * rec["server_ticks"] / max(rec["server_core_total"], 1),
        client_core_busy_pct=100.0 * rec["client_core_busy"] / max(rec["client_core_total"], 1),
        non_2xx=non2xx,
        socket_errors=socket_errors,
    )
    # Other work on either core: on the server's it inflates CPU per request directly; on
    # wrk's it slows the load, the server batches less and pays more per request.
    client_total_s = max(rec["client_core_total"], 1) / clk_tck
    rec["wrk_pct_of_core"] = 100.0 * rec.get("wrk_cpu_s", 0.0) / client_total_s
    rec["other_work_server_core_pct"] = (rec["server_core_busy_pct"]
                                         - rec["server_process_pct_of_core"])
    rec["other_work_client_core_pct"] = (rec["client_core_busy_pct"]
                                         - rec["wrk_pct_of_core"]) if "wrk_cpu_s" in rec else 0.0
    rec["disturbed"] = (rec["other_work_server_core_pct"] > 10
                        or rec["other_work_client_core_pct"] > 10)
    return rec


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def main():
    records_path, out_path = sys.argv[1], sys.argv[2]
    clk_tck = int(env("CLK_TCK", "100"))
    target = float(env("TARGET", "1.3"))
    runs = [derive(r, clk_tck) for r in read_records(records_path)]

    summary = {}
    for name in SERVERS:
        mine = [r for r in runs if r["server"] == name]
        if not mine:
            sys.exit(f"summarize: no run of {name}")
        summary[name] = {
            key: median(r[key] for r in mine)
            for key in ("requests_per_s", "p50_us", "p99_us", "cpu_us_per_request",
                        "user_us_per_request", "sys_us_per_request",
                        "server_core_busy_pct", "client_core_busy_pct")
        }
        summary[name]["requests"] = sum(r["requests"] for r in mine)
        summary[name]["non_2xx"] = sum(r["non_2xx"] for r in mine)
        summary[name]["socket_errors"] = sum(r["socket_errors"] for r in mine)

    rw, ng = summary["ratewatch"], summary["nginx"]
    cpu_ratio = rw["cpu_us_per_request"] / ng["cpu_us_per_request"]
    rps_ratio = rw["requests_per_s"] / ng["requests_per_s"]
    user_ratio = rw["user_us_per_request"] / ng["user_us_per_request"]
    sys_ratio = rw["sys_us_per_request"] / ng["sys_us_per_request"]
    # Ratios within each round too, so a disturbed round shows up.
    per_round = []
    for rnd in sorted({r["round"] for r in runs}):
        pair = {r["server"]: r for r in runs if r["round"] == rnd}
        if len(pair) == 2:
            per_round.append({
                "round": rnd,
                "disturbed": pair["ratewatch"]["disturbed"] or pair["nginx"]["disturbed"],
                "cpu_per_request_ratio": pair["ratewatch"]["cpu_us_per_request"]
                / pair["nginx"]["cpu_us_per_request"],
                "requests_per_s_ratio": pair["ratewatch"]["requests_per_s"]
                / pair["nginx"]["requests_per_s"],
            })

    calm = [p for p in per_round if not p["disturbed"]]
    calm_ratios = None
    if calm:
        calm_ratios = {
            "rounds": [p["round"] for p in calm],
            "cpu_per_request": median(p["cpu_per_request_ratio"] for p in calm),
            "requests_per_s": median(p["requests_per_s_ratio"] for p in calm),
        }

    result = {
        "stamp": env("STAMP"),
        "settings": {
            "duration_s": int(env("DURATION")),
            "warmup_s": int(env("WARMUP")),
            "connections": int(env("CONNECTIONS")),
            "wrk_threads": int(env("THREADS")),
            "keys": int(env("KEYS")),
            "rounds": int(env("ROUNDS")),
            "quick": env("QUICK") == "1",
            "server_cpu": int(env("SERVER_CPU")),
            "client_cpu": int(env("CLIENT_CPU")),
            "nginx_rate": env("BENCH_NGINX_RATE"),
            "ratewatch_auth": env("BENCH_AUTH"),
        },
        "machine": {
            "cores": int(env("NCPU")),
            "cpu_model": env("CPU_MODEL"),
            "load_average_before": env("LOAD_BEFORE"),
            "load_average_after": env("LOAD_AFTER"),
            "clk_tck": clk_tck,
        },
        "versions": {
            "ratewatch": env("RW_VERSION"),
            "ratewatch_sha256_prefix": env("RATEWATCH_SHA256"),
            "git_commit": env("GIT_COMMIT"),
            "git_dirty": env("GIT_DIRTY") == "true",
            "nginx": env("NGINX_VERSION"),
            "wrk": env("WRK_VERSION"),
        },
        "runs": runs,
        "summary": summary,
        "ratios": {
            "cpu_per_request": cpu_ratio,
            "requests_per_s": rps_ratio,
            "user_cpu_per_request": user_ratio,
            "sys_cpu_per_request": sys_ratio,
            "per_round": per_round,
            "undisturbed_rounds": calm_ratios,
            "target_cpu_per_request": target,
            "within_target": cpu_ratio <= target,
        },
    }
    os.makedirs(os.path.dirname(out_path) or ".", exist_ok=True)
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
        f.write("\n")

    rounds = int(env("ROUNDS"))
    print()
    print(f"{'server':<16} {'requests/s':>11} {'p50':>9} {'p99':>9} {'CPU µs/req':>11} "
          f"{'(user+sys)':>12} {'non-2xx':>8} {'core busy':>10}")
    for name in SERVERS:
        s = summary[name]
        split = f"{s['user_us_per_request']:.2f}+{s['sys_us_per_request']:.2f}"
        print(f"{LABELS[name]:<16} {s['requests_per_s']:>11.0f} {s['p50_us'] / 1000:>7.2f}ms "
              f"{s['p99_us'] / 1000:>7.2f}ms {s['cpu_us_per_request']:>11.2f} {split:>12} "
              f"{s['non_2xx'] + s['socket_errors']:>8d} {s['server_core_busy_pct']:>9.0f}%")
    if rounds > 1:
        print(f"(medians over {rounds} rounds)")
    verdict = "within" if cpu_ratio <= target else "ABOVE"
    print(f"RateWatch/nginx: CPU per request {cpu_ratio:.2f}x ({verdict} the {target}x target), "
          f"requests/s {rps_ratio:.2f}x")
    print(f"  (user CPU per request {user_ratio:.2f}x, system CPU per request {sys_ratio:.2f}x)")
    if len(per_round) > 1:
        print("per round (CPU/req, req/s; * disturbed): " + ", ".join(
            f"{p['cpu_per_request_ratio']:.2f}x/{p['requests_per_s_ratio']:.2f}x"
            + ("*" if p["disturbed"] else "") for p in per_round))
    if calm_ratios and len(calm) < len(per_round):
        print(f"undisturbed rounds only ({len(calm)} of {len(per_round)}, median of their "
              f"ratios): CPU per request {calm_ratios['cpu_per_request']:.2f}x, "
              f"requests/s {calm_ratios['requests_per_s']:.2f}x")
    for name in SERVERS:
        s = summary[name]
        if s["non_2xx"] or s["socket_errors"]:
            print(f"WARNING: {LABELS[name]} had {s['non_2xx']} non-2xx answers and "
                  f"{s['socket_errors']} socket errors; its figures are not comparable")
        mine = [r for r in runs if r["server"] == name]
        disturbed = [r for r in mine if r["disturbed"]]
        if disturbed:
            srv = max(r["other_work_server_core_pct"] for r in disturbed)
            cli = max(r["other_work_client_core_pct"] for r in disturbed)
            print(f"note: in {len(disturbed)} of {len(mine)} {LABELS[name]} runs other work "
                  f"took up to {srv:.0f}% of the server's core and {cli:.0f}% of wrk's: "
                  f"figures may be disturbed")
        wrk_pct = median(r["wrk_pct_of_core"] for r in mine)
        if wrk_pct is not None and wrk_pct > 95:
            print(f"note: wrk used {wrk_pct:.0f}% of its core during the {LABELS[name]} "
                  f"runs: requests/s may be bounded by the client")
    print(f"auth: {env('BENCH_AUTH')}; load average before {env('LOAD_BEFORE')}, "
          f"after {env('LOAD_AFTER')}")
    return 0 if cpu_ratio <= target else 3


if __name__ == "__main__":
    sys.exit(main())
