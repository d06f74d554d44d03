# SPDX-License-Identifier: Apache-2.0 OR MIT
"""Integration-test harness: each test starts the real binary with its own configuration on a
free loopback port, talks HTTP to it, and stops it. A server that exits uncleanly (a crash,
a sanitizer report, a leak) fails the test that started it."""
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = os.environ.get("RATEWATCH_BIN", str(ROOT / "build-san" / "ratewatch"))
# The release build, for the few tests that preload libraries ASan will not share a process with.
RELEASE_BIN = os.environ.get("RATEWATCH_RELEASE_BIN", str(ROOT / "build" / "ratewatch"))
os.environ.setdefault("LSAN_OPTIONS", f"suppressions={ROOT / 'tests' / 'lsan.supp'}")
os.environ.setdefault("ASAN_OPTIONS", "detect_leaks=1:exitcode=66")


TEST_SECRET = "integration-test-secret-0123456789abcdef"


def issue_key(tenant="test", env=None):
    """A fresh API key from the real CLI, signed under the test secret."""
    e = dict(os.environ)
    e.update({"API_KEY_SECRET": TEST_SECRET})
    e.update(env or {})
    for preloaded in ("LD_PRELOAD", "FAKETIME"):
        e.pop(preloaded, None)
    out = subprocess.run([BIN, "keys", "issue", "--tenant", tenant], env=e, capture_output=True,
                         text=True, timeout=30, check=True)
    return out.stdout.splitlines()[0]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RateWatch:
    """A running ratewatch process."""

    def __init__(self, env=None, args=(), workers=2, tmp_path=None, wait=True, tenant="test",
                 binary=None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = dict(os.environ)
        self.env.update({"PORT": str(self.port), "RATEWATCH_WORKERS": str(workers),
                         "RATEWATCH_LOG_LEVEL": "info", "API_KEY_SECRET": TEST_SECRET})
        self.env.update(env or {})
        self.api_key = issue_key(tenant, self.env) if tenant else None
        self.log_path = (tmp_path or Path("/tmp")) / f"ratewatch-{self.port}.log"
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([binary or BIN, *args], env=self.env, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        headers = {"authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        self.client = httpx.Client(base_url=self.url, timeout=10, headers=headers)
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ratewatch exited with {self.proc.returncode}:\n{self.logs()}")
            try:
                if self.client.get("/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"ratewatch did not become healthy:\n{self.logs()}")

    def logs(self):
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text(errors="replace")

    def check(self, key="k", limit=10, window=60, headers=None, **fields):
        body = {"key": key, "limit": limit, "window": window, **fields}
        if body["window"] is None:
            del body["window"]
        return self.client.post("/v1/check", json=body, headers=headers or {})

    def post_raw(self, path, content, content_type="application/json", headers=None):
        h = {"content-type": content_type} if content_type else {}
        h.update(headers or {})
        return self.client.post(path, content=content, headers=h)

    def stop(self, sig=signal.SIGTERM, timeout=20):
        self.client.close()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"ratewatch did not stop on {sig!r}:\n{self.logs()}")
        self.log.close()
        return self.proc.returncode


@pytest.fixture
def start_ratewatch(tmp_path):
    started = []

    def start(**kwargs):
        kwargs.setdefault("tmp_path", tmp_path)
        rw = RateWatch(**kwargs)
        started.append(rw)
        return rw

    yield start
    for rw in started:
        code = rw.stop()
        assert code == 0, f"ratewatch exited with {code}:\n{rw.logs()}"


@pytest.fixture
def rw(start_ratewatch):
    return start_ratewatch()


def log_records(text):
    """The JSON log lines of a run."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


class RedisServer:
    """A throwaway redis-server on a free loopback port, no persistence."""

    def __init__(self, tmp_path, port=None):
        self.port = port or free_port()
        self.dir = tmp_path
        self.url = f"redis://127.0.0.1:{self.port}"
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.dir), "--logfile", ""],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis
        self.client = redis.Redis(port=self.port, socket_timeout=5)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited ({self.proc.returncode}); port taken?")
            try:
                # The server answering must be ours, not another one on a reused port.
                if self.client.info("server")["process_id"] == self.proc.pid:
                    return
                raise RuntimeError(f"port {self.port} is served by another redis-server")
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            self.proc.wait(timeout=10)


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path)
    yield server
    server.stop()
