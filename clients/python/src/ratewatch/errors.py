# SPDX-License-Identifier: Apache-2.0 OR MIT
"""The exceptions the client raises. Every one of them is a :class:`RateWatchError`.

A denial is not an exception: :meth:`RateWatch.check` returns a result with
``allowed=False``. Only :meth:`RateWatch.check_with_exceptions` turns a denial into
:class:`RateLimitExceeded`.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any, Dict, Optional, Tuple, Type

if TYPE_CHECKING:
    from .models import CheckResult

__all__ = [
    "RateWatchError",
    "AuthenticationError",
    "ValidationError",
    "APIError",
    "ServerError",
    "ServiceUnavailableError",
    "InvalidResponseError",
    "TimeoutError",
    "ConnectionError",
    "RateLimitExceeded",
]


def _rebuild(cls: Type[RateWatchError], message: str, state: Dict[str, Any]) -> RateWatchError:
    err = cls.__new__(cls, message)
    RateWatchError.__init__(err, message)
    err.__dict__.update(state)
    return err


class RateWatchError(Exception):
    """Base class of every error of this package.

    Attributes:
        message: what went wrong, in one sentence.
        status: the HTTP status the server answered with, or None when no answer came
            (timeout, connection failure) or the client refused the call itself.
        code: the server's stable error code (``"invalid_field"``, ``"unauthorized"``,
            ``"store_unavailable"``...), or None when there is none.
        request_id: the server's X-Request-Id for the failed request, when there was one;
            quote it when reporting a problem.
    """

    def __init__(
        self,
        message: str,
        *,
        status: Optional[int] = None,
        code: Optional[str] = None,
        request_id: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.request_id = request_id

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> Tuple[Any, ...]:
        state = dict(self.__dict__)
        state.pop("message", None)
        return (_rebuild, (type(self), self.message, state))


class AuthenticationError(RateWatchError):
    """HTTP 401 (or 403): the API key is missing, invalid (``code="unauthorized"``) or
    revoked (``code="key_revoked"``)."""


class ValidationError(RateWatchError, ValueError):
    """The request was refused as invalid: either by this client before sending
    (``status`` is None) or by the server (HTTP 400, 413 or 415), in which case ``code`` and
    ``message`` are the server's. Also a :class:`ValueError`."""


class APIError(RateWatchError):
    """Any other HTTP error status the client has no more specific class for (404, 405...)."""


class ServerError(RateWatchError):
    """HTTP 5xx: the server failed to answer the request."""


class ServiceUnavailableError(ServerError):
    """HTTP 503 (``store_full``, ``store_unavailable``): try again later.

    Attributes:
        retry_after: the seconds the server asked to wait (its Retry-After header), or None.
    """

    def __init__(
        self,
        message: str,
        *,
        status: Optional[int] = None,
        code: Optional[str] = None,
        request_id: Optional[str] = None,
        retry_after: Optional[float] = None,
    ) -> None:
        super().__init__(message, status=status, code=code, request_id=request_id)
        self.retry_after = retry_after


class InvalidResponseError(RateWatchError):
    """The server answered with a success status but a body that is not what the API
    promises (not JSON, a missing or mistyped field): a proxy in the way, or the wrong
    service at ``base_url``."""


class TimeoutError(RateWatchError, builtins.TimeoutError):
    """No answer within the client's ``timeout``. Also a built-in :class:`TimeoutError`."""


class ConnectionError(RateWatchError, builtins.ConnectionError):
    """The server could not be reached, or dropped the connection before answering.
    Also a built-in :class:`ConnectionError`."""


class RateLimitExceeded(RateWatchError):
    """Raised by ``check_with_exceptions`` when the request is denied.

    Attributes:
        retry_after: seconds until a request of the same cost can be allowed, or None when
            it can never be (cost greater than the limit).
        result: the full :class:`~ratewatch.CheckResult` of the denied check.
    """

    def __init__(self, result: CheckResult) -> None:
        if result.retry_after is None:
            message = f"rate limit exceeded (limit {result.limit}); the cost can never fit"
        else:
            message = f"rate limit exceeded (limit {result.limit}); retry in {result.retry_after}s"
        super().__init__(message, request_id=result.request_id)
        self.result = result
        self.retry_after = result.retry_after
