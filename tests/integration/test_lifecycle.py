# SPDX-License-Identifier: Apache-2.0 OR MIT
"""The process lifecycle as an operator meets it: stopping under load with SIGTERM (systemd,
docker stop) or SIGINT (Ctrl-C) loses no request the server had taken in, and `make install`
puts the binary, the systemd unit and its environment file in place."""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import RELEASE_BIN, ROOT

SHUTDOWN_TIMEOUT_S = 5
# Once a known bug: on stop, a worker closed its listener while connections the kernel had
# completed waited in its accept queue, and Linux reset them. The listener is now drained
# first; these tests keep it that way (None: any reset fails them).
ACCEPT_QUEUE_BUG = None
CLIENTS = 8
LOAD_LIMIT_S = 30            # a client thread gives up after this long, whatever happens
LOAD_LIMIT_REQUESTS = 50_000  # and after this many requests


class Tally:
    """What the client threads saw, classified by when the error happened."""

    def __init__(self):
        self.lock = threading.Lock()
        self.ok = 0
        self.ok_after_signal = 0
        self.refused = 0          # connect() refused: the listeners were closed; allowed
        self.failures = []        # a reset or a short answer for a request that was sent
        self.queue_resets = 0     # of those, resets of a new connection before any answer
        self.signalled_at = None

    def add_ok(self):
        with self.lock:
            self.ok += 1
            if self.signalled_at is not None:
                self.ok_after_signal += 1

    def add_refused(self):
        with self.lock:
            self.refused += 1

    def add_failure(self, what, queue_reset=False):
        with self.lock:
            after = None if self.signalled_at is None else time.monotonic() - self.signalled_at
            self.failures.append((what, after))
            self.queue_resets += queue_reset


def client_loop(port, api_key, tally, stop, index):
    """Checks over one kept-alive connection after another, until the server is gone.

    http.client is used rather than httpx so that each error can be placed exactly: before
    the connection existed (refused, allowed), or after the request had been written to an
    established connection (a failure: the server had taken the request in)."""
    body = json.dumps({"key": f"lifecycle-{index}", "limit": 1_000_000, "window": 60})
    headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
    deadline = time.monotonic() + LOAD_LIMIT_S
    conn = None
    reused = False
    for _ in range(LOAD_LIMIT_REQUESTS):
        if stop.is_set() or time.monotonic() > deadline:
            break
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                conn.connect()
            except ConnectionRefusedError:
                tally.add_refused()
                return  # nothing listens any more: this client is done
            except OSError as e:
                tally.add_failure(f"connect: {e!r}")
                return
            reused = False
        try:
            conn.request("POST", "/v1/check", body=body, headers=headers)
        except OSError as e:
            # Writing failed: on a kept-alive connection the server closed it under us
            # without having said "Connection: close" on the previous answer.
            tally.add_failure(f"send on {'kept-alive' if reused else 'new'} connection: {e!r}")
            conn.close()
            conn = None
            continue
        try:
            resp = conn.getresponse()
            data = resp.read()
            status, will_close = resp.status, resp.will_close
        except (OSError, http.client.HTTPException) as e:
            # A reset of a new connection with nothing answered on it: the server never
            # accepted it from its listen queue (ACCEPT_QUEUE_BUG).
            tally.add_failure(f"answer on {'kept-alive' if reused else 'new'} connection: {e!r}",
                              queue_reset=not reused and isinstance(e, ConnectionResetError))
            conn.close()
            conn = None
            continue
        try:
            answer = json.loads(data)
        except ValueError:
            tally.add_failure(f"truncated or bad body ({status}): {data[:200]!r}")
            answer = None
        if answer is not None:
            if status == 200 and answer.get("allowed") is True:
                tally.add_ok()
            else:
                tally.add_failure(f"unexpected answer {status}: {answer}")
        if will_close:
            conn.close()
            conn = None
        else:
            reused = True
    if conn is not None:
        conn.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stop_under_load_answers_every_request_taken_in(start_ratewatch, sig):
    rw = start_ratewatch(workers=2,
                         env={"RATEWATCH_SHUTDOWN_TIMEOUT_S": str(SHUTDOWN_TIMEOUT_S)})
    tally = Tally()
    stop = threading.Event()
    threads = [threading.Thread(target=client_loop, args=(rw.port, rw.api_key, tally, stop, i),
                                daemon=True) for i in range(CLIENTS)]
    for t in threads:
        t.start()

    # Load first: every client has been answered a few times over its kept-alive connection.
    deadline = time.monotonic() + 15
    while tally.ok < CLIENTS * 50 and time.monotonic() < deadline:
        assert not tally.failures, tally.failures
        time.sleep(0.02)
    assert tally.ok >= CLIENTS * 50, f"the load never got going: {tally.ok} answers"

    with tally.lock:
        tally.signalled_at = time.monotonic()
    rw.proc.send_signal(sig)
    try:
        code = rw.proc.wait(timeout=SHUTDOWN_TIMEOUT_S + 5)
    except subprocess.TimeoutExpired:
        stop.set()
        pytest.fail(f"ratewatch still running {SHUTDOWN_TIMEOUT_S + 5} s after {sig.name}:\n"
                    f"{rw.logs()}")
    took = time.monotonic() - tally.signalled_at
    stop.set()
    for t in threads:
        t.join(timeout=15)
    assert not any(t.is_alive() for t in threads), "a client thread did not finish"

    summary = (f"{tally.ok} answered ({tally.ok_after_signal} after {sig.name}), "
               f"{tally.refused} refused after the listeners closed, "
               f"{len(tally.failures)} failed: {tally.failures[:10]}")
    print(summary)
    assert code == 0, f"exit {code} on {sig.name}:\n{rw.logs()}"
    assert took <= SHUTDOWN_TIMEOUT_S + 1, f"took {took:.2f} s to exit on {sig.name}"
    logs = rw.logs()
    assert "finishing requests in flight" in logs and "stopped" in logs, logs
    assert "unanswered" not in logs, logs
    if ACCEPT_QUEUE_BUG and tally.failures and tally.queue_resets == len(tally.failures):
        pytest.xfail(f"{ACCEPT_QUEUE_BUG}: {summary}")
    assert not tally.failures, summary


