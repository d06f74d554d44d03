# SPDX-License-Identifier: Apache-2.0 OR MIT
"""An httpx.MockTransport that records what the client sent and answers from a script."""

from __future__ import annotations

import json
from typing import Any, Callable, Dict, List, Optional, Union

import httpx

URL = "http://ratewatch.test:8081"
KEY = "rw_test_0123456789abcdef"

ALLOW: Dict[str, Any] = {
    "allowed": True,
    "limit": 100,
    "remaining": 99,
    "reset_in": 3542,
    "retry_after": None,
    "reset_in_ms": 3541200,
    "retry_after_ms": None,
}
DENY: Dict[str, Any] = {
    "allowed": False,
    "limit": 100,
    "remaining": 0,
    "reset_in": 3542,
    "retry_after": 36,
    "reset_in_ms": 3541200,
    "retry_after_ms": 35100,
}

Answer = Union[httpx.Response, Exception, Callable[[httpx.Request], httpx.Response]]


def json_response(
    status: int, body: Any, headers: Optional[Dict[str, str]] = None
) -> httpx.Response:
    h = {"content-type": "application/json", "x-request-id": "req-1"}
    h.update(headers or {})
    return httpx.Response(status, content=json.dumps(body).encode(), headers=h)


def error_response(
    status: int, code: str, message: str = "it went wrong", **headers: str
) -> httpx.Response:
    return json_response(status, {"error": message, "code": code}, headers)


class Script:
    """Answers requests in order with the given answers (the last one repeats); an
    exception answer is raised as the transport's failure."""

    def __init__(self, *answers: Answer) -> None:
        assert answers
        self.answers = list(answers)
        self.requests: List[httpx.Request] = []

    def _next(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer) and not isinstance(answer, httpx.Response):
            return answer(request)
        # A Response object can be read once: hand out a copy.
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self._next)

    def async_transport(self) -> httpx.MockTransport:
        async def handler(request: httpx.Request) -> httpx.Response:
            return self._next(request)

        return httpx.MockTransport(handler)

    @property
    def last_json(self) -> Any:
        return json.loads(self.requests[-1].content)


class Refuse:
    """A transport that fails the test if the client sends anything."""

    def __init__(self) -> None:
        self.sent = 0

    def _handler(self, request: httpx.Request) -> httpx.Response:
        self.sent += 1
        raise AssertionError(f"the client sent {request.method} {request.url} but should not have")

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self._handler)
