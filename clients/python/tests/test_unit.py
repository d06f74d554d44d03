# SPDX-License-Identifier: Apache-2.0 OR MIT
"""The sync client against httpx.MockTransport: what it sends, how it reads answers, how
it maps failures, and fail-open."""

from __future__ import annotations

import builtins
import dataclasses
import json
import logging
import pickle
from datetime import timedelta
from typing import Any

import httpx
import pytest
from rwmock import ALLOW, DENY, KEY, URL, Script, error_response, json_response

import ratewatch
from ratewatch import (
    APIError,
    AuthenticationError,
    CheckResult,
    ConnectionError,
    InvalidResponseError,
    RateLimitExceeded,
    RateWatch,
    RateWatchClient,
    RateWatchError,
    ServerError,
    ServiceUnavailableError,
    TimeoutError,
    ValidationError,
)


def make(script: Script, **kwargs: Any) -> RateWatch:
    kwargs.setdefault("api_key", KEY)
    kwargs.setdefault("base_url", URL)
    return RateWatch(transport=script.transport(), **kwargs)


# -- what is sent -------------------------------------------------------------------------


def test_check_sends_the_documented_request() -> None:
    script = Script(json_response(200, ALLOW))
    with make(script) as c:
        c.check("user:123", limit=100, window=3600)
    req = script.requests[0]
    assert req.method == "POST"
    assert str(req.url) == URL + "/v1/check"
    assert req.headers["authorization"] == f"Bearer {KEY}"
    assert req.headers["content-type"] == "application/json"
    assert req.headers["user-agent"] == f"ratewatch-python/{ratewatch.__version__}"
    # cost 1 is the server's default: not sent; no unknown fields (the server refuses them)
    assert json.loads(req.content) == {"key": "user:123", "limit": 100, "window": 3600}


def test_check_sends_optional_fields() -> None:
    script = Script(json_response(200, ALLOW))
    with make(script) as c:
        c.check("k", 5, 60, 3, algorithm="sliding_window", user_id="user:9")
        assert script.last_json == {
            "key": "k",
            "limit": 5,
            "window": 60,
            "cost": 3,
            "algorithm": "sliding_window",
            "user_id": "user:9",
        }
        c.check("k", 5, 60, cost=0)
        assert script.last_json["cost"] == 0


def test_timedelta_window_is_sent_in_seconds_or_milliseconds() -> None:
    script = Script(json_response(200, ALLOW))
    with make(script) as c:
        c.check("k", 5, timedelta(minutes=2))
        assert script.last_json["window"] == 120 and "window_ms" not in script.last_json
        c.check("k", 5, timedelta(milliseconds=1500))
        assert script.last_json["window_ms"] == 1500 and "window" not in script.last_json


def test_non_ascii_key_roundtrips_as_the_same_string() -> None:
    script = Script(json_response(200, ALLOW))
    with make(script) as c:
        c.check("usér:ü🙂", 5, 60)
    assert script.last_json["key"] == "usér:ü🙂"


def test_api_key_and_url_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RATEWATCH_API_KEY", "rw_from_env")
    monkeypatch.setenv("RATEWATCH_URL", "http://envhost.test:9999/")
    script = Script(json_response(200, ALLOW))
    with RateWatch(transport=script.transport()) as c:
        assert c.base_url == "http://envhost.test:9999"
        c.check("k", 1, 1)
    assert script.requests[0].headers["authorization"] == "Bearer rw_from_env"
    assert str(script.requests[0].url) == "http://envhost.test:9999/v1/check"


def test_arguments_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RATEWATCH_API_KEY", "rw_from_env")
    monkeypatch.setenv("RATEWATCH_URL", "http://envhost.test:9999")
    script = Script(json_response(200, ALLOW))
    with RateWatch(
        api_key="rw_arg", base_url="http://arg.test:1", transport=script.transport()
    ) as c:
        c.check("k", 1, 1)
    assert script.requests[0].headers["authorization"] == "Bearer rw_arg"
    assert script.requests[0].url.host == "arg.test"


