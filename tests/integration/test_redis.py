# SPDX-License-Identifier: Apache-2.0 OR MIT
"""The Redis store: same answers as the embedded store, atomic across instances, Redis's
clock, no key without a TTL, and designed behaviour when Redis fails."""
import concurrent.futures
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from conftest import BIN, RELEASE_BIN, ROOT, RedisServer

sys.path.insert(0, str(ROOT / "tests" / "vectors"))
from oracle import SlidingWindow  # noqa: E402

LUA = (ROOT / "src" / "store" / "lua" / "sliding_window.lua").read_text()
VECTORS = json.loads((ROOT / "tests" / "vectors" / "sliding_window.json").read_text())
UNIT_BIN = Path(BIN).parent / "test_sliding_window"


def run_script(redis_server, key, step):
    """One step through the Lua script with the step's time. The TTL the script set is
    checked against its bound, then removed: the test's clock is not Redis's."""
    # One transaction, so that a millisecond TTL cannot run out between the three commands.
    pipe = redis_server.client.pipeline(transaction=True)
    pipe.eval(LUA, 1, key, step["limit"], step["window_ms"], step["cost"], step["t"])
    pipe.pttl(key)
    pipe.persist(key)
    (allowed, remaining, reset, retry), ttl, _ = pipe.execute()
    if allowed and step["cost"] > 0:
        assert 0 < ttl <= reset, (ttl, reset)
    return {"allowed": bool(allowed), "remaining": remaining, "reset_in_ms": reset,
            "retry_after_ms": None if retry == -1 else retry}


