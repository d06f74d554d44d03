# SPDX-License-Identifier: Apache-2.0 OR MIT
"""API keys, tenants, revocation, modes, security headers, hostile-client limits and TLS."""
import os
import re
import socket
import ssl
import subprocess
import time

import httpx
import pytest

from conftest import BIN, ROOT, TEST_SECRET, issue_key

BODY = {"key": "user:1", "limit": 5, "window": 60}


def cli(*args, env=None):
    e = dict(os.environ)
    e["API_KEY_SECRET"] = TEST_SECRET
    e.update(env or {})
    return subprocess.run([BIN, "keys", *args], env=e, capture_output=True, text=True,
                          timeout=30)


def tracked_keys(rw):
    return rw.client.get("/health/detailed").json()["store"]["keys"]


@pytest.mark.parametrize("header", [
    None, "", "Bearer", "Basic dXNlcjpwYXNz", "Bearer rw_nope",
    "Bearer rw_test_0123456789abcdef01234567_0123456789abcdef0123456789abcdef",
])
def test_missing_or_invalid_key_is_401_and_never_reaches_the_store(rw, header):
    headers = {} if header is None else {"authorization": header}
    r = httpx.post(rw.url + "/v1/check", json=BODY, headers=headers)
    assert r.status_code == 401
    assert r.json()["code"] == "unauthorized"
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert tracked_keys(rw) == 0


def test_key_from_another_secret_is_refused(rw):
    foreign = issue_key("test", {"API_KEY_SECRET": "a-completely-different-secret-0123456789"})
    r = httpx.post(rw.url + "/v1/check", json=BODY, headers={"authorization": f"Bearer {foreign}"})
    assert r.status_code == 401 and r.json()["code"] == "unauthorized"


def test_bearer_scheme_is_case_insensitive(rw):
    r = httpx.post(rw.url + "/v1/check", json=BODY,
                   headers={"authorization": f"bearer {rw.api_key}"})
    assert r.status_code == 200


def test_tenants_have_separate_counters(rw):
    other = {"authorization": f"Bearer {issue_key('other-tenant')}"}
    for _ in range(5):
        assert rw.check("shared", limit=5).json()["allowed"] is True
    assert rw.check("shared", limit=5).json()["allowed"] is False
    r = httpx.post(rw.url + "/v1/check", json={"key": "shared", "limit": 5, "window": 60},
                   headers=other)
    assert r.json()["allowed"] is True and r.json()["remaining"] == 4


