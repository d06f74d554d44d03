#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0 OR MIT
"""What the Python client adds to a check: µs per call of `RateWatch.check` against a bare
httpx POST of the same body on a kept-alive connection, sync and async, against a running
server. The two are interleaved in rounds so that drift in the server or the machine hits
both alike; the figure is the median over rounds of the per-round difference.

    python3 bench/client_python.py --url http://127.0.0.1:8081 --api-key rw_... \
        [--iterations 5000] [--rounds 10] [--max-seconds 120] [--in-process]

URL and key default to RATEWATCH_URL and RATEWATCH_API_KEY. Needs the client installed
(`pip install -e clients/python`). The run is bounded: at most --iterations calls per
variant and mode, and it stops early (saying so) past --max-seconds. --in-process also
measures both with httpx.MockTransport answering in place of the server: the client's own
CPU cost, free of network and server noise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from typing import Any, Callable, Dict, List

import httpx

try:
    from ratewatch import AsyncRateWatch, RateWatch
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "clients", "python", "src"))
    from ratewatch import AsyncRateWatch, RateWatch

MAX_ITERATIONS = 200_000
KEY = "bench:client-python"
LIMIT = 1_000_000_000  # never denied during a run
WINDOW = 3600


class Budget:
    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds
        self.cut = False

    def left(self) -> bool:
        if time.monotonic() >= self.deadline:
            self.cut = True
        return not self.cut


def report(mode: str, rounds: Dict[str, List[float]], calls: int) -> Dict[str, Any]:
    bare, client = rounds["bare"], rounds["client"]
    diffs = [c - b for b, c in zip(bare, client)]
    out = {
        "mode": mode,
        "calls_per_variant": calls,
        "rounds": len(diffs),
        "bare_us": statistics.median(bare),
        "client_us": statistics.median(client),
        "overhead_us": statistics.median(diffs),
        "overhead_min_us": min(diffs),
        "overhead_max_us": max(diffs),
    }
    print(
        f"{mode:18}  bare httpx {out['bare_us']:8.1f} µs/call   client {out['client_us']:8.1f} "
        f"µs/call   overhead {out['overhead_us']:+7.1f} µs/call (rounds: "
        f"{out['overhead_min_us']:+.1f} .. {out['overhead_max_us']:+.1f}; "
        f"{len(diffs)} rounds, {calls} calls each)"
    )
    return out


ANSWER = json.dumps(
    {
        "allowed": True,
        "limit": LIMIT,
        "remaining": LIMIT - 1,
        "reset_in": WINDOW,
        "retry_after": None,
        "reset_in_ms": WINDOW * 1000,
        "retry_after_ms": None,
    }
).encode()


def _answer(request: httpx.Request) -> httpx.Response:
    return httpx.Response(
        200, content=ANSWER, headers={"content-type": "application/json", "x-request-id": "b"}
    )


async def _async_answer(request: httpx.Request) -> httpx.Response:
    return _answer(request)


def bench_sync(
    url: str, api_key: str, per_round: int, nrounds: int, budget: Budget, in_process: bool = False
) -> Dict[str, Any]:
    headers = {"Authorization": f"Bearer {api_key}"}
    body = {"key": KEY, "limit": LIMIT, "window": WINDOW}
    transport = httpx.MockTransport(_answer) if in_process else None
    bare_http = httpx.Client(base_url=url, headers=headers, timeout=10, transport=transport)
    client = RateWatch(api_key=api_key or None, base_url=url, timeout=10, transport=transport)

    def bare() -> None:
        r = bare_http.post("/v1/check", json=body)
        r.raise_for_status()
        assert r.json()["allowed"] is True

    def ours() -> None:
        assert client.check(KEY, LIMIT, WINDOW).allowed is True

    variants: Dict[str, Callable[[], None]] = {"bare": bare, "client": ours}
    try:
        for fn in variants.values():  # warm both connections and code paths
            for _ in range(min(200, per_round)):
                fn()
        rounds: Dict[str, List[float]] = {"bare": [], "client": []}
        calls = 0
        for _ in range(nrounds):
            if not budget.left():
                break
            for name, fn in variants.items():
                t0 = time.perf_counter()
                for _ in range(per_round):
                    fn()
                rounds[name].append((time.perf_counter() - t0) / per_round * 1e6)
            calls += per_round
        return report("sync" + (" (in-process)" if in_process else ""), rounds, calls)
    finally:
        bare_http.close()
        client.close()


async def bench_async(
    url: str, api_key: str, per_round: int, nrounds: int, budget: Budget, in_process: bool = False
) -> Dict[str, Any]:
    headers = {"Authorization": f"Bearer {api_key}"}
    body = {"key": KEY, "limit": LIMIT, "window": WINDOW}
    transport = httpx.MockTransport(_async_answer) if in_process else None
    bare_http = httpx.AsyncClient(base_url=url, headers=headers, timeout=10, transport=transport)
    client = AsyncRateWatch(api_key=api_key or None, base_url=url, timeout=10, transport=transport)

    async def bare() -> None:
        r = await bare_http.post("/v1/check", json=body)
        r.raise_for_status()
        assert r.json()["allowed"] is True

    async def ours() -> None:
        assert (await client.check(KEY, LIMIT, WINDOW)).allowed is True

    variants = {"bare": bare, "client": ours}
    try:
        for fn in variants.values():
            for _ in range(min(200, per_round)):
                await fn()
        rounds: Dict[str, List[float]] = {"bare": [], "client": []}
        calls = 0
        for _ in range(nrounds):
            if not budget.left():
                break
            for name, fn in variants.items():
                t0 = time.perf_counter()
                for _ in range(per_round):
                    await fn()
                rounds[name].append((time.perf_counter() - t0) / per_round * 1e6)
            calls += per_round
        return report("async" + (" (in-process)" if in_process else ""), rounds, calls)
    finally:
        await bare_http.aclose()
        await client.aclose()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default=os.environ.get("RATEWATCH_URL", "http://127.0.0.1:8081"))
    ap.add_argument("--api-key", default=os.environ.get("RATEWATCH_API_KEY", ""))
    ap.add_argument(
        "--iterations",
        type=int,
        default=5000,
        help="calls per variant and mode, split over the rounds (default 5000)",
    )
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--max-seconds", type=float, default=120.0)
    ap.add_argument("--mode", choices=("sync", "async", "both"), default="both")
    ap.add_argument("--json", help="also write the figures to this file")
    ap.add_argument(
        "--in-process",
        action="store_true",
        help="also measure both with httpx.MockTransport in place of the network",
    )
    args = ap.parse_args()

    if not 1 <= args.iterations <= MAX_ITERATIONS:
        ap.error(f"--iterations must be 1..{MAX_ITERATIONS}")
    if not 1 <= args.rounds <= args.iterations:
        ap.error("--rounds must be 1..iterations")
    if not 0 < args.max_seconds <= 3600:
        ap.error("--max-seconds must be in (0, 3600]")
    host = httpx.URL(args.url).host
    if host not in ("127.0.0.1", "localhost", "::1"):
        ap.error("benchmark only a server on this machine (127.0.0.1, ::1 or localhost)")
    if not args.api_key:
        print("note: no API key given (--api-key / RATEWATCH_API_KEY)", file=sys.stderr)

    try:
        httpx.get(args.url + "/health", timeout=5).raise_for_status()
    except httpx.HTTPError as e:
        print(f"no healthy RateWatch server at {args.url}: {e}", file=sys.stderr)
        return 2

    per_round = max(1, args.iterations // args.rounds)
    budget = Budget(args.max_seconds)
    results = []
    if args.mode in ("sync", "both"):
        results.append(bench_sync(args.url, args.api_key, per_round, args.rounds, budget))
    if args.mode in ("async", "both"):
        results.append(
            asyncio.run(bench_async(args.url, args.api_key, per_round, args.rounds, budget))
        )
    if args.in_process:
        # The same pairs with httpx.MockTransport answering in place of the network: no
        # server, so what is left is the client's own CPU cost, with far less noise.
        results.append(bench_sync(args.url, args.api_key, per_round, args.rounds, budget, True))
        results.append(
            asyncio.run(bench_async(args.url, args.api_key, per_round, args.rounds, budget, True))
        )
    if budget.cut:
        print(f"note: stopped early at --max-seconds {args.max_seconds:g}", file=sys.stderr)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"url": args.url, "results": results}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
