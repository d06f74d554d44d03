# SPDX-License-Identifier: Apache-2.0 OR MIT
"""Privacy by design, on both stores: nothing in clear, complete erasure with a receipt,
access summaries, the audit, and retention bounds."""
import concurrent.futures
import re
import threading
import time

import httpx
import pytest

from conftest import issue_key


@pytest.fixture(params=["memory", "redis"])
def store(request, tmp_path):
    if request.param == "memory":
        yield {"RATEWATCH_DATA_DIR": str(tmp_path)}, None
        return
    server = request.getfixturevalue("redis_server")
    yield {"REDIS_URL": server.url}, server


@pytest.fixture
def rw(start_ratewatch, store):
    env, _ = store
    return start_ratewatch(env=env)


def erase(rw, user_id, reason="user_request", headers=None):
    r = rw.client.post("/v1/privacy/delete", json={"user_id": user_id, "reason": reason},
                       headers=headers or {})
    assert r.status_code == 200, r.text
    return r.json()


def summary(rw, user_id, headers=None):
    r = rw.client.get("/v1/privacy/summary", params={"user_id": user_id}, headers=headers or {})
    assert r.status_code == 200, r.text
    return r.json()


def remaining(rw, key, limit=5, window=60):
    return rw.check(key, limit=limit, window=window, cost=0).json()["remaining"]


def test_erasure_covers_every_key_window_and_user_id(rw):
    rw.check("user:123", limit=5, window=60)
    rw.check("user:123", limit=5, window=3600)
    rw.check("user:123", limit=5, window=None, window_ms=1500)
    rw.check("203.0.113.9", limit=5, window=60, user_id="user:123")
    rw.check("someone-else", limit=5, window=60)
    held = summary(rw, "user:123")
    assert held["counters"] == 4
    assert sorted(i["window_ms"] for i in held["items"]) == [1500, 60000, 60000, 3600000]
    assert all(i["algorithm"] == "sliding_window" and i["expires_in_s"] >= 1
               for i in held["items"])

    receipt = erase(rw, "user:123")
    assert receipt["deleted"] is True and receipt["deleted_counters"] == 4
    assert re.fullmatch(r"[0-9a-f]{32}", receipt["subject"])
    assert receipt["subject"] == held["subject"]
    assert receipt["request_id"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", receipt["completed_at"])
    assert "user:123" not in str(receipt)

    assert summary(rw, "user:123")["counters"] == 0
    assert remaining(rw, "user:123") == 5 and remaining(rw, "203.0.113.9") == 5
    assert remaining(rw, "someone-else") == 4
    again = rw.check("user:123", limit=5, window=60).json()
    assert again["remaining"] == 4, "the next check of an erased key starts fresh"


def test_erasing_an_unknown_subject_succeeds_with_zero(rw):
    receipt = erase(rw, "nobody")
    assert receipt["deleted"] is True and receipt["deleted_counters"] == 0


def test_pattern_like_keys_erase_only_themselves(rw):
    keys = ["*", "user:1*", "[ab]", "{x}", "user:1", "user:10", "a", "b", "x", "?"]
    for k in keys:
        rw.check(k, limit=5, window=60)
    for pattern in ["*", "user:1*", "[ab]", "{x}", "?"]:
        assert erase(rw, pattern)["deleted_counters"] == 1, pattern
        assert remaining(rw, pattern) == 5
    for k in ["user:1", "user:10", "a", "b", "x"]:
        assert remaining(rw, k) == 4, k


def test_erasing_user_1_leaves_user_10_alone(rw):
    rw.check("user:1", limit=5, window=60)
    rw.check("user:10", limit=5, window=60)
    assert erase(rw, "user:1")["deleted_counters"] == 1
    assert remaining(rw, "user:10") == 4 and remaining(rw, "user:1") == 5


def test_one_tenant_cannot_erase_or_see_another(rw):
    other = {"authorization": f"Bearer {issue_key('other')}"}
    rw.check("user:7", limit=5, window=60)
    assert summary(rw, "user:7", headers=other)["counters"] == 0
    assert erase(rw, "user:7", headers=other)["deleted_counters"] == 0
    assert summary(rw, "user:7")["counters"] == 1 and remaining(rw, "user:7") == 4
    mine = rw.client.get("/v1/privacy/audit").json()["records"]
    theirs = rw.client.get("/v1/privacy/audit", headers=other).json()["records"]
    assert len(theirs) == 2 and all(r["count"] == 0 for r in theirs)
    assert {r["request_id"] for r in mine}.isdisjoint({r["request_id"] for r in theirs})


def test_summary_by_get_and_post_and_the_audit(rw):
    rw.check("user:5", limit=5, window=60)
    by_get = summary(rw, "user:5")
    by_post = rw.client.post("/v1/privacy/summary", json={"user_id": "user:5"}).json()
    assert by_get["counters"] == by_post["counters"] == 1
    assert "the key or user id in clear" in by_get["not_held"]
    erase(rw, "user:5", reason="ticket 42")
    records = rw.client.get("/v1/privacy/audit").json()["records"]
    assert [r["action"] for r in records] == ["summary", "summary", "delete"]
    assert records[-1]["reason"] == "ticket 42" and records[-1]["count"] == 1
    assert records[-1]["subject"] == by_get["subject"]
    assert all(set(r) == {"time", "action", "subject", "reason", "count", "request_id"}
               for r in records)
    assert "user:5" not in str(records)


@pytest.mark.parametrize("path,body", [
    ("/v1/privacy/delete", {}),
    ("/v1/privacy/delete", {"user_id": ""}),
    ("/v1/privacy/delete", {"user_id": 5}),
    ("/v1/privacy/delete", {"user_id": "u", "reason": "x" * 201}),
    ("/v1/privacy/delete", {"user_id": "u", "extra": 1}),
    ("/v1/privacy/summary", {"user_id": "u", "reason": "no reason field here"}),
])
def test_bad_privacy_requests_are_400(rw, path, body):
    r = rw.client.post(path, json=body)
    assert r.status_code == 400 and r.json()["code"] == "invalid_field"


@pytest.mark.parametrize("query", ["", "user_id=", "user_id=%zz", "user_id=a%00b",
                                   "user_id=%ff", "user_id=a&user_id=b"])
def test_bad_summary_queries_are_400(rw, query):
    r = rw.client.get("/v1/privacy/summary?" + query)
    assert r.status_code == 400 and r.json()["code"] == "invalid_field"


def test_privacy_endpoints_need_a_key(rw):
    for method, path in [("POST", "/v1/privacy/delete"), ("GET", "/v1/privacy/summary"),
                         ("GET", "/v1/privacy/audit")]:
        assert httpx.request(method, rw.url + path).status_code == 401


def test_checks_concurrent_with_erasure_leave_no_counter_outside_the_index(rw, store):
    _, redis_server = store
    stop = threading.Event()

    def load(worker):
        with httpx.Client(base_url=rw.url, headers=rw.client.headers, timeout=10) as c:
            n = 0
            while not stop.is_set() and n < 400:
                c.post("/v1/check", json={"key": f"k{n % 7}", "limit": 1000, "window": 60,
                                          "user_id": "victim"})
                c.post("/v1/check", json={"key": "victim", "limit": 1000, "window": 60 + worker})
                n += 1

    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(load, w) for w in range(3)]
        for _ in range(10):
            erase(rw, "victim")
            time.sleep(0.02)
        stop.set()
        for f in futures:
            f.result()
    erase(rw, "victim")
    assert summary(rw, "victim")["counters"] == 0
    for k in [f"k{i}" for i in range(7)]:
        assert remaining(rw, k, limit=1000) == 1000, k
    for w in range(3):
        assert remaining(rw, "victim", limit=1000, window=60 + w) == 1000
    if redis_server is not None:
        assert [k for k in redis_server.client.scan_iter(match="rw:*:c:*")] == []


