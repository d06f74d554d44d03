# SPDX-License-Identifier: Apache-2.0 OR MIT
"""What the sync and async clients share: argument checks, request bodies, reading answers,
mapping error answers to exceptions, and the fail-open bookkeeping. No I/O here."""

from __future__ import annotations

import json
import logging
import os
import threading
from datetime import timedelta
from typing import Any, Dict, Mapping, Optional, Tuple, Union

import httpx

from ._version import __version__
from .errors import (
    APIError,
    AuthenticationError,
    InvalidResponseError,
    RateWatchError,
    ServerError,
    ServiceUnavailableError,
    ValidationError,
)
from .errors import ConnectionError as RWConnectionError
from .errors import TimeoutError as RWTimeoutError
from .models import CheckResult, DeletionReceipt

logger = logging.getLogger("ratewatch")

DEFAULT_BASE_URL = "http://localhost:8081"
DEFAULT_TIMEOUT = 2.0
ENV_API_KEY = "RATEWATCH_API_KEY"
ENV_URL = "RATEWATCH_URL"

CHECK_PATH = "/v1/check"
PRIVACY_DELETE_PATH = "/v1/privacy/delete"
PRIVACY_SUMMARY_PATH = "/v1/privacy/summary"
HEALTH_PATH = "/health"
HEALTH_DETAILED_PATH = "/health/detailed"

# The server's field rules (docs/API.md); the client refuses what the server would.
MAX_IDENTIFIER_BYTES = 512
MAX_LIMIT = 1_000_000_000
MAX_COST = 1_000_000_000
MAX_WINDOW_S = 31_536_000
MAX_WINDOW_MS = MAX_WINDOW_S * 1000

JSON_HEADERS = {"Content-Type": "application/json"}

Window = Union[int, timedelta]


# ---------------------------------------------------------------------------------------
# Configuration


def resolve_config(
    api_key: Optional[str], base_url: Optional[str], timeout: float
) -> Tuple[Optional[str], str, float]:
    """The key, URL and timeout a client runs with: the arguments, else the environment,
    else the defaults. Refuses what cannot work."""
    if api_key is None:
        api_key = os.environ.get(ENV_API_KEY) or None
    if api_key is not None:
        if not isinstance(api_key, str) or not api_key:
            raise ValidationError("api_key must be a non-empty string", code="invalid_api_key")
        if not all("\x21" <= ch <= "\x7e" for ch in api_key):
            # Never echo the key: it is a secret.
            raise ValidationError(
                "api_key must be printable ASCII without spaces (as printed by "
                "`ratewatch keys issue`)",
                code="invalid_api_key",
            )
    if base_url is None:
        base_url = os.environ.get(ENV_URL) or DEFAULT_BASE_URL
    if not isinstance(base_url, str):
        raise ValidationError("base_url must be a string such as http://localhost:8081")
    try:
        url = httpx.URL(base_url)
    except Exception as exc:  # httpx.InvalidURL, TypeError
        raise ValidationError(f"base_url {base_url!r} is not a valid URL: {exc}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ValidationError(
            f"base_url {base_url!r} must be an http:// or https:// URL with a host"
        )
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or not (0 < timeout <= 3600)
    ):
        raise ValidationError("timeout must be a number of seconds, > 0 and <= 3600")
    return api_key, base_url.rstrip("/"), float(timeout)


def default_headers(api_key: Optional[str], user_agent: Optional[str]) -> Dict[str, str]:
    headers = {
        "Accept": "application/json",
        "User-Agent": user_agent or f"ratewatch-python/{__version__}",
    }
    if api_key is not None:
        headers["Authorization"] = f"Bearer {api_key}"
    return headers


def make_timeout(timeout: float) -> httpx.Timeout:
    # Each phase (waiting for a pooled connection, connecting, sending, every read) is
    # bounded by `timeout`; the async client also bounds the whole call by it.
    return httpx.Timeout(timeout)


# ---------------------------------------------------------------------------------------
# Arguments


def _identifier(name: str, value: Any) -> None:
    if not isinstance(value, str):
        raise ValidationError(
            f"{name} must be a str, not {type(value).__name__}", code="invalid_field"
        )
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise ValidationError(
            f"{name} must be valid Unicode (it has a lone surrogate)", code="invalid_field"
        ) from None
    if not 1 <= size <= MAX_IDENTIFIER_BYTES or "\x00" in value:
        raise ValidationError(
            f"{name} must be 1 to {MAX_IDENTIFIER_BYTES} bytes of UTF-8 without NUL "
            f"(got {size} bytes)",
            code="invalid_field",
        )