def test_default_base_url(ratewatch_env: None) -> None:
    with RateWatch(api_key=KEY) as c:
        assert c.base_url == "http://localhost:8081"


def test_no_key_sends_no_authorization(ratewatch_env: None) -> None:
    script = Script(json_response(200, {"status": "ok"}))
    with RateWatch(base_url=URL, transport=script.transport()) as c:
        c.health()
    assert "authorization" not in script.requests[0].headers


def test_base_url_with_a_path_prefix_is_kept() -> None:
    script = Script(json_response(200, ALLOW))
    with make(script, base_url="http://gw.test/ratewatch/") as c:
        c.check("k", 1, 1)
    assert script.requests[0].url.path == "/ratewatch/v1/check"


def test_repr_never_shows_the_key() -> None:
    c = make(Script(json_response(200, ALLOW)))
    assert KEY not in repr(c)
    assert "http://ratewatch.test:8081" in repr(c)
    c.close()


# -- reading answers ----------------------------------------------------------------------


def test_allowed_result() -> None:
    script = Script(json_response(200, ALLOW, {"x-request-id": "abc-1"}))
    with make(script) as c:
        r = c.check("user:123", 100, 3600)
    assert r == CheckResult(
        allowed=True,
        limit=100,
        remaining=99,
        reset_in=3542,
        retry_after=None,
        reset_in_ms=3541200,
        retry_after_ms=None,
        degraded=False,
        request_id="abc-1",
    )


def test_denial_is_a_result_not_an_exception() -> None:
    script = Script(json_response(200, DENY))
    with make(script) as c:
        r = c.check("user:123", 100, 3600)
    assert r.allowed is False
    assert r.remaining == 0
    assert r.retry_after == 36
    assert r.retry_after_ms == 35100


def test_result_is_frozen() -> None:
    with make(Script(json_response(200, ALLOW))) as c:
        r = c.check("k", 1, 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.allowed = False  # type: ignore[misc]


def test_server_degraded_flag_is_passed_on() -> None:
    with make(Script(json_response(200, {**ALLOW, "degraded": True}))) as c:
        r = c.check("k", 1, 1)
    assert r.degraded is True and r.allowed is True and r.remaining == 99


def test_unknown_answer_fields_are_ignored() -> None:
    with make(Script(json_response(200, {**ALLOW, "policy": "x", "new_thing": [1]}))) as c:
        assert c.check("k", 1, 1).remaining == 99


def test_answer_without_millisecond_fields_is_completed() -> None:
    body = {k: v for k, v in DENY.items() if not k.endswith("_ms")}
    with make(Script(json_response(200, body))) as c:
        r = c.check("k", 1, 1)
    assert r.reset_in_ms == 3542000 and r.retry_after_ms == 36000


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"<html>502 Bad Gateway</html>",
        b'{"allowed": true',
        b"[1, 2]",
        b'"allowed"',
        json.dumps({**ALLOW, "allowed": "yes"}).encode(),
        json.dumps({**ALLOW, "allowed": 1}).encode(),
        json.dumps({**ALLOW, "remaining": -1}).encode(),
        json.dumps({**ALLOW, "remaining": 1.5}).encode(),
        json.dumps({**ALLOW, "limit": None}).encode(),
        json.dumps({**ALLOW, "retry_after": "36"}).encode(),
        json.dumps({**ALLOW, "degraded": "true"}).encode(),
        json.dumps({k: v for k, v in ALLOW.items() if k != "reset_in"}).encode(),
        json.dumps({k: v for k, v in ALLOW.items() if k != "allowed"}).encode(),
    ],
)
def test_malformed_answer_raises_invalid_response(content: bytes) -> None:
    resp = httpx.Response(200, content=content, headers={"x-request-id": "bad-1"})
    with make(Script(resp)) as c:
        with pytest.raises(InvalidResponseError) as info:
            c.check("k", 1, 1)
    assert info.value.status == 200
    assert info.value.request_id == "bad-1"


