# SPDX-License-Identifier: Apache-2.0 OR MIT
"""The client against the real ratewatch binary (see conftest.py)."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import httpx
import pytest
from conftest import Server

from ratewatch import (
    AsyncRateWatch,
    AuthenticationError,
    RateLimitExceeded,
    RateWatch,
    ValidationError,
)

# -- health --------------------------------------------------------------------------------


def test_health(server: Server) -> None:
    with RateWatch(base_url=server.url) as c:  # /health needs no key
        h = c.health()
    assert h["status"] == "ok"
    assert h["version"] == "0.1.0"
    assert h["timestamp"].endswith("Z")


def test_detailed_health(client: RateWatch) -> None:
    report = client.detailed_health()
    assert report["status"] in ("ok", "degraded")


# -- checks -------------------------------------------------------------------------------


def test_allows_up_to_the_limit_then_denies(client: RateWatch, key: str) -> None:
    results = [client.check(key, limit=3, window=60) for _ in range(4)]
    assert [r.allowed for r in results] == [True, True, True, False]
    assert [r.remaining for r in results] == [2, 1, 0, 0]
    for r in results:
        assert r.limit == 3
        assert r.degraded is False
        assert r.request_id
        assert 0 < r.reset_in_ms <= 2 * 60_000 and r.reset_in == -(-r.reset_in_ms // 1000)
    denied = results[-1]
    # The weighted two-window counter can ask for up to two windows' wait.
    assert denied.retry_after is not None and 1 <= denied.retry_after <= 2 * 60
    assert denied.retry_after_ms is not None and denied.retry_after_ms > 0
    assert results[0].retry_after is None and results[0].retry_after_ms is None


def test_keys_are_counted_separately(client: RateWatch, key: str) -> None:
    assert client.check(key + ":a", 1, 60).allowed is True
    assert client.check(key + ":a", 1, 60).allowed is False
    assert client.check(key + ":b", 1, 60).allowed is True


def test_cost(client: RateWatch, key: str) -> None:
    assert client.check(key, 10, 60, cost=7).remaining == 3
    assert client.check(key, 10, 60, cost=0).remaining == 3  # asks without counting
    r = client.check(key, 10, 60, cost=4)
    assert r.allowed is False and r.remaining == 3


def test_cost_above_the_limit_is_never_allowed(client: RateWatch, key: str) -> None:
    r = client.check(key, 5, 60, cost=6)
    assert r.allowed is False
    assert r.retry_after is None  # it can never fit


def test_millisecond_window(client: RateWatch, key: str) -> None:
    first = client.check(key, 1, timedelta(milliseconds=300))
    assert first.allowed is True
    assert first.reset_in_ms <= 2 * 300
    assert client.check(key, 1, timedelta(milliseconds=300)).allowed is False
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        time.sleep(0.1)
        if client.check(key, 1, timedelta(milliseconds=300)).allowed:
            break
    else:
        pytest.fail("a 300 ms window never let a request through again within 5 s")


def test_check_with_exceptions(client: RateWatch, key: str) -> None:
    assert client.check_with_exceptions(key, 1, 60).allowed is True
    with pytest.raises(RateLimitExceeded) as info:
        client.check_with_exceptions(key, 1, 60)
    assert info.value.retry_after is not None and info.value.retry_after >= 1
    assert info.value.result.allowed is False


def test_server_side_validation_is_a_validation_error(client: RateWatch, key: str) -> None:
    # The client leaves the algorithm's value to the server.
    with pytest.raises(ValidationError) as info:
        client.check(key, 1, 60, algorithm="no_such_algorithm")
    assert info.value.status == 400
    assert info.value.code == "invalid_field"
    assert "algorithm" in info.value.message
    assert info.value.request_id


def test_one_client_shared_by_threads(client: RateWatch, key: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: client.check(key, 25, 86400), range(40)))
    assert sum(r.allowed for r in results) == 25
    assert sorted(r.remaining for r in results if r.allowed) == list(range(25))


def test_sequential_checks_keep_one_connection(server: Server, api_key: str, key: str) -> None:
    opened = []

    def trace(event_name: str, info: dict) -> None:
        if event_name == "connection.connect_tcp.complete":
            opened.append(info)

    with RateWatch(api_key=api_key, base_url=server.url) as c:
        c._http.event_hooks["request"].append(
            lambda request: request.extensions.__setitem__("trace", trace)
        )
        for _ in range(20):
            c.check(key, 100, 60)
    assert len(opened) == 1


# -- authentication -----------------------------------------------------------------------


def test_missing_key_is_an_authentication_error(server: Server, key: str) -> None:
    with RateWatch(base_url=server.url) as c:
        with pytest.raises(AuthenticationError) as info:
            c.check(key, 1, 60)
    assert info.value.status == 401
    assert info.value.code == "unauthorized"


def test_invalid_key_is_an_authentication_error(server: Server, key: str) -> None:
    with RateWatch(api_key="rw_" + "0" * 40, base_url=server.url) as c:
        with pytest.raises(AuthenticationError) as info:
            c.check(key, 1, 60)
    assert info.value.status == 401
    assert info.value.code == "unauthorized"


def test_revoked_key_is_an_authentication_error(server: Server, key: str) -> None:
    doomed = server.issue_key("pytest-revoked")
    with RateWatch(api_key=doomed, base_url=server.url) as c:
        assert c.check(key, 5, 60).allowed is True
        server.revoke_key(doomed)
        deadline = time.monotonic() + 10  # the server notices the revocation within seconds
        while True:
            try:
                c.check(key, 5, 60)
            except AuthenticationError as err:
                assert err.status == 401
                assert err.code == "key_revoked"
                break
            assert time.monotonic() < deadline, "the revoked key still works after 10 s"
            time.sleep(0.1)


def test_authentication_error_even_with_fail_open(server: Server, key: str) -> None:
    with RateWatch(api_key="rw_wrong", base_url=server.url, fail_open=True) as c:
        with pytest.raises(AuthenticationError):
            c.check(key, 1, 60)


def test_server_sends_www_authenticate(server: Server) -> None:
    r = httpx.post(server.url + "/v1/check", json={"key": "k", "limit": 1, "window": 1})
    assert r.status_code == 401
    assert r.headers.get("www-authenticate", "").lower().startswith("bearer")


# -- privacy ------------------------------------------------------------------------------


def test_delete_user_data_erases_the_users_counters(client: RateWatch, key: str) -> None:
    user = f"user:{uuid.uuid4().hex}"
    other = f"user:{uuid.uuid4().hex}"
    for k in (key + ":a", key + ":b"):
        assert client.check(k, 2, 3600, user_id=user).remaining == 1
    assert client.check(key + ":c", 2, 3600, user_id=other).remaining == 1

    receipt = client.delete_user_data(user)
    assert receipt.deleted is True
    assert receipt.deleted_counters == 2
    assert receipt.subject and user not in receipt.subject
    assert receipt.request_id
    assert receipt.completed_at[:2] == "20" and "T" in receipt.completed_at

    # The user's counters start over; the other user's do not.
    assert client.check(key + ":a", 2, 3600, user_id=user).remaining == 1
    assert client.check(key + ":c", 2, 3600, user_id=other).remaining == 0


def test_delete_user_data_for_an_unknown_user(client: RateWatch) -> None:
    receipt = client.delete_user_data(f"user:{uuid.uuid4().hex}", reason="test")
    assert receipt.deleted is True
    assert receipt.deleted_counters == 0


def test_user_data_summary(client: RateWatch, key: str) -> None:
    user = f"user:{uuid.uuid4().hex}"
    client.check(key, 5, 60, user_id=user)
    summary = client.get_user_data_summary(user)
    assert isinstance(summary, dict) and summary
    client.delete_user_data(user)
    after = client.get_user_data_summary(user)
    assert isinstance(after, dict)
    assert after != summary  # the erased counter no longer shows


# -- async --------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_async_check_and_denial(aclient: AsyncRateWatch, key: str) -> None:
    results = [await aclient.check(key, 2, 60) for _ in range(3)]
    assert [r.allowed for r in results] == [True, True, False]
    with pytest.raises(RateLimitExceeded):
        await aclient.check_with_exceptions(key, 2, 60)
    assert (await aclient.health())["status"] == "ok"


@pytest.mark.anyio
async def test_async_concurrent_checks_allow_exactly_the_limit(
    aclient: AsyncRateWatch, key: str
) -> None:
    import anyio

    results = []

    async def one() -> None:
        results.append(await aclient.check(key, 10, 86400))

    async with anyio.create_task_group() as tg:
        for _ in range(25):
            tg.start_soon(one)
    assert len(results) == 25
    assert sum(r.allowed for r in results) == 10
    assert sorted(r.remaining for r in results if r.allowed) == list(range(10))


@pytest.mark.anyio
async def test_async_privacy(aclient: AsyncRateWatch, key: str) -> None:
    user = f"user:{uuid.uuid4().hex}"
    await aclient.check(key, 5, 60, user_id=user)
    receipt = await aclient.delete_user_data(user)
    assert receipt.deleted is True and receipt.deleted_counters == 1
