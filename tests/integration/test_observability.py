# SPDX-License-Identifier: Apache-2.0 OR MIT
"""Metrics, health, logs and alerting as operators consume them."""
import json
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from conftest import ROOT, log_records

PROMTOOL = shutil.which("promtool")


def metric(text, name, **labels):
    """The value of one sample, or None."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        m = re.fullmatch(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)", line)
        if m is None or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="([^"]*)"', m.group(3) or ""))
        if all(got.get(k) == v for k, v in labels.items()):
            return float(m.group(4))
    return None


def test_metrics_count_checks_by_tenant_algorithm_and_outcome(rw):
    for _ in range(3):
        rw.check("m", limit=2, window=60)
    rw.client.post("/v1/check", json={"key": "m", "limit": 0, "window": 1})
    rw.client.get("/nope")
    text = rw.client.get("/metrics").text
    base = {"tenant": "test", "algorithm": "sliding_window"}
    assert metric(text, "ratewatch_checks_total", outcome="allowed", **base) == 2
    assert metric(text, "ratewatch_checks_total", outcome="denied", **base) == 1
    assert metric(text, "ratewatch_http_requests_total", route="/v1/check", status="2xx") == 3
    assert metric(text, "ratewatch_http_requests_total", route="/v1/check", status="4xx") == 1
    assert metric(text, "ratewatch_http_requests_total", route="other", status="4xx") == 1
    assert metric(text, "ratewatch_http_request_duration_seconds_count", route="/v1/check") == 4
    assert metric(text, "ratewatch_store_roundtrip_seconds_count", store="memory") == 3
    assert metric(text, "ratewatch_store_checks_in_flight", store="memory") == 0
    assert metric(text, "ratewatch_embedded_store_keys") == 1
    assert metric(text, "ratewatch_embedded_store_bytes") > 0
    assert metric(text, "ratewatch_open_connections") >= 1
    assert metric(text, "ratewatch_build_info", version="0.1.0") == 1
    assert metric(text, "process_resident_memory_bytes") > 1_000_000
    assert metric(text, "process_open_fds") > 3
    assert metric(text, "process_start_time_seconds") > 1.7e9
    assert metric(text, "process_cpu_seconds_total") >= 0


@pytest.mark.skipif(PROMTOOL is None, reason="promtool (Debian's prometheus) is not installed")
def test_promtool_accepts_real_output(rw, tmp_path):
    rw.check("p", limit=1, window=60)
    rw.check("p", limit=1, window=60)
    text = rw.client.get("/metrics").text
    out = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    for line in text.splitlines():
        if line.startswith("# TYPE"):
            name, kind = line.split()[2:4]
            assert name.startswith(("ratewatch_", "process_")), name
            if kind == "counter":
                assert name.endswith("_total"), name
            if kind == "histogram":
                assert name.endswith("_seconds"), name


@pytest.mark.skipif(PROMTOOL is None, reason="promtool (Debian's prometheus) is not installed")
def test_alert_rules_pass_promtool():
    out = subprocess.run([PROMTOOL, "check", "rules", str(ROOT / "deploy/prometheus/alerts.yml")],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "5 rules found" in out.stdout


def test_grafana_dashboard_queries_only_metrics_that_exist(rw):
    dash = json.loads((ROOT / "deploy/grafana/ratewatch-dashboard.json").read_text())
    exposed = {line.split()[2] for line in rw.client.get("/metrics").text.splitlines()
               if line.startswith("# TYPE")}
    for panel in dash["panels"]:
        for target in panel["targets"]:
            names = set(re.findall(r"\b((?:ratewatch|process)_[a-z_]+)", target["expr"]))
            for n in names:
                base = re.sub(r"_(bucket|sum|count)$", "", n)
                assert base in exposed, (panel["title"], n)


def test_label_sets_are_bounded_and_never_carry_keys(rw):
    for i in range(50):
        rw.check(f"secret-key-{i}", limit=5, window=60, user_id=f"secret-user-{i}")
    text = rw.client.get("/metrics").text
    assert "secret-key" not in text and "secret-user" not in text
    assert len(text.splitlines()) < 400


def test_metrics_token(start_ratewatch):
    rw = start_ratewatch(env={"RATEWATCH_METRICS_TOKEN": "scrape-secret-1234"})
    assert httpx.get(rw.url + "/metrics").status_code == 401
    r = httpx.get(rw.url + "/metrics", headers={"authorization": "Bearer wrong"})
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    ok = httpx.get(rw.url + "/metrics", headers={"authorization": "Bearer scrape-secret-1234"})
    assert ok.status_code == 200 and ok.headers["content-type"].startswith("text/plain")
    assert "scrape-secret-1234" not in rw.logs()


def test_health_endpoints(rw):
    h = rw.client.get("/health").json()
    assert h["status"] == "ok"
    d = rw.client.get("/health/detailed").json()
    assert d["status"] == "ok" and d["store"]["kind"] == "memory"
    assert d["store"]["reachable"] is True and d["workers"] == 2 and d["uptime_s"] >= 0
    assert d["open_connections"] >= 1 and d["version"] == "0.1.0"
    r = rw.client.get("/health/ready")
    assert r.status_code == 200 and r.json()["status"] == "ready"


def test_json_logs_have_time_level_message(rw):
    records = log_records(rw.logs())
    assert records, "no JSON log lines"
    for rec in records:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", rec["time"])
        assert rec["level"] in ("debug", "info", "warn", "error") and rec["msg"]
    startup = next(r for r in records if "config" in r)
    assert startup["config"]["API_KEY_SECRET"] == "<redacted>"


def test_text_logs(start_ratewatch):
    rw = start_ratewatch(env={"RATEWATCH_LOG_FORMAT": "text"})
    first = rw.logs().splitlines()[0]
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info ", first)


def test_redis_url_credentials_are_redacted(start_ratewatch, redis_server):
    url = redis_server.url.replace("redis://", "redis://user:hunter2secret@")
    rw = start_ratewatch(env={"REDIS_URL": url}, wait=False)
    try:
        rw.wait_ready()
    except RuntimeError:
        pass
    logs = rw.logs()
    assert "hunter2secret" not in logs and "<redacted>@127.0.0.1" in logs


@pytest.mark.parametrize("mode,low,high", [("off", 0, 0), ("all", 30, 30), ("errors", 10, 10),
                                           ("sample:3", 9, 11)])
def test_access_log_modes(start_ratewatch, mode, low, high):
    rw = start_ratewatch(env={"RATEWATCH_ACCESS_LOG": mode}, workers=1)
    for i in range(30):
        tag = {"x-request-id": f"t-{i}"}
        if i % 3 == 0:
            rw.client.get("/nope", headers=tag)
        else:
            rw.client.get("/health", headers=tag)
    lines = [r for r in log_records(rw.logs())
             if r["msg"] == "request" and r["request_id"].startswith("t-")]
    assert low <= len(lines) <= high
    for r in lines:
        assert r["status"] in (200, 404) and r["duration_ms"] >= 0 and r["route"]


def test_bad_access_log_setting_stops_startup():
    import os
    env = dict(os.environ, RATEWATCH_ACCESS_LOG="sometimes", PORT="18995")
    from conftest import BIN
    r = subprocess.run([BIN], env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "RATEWATCH_ACCESS_LOG" in r.stderr


def test_every_response_carries_a_request_id(rw):
    ids = set()
    for path in ["/health", "/nope", "/metrics", "/health/ready"]:
        ids.add(rw.client.get(path).headers["x-request-id"])
    ids.add(rw.client.post("/v1/check", json={}).headers["x-request-id"])
    assert len(ids) == 5