MARKERS = ["marker-key-5f1c9e", "marker-user-8a2d77", "marker@example.org", "198.51.100.77"]


def test_no_identifier_appears_in_store_logs_or_metrics(start_ratewatch, store):
    env, redis_server = store
    rw = start_ratewatch(env={**env, "RATEWATCH_LOG_LEVEL": "debug",
                              "RATEWATCH_ACCESS_LOG": "all"})
    for m in MARKERS:
        rw.check(m, limit=5, window=60, user_id=MARKERS[1])
        rw.check(m, limit=5, window=60, cost=9)
        summary(rw, m)
    erase(rw, MARKERS[0])
    rw.client.post("/v1/check", json={"key": MARKERS[2], "limit": 0, "window": 1})
    metrics = rw.client.get("/metrics").text
    dumped = [metrics, rw.logs(), rw.client.get("/v1/privacy/audit").text]
    if redis_server is not None:
        r = redis_server.client
        for k in r.scan_iter(count=1000):
            dumped.append(k.decode())
            kind = r.type(k).decode()
            if kind == "string":
                dumped.append(r.get(k).decode())
            elif kind == "zset":
                dumped.extend(x.decode() for x in r.zrange(k, 0, -1))
            elif kind == "stream":
                dumped.append(str(r.xrange(k)))
            elif kind == "set":
                dumped.extend(x.decode() for x in r.smembers(k))
    blob = "\n".join(dumped)
    for m in MARKERS:
        assert m not in blob, m


def test_every_redis_key_expires_within_its_bound(start_ratewatch, redis_server):
    rw = start_ratewatch(env={"REDIS_URL": redis_server.url})
    windows_ms = {60_000: 0, 3_600_000: 0, 1_500: 0}
    for i, w in enumerate(windows_ms):
        rw.check(f"ttl{i}", limit=5, window=None, window_ms=w, user_id="ttl-user")
    erase(rw, "nobody")
    r = redis_server.client
    kinds = {}
    for k in r.scan_iter(count=1000):
        ttl = r.pttl(k)
        kind = k.decode().split(":")[2]
        kinds[kind] = kinds.get(kind, 0) + 1
        assert ttl > 0, k
        if kind in ("c", "s"):
            assert ttl <= 2 * max(windows_ms), k  # a counter's bound; an index's is its last
        elif kind == "a":
            assert ttl <= 30 * 24 * 3600 * 1000, k
    assert kinds == {"c": 3, "s": 4, "a": 1}
