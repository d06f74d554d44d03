# SPDX-License-Identifier: Apache-2.0 OR MIT
"""POST /v1/check end to end on the embedded store: the contract, every error, and what a
rejected request must not change."""
import concurrent.futures
import math
import re

import httpx
import pytest


def test_first_check_is_allowed_with_full_contract(rw):
    r = rw.check("user:1", limit=100, window=3600)
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"allowed", "limit", "remaining", "reset_in", "retry_after",
                         "reset_in_ms", "retry_after_ms"}
    assert body["allowed"] is True and body["limit"] == 100 and body["remaining"] == 99
    assert body["retry_after"] is None and body["retry_after_ms"] is None
    assert 3600 < body["reset_in"] <= 7200
    assert body["reset_in"] == math.ceil(body["reset_in_ms"] / 1000)
    assert r.headers["content-type"] == "application/json"
    assert r.headers["ratelimit-policy"] == '"sliding_window";q=100;w=3600'
    assert re.fullmatch(r'"sliding_window";r=99;t=\d+', r.headers["ratelimit"])
    assert "retry-after" not in r.headers
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-request-id"]


def test_denial_after_limit_has_retry_after_and_charges_nothing(rw):
    for i in range(3):
        assert rw.check("burst", limit=3, window=60).json()["remaining"] == 2 - i
    denied = rw.check("burst", limit=3, window=60)
    assert denied.status_code == 200
    body = denied.json()
    assert body["allowed"] is False and body["remaining"] == 0
    assert 1 <= body["retry_after"] <= 120
    assert body["retry_after"] == max(1, math.ceil(body["retry_after_ms"] / 1000))
    assert denied.headers["retry-after"] == str(body["retry_after"])
    # A peek shows the denial charged nothing: still exactly 3 counted.
    peek = rw.check("burst", limit=10, window=60, cost=0).json()
    assert peek["allowed"] is True and peek["remaining"] == 7


def test_cost_above_limit_is_denied_without_retry(rw):
    body = rw.check("big", limit=5, window=60, cost=6).json()
    assert body == {"allowed": False, "limit": 5, "remaining": 5, "reset_in": 0,
                    "retry_after": None, "reset_in_ms": 0, "retry_after_ms": None}


def test_cost_zero_peeks_without_charging(rw):
    for _ in range(3):
        body = rw.check("peek", limit=4, window=60, cost=0).json()
        assert body["allowed"] is True and body["remaining"] == 4 and body["reset_in"] == 0
    assert rw.check("peek", limit=4, window=60, cost=4).json()["remaining"] == 0


def test_keys_are_opaque_and_distinct(rw):
    keys = ["a b", "2001:db8::1", "ключ", "*", "{x}", "user:1*", "[ab]", "a", "A"]
    for k in keys:
        assert rw.check(k, limit=1, window=60).json()["allowed"] is True, k
    for k in keys:
        assert rw.check(k, limit=1, window=60).json()["allowed"] is False, k


def test_state_is_per_window_and_limit_change_applies_at_once(rw):
    rw.check("w", limit=10, window=60, cost=8)
    assert rw.check("w", limit=10, window=61, cost=0).json()["remaining"] == 10
    assert rw.check("w", limit=10, window=None, window_ms=60000, cost=0).json()["remaining"] == 2
    lowered = rw.check("w", limit=5, window=60).json()
    assert lowered["allowed"] is False and lowered["remaining"] == 0
    assert rw.check("w", limit=20, window=60, cost=0).json()["remaining"] == 12


def test_window_ms_rounds_times_up(rw):
    body = rw.check("ms", limit=1, window=None, window_ms=1500).json()
    assert body["allowed"] is True
    assert body["reset_in"] == math.ceil(body["reset_in_ms"] / 1000)
    denied = rw.check("ms", limit=1, window=None, window_ms=1500).json()
    assert denied["retry_after_ms"] >= 1
    assert denied["retry_after"] == max(1, math.ceil(denied["retry_after_ms"] / 1000))


def test_largest_values_are_accepted(rw):
    body = rw.check("k" * 512, limit=1_000_000_000, window=31_536_000,
                    cost=1_000_000_000).json()
    assert body["allowed"] is True and body["remaining"] == 0
    body = rw.check("k" * 512, limit=1_000_000_000, window=31_536_000).json()
    assert body["allowed"] is False and body["retry_after"] >= 1


