# SPDX-License-Identifier: Apache-2.0 OR MIT
"""The values the client returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

__all__ = ["CheckResult", "DeletionReceipt"]


@dataclass(frozen=True)
class CheckResult:
    """The decision for one ``check``. Immutable.

    Attributes:
        allowed: whether the request may go ahead. A denial is a result, not an exception.
        limit: the limit the check was made against.
        remaining: how much of the limit is left after this check.
        reset_in: seconds (rounded up) until the counter is back to its full limit.
        retry_after: on a denial, seconds (rounded up, at least 1) until a request of the
            same cost can be allowed; None when allowed, or when the cost can never fit.
        reset_in_ms: ``reset_in`` in milliseconds.
        retry_after_ms: ``retry_after`` in milliseconds, or None.
        degraded: False for a real decision. True when the server decided without its
            store (its Redis store failing open) or when this client failed open
            (``fail_open=True``) because the server could not be asked; in that last case
            ``allowed`` is True and ``remaining``/``reset_in`` carry no information
            (``remaining == limit``, ``reset_in == 0``, ``request_id`` is None).
        request_id: the server's X-Request-Id for this check, when it answered.
    """

    allowed: bool
    limit: int
    remaining: int
    reset_in: int
    retry_after: Optional[int]
    reset_in_ms: int
    retry_after_ms: Optional[int]
    degraded: bool = False
    request_id: Optional[str] = None

    @classmethod
    def fallback(cls, limit: int) -> CheckResult:
        """The result a client with ``fail_open=True`` returns when the server could not
        decide: allowed, and marked degraded."""
        return cls(
            allowed=True,
            limit=limit,
            remaining=limit,
            reset_in=0,
            retry_after=None,
            reset_in_ms=0,
            retry_after_ms=None,
            degraded=True,
            request_id=None,
        )


@dataclass(frozen=True)
class DeletionReceipt:
    """The server's receipt for ``delete_user_data``. Keep it as proof of erasure.

    Attributes:
        deleted: True once the server has erased what it held for the user.
        deleted_counters: how many counters were erased (0 when there were none).
        subject: the server's pseudonymous hash of the user id, the name the deletion is
            recorded under (the user id itself is not kept).
        request_id: the server's id for the deletion request.
        completed_at: when the deletion completed, as the server's RFC 3339 timestamp.
    """

    deleted: bool
    deleted_counters: int
    subject: str
    request_id: str
    completed_at: str