# -- error answers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status, code, cls",
    [
        (400, "invalid_field", ValidationError),
        (400, "invalid_json", ValidationError),
        (413, "body_too_large", ValidationError),
        (415, "unsupported_media_type", ValidationError),
        (401, "unauthorized", AuthenticationError),
        (401, "key_revoked", AuthenticationError),
        (404, "not_found", APIError),
        (405, "method_not_allowed", APIError),
        (500, "internal", ServerError),
        (503, "store_full", ServiceUnavailableError),
        (503, "store_unavailable", ServiceUnavailableError),
    ],
)
def test_error_answers_map_to_exceptions(status: int, code: str, cls: type) -> None:
    resp = error_response(status, code, "the server's sentence", **{"x-request-id": "rid-7"})
    with make(Script(resp)) as c:
        with pytest.raises(cls) as info:
            c.check("k", 1, 1)
    err = info.value
    assert isinstance(err, RateWatchError)
    assert err.status == status
    assert err.code == code
    assert err.message == "the server's sentence"
    assert str(err) == "the server's sentence"
    assert err.request_id == "rid-7"


def test_401_on_every_method() -> None:
    script = Script(error_response(401, "unauthorized", "missing or invalid API key"))
    with make(script) as c:
        with pytest.raises(AuthenticationError):
            c.check("k", 1, 1)
        with pytest.raises(AuthenticationError):
            c.delete_user_data("user:1")
        with pytest.raises(AuthenticationError):
            c.get_user_data_summary("user:1")
        with pytest.raises(AuthenticationError):
            c.detailed_health()
    assert len(script.requests) == 4


def test_503_carries_retry_after() -> None:
    resp = error_response(503, "store_unavailable", "retry shortly", **{"retry-after": "7"})
    with make(Script(resp)) as c:
        with pytest.raises(ServiceUnavailableError) as info:
            c.check("k", 1, 1)
    assert info.value.retry_after == 7.0
    assert isinstance(info.value, ServerError)


def test_error_answer_that_is_not_json_still_says_what_happened() -> None:
    resp = httpx.Response(502, content=b"<html>Bad Gateway</html>")
    with make(Script(resp)) as c:
        with pytest.raises(ServerError) as info:
            c.check("k", 1, 1)
    assert info.value.status == 502
    assert info.value.code is None
    assert "502" in info.value.message and "Bad Gateway" in info.value.message


def test_redirect_is_not_followed() -> None:
    script = Script(httpx.Response(301, headers={"location": "http://elsewhere.test/"}))
    with make(script) as c:
        with pytest.raises(APIError) as info:
            c.check("k", 1, 1)
    assert info.value.status == 301
    assert len(script.requests) == 1


# -- transport failures -------------------------------------------------------------------


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ReadTimeout("slow"),
        httpx.ConnectTimeout("slow"),
        httpx.WriteTimeout("slow"),
        httpx.PoolTimeout("busy"),
    ],
)
def test_timeouts_raise_timeout_error(exc: Exception) -> None:
    with make(Script(exc)) as c:
        with pytest.raises(TimeoutError) as info:
            c.check("k", 1, 1)
    assert isinstance(info.value, builtins.TimeoutError)
    assert isinstance(info.value, RateWatchError)
    assert info.value.__cause__ is exc
    assert info.value.status is None


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ConnectError("[Errno 111] Connection refused"),
        httpx.ReadError("reset"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
    ],
)
def test_connection_failures_raise_connection_error(exc: Exception) -> None:
    with make(Script(exc)) as c:
        with pytest.raises(ConnectionError) as info:
            c.health()
    assert isinstance(info.value, builtins.ConnectionError)
    assert URL in info.value.message


# -- fail open ----------------------------------------------------------------------------


FAILURES = [
    httpx.ReadTimeout("slow"),
    httpx.ConnectError("refused"),
    error_response(500, "internal"),
    error_response(503, "store_unavailable", **{"retry-after": "1"}),
    httpx.Response(502, content=b"bad gateway"),
    httpx.Response(200, content=b"not json"),
]


@pytest.mark.parametrize("failure", FAILURES)
def test_fail_open_allows_marked_degraded(failure: Any) -> None:
    with make(Script(failure), fail_open=True) as c:
        r = c.check("k", 42, 60)
    assert r.allowed is True
    assert r.degraded is True
    assert r.limit == 42
    assert r.request_id is None