def _integer(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(
            f"{name} must be an int, not {type(value).__name__}", code="invalid_field"
        )
    if not low <= value <= high:
        raise ValidationError(
            f"{name} must be from {low} to {high} (got {value})", code="invalid_field"
        )
    return int(value)


def check_body(
    key: Any,
    limit: Any,
    window: Any,
    cost: Any,
    algorithm: Any,
    user_id: Any,
) -> bytes:
    """The JSON body of a check, after refusing what the server would refuse."""
    _identifier("key", key)
    body: Dict[str, Any] = {"key": key, "limit": _integer("limit", limit, 1, MAX_LIMIT)}
    if isinstance(window, timedelta):
        ms, rest = divmod(window, timedelta(milliseconds=1))
        if rest or not 1 <= ms <= MAX_WINDOW_MS:
            raise ValidationError(
                "window must be a whole number of milliseconds from 1 ms to 365 days",
                code="invalid_field",
            )
        if ms % 1000 == 0:
            body["window"] = ms // 1000
        else:
            body["window_ms"] = ms
    else:
        body["window"] = _integer("window", window, 1, MAX_WINDOW_S)
    cost = _integer("cost", cost, 0, MAX_COST)
    if cost != 1:
        body["cost"] = cost
    if algorithm is not None:
        if not isinstance(algorithm, str) or not algorithm:
            raise ValidationError(
                'algorithm must be a non-empty str such as "sliding_window"',
                code="invalid_field",
            )
        body["algorithm"] = algorithm
    if user_id is not None:
        _identifier("user_id", user_id)
        body["user_id"] = user_id
    return json.dumps(body, separators=(",", ":")).encode()


def user_id_body(user_id: Any, **extra: Any) -> bytes:
    _identifier("user_id", user_id)
    return json.dumps({"user_id": user_id, **extra}, separators=(",", ":")).encode()


def delete_body(user_id: Any, reason: Any) -> bytes:
    if not isinstance(reason, str) or not 1 <= len(reason) <= 256:
        raise ValidationError("reason must be a str of 1 to 256 characters", code="invalid_field")
    return user_id_body(user_id, reason=reason)


# ---------------------------------------------------------------------------------------
# Answers


def _json_object(response: httpx.Response) -> Dict[str, Any]:
    try:
        data = json.loads(response.content)
    except ValueError:
        raise InvalidResponseError(
            f"HTTP {response.status_code} from {response.request.url.path} is not JSON "
            f"({_preview(response.content)})",
            status=response.status_code,
            request_id=response.headers.get("x-request-id"),
        ) from None
    if not isinstance(data, dict):
        raise InvalidResponseError(
            f"HTTP {response.status_code} from {response.request.url.path} is JSON but "
            "not an object",
            status=response.status_code,
            request_id=response.headers.get("x-request-id"),
        )
    return data


def _preview(content: bytes) -> str:
    text = content[:80].decode("utf-8", "replace")
    return repr(text) + ("..." if len(content) > 80 else "")


def _bad_field(response: httpx.Response, name: str, want: str) -> InvalidResponseError:
    return InvalidResponseError(
        f"the answer from {response.request.url.path} has no valid {name!r} ({want})",
        status=response.status_code,
        request_id=response.headers.get("x-request-id"),
    )


def _int_field(response: httpx.Response, data: Mapping[str, Any], name: str) -> int:
    value = data.get(name)
    if type(value) is not int or value < 0:
        raise _bad_field(response, name, "a non-negative integer")
    return value


def _opt_int_field(response: httpx.Response, data: Mapping[str, Any], name: str) -> Optional[int]:
    value = data.get(name)
    if value is None:
        return None
    if type(value) is not int or value < 0:
        raise _bad_field(response, name, "a non-negative integer or null")
    return value


def parse_check(response: httpx.Response) -> CheckResult:
    """A 200 answer to /v1/check as a result; InvalidResponseError if it is not one."""
    data = _json_object(response)
    allowed = data.get("allowed")
    if type(allowed) is not bool:
        raise _bad_field(response, "allowed", "true or false")
    degraded = data.get("degraded", False)
    if type(degraded) is not bool:
        raise _bad_field(response, "degraded", "true or false")
    reset_in = _int_field(response, data, "reset_in")
    retry_after = _opt_int_field(response, data, "retry_after")
    # The millisecond fields came with the first release; tolerate a server without them.
    reset_in_ms = data.get("reset_in_ms")
    if reset_in_ms is None:
        reset_in_ms = reset_in * 1000
    elif type(reset_in_ms) is not int or reset_in_ms < 0:
        raise _bad_field(response, "reset_in_ms", "a non-negative integer")
    if "retry_after_ms" in data:
        retry_after_ms = _opt_int_field(response, data, "retry_after_ms")
    else:
        retry_after_ms = None if retry_after is None else retry_after * 1000
    return CheckResult(
        allowed=allowed,
        limit=_int_field(response, data, "limit"),
        remaining=_int_field(response, data, "remaining"),
        reset_in=reset_in,
        retry_after=retry_after,
        reset_in_ms=reset_in_ms,
        retry_after_ms=retry_after_ms,
        degraded=degraded,
        request_id=response.headers.get("x-request-id"),
    )


def parse_receipt(response: httpx.Response) -> DeletionReceipt:
    data = _json_object(response)
    deleted = data.get("deleted")
    if type(deleted) is not bool:
        raise _bad_field(response, "deleted", "true or false")
    strings = {}
    for name in ("subject", "completed_at"):
        value = data.get(name)
        if not isinstance(value, str) or not value:
            raise _bad_field(response, name, "a non-empty string")
        strings[name] = value
    request_id = data.get("request_id")
    if request_id is None:
        request_id = response.headers.get("x-request-id")
    if not isinstance(request_id, str) or not request_id:
        raise _bad_field(response, "request_id", "a non-empty string")
    return DeletionReceipt(
        deleted=deleted,
        deleted_counters=_int_field(response, data, "deleted_counters"),
        subject=strings["subject"],
        request_id=request_id,
        completed_at=strings["completed_at"],
    )


def parse_object(response: httpx.Response) -> Dict[str, Any]:
    return _json_object(response)


def parse_detailed_health(response: httpx.Response) -> Dict[str, Any]:
    """/health/detailed: a report both when healthy (200) and when not (a 503 whose body is
    the report, with its "status"); any other answer is an error."""
    if response.status_code == 200:
        return _json_object(response)
    if response.status_code == 503:
        try:
            data = _json_object(response)
        except InvalidResponseError:
            data = {}
        if isinstance(data.get("status"), str) and "code" not in data:
            return data
    raise error_from_response(response)


# ---------------------------------------------------------------------------------------
# Errors


def _retry_after(value: Optional[str]) -> Optional[float]:
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None  # an HTTP date: not sent by RateWatch; ignore rather than guess
    return seconds if seconds >= 0 else None


def error_from_response(response: httpx.Response) -> RateWatchError:
    """The exception for a non-2xx answer, carrying the server's code and message."""
    status = response.status_code
    request_id = response.headers.get("x-request-id")
    code: Optional[str] = None
    message: Optional[str] = None
    try:
        data = json.loads(response.content)
    except ValueError:
        data = None
    if isinstance(data, dict):
        if isinstance(data.get("code"), str):
            code = data["code"]
        if isinstance(data.get("error"), str):
            message = data["error"]
    if message is None:
        reason = response.reason_phrase or "error"
        message = f"HTTP {status} {reason} from {response.request.url.path}"
        if response.content:
            message += f": {_preview(response.content)}"

    if status in (401, 403):
        return AuthenticationError(message, status=status, code=code, request_id=request_id)
    if status in (400, 413, 415, 422):
        return ValidationError(message, status=status, code=code, request_id=request_id)
    if status == 503:
        return ServiceUnavailableError(
            message,
            status=status,
            code=code,
            request_id=request_id,
            retry_after=_retry_after(response.headers.get("retry-after")),
        )
    if status >= 500:
        return ServerError(message, status=status, code=code, request_id=request_id)
    return APIError(message, status=status, code=code, request_id=request_id)


# ---------------------------------------------------------------------------------------
# Fail-open bookkeeping


class Outage:
    """Tracks whether the service is down, to log one warning per outage (not one per
    call) and one line when it is back."""

    __slots__ = ("_down", "_lock")

    def __init__(self) -> None:
        self._down = False
        self._lock = threading.Lock()

    @property
    def down(self) -> bool:
        return self._down

    def failed(self, error: RateWatchError) -> None:
        if self._down:
            return
        with self._lock:
            if self._down:
                return
            self._down = True
        logger.warning(
            "ratewatch: %s (%s); failing open: checks are allowed and marked degraded "
            "until the service answers again",
            error,
            type(error).__name__,
        )

    def recovered(self) -> None:
        if not self._down:
            return
        with self._lock:
            if not self._down:
                return
            self._down = False
        logger.info("ratewatch: the service answers again; checks are real decisions again")


def fail_open_applies(error: RateWatchError) -> bool:
    """Whether ``fail_open`` covers this error: the service could not decide (timeout,
    connection failure, 5xx, an answer that is not one). Errors of the caller's making
    (invalid arguments, a bad key, 4xx) always raise."""
    return isinstance(error, (RWTimeoutError, RWConnectionError, ServerError, InvalidResponseError))


def request_error(exc: httpx.RequestError, base_url: str, timeout: float) -> RateWatchError:
    """The exception for a request that got no (usable) answer."""
    if isinstance(exc, httpx.TimeoutException):
        return RWTimeoutError(
            f"no answer from RateWatch at {base_url} within {timeout:g}s ({type(exc).__name__})"
        )
    if isinstance(exc, httpx.DecodingError):
        return InvalidResponseError(f"the answer from RateWatch could not be decoded: {exc}")
    detail = str(exc) or type(exc).__name__
    return RWConnectionError(f"cannot talk to RateWatch at {base_url}: {detail}")


def deadline_error(base_url: str, timeout: float) -> RateWatchError:
    return RWTimeoutError(f"no answer from RateWatch at {base_url} within {timeout:g}s")


def closed_error() -> RateWatchError:
    return RateWatchError("this RateWatch client is closed; create a new one")
