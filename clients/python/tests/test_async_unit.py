# SPDX-License-Identifier: Apache-2.0 OR MIT
"""The async client against httpx.MockTransport: the same contract as the sync one."""

from __future__ import annotations

import builtins
import inspect
import json
import logging
from typing import Any

import httpx
import pytest
from rwmock import ALLOW, DENY, KEY, URL, Script, error_response, json_response

from ratewatch import (
    AsyncRateWatch,
    AuthenticationError,
    ConnectionError,
    InvalidResponseError,
    RateLimitExceeded,
    RateWatch,
    RateWatchError,
    ServerError,
    ServiceUnavailableError,
    TimeoutError,
    ValidationError,
)

pytestmark = pytest.mark.anyio


def make(script: Script, **kwargs: Any) -> AsyncRateWatch:
    kwargs.setdefault("api_key", KEY)
    kwargs.setdefault("base_url", URL)
    return AsyncRateWatch(transport=script.async_transport(), **kwargs)


def test_same_public_methods_as_the_sync_client() -> None:
    def public(cls: type) -> set:
        return {n for n, v in vars(cls).items() if not n.startswith("_") and callable(v)}

    sync_methods = public(RateWatch) - {"close"}
    async_methods = public(AsyncRateWatch) - {"aclose", "close"}
    assert sync_methods == async_methods
    for name in async_methods:
        assert inspect.iscoroutinefunction(getattr(AsyncRateWatch, name)), name
        assert inspect.signature(getattr(AsyncRateWatch, name)).parameters.keys() == (
            inspect.signature(getattr(RateWatch, name)).parameters.keys()
        ), name


async def test_check_sends_and_reads() -> None:
    script = Script(json_response(200, ALLOW, {"x-request-id": "a-1"}))
    async with make(script) as c:
        r = await c.check("user:123", limit=100, window=3600, cost=2, user_id="user:123")
    assert r.allowed is True and r.remaining == 99 and r.request_id == "a-1"
    req = script.requests[0]
    assert req.headers["authorization"] == f"Bearer {KEY}"
    assert json.loads(req.content) == {
        "key": "user:123",
        "limit": 100,
        "window": 3600,
        "cost": 2,
        "user_id": "user:123",
    }


async def test_denial_is_a_result() -> None:
    async with make(Script(json_response(200, DENY))) as c:
        r = await c.check("k", 100, 3600)
    assert r.allowed is False and r.retry_after == 36


async def test_check_with_exceptions() -> None:
    async with make(Script(json_response(200, DENY))) as c:
        with pytest.raises(RateLimitExceeded) as info:
            await c.check_with_exceptions("k", 100, 3600)
    assert info.value.retry_after == 36


async def test_validation_before_sending() -> None:
    script = Script(json_response(200, ALLOW))
    async with make(script) as c:
        with pytest.raises(ValidationError):
            await c.check("k", 0, 60)
    assert script.requests == []


@pytest.mark.parametrize(
    "answer, cls",
    [
        (error_response(401, "key_revoked"), AuthenticationError),
        (error_response(400, "invalid_field"), ValidationError),
        (error_response(503, "store_full", **{"retry-after": "3"}), ServiceUnavailableError),
        (error_response(500, "internal"), ServerError),
        (httpx.Response(200, content=b"{"), InvalidResponseError),
        (httpx.ReadTimeout("slow"), TimeoutError),
        (httpx.ConnectError("refused"), ConnectionError),
    ],
)
async def test_failures_map_like_the_sync_client(answer: Any, cls: type) -> None:
    async with make(Script(answer)) as c:
        with pytest.raises(cls) as info:
            await c.check("k", 1, 1)
    assert isinstance(info.value, RateWatchError)
    if cls is TimeoutError:
        assert isinstance(info.value, builtins.TimeoutError)


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ReadTimeout("slow"),
        httpx.ConnectError("refused"),
        error_response(503, "store_full"),
        httpx.Response(200, content=b"nope"),
    ],
)
async def test_fail_open(failure: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="ratewatch")
    async with make(Script(failure), fail_open=True) as c:
        r1 = await c.check("k", 9, 60)
        r2 = await c.check("k", 9, 60)
    assert (r1.allowed, r1.degraded, r1.limit) == (True, True, 9)
    assert r2.degraded is True
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1


async def test_fail_open_keeps_raising_auth_errors() -> None:
    async with make(Script(error_response(401, "unauthorized")), fail_open=True) as c:
        with pytest.raises(AuthenticationError):
            await c.check("k", 1, 1)


async def test_privacy_and_health() -> None:
    receipt = {
        "deleted": True,
        "deleted_counters": 0,
        "subject": "s",
        "request_id": "r",
        "completed_at": "2026-01-01T00:00:00Z",
    }
    script = Script(
        json_response(200, receipt),
        json_response(200, {"counters": 0}),
        json_response(200, {"status": "ok"}),
        json_response(200, {"status": "degraded"}),
    )
    async with make(script) as c:
        assert (await c.delete_user_data("user:1", "test")).deleted_counters == 0
        assert await c.get_user_data_summary("user:1") == {"counters": 0}
        assert (await c.health())["status"] == "ok"
        assert (await c.detailed_health())["status"] == "degraded"
    paths = [(r.method, r.url.path) for r in script.requests]
    assert paths == [
        ("POST", "/v1/privacy/delete"),
        ("POST", "/v1/privacy/summary"),
        ("GET", "/health"),
        ("GET", "/health/detailed"),
    ]


async def test_close_and_closed_client() -> None:
    script = Script(json_response(200, ALLOW))
    c = make(script)
    await c.check("k", 1, 1)
    await c.aclose()
    assert c.closed
    with pytest.raises(RateWatchError, match="closed"):
        await c.check("k", 1, 1)
    await c.close()  # the alias, idempotent
    assert len(script.requests) == 1
