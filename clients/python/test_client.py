#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0 OR MIT
"""End-to-end smoke test of the Python client against a running RateWatch server.

    cd clients/python
    RATEWATCH_URL=http://127.0.0.1:8081 RATEWATCH_API_KEY=rw_... python3 test_client.py

Runs every public call once or a few times, prints one line per step, and exits 1 if any
step failed (2 if it could not start). Every call has a timeout, and every loop a count.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
import traceback
import uuid
from datetime import timedelta
from typing import Callable, List, Tuple

try:
    import ratewatch
except ImportError:  # not installed: use the source next to this file
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "src"))
    import ratewatch

from ratewatch import (
    AsyncRateWatch,
    AuthenticationError,
    RateLimitExceeded,
    RateWatch,
    RateWatchClient,
    ValidationError,
)

URL = os.environ.get("RATEWATCH_URL", "http://localhost:8081")
API_KEY = os.environ.get("RATEWATCH_API_KEY", "")
RUN = uuid.uuid4().hex[:12]  # keeps this run's counters apart from any other's
TIMEOUT = 5.0


def expect(condition: bool, what: str) -> None:
    if not condition:
        raise AssertionError(what)


def unique(name: str) -> str:
    return f"smoke:{RUN}:{name}"


# -- steps --------------------------------------------------------------------------------


def step_health(c: RateWatch) -> None:
    h = c.health()
    expect(h.get("status") == "ok", f"/health status is {h.get('status')!r}")
    expect(isinstance(h.get("version"), str), "/health has no version")


def step_detailed_health(c: RateWatch) -> None:
    report = c.detailed_health()
    expect(report.get("status") in ("ok", "degraded"), f"status is {report.get('status')!r}")


def step_allow_then_deny(c: RateWatch) -> None:
    key = unique("allow-deny")
    results = [c.check(key, limit=3, window=60) for _ in range(4)]
    expect(
        [r.allowed for r in results] == [True, True, True, False],
        f"allowed: {[r.allowed for r in results]}",
    )
    expect(
        [r.remaining for r in results] == [2, 1, 0, 0],
        f"remaining: {[r.remaining for r in results]}",
    )
    denied = results[-1]
    # the weighted two-window counter may ask for up to two windows' wait
    expect(
        denied.retry_after is not None and 1 <= denied.retry_after <= 120,
        f"retry_after {denied.retry_after}",
    )
    expect(
        all(r.limit == 3 and not r.degraded and r.request_id for r in results),
        "limit, degraded or request_id wrong",
    )


def step_cost_and_window_ms(c: RateWatch) -> None:
    key = unique("cost")
    expect(c.check(key, 10, 60, cost=6).remaining == 4, "cost 6 of 10 should leave 4")
    expect(c.check(key, 10, 60, cost=0).remaining == 4, "cost 0 should not count")
    expect(c.check(key, 10, 60, cost=5).allowed is False, "cost 5 with 4 left should be denied")
    r = c.check(unique("ms"), 1, timedelta(milliseconds=1500))
    expect(r.allowed and r.reset_in_ms <= 3000, f"1500 ms window: {r}")


def step_check_with_exceptions(c: RateWatch) -> None:
    key = unique("exc")
    c.check_with_exceptions(key, 1, 60)
    try:
        c.check_with_exceptions(key, 1, 60)
    except RateLimitExceeded as e:
        expect(e.retry_after is not None and e.retry_after >= 1, f"retry_after {e.retry_after}")
        expect(e.result.allowed is False, "result should be a denial")
    else:
        raise AssertionError("the second check should have raised RateLimitExceeded")


def step_validation(c: RateWatch) -> None:
    try:
        c.check("", 10, 60)
    except ValidationError as e:
        expect(e.status is None, "an empty key should be refused before sending")
    else:
        raise AssertionError("an empty key was accepted")
    try:
        c.check(unique("algo"), 10, 60, algorithm="no_such_algorithm")
    except ValidationError as e:
        expect(e.status == 400 and e.code == "invalid_field", f"{e.status} {e.code}")
    else:
        raise AssertionError("an unknown algorithm was accepted")


def step_bad_key(c: RateWatch) -> None:
    with RateWatch(api_key="rw_not_a_real_key", base_url=URL, timeout=TIMEOUT) as bad:
        try:
            bad.check(unique("bad-key"), 1, 60)
        except AuthenticationError as e:
            expect(e.status == 401 and e.code == "unauthorized", f"{e.status} {e.code}")
        else:
            raise AssertionError("a made-up key was accepted")


def step_fail_open(c: RateWatch) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with RateWatchClient(
        api_key=API_KEY or None, base_url=f"http://127.0.0.1:{port}", timeout=1.0, fail_open=True
    ) as down:
        r = down.check(unique("down"), 5, 60)
    expect(r.allowed is True and r.degraded is True, f"fail-open result: {r}")


def step_privacy(c: RateWatch) -> None:
    user = f"user:{RUN}"
    key = unique("privacy")
    expect(c.check(key, 2, 3600, user_id=user).remaining == 1, "first check should leave 1")
    summary = c.get_user_data_summary(user)
    expect(isinstance(summary, dict) and bool(summary), f"summary: {summary!r}")
    receipt = c.delete_user_data(user, reason="user_request")
    expect(receipt.deleted is True, "receipt says not deleted")
    expect(receipt.deleted_counters == 1, f"deleted_counters {receipt.deleted_counters}")
    expect(bool(receipt.subject) and user not in receipt.subject, "subject should be a hash")
    expect(c.check(key, 2, 3600, user_id=user).remaining == 1, "the counter was not erased")


def step_async(_: RateWatch) -> None:
    async def main() -> None:
        async with AsyncRateWatch(api_key=API_KEY or None, base_url=URL, timeout=TIMEOUT) as ac:
            expect((await ac.health())["status"] == "ok", "async health")
            key = unique("async")
            results = await asyncio.gather(*(ac.check(key, 5, 60) for _ in range(12)))
            expect(
                sum(r.allowed for r in results) == 5,
                f"{sum(r.allowed for r in results)} of 12 allowed with limit 5",
            )
            try:
                await ac.check_with_exceptions(key, 5, 60)
            except RateLimitExceeded:
                pass
            else:
                raise AssertionError("async check_with_exceptions did not raise")

    asyncio.run(main())


STEPS: List[Tuple[str, Callable[[RateWatch], None]]] = [
    ("health", step_health),
    ("detailed health", step_detailed_health),
    ("allow, then deny at the limit", step_allow_then_deny),
    ("cost and millisecond windows", step_cost_and_window_ms),
    ("check_with_exceptions", step_check_with_exceptions),
    ("validation, client and server side", step_validation),
    ("a bad API key", step_bad_key),
    ("fail-open on a dead server", step_fail_open),
    ("privacy: summary and deletion", step_privacy),
    ("async client", step_async),
]


def main() -> int:
    print(f"ratewatch-python {ratewatch.__version__} against {URL}")
    if not API_KEY:
        print("note: RATEWATCH_API_KEY is not set; /v1/* calls will be unauthenticated")
    try:
        client = RateWatch(api_key=API_KEY or None, base_url=URL, timeout=TIMEOUT)
    except Exception as e:  # noqa: BLE001
        print(f"cannot create the client: {e}")
        return 2
    passed = failed = 0
    with client:
        for name, step in STEPS:
            t0 = time.monotonic()
            try:
                step(client)
            except Exception as e:  # noqa: BLE001 - report every failure, keep going
                failed += 1
                print(f"FAIL  {name}: {type(e).__name__}: {e}")
                if os.environ.get("VERBOSE"):
                    traceback.print_exc()
            else:
                passed += 1
                print(f"ok    {name} ({(time.monotonic() - t0) * 1000:.0f} ms)")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