def random_cases(seed, count=150):
    rng = random.Random(seed)
    cases = []
    for n in range(count):
        sw = SlidingWindow()
        w = rng.choice([1, 7, 1000, 2500, 60000, 31536000000])
        limit = rng.choice([1, 3, 10, 1000, 1000000000])
        t = rng.randrange(0, 2_000_000_000_000)
        steps = []
        for _ in range(10):
            t += rng.choice([0, 1, rng.randrange(0, 2 * w + 2)])
            lim = rng.choice([limit, limit, max(1, limit // 2)])
            cost = rng.choice([0, 1, 2, lim, lim + 1, rng.randrange(0, lim + 1)])
            expect = sw.check(t, lim, w, cost)
            steps.append({"t": t, "limit": lim, "window_ms": w, "cost": cost, **expect})
        cases.append({"name": f"random {seed}/{n}", "steps": steps})
    return cases


def test_shared_vectors_match_the_oracle():
    for case in VECTORS["cases"]:
        sw = SlidingWindow()
        for step in case["steps"]:
            got = sw.check(step["t"], step["limit"], step["window_ms"], step["cost"])
            assert got == {k: step[k] for k in got}, case["name"]


def test_shared_vectors_on_the_lua_script(redis_server):
    for i, case in enumerate(VECTORS["cases"]):
        for step in case["steps"]:
            got = run_script(redis_server, f"vec:{i}", step)
            assert got == {k: step[k] for k in got}, (case["name"], step)


def test_random_vectors_on_lua_and_c_agree_with_the_oracle(redis_server, tmp_path):
    cases = random_cases(seed=20261204)
    for i, case in enumerate(cases):
        for step in case["steps"]:
            got = run_script(redis_server, f"rand:{i}", step)
            assert got == {k: step[k] for k in got}, (case["name"], step)
    path = tmp_path / "random_vectors.json"
    path.write_text(json.dumps({"cases": cases}))
    out = subprocess.run([str(UNIT_BIN), str(path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert " 0 failed" in out.stdout


def redis_env(redis_server, **extra):
    return {"REDIS_URL": redis_server.url, **extra}


def test_check_through_redis_and_every_key_has_a_bounded_ttl(start_ratewatch, redis_server):
    rw = start_ratewatch(env=redis_env(redis_server))
    windows = [1, 60, 3600]
    for i in range(30):
        w = windows[i % 3]
        body = rw.check(f"user:{i}", limit=3, window=w).json()
        assert body["allowed"] is True and body["remaining"] == 2
    rw.check("peek-only", limit=3, window=60, cost=0)
    keys = list(redis_server.client.scan_iter(count=1000))
    assert len([k for k in keys if b"}:c:" in k]) == 30  # and one subject index per key
    assert len([k for k in keys if b"}:s:" in k]) == 30
    for k in keys:
        ttl = redis_server.client.pttl(k)
        assert ttl > 0, k
        assert ttl <= 2 * 3600 * 1000
        assert k.startswith(b"rw:{")
    assert rw.client.get("/health/ready").status_code == 200
    detailed = rw.client.get("/health/detailed").json()
    assert detailed["store"]["kind"] == "redis" and detailed["store"]["reachable"] is True


def test_same_answers_as_the_embedded_store(start_ratewatch, redis_server):
    on_redis = start_ratewatch(env=redis_env(redis_server))
    embedded = start_ratewatch()
    plan = [("a", 5, 60, 1), ("a", 5, 60, 3), ("a", 5, 60, 2), ("a", 5, 60, 0), ("b", 2, 1, 3),
            ("b", 2, 1, 2), ("b", 2, 1, 1), ("a", 10, 60, 0)]
    for key, limit, window, cost in plan:
        x = on_redis.check(key, limit=limit, window=window, cost=cost).json()
        y = embedded.check(key, limit=limit, window=window, cost=cost).json()
        assert x["allowed"] == y["allowed"] and x["remaining"] == y["remaining"]
        assert (x["retry_after"] is None) == (y["retry_after"] is None)
        assert abs(x["reset_in_ms"] - y["reset_in_ms"]) < 1000


# A day's window: a sliding window rightly admits more once a window boundary has passed
# and the previous window's weight has decayed, so exact counts need a burst well inside
# one window (with limit 10, the first extra admission comes W/10 after a boundary).
def test_two_instances_admit_exactly_the_limit(start_ratewatch, redis_server):
    # Fail closed with a generous timeout: a degraded answer would not be a decision.
    env = redis_env(redis_server, RATEWATCH_FAIL_MODE="closed", RATEWATCH_REDIS_TIMEOUT_MS="5000")
    a = start_ratewatch(env=env)
    b = start_ratewatch(env=env)
    headers = dict(a.client.headers)
    jobs = [(k, i) for k in range(20) for i in range(100)]
    random.Random(1).shuffle(jobs)

    def one(job):
        key, i = job
        url = (a if i % 2 else b).url
        with httpx.Client(timeout=10, headers=headers) as c:
            return key, c.post(url + "/v1/check",
                               json={"key": f"k{key}", "limit": 10, "window": 86400}).json()

    with concurrent.futures.ThreadPoolExecutor(max_workers=64) as pool:
        results = list(pool.map(one, jobs))
    assert all("allowed" in r and "degraded" not in r for _, r in results)
    for key in range(20):
        allowed = [r for k, r in results if k == key and r["allowed"]]
        assert len(allowed) == 10, key
        assert sorted(r["remaining"] for r in allowed) == list(range(10))


FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"


@pytest.mark.skipif(not os.path.exists(FAKETIME_LIB), reason="libfaketime is not installed")
def test_an_instance_with_a_skewed_clock_agrees(start_ratewatch, redis_server):
    # libfaketime and AddressSanitizer cannot share a process: this one is the release build.
    skewed = start_ratewatch(binary=RELEASE_BIN,
                             env=redis_env(redis_server, LD_PRELOAD=FAKETIME_LIB,
                                           FAKETIME="-10s", FAKETIME_DONT_FAKE_MONOTONIC="1"))
    honest = start_ratewatch(env=redis_env(redis_server))
    stamp = skewed.client.get("/health").json()["timestamp"]
    skew = time.time() - time.mktime(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ")) + time.timezone
    assert 8 <= skew <= 12, f"the instance's clock is not skewed: {skew}"

    first = skewed.check("skew", limit=2, window=5).json()
    second = honest.check("skew", limit=2, window=5).json()
    assert first["remaining"] == 1 and second["remaining"] == 0
    assert abs(first["reset_in_ms"] - second["reset_in_ms"]) < 500
    third = skewed.check("skew", limit=2, window=5).json()
    assert third["allowed"] is False
    assert abs(third["retry_after_ms"] - honest.check("skew", limit=2, window=5)
               .json()["retry_after_ms"]) < 500


def test_script_flush_under_load_neither_fails_nor_double_counts(start_ratewatch, redis_server):
    rw = start_ratewatch(env=redis_env(redis_server))
    stop = time.monotonic() + 3

    def flusher():
        n = 0
        while time.monotonic() < stop:
            redis_server.client.script_flush()
            n += 1
            time.sleep(0.01)
        return n

    def load(worker):
        allowed = {}
        with httpx.Client(base_url=rw.url, headers=rw.client.headers, timeout=10) as c:
            for i in range(300):
                key = f"flush:{worker}:{i % 10}"
                r = c.post("/v1/check", json={"key": key, "limit": 100000, "window": 86400})
                assert r.status_code == 200, r.text
                body = r.json()
                assert "degraded" not in body
                allowed[key] = allowed.get(key, 0) + (1 if body["allowed"] else 0)
        return allowed

    with concurrent.futures.ThreadPoolExecutor(max_workers=9) as pool:
        flushes = pool.submit(flusher)
        results = list(pool.map(load, range(8)))
    assert flushes.result() > 10
    for allowed in results:
        for key, count in allowed.items():
            peek = rw.check(key, limit=100000, window=86400, cost=0).json()
            assert 100000 - peek["remaining"] == count, key


def timed_checks(rw, n, key="outage"):
    """n sequential checks: (status, body, seconds) each."""
    out = []
    with httpx.Client(base_url=rw.url, headers=rw.client.headers, timeout=10) as c:
        for i in range(n):
            start = time.monotonic()
            r = c.post("/v1/check", json={"key": f"{key}{i % 5}", "limit": 1000, "window": 60})
            out.append((r.status_code, r, time.monotonic() - start))
    return out


# The sanitized build is several times slower; the margin covers it, the bound is the point.
MARGIN_S = 0.4
TIMEOUT_MS = 100


@pytest.mark.parametrize("mode", ["open", "closed"])
def test_redis_killed_answers_in_fail_mode_and_recovers(start_ratewatch, redis_server, mode):
    rw = start_ratewatch(env=redis_env(redis_server, RATEWATCH_FAIL_MODE=mode,
                                       RATEWATCH_REDIS_TIMEOUT_MS=str(TIMEOUT_MS)))
    assert all(s == 200 for s, _, _ in timed_checks(rw, 20))
    redis_server.kill()
    for status, r, seconds in timed_checks(rw, 50):
        assert seconds <= TIMEOUT_MS / 1000 + MARGIN_S
        if mode == "open":
            assert status == 200 or r.json().get("degraded") is None
            if r.json().get("degraded"):
                assert r.json()["allowed"] is True
                assert r.headers["ratewatch-degraded"]
        else:
            assert status in (200, 503)
            if status == 503:
                assert r.json()["code"] == "store_unavailable"
                assert r.headers["retry-after"] == "1"
    last = timed_checks(rw, 1)[0][1]
    if mode == "open":
        assert last.status_code == 200 and last.json()["degraded"] is True
    else:
        assert last.status_code == 503
    assert rw.client.get("/health/ready").status_code == 503
    assert rw.client.get("/health").status_code == 200
    assert rw.client.get("/health/detailed").json()["status"] == "degraded"

    redis_server.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        r = timed_checks(rw, 1, key="back")[0][1]
        if r.status_code == 200 and "degraded" not in r.json():
            break
        time.sleep(0.1)
    assert r.status_code == 200 and "degraded" not in r.json()
    # Every worker reconnects on its own backoff (at most 2 s): ready once all have.
    while time.monotonic() < deadline and rw.client.get("/health/ready").status_code != 200:
        time.sleep(0.1)
    assert rw.client.get("/health/ready").status_code == 200
    logs = rw.logs()
    assert logs.count("redis: unreachable") <= 3, "state changes are logged once each"


def test_redis_paused_answers_within_the_timeout(start_ratewatch, redis_server):
    rw = start_ratewatch(env=redis_env(redis_server, RATEWATCH_FAIL_MODE="closed",
                                       RATEWATCH_REDIS_TIMEOUT_MS=str(TIMEOUT_MS)))
    assert all(s == 200 for s, _, _ in timed_checks(rw, 10))
    redis_server.proc.send_signal(signal.SIGSTOP)
    try:
        results = timed_checks(rw, 30)
    finally:
        redis_server.proc.send_signal(signal.SIGCONT)
    assert all(seconds <= TIMEOUT_MS / 1000 + MARGIN_S for _, _, seconds in results)
    assert all(s == 503 for s, _, _ in results[1:])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and timed_checks(rw, 1)[0][0] != 200:
        time.sleep(0.1)
    assert timed_checks(rw, 1)[0][0] == 200


def test_unreachable_redis_at_startup_is_not_fatal(start_ratewatch, tmp_path):
    from conftest import free_port
    port = free_port()
    rw = start_ratewatch(env={"REDIS_URL": f"redis://127.0.0.1:{port}"})
    assert rw.client.get("/health").status_code == 200
    assert rw.client.get("/health/ready").status_code == 503
    server = RedisServer(tmp_path, port=port)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and rw.client.get("/health/ready").status_code != 200:
            time.sleep(0.1)
        assert rw.client.get("/health/ready").status_code == 200
        assert rw.check("late").json()["allowed"] is True
    finally:
        server.stop()


@pytest.mark.parametrize("url", ["http://localhost:6379", "redis://", "redis://host:99999",
                                 "redis://host:port", "redis://:@", "unix://relative.sock",
                                 "redis://h:1/notadb"])
def test_malformed_redis_url_stops_startup(url):
    env = dict(os.environ, REDIS_URL=url, PORT="18996")
    r = subprocess.run([BIN], env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "REDIS_URL" in r.stdout + r.stderr


def test_unix_socket_and_database(start_ratewatch, tmp_path):
    sock = tmp_path / "redis.sock"
    proc = subprocess.Popen(["redis-server", "--port", "0", "--unixsocket", str(sock), "--save",
                             "", "--appendonly", "no"], stdout=subprocess.DEVNULL)
    try:
        import redis
        deadline = time.monotonic() + 10
        while not sock.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        rw = start_ratewatch(env={"REDIS_URL": f"unix://{sock}?db=3"})
        assert rw.check("u").json()["allowed"] is True
        client = redis.Redis(unix_socket_path=str(sock), db=3)
        assert len(list(client.scan_iter(match="rw:*:c:*"))) == 1
        assert len(list(redis.Redis(unix_socket_path=str(sock), db=0).scan_iter())) == 0
    finally:
        proc.terminate()
        proc.wait()


def test_revocation_in_redis_reaches_every_instance_within_a_second(start_ratewatch,
                                                                     redis_server):
    a = start_ratewatch(env=redis_env(redis_server))
    b = start_ratewatch(env=redis_env(redis_server))
    b.client.headers["authorization"] = f"Bearer {a.api_key}"  # one key, two instances
    assert a.check().status_code == 200 and b.check().status_code == 200
    env = dict(os.environ, API_KEY_SECRET=a.env["API_KEY_SECRET"], REDIS_URL=redis_server.url)
    key_id = a.api_key.split("_")[2]
    out = subprocess.run([BIN, "keys", "revoke", key_id], env=env, capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    start = time.monotonic()
    while time.monotonic() - start < 3:
        if a.check().status_code == 401 and b.check().status_code == 401:
            break
        time.sleep(0.05)
    assert time.monotonic() - start <= 1.5
    assert b.check().json()["code"] == "key_revoked"
    listed = subprocess.run([BIN, "keys", "revoked"], env=env, capture_output=True, text=True,
                            timeout=30)
    assert key_id in listed.stdout