BAD_FIELDS = [
    ({"key": "", "limit": 1, "window": 1}, "key"),
    ({"key": "k" * 513, "limit": 1, "window": 1}, "key"),
    ({"key": 7, "limit": 1, "window": 1}, "key"),
    ({"limit": 1, "window": 1}, "key"),
    ({"key": "a", "limit": 0, "window": 1}, "limit"),
    ({"key": "a", "limit": -5, "window": 1}, "limit"),
    ({"key": "a", "limit": 2.5, "window": 1}, "limit"),
    ({"key": "a", "limit": "10", "window": 1}, "limit"),
    ({"key": "a", "limit": True, "window": 1}, "limit"),
    ({"key": "a", "limit": 1_000_000_001, "window": 1}, "limit"),
    ({"key": "a", "limit": 1, "window": 0}, "window"),
    ({"key": "a", "limit": 1, "window": 31_536_001}, "window"),
    ({"key": "a", "limit": 1, "window": 1, "window_ms": 1000}, "window"),
    ({"key": "a", "limit": 1}, "window"),
    ({"key": "a", "limit": 1, "window_ms": 31_536_000_001}, "window_ms"),
    ({"key": "a", "limit": 1, "window": 1, "cost": -1}, "cost"),
    ({"key": "a", "limit": 1, "window": 1, "cost": 1_000_000_001}, "cost"),
    ({"key": "a", "limit": 1, "window": 1, "algorithm": "leaky"}, "algorithm"),
    ({"key": "a", "limit": 1, "window": 1, "extra": True}, "extra"),
]


@pytest.mark.parametrize("body,field", BAD_FIELDS)
def test_invalid_fields_are_rejected_and_change_nothing(rw, body, field):
    r = rw.client.post("/v1/check", json=body)
    assert r.status_code == 400
    err = r.json()
    assert err["code"] == "invalid_field"
    assert field in err["error"]
    # Nothing was charged to the key the body named.
    key = body.get("key") if isinstance(body.get("key"), str) and body.get("key") else "a"
    if len(key) <= 512:
        assert rw.check(key, limit=1, window=1, cost=0).json()["remaining"] == 1


@pytest.mark.parametrize("raw", [b"", b"{", b"not json", b"[1]", b'"str"', b"\xff\xfe",
                                 b'{"key":"a","key":"b","limit":1,"window":1}',
                                 b'{"key":"\xff","limit":1,"window":1}'])
def test_malformed_json_is_rejected(rw, raw):
    r = rw.post_raw("/v1/check", raw)
    assert r.status_code == 400
    assert r.json()["code"] == "invalid_json"


def test_content_type_must_be_json(rw):
    body = b'{"key":"a","limit":1,"window":1}'
    assert rw.post_raw("/v1/check", body, content_type="text/plain").status_code == 415
    r = rw.post_raw("/v1/check", body, content_type=None)
    assert r.status_code == 415 and r.json()["code"] == "unsupported_media_type"
    ok = rw.post_raw("/v1/check", body, content_type="Application/JSON; charset=utf-8")
    assert ok.status_code == 200
    # The rejected ones charged nothing: exactly one unit is counted.
    assert rw.check("a", limit=1, window=1, cost=0).json()["remaining"] == 0


def test_body_over_8_kib_is_413(rw):
    body = b'{"key":"a","limit":1,"window":1,"pad":"' + b"x" * 9000 + b'"}'
    r = rw.post_raw("/v1/check", body)
    assert r.status_code == 413 and r.json()["code"] == "body_too_large"
    # Far larger bodies are refused too, and the server stays up.
    r = rw.post_raw("/v1/check", b"x" * (200 * 1024))
    assert r.status_code == 413
    assert rw.client.get("/health").status_code == 200


def test_unknown_path_and_wrong_method(rw):
    r = rw.client.get("/v1/nope")
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    r = rw.client.get("/v1/check")
    assert r.status_code == 405 and r.json()["code"] == "method_not_allowed"
    assert r.headers["allow"] == "POST"
    r = rw.client.delete("/health")
    assert r.status_code == 405 and "GET" in r.headers["allow"]


def test_health(rw):
    r = rw.client.get("/health")
    body = r.json()
    assert r.status_code == 200 and body["status"] == "ok" and body["version"] == "0.1.0"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["timestamp"])


def test_request_id_is_echoed_when_well_formed(rw):
    r = rw.client.get("/health", headers={"x-request-id": "abc.DEF_123-x"})
    assert r.headers["x-request-id"] == "abc.DEF_123-x"
    r = rw.client.get("/health", headers={"x-request-id": "bad id<script>"})
    assert r.headers["x-request-id"] != "bad id<script>"
    assert re.fullmatch(r"[A-Za-z0-9._-]{1,64}", r.headers["x-request-id"])


# A day's window keeps the burst inside one window: past a boundary, a sliding window
# rightly admits more as the previous window's weight decays.
def test_200_concurrent_clients_on_one_key_admit_exactly_limit(rw):
    limit = 50

    def one(_):
        with httpx.Client(base_url=rw.url, timeout=10, headers=rw.client.headers) as c:
            return c.post("/v1/check", json={"key": "hot", "limit": limit, "window": 86400}).json()

    with concurrent.futures.ThreadPoolExecutor(max_workers=200) as pool:
        results = list(pool.map(one, range(200)))
    allowed = [r for r in results if r["allowed"]]
    assert len(allowed) == limit
    assert sorted(r["remaining"] for r in allowed) == list(range(limit))
    assert all(r["retry_after"] >= 1 for r in results if not r["allowed"])
