# SPDX-License-Identifier: Apache-2.0 OR MIT
"""RateWatch client: ask a RateWatch server whether a request may go ahead.

    from ratewatch import RateWatch

    with RateWatch(api_key="rw_...") as client:
        result = client.check("user:123", limit=100, window=3600)
        if not result.allowed:
            print(f"Rate limited. Retry in {result.retry_after}s")

See :class:`RateWatch` (sync) and :class:`AsyncRateWatch` (async).
"""

from ._version import __version__
from .async_client import AsyncRateWatch
from .client import RateWatch, RateWatchClient
from .errors import (
    APIError,
    AuthenticationError,
    ConnectionError,
    InvalidResponseError,
    RateLimitExceeded,
    RateWatchError,
    ServerError,
    ServiceUnavailableError,
    TimeoutError,
    ValidationError,
)
from .models import CheckResult, DeletionReceipt

__all__ = [
    "__version__",
    "RateWatch",
    "RateWatchClient",
    "AsyncRateWatch",
    "CheckResult",
    "DeletionReceipt",
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
