# SPDX-License-Identifier: Apache-2.0 OR MIT
"""Arguments the server would refuse are refused by the client, before anything is sent."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Dict

import pytest
from rwmock import KEY, URL, Refuse

import ratewatch
from ratewatch import RateWatch, ValidationError


@pytest.fixture
def refuse() -> Refuse:
    return Refuse()


@pytest.fixture
def client(refuse: Refuse) -> RateWatch:
    return RateWatch(api_key=KEY, base_url=URL, transport=refuse.transport())


GOOD: Dict[str, Any] = {"key": "user:1", "limit": 10, "window": 60}


@pytest.mark.parametrize(
    "change, field",
    [
        ({"key": ""}, "key"),
        ({"key": "x" * 513}, "key"),
        ({"key": "é" * 257}, "key"),  # 514 bytes of UTF-8, 257 characters
        ({"key": "a\x00b"}, "key"),
        ({"key": "\ud800"}, "key"),  # lone surrogate: not encodable
        ({"key": 123}, "key"),
        ({"key": b"user:1"}, "key"),
        ({"key": None}, "key"),
        ({"limit": 0}, "limit"),
        ({"limit": 1_000_000_001}, "limit"),
        ({"limit": -5}, "limit"),
        ({"limit": 10.0}, "limit"),
        ({"limit": "10"}, "limit"),
        ({"limit": True}, "limit"),
        ({"window": 0}, "window"),
        ({"window": 31_536_001}, "window"),
        ({"window": 1.5}, "window"),
        ({"window": False}, "window"),
        ({"window": timedelta(0)}, "window"),
        ({"window": timedelta(microseconds=1500)}, "window"),
        ({"window": timedelta(days=366)}, "window"),
        ({"window": timedelta(seconds=-1)}, "window"),
        ({"cost": -1}, "cost"),
        ({"cost": 1_000_000_001}, "cost"),
        ({"cost": 1.0}, "cost"),
        ({"cost": True}, "cost"),
        ({"cost": None}, "cost"),
        ({"algorithm": ""}, "algorithm"),
        ({"algorithm": 3}, "algorithm"),
        ({"user_id": ""}, "user_id"),
        ({"user_id": "u" * 513}, "user_id"),
        ({"user_id": 7}, "user_id"),
    ],
)
def test_check_refuses_invalid_arguments_without_sending(
    client: RateWatch, refuse: Refuse, change: Dict[str, Any], field: str
) -> None:
    args = {**GOOD, **change}
    key, limit, window = args.pop("key"), args.pop("limit"), args.pop("window")
    cost = args.pop("cost", 1)
    with pytest.raises(ValidationError) as info:
        client.check(key, limit, window, cost, **args)
    err = info.value
    assert field in err.message
    assert err.status is None  # refused by the client, not the server
    assert err.code == "invalid_field"
    assert isinstance(err, ValueError)
    assert refuse.sent == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"key": "x" * 512, "limit": 1, "window": 1},
        {"key": "é" * 256, "limit": 1_000_000_000, "window": 31_536_000},
        {"key": "k", "limit": 5, "window": timedelta(milliseconds=1)},
        {"key": "k", "limit": 5, "window": timedelta(days=365)},
    ],
)
def test_limits_of_the_ranges_are_accepted(kwargs: Dict[str, Any]) -> None:
    from rwmock import ALLOW, Script, json_response

    script = Script(json_response(200, ALLOW))
    with RateWatch(api_key=KEY, base_url=URL, transport=script.transport()) as c:
        assert c.check(**kwargs).allowed is True
    assert len(script.requests) == 1


def test_check_with_exceptions_validates_too(client: RateWatch, refuse: Refuse) -> None:
    with pytest.raises(ValidationError):
        client.check_with_exceptions("k", 0, 60)
    assert refuse.sent == 0


@pytest.mark.parametrize("user_id", ["", 5, None, "x" * 513, "a\x00"])
def test_privacy_calls_validate_user_id(client: RateWatch, refuse: Refuse, user_id: Any) -> None:
    with pytest.raises(ValidationError, match="user_id"):
        client.delete_user_data(user_id)
    with pytest.raises(ValidationError, match="user_id"):
        client.get_user_data_summary(user_id)
    assert refuse.sent == 0


@pytest.mark.parametrize("reason", ["", None, 3, "r" * 257])
def test_delete_validates_reason(client: RateWatch, refuse: Refuse, reason: Any) -> None:
    with pytest.raises(ValidationError, match="reason"):
        client.delete_user_data("user:1", reason=reason)
    assert refuse.sent == 0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"base_url": "ftp://example.test"}, "base_url"),
        ({"base_url": "not a url"}, "base_url"),
        ({"base_url": 8081}, "base_url"),
        ({"api_key": ""}, "api_key"),
        ({"api_key": "rw_has space"}, "api_key"),
        ({"api_key": "rw_line\nbreak"}, "api_key"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": -1}, "timeout"),
        ({"timeout": "5"}, "timeout"),
        ({"timeout": True}, "timeout"),
    ],
)
def test_constructor_refuses_bad_settings(
    ratewatch_env: None, kwargs: Dict[str, Any], match: str
) -> None:
    kwargs.setdefault("api_key", KEY)
    kwargs.setdefault("base_url", URL)
    with pytest.raises(ValidationError, match=match) as info:
        RateWatch(**kwargs)
    # A refused key is a secret: it must not be echoed.
    if match == "api_key" and kwargs["api_key"]:
        assert kwargs["api_key"] not in str(info.value)
    with pytest.raises(ValidationError, match=match):
        ratewatch.AsyncRateWatch(**kwargs)
