# SPDX-License-Identifier: Apache-2.0 OR MIT
"""The synchronous client."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Dict, Optional, Type, Union

import httpx

from . import _protocol as p
from .errors import RateLimitExceeded, RateWatchError
from .models import CheckResult, DeletionReceipt

__all__ = ["RateWatch", "RateWatchClient"]

DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)


class _Config:
    """Settings both clients resolve the same way."""

    def __init__(
        self,
        api_key: Optional[str],
        base_url: Optional[str],
        timeout: float,
        fail_open: bool,
    ) -> None:
        self._api_key, self._base_url, self._timeout = p.resolve_config(api_key, base_url, timeout)
        self._fail_open = bool(fail_open)
        self._outage = p.Outage()

    @property
    def base_url(self) -> str:
        """The server's URL, without a trailing slash."""
        return self._base_url

    @property
    def timeout(self) -> float:
        """Seconds a call may wait for the server."""
        return self._timeout

    @property
    def fail_open(self) -> bool:
        """Whether ``check`` allows (marked degraded) when the server cannot decide."""
        return self._fail_open

    def __repr__(self) -> str:
        # Never the key: reprs end up in logs.
        return (
            f"{type(self).__name__}(base_url={self._base_url!r}, timeout={self._timeout:g}, "
            f"fail_open={self._fail_open})"
        )

    def _fallback(self, error: RateWatchError, limit: int) -> Optional[CheckResult]:
        """The fail-open result for `error`, or None when the error must be raised."""
        if self._fail_open and p.fail_open_applies(error):
            self._outage.failed(error)
            return CheckResult.fallback(limit)
        if not p.fail_open_applies(error):
            self._outage.recovered()  # the server answered, if with an error
        return None