@pytest.mark.parametrize("failure", FAILURES)
def test_without_fail_open_the_same_failures_raise(failure: Any) -> None:
    with make(Script(failure)) as c:
        with pytest.raises(RateWatchError):
            c.check("k", 42, 60)


@pytest.mark.parametrize(
    "failure",
    [
        error_response(401, "unauthorized"),
        error_response(400, "invalid_field"),
        error_response(404, "not_found"),
    ],
)
def test_fail_open_never_hides_the_callers_mistakes(failure: Any) -> None:
    with make(Script(failure), fail_open=True) as c:
        with pytest.raises(RateWatchError) as info:
            c.check("k", 1, 1)
    assert info.value.status in (400, 401, 404)


def test_fail_open_does_not_turn_a_denial_into_an_allow() -> None:
    with make(Script(json_response(200, DENY)), fail_open=True) as c:
        r = c.check("k", 100, 3600)
    assert r.allowed is False and r.degraded is False


def test_fail_open_applies_to_check_with_exceptions() -> None:
    with make(Script(httpx.ConnectError("refused")), fail_open=True) as c:
        r = c.check_with_exceptions("k", 1, 1)
    assert r.allowed is True and r.degraded is True


def test_fail_open_is_only_for_checks() -> None:
    with make(Script(httpx.ConnectError("refused")), fail_open=True) as c:
        with pytest.raises(ConnectionError):
            c.health()
        with pytest.raises(ConnectionError):
            c.delete_user_data("user:1")


def test_fail_open_logs_one_warning_per_outage(caplog: pytest.LogCaptureFixture) -> None:
    down = httpx.ConnectError("refused")
    up = json_response(200, ALLOW)
    script = Script(down, down, down, up, up, down, down, up)
    caplog.set_level(logging.INFO, logger="ratewatch")
    with make(script, fail_open=True) as c:
        results = [c.check("k", 100, 60) for _ in range(8)]
    assert [r.degraded for r in results] == [True, True, True, False, False, True, True, False]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    infos = [r for r in caplog.records if r.levelno == logging.INFO]
    assert len(warnings) == 2, [r.getMessage() for r in caplog.records]
    assert all("failing open" in r.getMessage() for r in warnings)
    assert len(infos) == 2  # one "answers again" per recovery
    assert all(r.name == "ratewatch" for r in caplog.records)


def test_without_fail_open_nothing_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="ratewatch")
    with make(Script(httpx.ConnectError("refused"))) as c:
        for _ in range(3):
            with pytest.raises(ConnectionError):
                c.check("k", 1, 1)
    assert caplog.records == []


# -- check_with_exceptions ----------------------------------------------------------------


def test_check_with_exceptions_raises_on_denial() -> None:
    with make(Script(json_response(200, DENY))) as c:
        with pytest.raises(RateLimitExceeded) as info:
            c.check_with_exceptions("user:123", 100, 3600)
    e = info.value
    assert e.retry_after == 36
    assert e.result.allowed is False and e.result.limit == 100
    assert "36" in str(e)
    assert isinstance(e, RateWatchError)


def test_check_with_exceptions_returns_the_result_when_allowed() -> None:
    with make(Script(json_response(200, ALLOW))) as c:
        r = c.check_with_exceptions("user:123", 100, 3600)
    assert r.allowed is True and r.remaining == 99


def test_denial_that_can_never_fit_has_no_retry_after() -> None:
    never = {**DENY, "retry_after": None, "retry_after_ms": None}
    with make(Script(json_response(200, never))) as c:
        with pytest.raises(RateLimitExceeded) as info:
            c.check_with_exceptions("k", 100, 60, cost=101)
    assert info.value.retry_after is None
    assert "never" in str(info.value)


# -- privacy and health -------------------------------------------------------------------

RECEIPT = {
    "deleted": True,
    "deleted_counters": 3,
    "subject": "b3:4f2a",
    "request_id": "del-1",
    "completed_at": "2026-01-02T03:04:05Z",
}


