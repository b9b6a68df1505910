"""The outermost middleware: request ids, the headers every response carries, the access log
and metrics, and the JSON 500 for an error no handler took.

Plain ASGI rather than Starlette's ``BaseHTTPMiddleware``, which runs each request through a
task group and a memory stream of its own: that cost was a tenth of the server's time per
request of the ``fast`` preset (benchmarks/load.py under py-spy).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from typing import Any

from tersify.integrations.server.errors import error_body

__all__ = ["SECURITY_HEADERS", "Observe", "render_json", "send_error"]

access_log = logging.getLogger("tersify.server.access")
# On every response: no content sniffing, no framing (the page adds its own policy).
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY"}


def render_json(content: Any) -> bytes:
    """``content`` as compact UTF-8 JSON, as Starlette's JSONResponse writes it (NaN and
    infinities refused with ValueError)."""
    return json.dumps(content, ensure_ascii=False, allow_nan=False, indent=None,
                      separators=(",", ":")).encode("utf-8")


class Observe:
    """Sets ``request.state`` (request_id, rate_headers, response_headers) before the app runs;
    adds ``X-Request-ID``, the rate-limit, route and security headers to the response as it
    starts, and counts and logs it there; answers 500 in the JSON shape for an exception that
    escapes before the response started."""

    def __init__(self, app: Any, metrics: Any, worker_id: str | None = None) -> None:
        self.app, self.metrics = app, metrics
        # One of several worker processes (multiworker.py) names itself on each response.
        self.own_headers = {"X-Tersify-Worker": worker_id} if worker_id else {}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _request_id(scope)
        state = scope.setdefault("state", {})
        state.update(request_id=rid, rate_headers={}, response_headers={})
        started = time.perf_counter()
        responded = False

        async def send_observed(message: Any) -> None:
            nonlocal responded
            if message["type"] == "http.response.start":
                responded = True
                message = {**message, "headers": _headers(message.get("headers", []), state,
                                                          self.own_headers)}
                self._done(scope, message["status"], time.perf_counter() - started)
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        except asyncio.CancelledError:
            # Only a stopping server cancels a request (past its shutdown timeout): the client
            # gets a 503 to retry elsewhere, and the log no trace of an error that is none.
            if responded:
                raise
            await send_error(send_observed, 503, "unavailable",
                             "the server is shutting down; retry", rid, retry_after=1)
        except Exception:
            access_log.exception("unhandled error", extra={"request_id": rid})
            if responded:
                raise
            await send_error(send_observed, 500, "internal_error",
                             "the server failed on this request", rid)

    def _done(self, scope: Any, status: int, elapsed: float) -> None:
        route = getattr(scope.get("route"), "path", "unmatched")
        method = scope["method"]
        self.metrics.observe(method, route, status, elapsed)
        access_log.info(json.dumps({
            "event": "request", "request_id": scope["state"]["request_id"], "method": method,
            "route": route, "status": status, "ms": round(elapsed * 1000, 2),
            "key_id": scope["state"].get("key_id")}))


async def send_error(send: Any, status: int, kind: str, message: str, request_id: str | None,
                     *, retry_after: int | None = None) -> None:
    """Answer in the JSON error shape at the ASGI level (for middleware, outside FastAPI)."""
    body = render_json(error_body(kind, message, request_id))
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode())]
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _request_id(scope: Any) -> str:
    """The client's ``X-Request-ID`` when it is short and printable, else a fresh one."""
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            rid: str = value.decode("latin-1")
            if 0 < len(rid) <= 128 and rid.isprintable():
                return rid
            break
    return uuid.uuid4().hex


def _headers(raw: list[tuple[bytes, bytes]], state: dict[str, Any],
             own: dict[str, str]) -> list[tuple[bytes, bytes]]:
    """The response's headers with ``X-Request-ID`` set and the others added where the
    response has none of that name (a route's or handler's own win)."""
    rid = ("x-request-id", state["request_id"])
    headers = [(k, v) for k, v in raw if k.lower() != b"x-request-id"]
    headers.append((rid[0].encode(), rid[1].encode("latin-1")))
    present = {k.lower() for k, _ in headers}
    for name, value in {**state["rate_headers"], **state["response_headers"],
                        **SECURITY_HEADERS, **own}.items():
        key = name.lower().encode("latin-1")
        if key not in present:
            headers.append((key, value.encode("latin-1")))
            present.add(key)
    return headers
