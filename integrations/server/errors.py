"""One JSON error shape for every failure: ``{"error": {"type", "message", "request_id"}}``.

400 for a bad body (FastAPI's 422 is mapped to 400, as the three commercial APIs answer), 401 for
a missing, unknown or revoked key, 404, 413 beyond the size limits, 429 with ``Retry-After``,
500 without a trace; 503 with ``Retry-After`` when the engine's queue is full or the database or
Redis fails (logged once per outage), 504 past the engine's deadline.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from tersify.errors import InvalidRequestError, TersifyError
from tersify.integrations.server.schemas import ErrorBody

__all__ = ["ERROR_RESPONSES", "ApiError", "BackendUnavailable", "Outage", "error_body",
           "install_handlers", "one_line"]

log = logging.getLogger("tersify.server")

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "Invalid request body", "model": ErrorBody},
    401: {"description": "Missing, unknown or revoked API key", "model": ErrorBody},
    413: {"description": "Body over the size limit", "model": ErrorBody},
    429: {"description": "Rate limit exceeded (see Retry-After)", "model": ErrorBody},
    500: {"description": "Internal error (no details)", "model": ErrorBody},
    503: {"description": "Engine queue full, or the database or Redis unavailable "
                         "(see Retry-After); not billed", "model": ErrorBody},
    504: {"description": "Not compressed within the server's deadline; not billed",
          "model": ErrorBody},
}
BACKEND_RETRY_AFTER_S = 5


class ApiError(Exception):
    """An error answered with ``status`` and the JSON shape (plus optional headers)."""

    def __init__(self, status: int, kind: str, message: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message
        self.headers = headers or {}


class BackendUnavailable(TersifyError):
    """The database or Redis failed (down, locked, too slow): a 503 with ``Retry-After``; the
    request was neither served nor billed."""

    def __init__(self, service: str) -> None:
        super().__init__(f"the {service} is unavailable; retry in a few seconds")
        self.service = service


class Outage:
    """A back end's health as requests find it. The first failure of an outage is logged with
    its reason, and the first success after it; the failures in between are not, so an outage
    is two log lines, not one per request. Only a call begun after the outage began can end
    it: one that was answered just before is no news."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.down = False
        self._since = 0.0  # time.monotonic() when the outage began
        self._lock = threading.Lock()

    def failed(self, exc: BaseException) -> BackendUnavailable:
        """Note a failure; the error to raise in its place."""
        self.note_failure(one_line(exc))
        return BackendUnavailable(self.service)

    def note_failure(self, reason: str) -> None:
        with self._lock:
            first, self.down = not self.down, True
            if first:
                self._since = time.monotonic()
        if first:
            log.error("%s unavailable: %s", self.service, reason)

    def ok(self, started: float) -> None:
        """Note a success of a call begun at ``started`` (``time.monotonic()``); cheap when
        there is no outage."""
        if self.down:
            with self._lock:
                ended = self.down and started > self._since
                self.down = self.down and not ended
            if ended:
                log.warning("%s available again", self.service)


def one_line(exc: BaseException) -> str:
    """An error's type and first line, without SQL, parameters or trace (SQLAlchemy's errors
    carry the statement and its parameters after the driver's message)."""
    reason = str(getattr(exc, "orig", None) or exc).strip()
    first = reason.splitlines()[0] if reason else ""
    return f"{type(getattr(exc, 'orig', None) or exc).__name__}: {first[:300]}"


def error_body(kind: str, message: str, request_id: str | None) -> dict[str, Any]:
    return {"error": {"type": kind, "message": message, "request_id": request_id}}


def validation_message(errors: Sequence[Mapping[str, Any]]) -> str:
    """One line for a validation failure. A body that may be one of several models (a union)
    fails once per model; the model with the fewest unexpected fields is the one the caller
    meant, and its first error is the one to report (without the model's name)."""
    if not errors:
        return "invalid request"
    branches: dict[str, list[Mapping[str, Any]]] = {}
    for error in errors:
        loc = [str(p) for p in error.get("loc", ()) if p != "body"]
        branch = loc[0] if loc and loc[0][:1].isupper() else ""
        branches.setdefault(branch, []).append(error)
    chosen = min(branches.values(),
                 key=lambda group: sum(e.get("type") == "extra_forbidden" for e in group))
    first = chosen[0]
    loc = [str(p) for p in first.get("loc", ()) if p != "body"]
    if loc and loc[0][:1].isupper():
        loc = loc[1:]
    return f"{'.'.join(loc) or 'body'}: {first.get('msg', 'invalid request')}"


def allowed_methods(request: Any) -> str:
    """Every method that some route answers on the request's path."""
    from starlette.routing import Match

    routes = request.app.router.routes
    return ", ".join(m for m in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
                     if any(r.matches({**request.scope, "method": m})[0] is Match.FULL
                            for r in routes))


def _respond(request: Any, status: int, kind: str, message: str,
             headers: dict[str, str] | None = None) -> Any:
    from fastapi.responses import JSONResponse

    rid = getattr(request.state, "request_id", None)
    headers = {**getattr(request.state, "rate_headers", {}), **(headers or {})}
    return JSONResponse(error_body(kind, message, rid), status_code=status, headers=headers)


async def _api_error(request: Any, exc: ApiError) -> Any:
    return _respond(request, exc.status, exc.kind, exc.message, exc.headers)


async def _invalid(request: Any, exc: InvalidRequestError) -> Any:
    return _respond(request, 400, "invalid_request", str(exc))


async def _validation(request: Any, exc: Any) -> Any:
    return _respond(request, 400, "invalid_request", validation_message(exc.errors()))


async def _http_error(request: Any, exc: Any) -> Any:
    if isinstance(exc.__cause__, ApiError):  # e.g. a streamed body over the limit
        return await _api_error(request, exc.__cause__)
    kind = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(
        exc.status_code, "http_error")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:  # Starlette names only the first route of the path
        headers["Allow"] = allowed_methods(request)
    return _respond(request, exc.status_code, kind, str(exc.detail), headers)


async def _unavailable(request: Any, exc: BackendUnavailable) -> Any:
    return _respond(request, 503, "unavailable", str(exc),
                    {"Retry-After": str(BACKEND_RETRY_AFTER_S)})


async def _crashed(request: Any, exc: Exception) -> Any:
    log.exception("unhandled error", extra={"request_id": request.state.request_id})
    return _respond(request, 500, "internal_error", "the server failed on this request")


def install_handlers(app: Any) -> None:
    """Map every exception to the JSON shape."""
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException

    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(InvalidRequestError, _invalid)
    app.add_exception_handler(BackendUnavailable, _unavailable)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _crashed)
