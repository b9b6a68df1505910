"""The app factory: state (engine, batcher, key store, limiter, metrics), middleware, routes.

Routes live in routes.py and playground.py and only translate (translate.py) between the
dialects' JSON and the engine. Endpoints: Compresso ``POST /v1/prompt-compress``; SuperCompress
``POST /v1/compress``, ``POST /api/compress`` (no key, limited per client address),
``GET /api/keys/{id}/usage``; ScaleDown ``POST /compress/raw/``; native ``POST /v1/tersify``;
admin ``/admin/keys``; ``/healthz``, ``/readyz``, ``/metrics``, ``/docs``, ``/openapi.json``;
the playground page at ``/``.
"""

# No ``from __future__ import annotations``: FastAPI reads route annotations at run time.
import json
import logging
import time
import uuid
from typing import Any

from tersify._optional import require
from tersify.compressor import Compressor
from tersify.integrations.server.auth import Gate
from tersify.integrations.server.batching import Batcher
from tersify.integrations.server.errors import ApiError, error_body, install_handlers
from tersify.integrations.server.ratelimit import make_limiter
from tersify.integrations.server.settings import ServerSettings
from tersify.integrations.server.store import KeyStore

__all__ = ["create_app"]

access_log = logging.getLogger("tersify.server.access")


def create_app(settings: ServerSettings | None = None, *,
               compressor: Compressor | None = None) -> Any:
    """A FastAPI app; ``settings`` default to :meth:`ServerSettings.from_env`."""
    require("fastapi", extra="server")
    from fastapi import FastAPI

    from tersify.integrations.server import playground, routes
    from tersify.integrations.server.metrics import Metrics

    settings = settings or ServerSettings.from_env()
    # Patterns come from clients: RE2, never Python's backtracking re (one could freeze us).
    engine = compressor or Compressor(preset=settings.preset, linear_patterns=True)
    app = FastAPI(title="tersify", version=_version(),
                  description="Question-aware prompt compression: the native API and the "
                  "Compresso, SuperCompress and ScaleDown dialects. Errors share one JSON "
                  "shape: {\"error\": {\"type\", \"message\", \"request_id\"}}.")
    store = KeyStore(settings.database_url)
    app.state.settings = settings
    app.state.store = store
    app.state.gate = Gate(store, make_limiter(settings.redis_url), settings)
    app.state.batcher = Batcher(engine, max_batch=settings.max_batch,
                                max_wait_ms=settings.batch_wait_ms,
                                threads=settings.engine_threads)
    app.state.metrics = Metrics()
    install_handlers(app)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    _observe(app)  # added last, so outermost: it sees every response, 413s and 500s included
    app.openapi = lambda: _openapi_without_422(app)  # type: ignore[method-assign]
    app.include_router(routes.router)
    app.include_router(playground.router)
    return app


def _observe(app: Any) -> None:
    """Request ids, rate-limit headers on every response, access log, metrics."""
    from fastapi.responses import JSONResponse

    @app.middleware("http")  # type: ignore[untyped-decorator]
    async def observe(request: Any, call_next: Any) -> Any:
        rid = request.headers.get("x-request-id", "")
        if not (0 < len(rid) <= 128 and rid.isprintable()):
            rid = uuid.uuid4().hex
        request.state.request_id = rid
        request.state.rate_headers = {}
        started = time.perf_counter()
        try:
            response = await call_next(request)
        except Exception:
            access_log.exception("unhandled error", extra={"request_id": rid})
            response = JSONResponse(
                error_body("internal_error", "the server failed on this request", rid),
                status_code=500)
        elapsed = time.perf_counter() - started
        response.headers["X-Request-ID"] = rid
        for name, value in request.state.rate_headers.items():
            response.headers.setdefault(name, value)
        route = getattr(request.scope.get("route"), "path", "unmatched")
        app.state.metrics.observe(request.method, route, response.status_code, elapsed)
        access_log.info(json.dumps({
            "event": "request", "request_id": rid, "method": request.method, "route": route,
            "status": response.status_code, "ms": round(elapsed * 1000, 2)}))
        return response


class BodyLimit:
    """413 in the JSON error shape for bodies over ``limit`` bytes, declared or streamed."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if declared.isdigit() and int(declared) > self.limit:
            await self._too_large(scope, send)
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

    async def _too_large(self, scope: Any, send: Any) -> None:
        rid = scope.get("state", {}).get("request_id")
        body = json.dumps(error_body("too_large", f"body over {self.limit} bytes", rid))
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body.encode()})


def _openapi_without_422(app: Any) -> dict[str, Any]:
    """FastAPI documents a 422 on every body route; this server answers 400 instead."""
    if app.openapi_schema is None:
        from fastapi.openapi.utils import get_openapi

        schema = get_openapi(title=app.title, version=app.version,
                             description=app.description, routes=app.routes)
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                operation.get("responses", {}).pop("422", None)
        for name in ("HTTPValidationError", "ValidationError"):
            schema.get("components", {}).get("schemas", {}).pop(name, None)
        app.openapi_schema = schema
    return app.openapi_schema  # type: ignore[no-any-return]


def _version() -> str:
    import tersify

    return tersify.__version__
