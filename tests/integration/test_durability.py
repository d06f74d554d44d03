# SPDX-License-Identifier: Apache-2.0 OR MIT
"""The embedded store across restarts (snapshots), and reloading on SIGHUP."""
import os
import signal
import time

import httpx

from conftest import log_records


def test_an_exhausted_key_stays_denied_across_a_restart(start_ratewatch, tmp_path):
    env = {"RATEWATCH_DATA_DIR": str(tmp_path)}
    rw = start_ratewatch(env=env)
    for _ in range(3):
        assert rw.check("tired", limit=3, window=60).json()["allowed"] is True
    before = rw.check("tired", limit=3, window=60).json()
    assert before["allowed"] is False
    assert rw.stop() == 0
    assert (tmp_path / "counters.snapshot").exists()

    again = start_ratewatch(env=env)
    after = again.check("tired", limit=3, window=60).json()
    assert after["allowed"] is False
    assert abs(after["retry_after_ms"] - before["retry_after_ms"]) < 5000
    assert after["retry_after"] >= 1
    assert "counters restored" in again.logs()


def test_periodic_snapshot_survives_a_kill(start_ratewatch, tmp_path):
    env = {"RATEWATCH_DATA_DIR": str(tmp_path), "RATEWATCH_SNAPSHOT_INTERVAL_S": "1"}
    rw = start_ratewatch(env=env)
    rw.check("k9", limit=5, window=60, cost=4)
    time.sleep(2.5)
    rw.proc.kill()
    rw.proc.wait()
    rw.proc.returncode = 0  # killed on purpose; the harness checks the others
    again = start_ratewatch(env=env)
    assert again.check("k9", limit=5, window=60, cost=0).json()["remaining"] == 1


def test_expired_counters_are_dropped_at_load(start_ratewatch, tmp_path):
    env = {"RATEWATCH_DATA_DIR": str(tmp_path)}
    rw = start_ratewatch(env=env)
    rw.check("short", limit=1, window=None, window_ms=300)
    rw.check("long", limit=1, window=3600)
    assert rw.stop() == 0
    time.sleep(0.8)
    again = start_ratewatch(env=env)
    assert "1 counters restored, 1 expired ones dropped" in again.logs()
    assert again.check("short", limit=1, window=None, window_ms=300).json()["allowed"] is True
    assert again.check("long", limit=1, window=3600).json()["allowed"] is False


def corrupted_start(start_ratewatch, tmp_path, mangle):
    env = {"RATEWATCH_DATA_DIR": str(tmp_path)}
    rw = start_ratewatch(env=env)
    for i in range(20):
        rw.check(f"c{i}", limit=1, window=3600)
    assert rw.stop() == 0
    snap = tmp_path / "counters.snapshot"
    mangle(snap)
    again = start_ratewatch(env=env)
    records = log_records(again.logs())
    errors = [r for r in records if r["level"] == "error" and "snapshot" in r["msg"]]
    assert errors, "a bad snapshot must be reported"
    assert list(tmp_path.glob("counters.snapshot.corrupt-*")), "and set aside"
    assert again.check("c0", limit=1, window=3600).json()["allowed"] is True
    return again


def test_a_truncated_snapshot_is_reported_and_set_aside(start_ratewatch, tmp_path):
    def truncate(path):
        data = path.read_bytes()
        path.write_bytes(data[: len(data) - 40])
    corrupted_start(start_ratewatch, tmp_path, truncate)


def test_a_corrupt_snapshot_is_reported_and_set_aside(start_ratewatch, tmp_path):
    def flip(path):
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    corrupted_start(start_ratewatch, tmp_path, flip)


def test_garbage_instead_of_a_snapshot(start_ratewatch, tmp_path):
    corrupted_start(start_ratewatch, tmp_path, lambda p: p.write_bytes(b"\x00garbage" * 7))


def test_sighup_reloads_log_level_and_access_log(start_ratewatch, tmp_path):
    env_file = tmp_path / "ratewatch.env"
    env_file.write_text("RATEWATCH_LOG_LEVEL=info\nRATEWATCH_ACCESS_LOG=off\n")
    rw = start_ratewatch(env={"RATEWATCH_ENV_FILE": str(env_file)})
    rw.client.get("/health", headers={"x-request-id": "before-reload"})
    env_file.write_text("# edited\nRATEWATCH_LOG_LEVEL=debug\nRATEWATCH_ACCESS_LOG=all\n")
    rw.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 5
    while "reloaded on SIGHUP" not in rw.logs() and time.monotonic() < deadline:
        time.sleep(0.05)
    rw.client.get("/health", headers={"x-request-id": "after-reload"})
    time.sleep(0.1)
    ids = [r.get("request_id") for r in log_records(rw.logs()) if r["msg"] == "request"]
    assert "after-reload" in ids and "before-reload" not in ids

    env_file.write_text("RATEWATCH_LOG_LEVEL=loud\n")
    rw.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 5
    while "reload refused" not in rw.logs() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "reload refused" in rw.logs()
    assert rw.client.get("/health").status_code == 200
