# SPDX-License-Identifier: Apache-2.0 OR MIT
"""Start-up configuration, and the embedded store's bounds: the key cap and reclaiming memory
of keys that are never seen again."""
import os
import subprocess
import time
from pathlib import Path

import pytest

from conftest import BIN, ROOT


def run(args, env=None):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([BIN, *args], env=e, capture_output=True, text=True, timeout=30)


def test_version_and_help():
    v = run(["--version"])
    assert v.returncode == 0 and v.stdout.startswith("ratewatch 0.1.0")
    h = run(["--help"])
    assert h.returncode == 0
    for name in ["PORT", "RATEWATCH_BIND", "RATEWATCH_WORKERS", "RATEWATCH_LOG_LEVEL",
                 "RATEWATCH_MAX_KEYS", "REDIS_URL"]:
        assert name in h.stdout


def test_readme_configuration_table_is_the_generated_one():
    table = run(["--help-markdown"]).stdout.strip()
    readme = (ROOT / "README.md").read_text()
    assert table in readme, "README.md's configuration table is stale: paste --help-markdown"


@pytest.mark.parametrize("env,name", [
    ({"PORT": "0"}, "PORT"),
    ({"PORT": "70000"}, "PORT"),
    ({"PORT": "80x"}, "PORT"),
    ({"RATEWATCH_WORKERS": "-1"}, "RATEWATCH_WORKERS"),
    ({"RATEWATCH_LOG_LEVEL": "loud"}, "RATEWATCH_LOG_LEVEL"),
    ({"RATEWATCH_MAX_KEYS": "0"}, "RATEWATCH_MAX_KEYS"),
    ({"RATEWATCH_BIND": "not-an-address"}, "RATEWATCH_BIND"),
])
def test_bad_setting_stops_startup_naming_it(env, name):
    env = {"PORT": "18999", **env}
    r = run([], env)
    assert r.returncode != 0
    assert name in r.stderr


def test_flag_overrides_environment(start_ratewatch):
    rw = start_ratewatch(env={"RATEWATCH_LOG_LEVEL": "error"}, args=["--log-level", "info"])
    assert '"level":"info"' in rw.logs()


def test_unknown_flag_is_refused():
    r = run(["--frobnicate"])
    assert r.returncode != 0 and "--frobnicate" in r.stderr


def detailed(rw):
    return rw.client.get("/health/detailed").json()


def test_full_store_answers_503_and_keeps_live_state(start_ratewatch):
    rw = start_ratewatch(env={"RATEWATCH_MAX_KEYS": "3"})
    for k in ["a", "b", "c"]:
        assert rw.check(k, limit=5, window=60).json()["allowed"] is True
    r = rw.check("d", limit=5, window=60)
    assert r.status_code == 503 and r.json()["code"] == "store_full"
    # Existing keys still count, peeks and denials of new keys need no room.
    assert rw.check("a", limit=5, window=60).json()["remaining"] == 3
    assert rw.check("e", limit=5, window=60, cost=0).json()["remaining"] == 5
    assert detailed(rw)["store"]["keys"] == 3


def test_expired_keys_are_reclaimed_without_being_seen_again(start_ratewatch):
    # ASan holds freed memory in quarantine; keep it small so reuse shows in the RSS.
    asan = os.environ.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=1"
    rw = start_ratewatch(workers=1, env={"ASAN_OPTIONS": asan})

    def rss_kib():
        for line in Path(f"/proc/{rw.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def burst(prefix, n):
        for i in range(n):
            r = rw.client.post("/v1/check", json={"key": f"{prefix}{i}", "limit": 1,
                                                  "window_ms": 3000})
            assert r.status_code == 200

    burst("first-", 5000)
    # Some of them may have expired already on a slow (sanitized, shared) machine.
    assert detailed(rw)["store"]["keys"] >= 1000
    deadline = time.monotonic() + 10
    while detailed(rw)["store"]["keys"] > 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    stats = detailed(rw)["store"]
    assert stats["keys"] == 0
    rss_after_first = rss_kib()

    for round_ in range(2):
        burst(f"round{round_}-", 5000)
        deadline = time.monotonic() + 10
        while detailed(rw)["store"]["keys"] > 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert detailed(rw)["store"]["keys"] == 0
    # Memory freed by expiry is reused: more rounds do not grow the process much.
    assert rss_kib() < rss_after_first * 1.25 + 2048
