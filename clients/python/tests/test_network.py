# SPDX-License-Identifier: Apache-2.0 OR MIT
"""Failures on real loopback sockets: connection refused, a server that never answers, a
server that answers a byte at a time, a server that drops idle connections. Checks that a
timeout ends a call within the configured time and leaves the pool usable."""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import Iterator, List

import httpx
import pytest
from rwmock import ALLOW, KEY

from ratewatch import AsyncRateWatch, ConnectionError, RateWatch, TimeoutError

BODY = json.dumps(ALLOW).encode()
LIFETIME = 30.0  # no thread of the fake server outlives this


class FakeServer:
    """A loopback HTTP/1.1 server whose behaviour a test switches:
    "answer" (a check answer, keep-alive), "hang" (read the request, never answer),
    "trickle" (the answer one byte per 100 ms), "answer_close_idle" (answer, then close the
    connection 100 ms later as an idle keep-alive timeout would)."""

    def __init__(self, mode: str = "answer") -> None:
        self.mode = mode
        self.accepted = 0
        self.answered = 0
        self._stop = threading.Event()
        self._born = time.monotonic()
        self._lock = threading.Lock()
        self._conns: List[socket.socket] = []
        self._threads: List[threading.Thread] = []
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self._listener.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._spawn(self._accept_loop)

    def _spawn(self, target, *args) -> None:  # type: ignore[no-untyped-def]
        t = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(t)
        t.start()

    def _alive(self) -> bool:
        return not self._stop.is_set() and time.monotonic() - self._born < LIFETIME

    def _accept_loop(self) -> None:
        while self._alive():
            try:
                conn, _ = self._listener.accept()
            except (socket.timeout, OSError):
                continue
            with self._lock:
                self.accepted += 1
                self._conns.append(conn)
            conn.settimeout(0.05)
            self._spawn(self._serve, conn)

    def _read_request(self, conn: socket.socket, buf: bytearray) -> bool:
        while self._alive():
            head_end = buf.find(b"\r\n\r\n")
            if head_end >= 0:
                head = bytes(buf[:head_end]).decode("latin-1").lower()
                length = 0
                for line in head.split("\r\n"):
                    if line.startswith("content-length:"):
                        length = int(line.split(":", 1)[1])
                if len(buf) >= head_end + 4 + length:
                    del buf[: head_end + 4 + length]
                    return True
            try:
                chunk = conn.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return False
            if not chunk:
                return False
            buf += chunk
        return False

    def _serve(self, conn: socket.socket) -> None:
        buf = bytearray()
        try:
            while self._read_request(conn, buf):
                mode = self.mode
                head = (
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    b"content-length: %d\r\nx-request-id: fake\r\n\r\n" % len(BODY)
                )
                if mode == "hang":
                    while self._alive():  # until the client gives up and closes
                        try:
                            if not conn.recv(65536):
                                return
                        except socket.timeout:
                            continue
                    return
                if mode == "trickle":
                    conn.sendall(head)
                    for i in range(len(BODY)):
                        if not self._alive():
                            return
                        conn.sendall(BODY[i : i + 1])
                        time.sleep(0.1)
                    continue
                conn.sendall(head + BODY)
                self.answered += 1
                if mode == "answer_close_idle":
                    time.sleep(0.1)
                    return
        except OSError:
            return
        finally:
            conn.close()

    def stop(self) -> None:
        self._stop.set()
        self._listener.close()
        with self._lock:
            for c in self._conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        for t in self._threads:
            t.join(timeout=2)


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    srv = FakeServer()
    yield srv
    srv.stop()


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there now


# -- connection refused -------------------------------------------------------------------


def test_connection_refused_raises_connection_error() -> None:
    with RateWatch(api_key=KEY, base_url=closed_port_url(), timeout=2) as c:
        t0 = time.monotonic()
        with pytest.raises(ConnectionError) as info:
            c.check("k", 1, 1)
        assert time.monotonic() - t0 < 1.5  # refused, not timed out
    assert isinstance(info.value, OSError)
    assert "127.0.0.1" in str(info.value)


def test_connection_refused_fails_open_when_asked() -> None:
    with RateWatch(api_key=KEY, base_url=closed_port_url(), fail_open=True) as c:
        r = c.check("k", 10, 60)
    assert r.allowed is True and r.degraded is True