def test_revocation_takes_effect_within_a_second(start_ratewatch, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    env = {"RATEWATCH_DATA_DIR": str(data)}
    rw = start_ratewatch(env=env)
    keep = issue_key("test")
    assert rw.check().status_code == 200

    key_id = rw.api_key.split("_")[2]
    out = cli("revoke", key_id, env=env)
    assert out.returncode == 0, out.stderr
    revoked_at = time.monotonic()
    while time.monotonic() - revoked_at < 3:
        r = rw.check()
        if r.status_code == 401:
            break
        time.sleep(0.05)
    assert r.status_code == 401 and r.json()["code"] == "key_revoked"
    assert time.monotonic() - revoked_at <= 1.5
    ok = httpx.post(rw.url + "/v1/check", json=BODY, headers={"authorization": f"Bearer {keep}"})
    assert ok.status_code == 200

    listed = cli("revoked", env=env)
    assert listed.returncode == 0 and key_id in listed.stdout.split()
    inspected = cli("inspect", rw.api_key, env=env)
    assert inspected.returncode == 1 and "revoked: yes" in inspected.stdout
    assert "tenant:  test" in inspected.stdout


def test_revocations_survive_a_restart(start_ratewatch, tmp_path):
    env = {"RATEWATCH_DATA_DIR": str(tmp_path)}
    key = issue_key("test")
    assert cli("revoke", key, env=env).returncode == 0
    rw = start_ratewatch(env=env)
    r = httpx.post(rw.url + "/v1/check", json=BODY, headers={"authorization": f"Bearer {key}"})
    assert r.status_code == 401 and r.json()["code"] == "key_revoked"


def test_cli_issue_validates_tenant_and_inspect_reports_owner():
    assert cli("issue", "--tenant", "Bad_Name").returncode != 0
    assert cli("issue").returncode != 0
    key = cli("issue", "--tenant", "acme").stdout.strip()
    assert re.fullmatch(r"rw_acme_[0-9a-f]{24}_[0-9a-f]{32}", key)
    out = cli("inspect", key)
    assert out.returncode == 0 and "tenant:  acme" in out.stdout and "valid:   yes" in out.stdout
    tampered = key[:-1] + ("0" if key[-1] != "0" else "1")
    assert cli("inspect", tampered).returncode == 1
    assert cli("revoke", "nonsense").returncode == 2


def test_revoke_without_a_place_to_keep_it_says_so():
    out = cli("revoke", "0123456789abcdef01234567", env={"RATEWATCH_DATA_DIR": ""})
    assert out.returncode == 2 and "RATEWATCH_DATA_DIR" in out.stderr


@pytest.mark.parametrize("secret", ["", "too-short"])
def test_production_requires_a_long_secret(secret):
    env = dict(os.environ, RATEWATCH_ENV="production", API_KEY_SECRET=secret, PORT="18998")
    r = subprocess.run([BIN], env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "API_KEY_SECRET" in r.stderr


def test_production_binds_all_interfaces_and_prints_no_key(start_ratewatch):
    rw = start_ratewatch(env={"RATEWATCH_ENV": "production"})
    logs = rw.logs()
    assert '"RATEWATCH_BIND":"0.0.0.0"' in logs
    assert "development key" not in logs
    assert TEST_SECRET not in logs and '"API_KEY_SECRET":"<redacted>"' in logs


def test_development_prints_a_working_key_that_the_readme_shows(start_ratewatch):
    rw = start_ratewatch(env={"API_KEY_SECRET": ""}, tenant=None)
    logs = rw.logs()
    assert '"level":"warn"' in logs and "development" in logs
    assert '"RATEWATCH_BIND":"127.0.0.1"' in logs
    key = re.search(r"rw_dev_[0-9a-f]{24}_[0-9a-f]{32}", logs).group(0)
    r = httpx.post(rw.url + "/v1/check", json=BODY, headers={"authorization": f"Bearer {key}"})
    assert r.status_code == 200
    assert key in (ROOT / "README.md").read_text()


SECURITY_HEADERS = {"x-content-type-options": "nosniff", "x-frame-options": "DENY",
                    "referrer-policy": "no-referrer", "cache-control": "no-store"}


@pytest.mark.parametrize("method,path", [("GET", "/health"), ("POST", "/v1/check"),
                                         ("GET", "/nope"), ("GET", "/v1/check")])
def test_security_headers_on_every_response(rw, method, path):
    r = rw.client.request(method, path, json=BODY if method == "POST" else None)
    for name, value in SECURITY_HEADERS.items():
        assert r.headers[name] == value
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert "strict-transport-security" not in r.headers


def test_too_many_or_too_large_headers_get_431(start_ratewatch):
    rw = start_ratewatch(env={"RATEWATCH_MAX_HEADER_COUNT": "20",
                              "RATEWATCH_MAX_HEADER_BYTES": "2048"})
    many = {f"x-h{i}": "v" for i in range(30)}
    r = rw.client.get("/health", headers=many)
    assert r.status_code == 431 and r.json()["code"] == "headers_too_large"
    r = rw.client.get("/health", headers={"x-big": "v" * 3000})
    assert r.status_code == 431
    assert rw.client.get("/health").status_code == 200


def open_socket(rw):
    s = socket.create_connection(("127.0.0.1", rw.port), timeout=5)
    return s


def closed_within(s, seconds):
    """True if the server closes `s` within `seconds` (reads until EOF)."""
    s.settimeout(seconds)
    try:
        while s.recv(4096):
            pass
        return True
    except (socket.timeout, TimeoutError):
        return False
    except ConnectionResetError:
        return True


def test_a_slow_client_cannot_hold_a_connection(start_ratewatch):
    rw = start_ratewatch(env={"RATEWATCH_REQUEST_TIMEOUT_MS": "1000"})
    s = open_socket(rw)
    request = b"POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + b"x" * 100
    start = time.monotonic()
    closed = False
    s.settimeout(0.25)
    for byte in request:  # one byte every quarter second: 40 s if allowed to finish
        try:
            s.send(bytes([byte]))
            if s.recv(4096) == b"":
                closed = True
                break
        except (socket.timeout, TimeoutError):
            continue
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
        if time.monotonic() - start > 5:
            break
    s.close()
    assert closed and time.monotonic() - start < 3


def test_idle_keep_alive_connections_are_closed(start_ratewatch):
    rw = start_ratewatch(env={"RATEWATCH_REQUEST_TIMEOUT_MS": "500"})
    s = open_socket(rw)
    s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b"200 OK" in s.recv(4096)
    start = time.monotonic()
    assert closed_within(s, 3)
    assert time.monotonic() - start < 2
    s.close()


def test_connection_cap(start_ratewatch):
    rw = start_ratewatch(env={"RATEWATCH_MAX_CONNECTIONS": "4"})
    rw.client.close()  # the harness's own pooled connection would count
    held = [open_socket(rw) for _ in range(4)]
    for s in held:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert b"200 OK" in s.recv(4096)
    extra = open_socket(rw)
    assert closed_within(extra, 2)
    extra.close()
    held.pop().close()
    time.sleep(0.2)
    with httpx.Client(base_url=rw.url) as c:
        assert c.get("/health").status_code == 200
    for s in held:
        s.close()
    rw.client = httpx.Client(base_url=rw.url)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem")],
                   check=True, capture_output=True, timeout=60)
    return d / "cert.pem", d / "key.pem"


def s_client(port, version):
    r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", version],
                       input=b"", capture_output=True, timeout=30)
    return r.returncode == 0 and b"BEGIN CERTIFICATE" in r.stdout


def tls_server(start_ratewatch, certificate, extra=None):
    cert, key = certificate
    env = {"TLS_CERT_FILE": str(cert), "TLS_KEY_FILE": str(key), **(extra or {})}
    rw = start_ratewatch(env=env, wait=False)
    rw.url = rw.url.replace("http://", "https://")
    rw.client = httpx.Client(base_url=rw.url, verify=ssl.create_default_context(cafile=str(cert)),
                             timeout=10,
                             headers={"authorization": f"Bearer {rw.api_key}"})
    rw.wait_ready()
    return rw


def test_tls_13_by_default_and_12_refused(start_ratewatch, certificate):
    rw = tls_server(start_ratewatch, certificate)
    assert s_client(rw.port, "-tls1_3")
    assert not s_client(rw.port, "-tls1_2")
    r = rw.client.post("/v1/check", json=BODY)
    assert r.status_code == 200 and r.json()["allowed"] is True
    assert r.headers["strict-transport-security"].startswith("max-age=")


def test_tls_12_when_allowed(start_ratewatch, certificate):
    rw = tls_server(start_ratewatch, certificate, {"RATEWATCH_TLS_MIN": "1.2"})
    assert s_client(rw.port, "-tls1_2")


def test_tls_needs_both_files(certificate):
    env = dict(os.environ, TLS_CERT_FILE=str(certificate[0]), PORT="18997")
    r = subprocess.run([BIN], env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "TLS_KEY_FILE" in r.stderr
