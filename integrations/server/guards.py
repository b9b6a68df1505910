"""Two guards in front of every route, as plain ASGI: a body size limit and a limit on the
requests in the server at once. Both answer in the JSON error shape before any route runs."""

from __future__ import annotations

from typing import Any

from tersify.integrations.server.errors import ApiError
from tersify.integrations.server.observe import send_error

__all__ = ["BodyLimit", "InFlightLimit"]

# Probes answer even when the server is full: a liveness check failing under load would have
# an orchestrator restart a healthy server, and its work with it.
UNCOUNTED_PATHS = frozenset({"/healthz"})


class BodyLimit:
    """413 for bodies over ``limit`` bytes, declared or streamed."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if declared.isdigit() and int(declared) > self.limit:
            await _answer(scope, send, 413, "too_large", f"body over {self.limit} bytes")
            return
        seen = 0

        async def counted() -> Any:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise ApiError(413, "too_large", f"body over {self.limit} bytes")
            return message

        await self.app(scope, counted, send)


class InFlightLimit:
    """503 + ``Retry-After`` for a request that finds ``limit`` others in the server.

    uvicorn's own ``limit_concurrency`` answers a plain-text 503 and counts idle keep-alive
    connections too; ``tersify serve`` keeps it only as a backstop well above this limit."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit
        self.in_flight = 0  # one event loop: no lock needed

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] in UNCOUNTED_PATHS:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            await _answer(scope, send, 503, "overloaded", "the server is busy; retry in a "
                          "second", retry_after=1)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


async def _answer(scope: Any, send: Any, status: int, kind: str, message: str, *,
                  retry_after: int | None = None) -> None:
    rid = scope.get("state", {}).get("request_id")
    await send_error(send, status, kind, message, rid, retry_after=retry_after)