def test_delete_user_data_sends_and_returns_the_receipt() -> None:
    script = Script(json_response(200, RECEIPT))
    with make(script) as c:
        receipt = c.delete_user_data("user:123")
    req = script.requests[0]
    assert (req.method, req.url.path) == ("POST", "/v1/privacy/delete")
    assert json.loads(req.content) == {"user_id": "user:123", "reason": "user_request"}
    assert receipt == ratewatch.DeletionReceipt(
        deleted=True,
        deleted_counters=3,
        subject="b3:4f2a",
        request_id="del-1",
        completed_at="2026-01-02T03:04:05Z",
    )


@pytest.mark.parametrize("missing", ["deleted", "deleted_counters", "subject", "completed_at"])
def test_incomplete_receipt_is_an_error(missing: str) -> None:
    body = {k: v for k, v in RECEIPT.items() if k != missing}
    with make(Script(json_response(200, body))) as c:
        with pytest.raises(InvalidResponseError, match=missing):
            c.delete_user_data("user:123", reason="gdpr_article_17")


def test_summary_is_posted_so_the_user_id_stays_out_of_urls() -> None:
    script = Script(json_response(200, {"user_id_hash": "x", "counters": 2}))
    with make(script) as c:
        summary = c.get_user_data_summary("user:123")
    req = script.requests[0]
    assert req.method == "POST" and req.url.path == "/v1/privacy/summary"
    assert "user" not in str(req.url)
    assert json.loads(req.content) == {"user_id": "user:123"}
    assert summary == {"user_id_hash": "x", "counters": 2}


def test_health() -> None:
    body = {"status": "ok", "timestamp": "2026-01-01T00:00:00Z", "version": "0.1.0"}
    script = Script(json_response(200, body))
    with make(script) as c:
        assert c.health() == body
    assert script.requests[0].method == "GET" and script.requests[0].url.path == "/health"


def test_detailed_health_returns_a_degraded_report() -> None:
    report = {"status": "degraded", "store": {"status": "unavailable"}}
    script = Script(json_response(200, {"status": "ok"}), json_response(503, report))
    with make(script) as c:
        assert c.detailed_health() == {"status": "ok"}
        assert c.detailed_health() == report
    assert script.requests[0].url.path == "/health/detailed"


def test_detailed_health_503_error_body_still_raises() -> None:
    with make(Script(error_response(503, "store_unavailable"))) as c:
        with pytest.raises(ServiceUnavailableError):
            c.detailed_health()


def test_health_not_ok_raises() -> None:
    with make(Script(httpx.Response(500, content=b"oops"))) as c:
        with pytest.raises(ServerError):
            c.health()


# -- lifecycle ----------------------------------------------------------------------------


def test_context_manager_closes_and_closed_client_refuses() -> None:
    script = Script(json_response(200, ALLOW))
    with make(script) as c:
        assert c.closed is False
        c.check("k", 1, 1)
    assert c.closed is True
    with pytest.raises(RateWatchError, match="closed"):
        c.check("k", 1, 1)
    c.close()  # idempotent
    assert len(script.requests) == 1


def test_alias() -> None:
    assert RateWatchClient is RateWatch


def test_errors_survive_pickling() -> None:
    err = ServiceUnavailableError(
        "down", status=503, code="store_full", request_id="r", retry_after=2.0
    )
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is ServiceUnavailableError
    assert (back.message, back.status, back.code, back.request_id, back.retry_after) == (
        "down",
        503,
        "store_full",
        "r",
        2.0,
    )
    t = pickle.loads(pickle.dumps(TimeoutError("slow")))
    assert isinstance(t, builtins.TimeoutError) and str(t) == "slow"
    denied = RateLimitExceeded(CheckResult(False, 1, 0, 5, 5, 5000, 5000))
    back2 = pickle.loads(pickle.dumps(denied))
    assert back2.retry_after == 5 and back2.result.allowed is False


def test_every_exception_is_a_ratewatch_error() -> None:
    for name in ratewatch.__all__:
        obj = getattr(ratewatch, name)
        if isinstance(obj, type) and issubclass(obj, BaseException):
            assert issubclass(obj, RateWatchError), name
