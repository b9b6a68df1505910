"""The app factory: routes only translate between JSON and the engine.

Endpoints so far: ``POST /v1/tersify`` (the native request of :mod:`tersify.wire`, or
``{"requests": [...]}`` for a batch) and ``GET /healthz``. Every error has one JSON shape,
``{"error": {"type", "message"}}``: 400 for a bad body, 413 beyond the body limit, never a trace.
The engine runs off the event loop in a thread pool bounded by ``engine_threads``.
"""

# No ``from __future__ import annotations``: FastAPI reads the route annotations at run time,
# and ``fastapi`` is imported inside the factory (an optional dependency).
import functools
import json
from typing import Any

from tersify._optional import require
from tersify.compressor import Compressor
from tersify.errors import InvalidRequestError
from tersify.wire import request_from_dict

__all__ = ["MAX_BATCH", "MAX_BODY_BYTES", "create_app"]

MAX_BODY_BYTES = 4_000_000
MAX_BATCH = 64


def create_app(compressor: Compressor | None = None, *, engine_threads: int = 1) -> Any:
    """A FastAPI app serving ``compressor`` (default: ``Compressor(preset="fast")``)."""
    require("fastapi", extra="server")
    import anyio
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

    engine = compressor or Compressor(preset="fast")
    limiter = anyio.CapacityLimiter(engine_threads)
    app = FastAPI(title="tersify", version=_version())

    def error(status: int, kind: str, message: str) -> Any:
        return JSONResponse({"error": {"type": kind, "message": message}}, status_code=status)

    @app.exception_handler(InvalidRequestError)
    async def invalid(request: Request, exc: InvalidRequestError) -> Any:
        return error(400, "invalid_request", str(exc))

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> Any:
        return error(500, "internal_error", "the server failed on this request")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/tersify")
    async def tersify_native(request: Request) -> Any:
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return error(413, "too_large", f"body over {MAX_BODY_BYTES} bytes")
        try:
            data = json.loads(body)
        except ValueError:
            return error(400, "invalid_request", "the body is not valid JSON")
        batch = isinstance(data, dict) and set(data) == {"requests"}
        items = data["requests"] if batch else [data]
        if not isinstance(items, list) or not 0 < len(items) <= MAX_BATCH:
            return error(400, "invalid_request", f"requests must be a list of 1..{MAX_BATCH}")
        requests = [request_from_dict(item) for item in items]
        run = functools.partial(engine.compress_many, requests)
        results = await anyio.to_thread.run_sync(run, limiter=limiter)
        dicts = [r.to_dict() for r in results]
        return {"results": dicts} if batch else dicts[0]

    return app


def _version() -> str:
    import tersify

    return tersify.__version__
