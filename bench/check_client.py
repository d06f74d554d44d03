# SPDX-License-Identifier: Apache-2.0 OR MIT
"""A small bounded client for bench/callgrind.sh: sends exactly N rate-limit checks over
one keep-alive connection to 127.0.0.1, one at a time, cycling through K keys, and exits.

usage: check_client.py --port P --requests N [--keys K] [--mode ratewatch|nginx]
                       [--token T] [--deadline SECONDS]
Exits 1 if any answer is not a 200, or if the deadline passes first.
"""
import argparse
import http.client
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--requests", type=int, required=True)
    ap.add_argument("--keys", type=int, default=10000)
    ap.add_argument("--mode", choices=("ratewatch", "nginx"), default="ratewatch")
    ap.add_argument("--token", default="")
    ap.add_argument("--deadline", type=float, default=600.0)
    args = ap.parse_args()

    path = "/v1/check" if args.mode == "ratewatch" else "/"
    conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=30)
    stop_at = time.monotonic() + args.deadline
    bad = 0
    for i in range(args.requests):
        if time.monotonic() > stop_at:
            print(f"check_client: deadline passed after {i} requests", file=sys.stderr)
            return 1
        key = f"user:{i % args.keys}"
        body = f'{{"key":"{key}","limit":1000000,"window":60}}'
        headers = {"Content-Type": "application/json"}
        if args.mode == "nginx":
            headers["X-Key"] = key
        elif args.token:
            headers["Authorization"] = f"Bearer {args.token}"
        conn.request("POST", path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        if resp.status != 200 or b'"allowed":true' not in data:
            bad += 1
            if bad <= 3:
                print(f"check_client: answer {resp.status}: {data[:200]!r}", file=sys.stderr)
    conn.close()
    if bad:
        print(f"check_client: {bad} of {args.requests} answers were not an allowed 200",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