class RateWatch(_Config):
    """A client for a RateWatch server. Thread-safe; keep one per process and reuse it, so
    that its pooled keep-alive connections are reused too. Close it (or use it as a context
    manager) when done.

    Args:
        api_key: the key printed by ``ratewatch keys issue`` (``rw_...``); defaults to the
            environment variable ``RATEWATCH_API_KEY``.
        base_url: the server, e.g. ``http://localhost:8081`` (the default); defaults to the
            environment variable ``RATEWATCH_URL``.
        timeout: seconds to wait for the server: connecting, sending, and each read are
            each bounded by it.
        fail_open: when True, ``check`` answers ``allowed=True, degraded=True`` instead of
            raising when the server cannot decide (timeout, connection failure, 5xx,
            malformed answer), and logs one warning per outage on the ``ratewatch`` logger.
        limits: the connection pool's limits (default 100 connections, 20 kept alive).
        transport: an httpx transport to send through instead of the network (tests).
        verify: TLS verification for https URLs, as httpx takes it.
        trust_env: whether httpx reads proxy and TLS settings from the environment.
        user_agent: the User-Agent header to send.
    """

    def __init__(
        self,
        api_key: Optional[str] = None,
        base_url: Optional[str] = None,
        timeout: float = p.DEFAULT_TIMEOUT,
        fail_open: bool = False,
        *,
        limits: Optional[httpx.Limits] = None,
        transport: Optional[httpx.BaseTransport] = None,
        verify: Union[bool, Any] = True,
        trust_env: bool = True,
        user_agent: Optional[str] = None,
    ) -> None:
        super().__init__(api_key, base_url, timeout, fail_open)
        self._http = httpx.Client(
            base_url=self._base_url,
            headers=p.default_headers(self._api_key, user_agent),
            timeout=p.make_timeout(self._timeout),
            limits=limits or DEFAULT_LIMITS,
            transport=transport,
            verify=verify,
            trust_env=trust_env,
            follow_redirects=False,
        )

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Close the pooled connections. Idempotent; the client cannot be used after."""
        self._http.close()

    @property
    def closed(self) -> bool:
        return self._http.is_closed

    def __enter__(self) -> RateWatch:
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    # -- transport -------------------------------------------------------------------------

    def _send(self, method: str, path: str, content: Optional[bytes] = None) -> httpx.Response:
        if self._http.is_closed:
            raise p.closed_error()
        try:
            return self._http.request(
                method,
                path,
                content=content,
                headers=p.JSON_HEADERS if content is not None else None,
            )
        except httpx.RequestError as exc:
            raise p.request_error(exc, self._base_url, self._timeout) from exc

    def _call(self, method: str, path: str, content: Optional[bytes] = None) -> httpx.Response:
        """Send; return a 2xx answer or raise the error the answer means."""
        response = self._send(method, path, content)
        if not 200 <= response.status_code < 300:
            raise p.error_from_response(response)
        return response

    # -- rate limiting ---------------------------------------------------------------------

    def check(
        self,
        key: str,
        limit: int,
        window: p.Window,
        cost: int = 1,
        *,
        algorithm: Optional[str] = None,
        user_id: Optional[str] = None,
    ) -> CheckResult:
        """Count `cost` against `key`'s `limit` per `window` and return the decision.

        Args:
            key: what is limited, e.g. ``"user:123"`` or ``"ip:10.0.0.1"`` (1 to 512 bytes
                of UTF-8). The server stores only a keyed hash of it.
            limit: how much is allowed per window, 1 to 10**9.
            window: the window, in whole seconds (1 to 31536000) or as a ``timedelta``
                (whole milliseconds, 1 ms to 365 days).
            cost: how much this request uses, 0 to 10**9; 0 asks without counting.
            algorithm: the algorithm, e.g. ``"sliding_window"`` (the server's default).
            user_id: the user this counter belongs to, so that ``delete_user_data`` can
                find and erase it.

        Returns:
            A :class:`CheckResult`; a denial is ``allowed=False``, not an exception.

        Raises:
            ValidationError: invalid arguments (before sending) or refused by the server.
            AuthenticationError: the API key is missing, invalid or revoked.
            TimeoutError, ConnectionError, ServerError, ServiceUnavailableError,
            InvalidResponseError: the server could not decide; with ``fail_open=True``
                these return an allowed, degraded result instead.
        """
        body = p.check_body(key, limit, window, cost, algorithm, user_id)
        try:
            response = self._send("POST", p.CHECK_PATH, body)
            if response.status_code != 200:
                raise p.error_from_response(response)
            result = p.parse_check(response)
        except RateWatchError as err:
            fallback = self._fallback(err, limit)
            if fallback is None:
                raise
            return fallback
        if self._outage.down:
            self._outage.recovered()
        return result

    def check_with_exceptions(
        self,
        key: str,
        limit: int,
        window: p.Window,
        cost: int = 1,
        *,
        algorithm: Optional[str] = None,
        user_id: Optional[str] = None,
    ) -> CheckResult:
        """Like :meth:`check`, but a denial raises :class:`RateLimitExceeded` (which
        carries ``retry_after`` and the result). Returns the result when allowed."""
        result = self.check(key, limit, window, cost, algorithm=algorithm, user_id=user_id)
        if not result.allowed:
            raise RateLimitExceeded(result)
        return result

    # -- privacy ---------------------------------------------------------------------------

    def delete_user_data(self, user_id: str, reason: str = "user_request") -> DeletionReceipt:
        """Erase every counter recorded with this `user_id` (a data-subject erasure
        request) and return the server's receipt."""
        body = p.delete_body(user_id, reason)
        return p.parse_receipt(self._call("POST", p.PRIVACY_DELETE_PATH, body))

    def get_user_data_summary(self, user_id: str) -> Dict[str, Any]:
        """What the server holds for this `user_id` (a data-subject access request), as the
        server's JSON object. Sent as a POST so that the user id stays out of URLs and
        access logs."""
        body = p.user_id_body(user_id)
        return p.parse_object(self._call("POST", p.PRIVACY_SUMMARY_PATH, body))

    # -- health ----------------------------------------------------------------------------

    def health(self) -> Dict[str, Any]:
        """GET /health: ``{"status": "ok", "timestamp": ..., "version": ...}``; raises if
        the server is not answering or not healthy."""
        return p.parse_object(self._call("GET", p.HEALTH_PATH))

    def detailed_health(self) -> Dict[str, Any]:
        """GET /health/detailed: the server's report, with ``"status"`` ``"ok"`` or
        ``"degraded"``. A degraded report is returned, not raised."""
        return p.parse_detailed_health(self._send("GET", p.HEALTH_DETAILED_PATH))


RateWatchClient = RateWatch
"""Another name for :class:`RateWatch`."""
