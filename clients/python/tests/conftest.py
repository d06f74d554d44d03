# SPDX-License-Identifier: Apache-2.0 OR MIT
"""Fixtures. Unit tests need nothing; tests that take `server`, `api_key` or `client` run
against the real binary (env RATEWATCH_BIN; default build-san/ratewatch if built, else
build/ratewatch), started once per session on a free loopback port and stopped with SIGTERM
at the end; a server that does not then exit with status 0 (a crash, a sanitizer report)
fails the run."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import AsyncIterator, Iterator, Optional

import httpx
import pytest

from ratewatch import AsyncRateWatch, RateWatch

REPO = Path(__file__).resolve().parents[3]


def ratewatch_bin() -> str:
    env = os.environ.get("RATEWATCH_BIN")
    if env:
        return env
    san = REPO / "build-san" / "ratewatch"
    return str(san if san.exists() else REPO / "build" / "ratewatch")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:
    """In the child before exec: on Linux, get SIGTERM if pytest dies without its
    teardown (killed by a timeout), so that no server outlives the run."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # not Linux: the fixture's teardown is the only stop
        pass


class Server:
    """A ratewatch process on a free loopback port."""

    def __init__(self, log_dir: Path) -> None:
        self.bin = ratewatch_bin()
        if not os.access(self.bin, os.X_OK):
            raise RuntimeError(f"no ratewatch binary at {self.bin}: build it or set RATEWATCH_BIN")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.secret = secrets.token_hex(32)  # 64 bytes, >= 32 required
        self.data_dir = log_dir / "data"
        self.data_dir.mkdir()
        self.env = dict(os.environ)
        # As `make test` runs it: sanitizer reports fail the run, known library leaks do not.
        supp = REPO / "tests" / "lsan.supp"
        if supp.exists():
            self.env.setdefault("LSAN_OPTIONS", f"suppressions={supp}")
        self.env.setdefault("ASAN_OPTIONS", "detect_leaks=1:exitcode=66")
        self.env.update(
            {
                "PORT": str(self.port),
                "RATEWATCH_WORKERS": "1",
                "API_KEY_SECRET": self.secret,
                "RATEWATCH_DATA_DIR": str(self.data_dir),  # where revocations are kept
                "RATEWATCH_LOG_LEVEL": "info",
            }
        )
        self.log_path = log_dir / f"ratewatch-{self.port}.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [self.bin],
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
        self._wait_healthy(15.0)

    def _wait_healthy(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        with httpx.Client(timeout=1.0) as http:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(
                        f"ratewatch exited with {self.proc.returncode}:\n{self.logs()}"
                    )
                try:
                    if http.get(self.url + "/health").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
        self.proc.kill()
        self.proc.wait()
        raise RuntimeError(f"ratewatch was not healthy within {seconds}s:\n{self.logs()}")

    def issue_key(self, tenant: str = "pytest") -> str:
        """`ratewatch keys issue --tenant T`: the key is the first line of stdout."""
        out = subprocess.run(
            [self.bin, "keys", "issue", "--tenant", tenant],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert out.returncode == 0, (
            f"`ratewatch keys issue` failed ({out.returncode}): {out.stderr.strip()}"
        )
        key = out.stdout.splitlines()[0].strip() if out.stdout else ""
        assert key.startswith("rw_"), f"`ratewatch keys issue` printed no rw_ key: {out.stdout!r}"
        return key

    def revoke_key(self, key: str) -> None:
        out = subprocess.run(
            [self.bin, "keys", "revoke", key],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert out.returncode == 0, f"`ratewatch keys revoke` failed: {out.stderr.strip()}"

    def logs(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 20.0) -> Optional[int]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self._log.close()
                return None
        self._log.close()
        return self.proc.returncode


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("ratewatch"))
    yield srv
    code = srv.stop()
    assert code == 0, (
        f"ratewatch did not exit cleanly on SIGTERM (status {code}; None = had to be "
        f"killed):\n{srv.log_path.read_text(errors='replace')[-4000:]}"
    )


@pytest.fixture(scope="session")
def api_key(server: Server) -> str:
    return server.issue_key()


@pytest.fixture
def client(server: Server, api_key: str) -> Iterator[RateWatch]:
    with RateWatch(api_key=api_key, base_url=server.url, timeout=5.0) as c:
        yield c


@pytest.fixture
async def aclient(server: Server, api_key: str) -> AsyncIterator[AsyncRateWatch]:
    async with AsyncRateWatch(api_key=api_key, base_url=server.url, timeout=5.0) as c:
        yield c


@pytest.fixture
def key() -> str:
    """A counter key no other test uses."""
    return f"pytest:{uuid.uuid4().hex}"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def ratewatch_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No RATEWATCH_* variables from the outside leak into a test."""
    for name in ("RATEWATCH_API_KEY", "RATEWATCH_URL"):
        monkeypatch.delenv(name, raising=False)
