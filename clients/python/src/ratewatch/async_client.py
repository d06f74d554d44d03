# SPDX-License-Identifier: Apache-2.0 OR MIT
"""The asynchronous client: the same methods as :class:`~ratewatch.RateWatch`, as
coroutines. Runs on asyncio (and on trio, through anyio, as httpx does)."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Dict, Optional, Type, Union

import anyio
import httpx

from . import _protocol as p
from .client import DEFAULT_LIMITS, _Config
from .errors import RateLimitExceeded, RateWatchError
from .models import CheckResult, DeletionReceipt

__all__ = ["AsyncRateWatch"]


class AsyncRateWatch(_Config):
    """The asynchronous client. Create one per event loop, share it between that loop's
    tasks, and close it with ``await client.aclose()`` or ``async with``.

    Takes the same arguments as :class:`~ratewatch.RateWatch` (``transport`` is an
    ``httpx.AsyncBaseTransport``). Here ``timeout`` bounds each whole call: a call that has
    no complete answer within it is cancelled and raises :class:`~ratewatch.TimeoutError`
    (or fails open).
    """

    def __init__(
        self,
        api_key: Optional[str] = None,
        base_url: Optional[str] = None,
        timeout: float = p.DEFAULT_TIMEOUT,
        fail_open: bool = False,
        *,
        limits: Optional[httpx.Limits] = None,
        transport: Optional[httpx.AsyncBaseTransport] = None,
        verify: Union[bool, Any] = True,
        trust_env: bool = True,
        user_agent: Optional[str] = None,
    ) -> None:
        super().__init__(api_key, base_url, timeout, fail_open)
        self._http = httpx.AsyncClient(
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

    async def aclose(self) -> None:
        """Close the pooled connections. Idempotent; the client cannot be used after."""
        await self._http.aclose()

    close = aclose
    """Another name for :meth:`aclose`."""

    @property
    def closed(self) -> bool:
        return self._http.is_closed

    async def __aenter__(self) -> AsyncRateWatch:
        return self

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        await self.aclose()

    # -- transport -------------------------------------------------------------------------

    async def _send(
        self, method: str, path: str, content: Optional[bytes] = None
    ) -> httpx.Response:
        if self._http.is_closed:
            raise p.closed_error()
        try:
            # httpx bounds each phase; the scope bounds the whole call, and cancelling it
            # makes httpx drop the half-used connection, not return it to the pool.
            with anyio.fail_after(self._timeout):
                return await self._http.request(
                    method,
                    path,
                    content=content,
                    headers=p.JSON_HEADERS if content is not None else None,
                )
        except httpx.RequestError as exc:
            raise p.request_error(exc, self._base_url, self._timeout) from exc
        except TimeoutError as exc:  # the built-in, raised by fail_after
            if isinstance(exc, RateWatchError):
                raise
            raise p.deadline_error(self._base_url, self._timeout) from exc

    async def _call(
        self, method: str, path: str, content: Optional[bytes] = None
    ) -> httpx.Response:
        response = await self._send(method, path, content)
        if not 200 <= response.status_code < 300:
            raise p.error_from_response(response)
        return response

    # -- rate limiting ---------------------------------------------------------------------

    async def check(
        self,
        key: str,
        limit: int,
        window: p.Window,
        cost: int = 1,
        *,
        algorithm: Optional[str] = None,
        user_id: Optional[str] = None,
    ) -> CheckResult:
        """See :meth:`ratewatch.RateWatch.check`."""
        body = p.check_body(key, limit, window, cost, algorithm, user_id)
        try:
            response = await self._send("POST", p.CHECK_PATH, body)
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

    async def check_with_exceptions(
        self,
        key: str,
        limit: int,
        window: p.Window,
        cost: int = 1,
        *,
        algorithm: Optional[str] = None,
        user_id: Optional[str] = None,
    ) -> CheckResult:
        """See :meth:`ratewatch.RateWatch.check_with_exceptions`."""
        result = await self.check(key, limit, window, cost, algorithm=algorithm, user_id=user_id)
        if not result.allowed:
            raise RateLimitExceeded(result)
        return result

    # -- privacy ---------------------------------------------------------------------------

    async def delete_user_data(self, user_id: str, reason: str = "user_request") -> DeletionReceipt:
        """See :meth:`ratewatch.RateWatch.delete_user_data`."""
        body = p.delete_body(user_id, reason)
        return p.parse_receipt(await self._call("POST", p.PRIVACY_DELETE_PATH, body))

    async def get_user_data_summary(self, user_id: str) -> Dict[str, Any]:
        """See :meth:`ratewatch.RateWatch.get_user_data_summary`."""
        body = p.user_id_body(user_id)
        return p.parse_object(await self._call("POST", p.PRIVACY_SUMMARY_PATH, body))

    # -- health ----------------------------------------------------------------------------

    async def health(self) -> Dict[str, Any]:
        """See :meth:`ratewatch.RateWatch.health`."""
        return p.parse_object(await self._call("GET", p.HEALTH_PATH))

    async def detailed_health(self) -> Dict[str, Any]:
        """See :meth:`ratewatch.RateWatch.detailed_health`."""
        return p.parse_detailed_health(await self._send("GET", p.HEALTH_DETAILED_PATH))