@pytest.mark.anyio
async def test_connection_refused_async() -> None:
    async with AsyncRateWatch(api_key=KEY, base_url=closed_port_url()) as c:
        with pytest.raises(ConnectionError):
            await c.check("k", 1, 1)
    async with AsyncRateWatch(api_key=KEY, base_url=closed_port_url(), fail_open=True) as c:
        r = await c.check("k", 1, 1)
        assert r.degraded is True


# -- timeouts -----------------------------------------------------------------------------


TIMEOUT = 0.3
SLACK = 0.7  # scheduling on a loaded 2-core machine


def test_timeout_ends_the_call_within_the_configured_time(fake: FakeServer) -> None:
    fake.mode = "hang"
    with RateWatch(api_key=KEY, base_url=fake.url, timeout=TIMEOUT) as c:
        t0 = time.monotonic()
        with pytest.raises(TimeoutError):
            c.check("k", 1, 1)
        elapsed = time.monotonic() - t0
    assert TIMEOUT * 0.9 <= elapsed < TIMEOUT + SLACK


def test_pool_is_reused_normally_after_timeouts(fake: FakeServer) -> None:
    fake.mode = "hang"
    limits = httpx.Limits(max_connections=2, max_keepalive_connections=2)
    with RateWatch(api_key=KEY, base_url=fake.url, timeout=TIMEOUT, limits=limits) as c:
        for _ in range(4):  # more timeouts than the pool has connections
            with pytest.raises(TimeoutError):
                c.check("k", 1, 1)
        before = fake.accepted
        fake.mode = "answer"
        for _ in range(10):
            t0 = time.monotonic()
            assert c.check("k", 1, 1).allowed is True
            assert time.monotonic() - t0 < TIMEOUT  # no wait for a leaked pool slot
    assert fake.answered == 10
    assert fake.accepted - before == 1  # one new connection, then kept alive


def test_fail_open_on_timeout_then_real_decisions_again(fake: FakeServer) -> None:
    fake.mode = "hang"
    with RateWatch(api_key=KEY, base_url=fake.url, timeout=TIMEOUT, fail_open=True) as c:
        assert c.check("k", 1, 1).degraded is True
        fake.mode = "answer"
        r = c.check("k", 1, 1)
    assert r.degraded is False and r.request_id == "fake"


@pytest.mark.anyio
async def test_async_timeout_and_pool_reuse(fake: FakeServer) -> None:
    fake.mode = "hang"
    limits = httpx.Limits(max_connections=2, max_keepalive_connections=2)
    async with AsyncRateWatch(api_key=KEY, base_url=fake.url, timeout=TIMEOUT, limits=limits) as c:
        for _ in range(4):
            t0 = time.monotonic()
            with pytest.raises(TimeoutError):
                await c.check("k", 1, 1)
            assert time.monotonic() - t0 < TIMEOUT + SLACK
        before = fake.accepted
        fake.mode = "answer"
        for _ in range(10):
            assert (await c.check("k", 1, 1)).allowed is True
    assert fake.accepted - before == 1


@pytest.mark.anyio
async def test_async_timeout_bounds_the_whole_call(fake: FakeServer) -> None:
    # Each byte comes well within the timeout, the whole answer (~14 s) far past it.
    fake.mode = "trickle"
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with AsyncRateWatch(api_key=KEY, base_url=fake.url, timeout=0.5, limits=limits) as c:
        t0 = time.monotonic()
        with pytest.raises(TimeoutError):
            await c.check("k", 1, 1)
        assert time.monotonic() - t0 < 0.5 + SLACK
        fake.mode = "answer"
        # the cancelled call's connection was dropped, not left holding the one pool slot
        assert (await c.check("k", 1, 1)).allowed is True


# -- keep-alive ----------------------------------------------------------------------


def test_sequential_checks_share_one_connection(fake: FakeServer) -> None:
    with RateWatch(api_key=KEY, base_url=fake.url) as c:
        for _ in range(20):
            c.check("k", 1, 1)
    assert fake.answered == 20
    assert fake.accepted == 1


def test_connection_closed_by_the_server_while_idle_is_replaced(fake: FakeServer) -> None:
    fake.mode = "answer_close_idle"
    with RateWatch(api_key=KEY, base_url=fake.url) as c:
        for _ in range(3):
            assert c.check("k", 1, 1).allowed is True
            time.sleep(0.3)  # the server has closed the idle connection by now
    assert fake.accepted == 3