def http_check_request(api_key, key):
    body = json.dumps({"key": key, "limit": 1_000_000, "window": 60}).encode()
    head = (f"POST /v1/check HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {api_key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


def read_until_closed(sock, limit_s=10):
    """All the bytes the server sends before it closes, or the error that ended them."""
    sock.settimeout(limit_s)
    data = b""
    deadline = time.monotonic() + limit_s
    try:
        while time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                return data, None
            data += chunk
        return data, "no close within the limit"
    except OSError as e:
        return data, repr(e)


@pytest.mark.xfail(bool(ACCEPT_QUEUE_BUG), reason=str(ACCEPT_QUEUE_BUG), strict=True)
def test_connections_waiting_in_the_accept_queue_are_answered_on_stop(start_ratewatch):
    """Connections that were established before the stop signal, but that the server had
    not accept()ed yet, get their answers: the process is frozen (SIGSTOP) while clients
    connect and send, so the kernel queues them; then SIGTERM and SIGCONT."""
    rw = start_ratewatch(workers=2,
                         env={"RATEWATCH_SHUTDOWN_TIMEOUT_S": str(SHUTDOWN_TIMEOUT_S)})
    clients = 200  # under the listen backlog (1024) and net.core.somaxconn
    socks = []
    os.kill(rw.proc.pid, signal.SIGSTOP)
    try:
        for i in range(clients):
            s = socket.create_connection(("127.0.0.1", rw.port), timeout=5)
            socks.append(s)
            s.sendall(http_check_request(rw.api_key, f"queued-{i}"))
        os.kill(rw.proc.pid, signal.SIGTERM)
    finally:
        os.kill(rw.proc.pid, signal.SIGCONT)
    outcomes = {}
    for s in socks:
        data, err = read_until_closed(s)
        s.close()
        status = data.split(b"\r\n", 1)[0].decode(errors="replace")
        outcome = status if err is None else f"{status or 'nothing'} then {err}"
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    code = rw.proc.wait(timeout=SHUTDOWN_TIMEOUT_S + 5)
    assert code == 0, rw.logs()
    assert outcomes == {"HTTP/1.1 200 OK": clients}, outcomes


def test_install_puts_binary_unit_and_environment_file_in_place(tmp_path):
    """scripts/install.sh, as `make install DESTDIR=... PREFIX=...` runs it."""
    dest = tmp_path / "root"
    prefix = "/opt/ratewatch"
    release_build = Path(RELEASE_BIN).parent
    assert Path(RELEASE_BIN).is_file(), f"{RELEASE_BIN} is missing: make build"
    env = {**os.environ, "DESTDIR": str(dest), "PREFIX": prefix, "BUILD": str(release_build)}

    def install():
        return subprocess.run([str(ROOT / "scripts" / "install.sh")], env=env,
                              capture_output=True, text=True, timeout=60)

    r = install()
    assert r.returncode == 0, r.stdout + r.stderr

    binary = dest / prefix.lstrip("/") / "bin" / "ratewatch"
    unit = dest / "etc" / "systemd" / "system" / "ratewatch.service"
    envfile = dest / "etc" / "ratewatch" / "ratewatch.env"
    for path in (binary, unit, envfile):
        assert path.is_file(), f"{path} was not installed:\n{r.stdout}"
    assert os.access(binary, os.X_OK)
    assert (envfile.stat().st_mode & 0o777) == 0o600, "the environment file holds the secret"
    v = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=30)
    assert v.returncode == 0 and "(release)" in v.stdout, v.stdout

    text = unit.read_text()
    lines = text.splitlines()
    assert f"ExecStart={prefix}/bin/ratewatch" in lines, "ExecStart must follow PREFIX"
    assert "EnvironmentFile=/etc/ratewatch/ratewatch.env" in lines, "not under DESTDIR"
    assert str(dest) not in text, "DESTDIR leaked into the unit"
    for option in ("NoNewPrivileges=yes", "ProtectSystem=strict", "KillSignal=SIGTERM",
                   "Restart=on-failure", "StateDirectory=ratewatch", "CapabilityBoundingSet="):
        assert option in lines, option
    stop_s = int(next(ln.split("=", 1)[1] for ln in lines if ln.startswith("TimeoutStopSec=")))
    assert stop_s > 10, "TimeoutStopSec must exceed RATEWATCH_SHUTDOWN_TIMEOUT_S (10 s)"
    assert "API_KEY_SECRET=" in envfile.read_text()

    # A second install keeps the operator's environment file as it is.
    envfile.write_text("RATEWATCH_ENV=production\nAPI_KEY_SECRET=the-operators-own\n")
    r = install()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "API_KEY_SECRET=the-operators-own" in envfile.read_text()
    assert "kept" in r.stdout

    # The unit as installed is one systemd accepts (with the staged binary standing in).
    if shutil.which("systemd-analyze"):
        staged = tmp_path / "ratewatch.service"
        staged.write_text(text.replace(f"ExecStart={prefix}/bin/ratewatch",
                                       f"ExecStart={binary}"))
        a = subprocess.run(["systemd-analyze", "verify", str(staged)], capture_output=True,
                           text=True, timeout=60)
        assert a.returncode == 0, a.stdout + a.stderr


def test_install_refuses_a_build_that_is_not_the_release_one(tmp_path):
    build = tmp_path / "build-san"
    build.mkdir()
    fake = build / "ratewatch"
    fake.write_text("#!/bin/sh\necho 'ratewatch 0.1.0 (sanitize)'\n")
    fake.chmod(0o755)
    dest = tmp_path / "root"
    env = {**os.environ, "DESTDIR": str(dest), "BUILD": str(build)}
    r = subprocess.run([str(ROOT / "scripts" / "install.sh")], env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode != 0 and "not a release build" in r.stderr, r.stdout + r.stderr
    assert not dest.exists(), "nothing may be installed from a sanitizer build"
