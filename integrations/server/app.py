"""The app factory: state (engine, batcher, key store, limiter, metrics), middleware, routes.

Routes live in routes.py, playground.py and dashboard.py and only translate (translate.py)
between the dialects' JSON and the engine. Endpoints: Compresso ``POST /v1/prompt-compress``;
SuperCompress ``POST /v1/compress``, ``POST /api/compress`` (no key, limited per client
address), ``GET /api/keys/{id}/usage``; ScaleDown ``POST /compress/raw/``; native
``POST /v1/tersify``; the caller's usage by day ``GET /v1/usage/daily``; admin ``/admin/keys``;
``/healthz``, ``/readyz``, ``/metrics``, ``/docs``, ``/openapi.json``; the playground page at
``/`` and the usage dashboard at ``/dashboard`` (unless ``settings.playground`` or
``settings.dashboard`` is off).
"""

# No ``from __future__ import annotations``: FastAPI reads route annotations at run time.
import functools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio

from tersify._optional import require
from tersify.compressor import Compressor
from tersify.errors import TersifyError
from tersify.integrations.server.auth import Gate
from tersify.integrations.server.batching import Batcher, Runner
from tersify.integrations.server.errors import install_handlers
from tersify.integrations.server.guards import BodyLimit, InFlightLimit
from tersify.integrations.server.native import state_allowed_scorers
from tersify.integrations.server.observe import Observe
from tersify.integrations.server.ratelimit import make_limiter
from tersify.integrations.server.settings import ServerSettings, SettingsError
from tersify.integrations.server.store import KeyStore

__all__ = ["create_app"]

def create_app(settings: ServerSettings | None = None, *, compressor: Compressor | None = None,
               compressor_factory: Callable[[], Compressor] | None = None,
               worker_id: str | None = None, engine_runner: Runner | None = None) -> Any:
    """A FastAPI app; ``settings`` default to :meth:`ServerSettings.from_env`.

    The engine is the preset's unless given: ``compressor`` runs in this process (threads),
    ``compressor_factory`` builds it, in each worker process when there are any
    (``settings.engine_processes``; so it must be picklable: a module-level function or a
    ``functools.partial`` of one). ``worker_id``: one of several processes serving the app
    (multiworker.py, a Ray Serve replica), named on each response. ``engine_runner``
    compresses each request in place of the app's own batches, with ``compressor`` in this
    process (Ray Serve's ``@serve.batch``: ray/serve.py). The engine warms up in the app's
    lifespan (or before, by ``app.state.batcher.start()``), and ``/readyz`` says ready only
    once it has.

    Raises:
        ValueError: ``compressor`` with ``engine_processes`` > 0 (an instance cannot move).
    """
    require("fastapi", extra="server")
    from fastapi import FastAPI

    from tersify.integrations.server import dashboard, playground, routes
    from tersify.integrations.server.metrics import Metrics

    settings = settings or ServerSettings.from_env()
    processes = _engine_processes(settings, given_instance=compressor is not None
                                  and compressor_factory is None)
    # Patterns come from clients: RE2, never Python's backtracking re (one could freeze us).
    factory = compressor_factory or functools.partial(Compressor, preset=settings.preset,
                                                      linear_patterns=True)
    engine = compressor or factory()  # in processes: this one only counts tokens
    if not processes:  # else each worker builds them, and the models stay out of this process
        _build_scorers(engine, settings.scorers)
    app = FastAPI(title="tersify", version=_version(), lifespan=_lifespan,
                  description="Question-aware prompt compression: the native API and the "
                  "Compresso, SuperCompress and ScaleDown dialects. Errors share one JSON "
                  "shape: {\"error\": {\"type\", \"message\", \"request_id\"}}.")
    store = KeyStore(settings.database_url)
    app.state.settings = settings
    app.state.store = store
    app.state.gate = Gate(store, _limiter(settings), settings)
    app.state.metrics = Metrics()
    app.state.batcher = Batcher(
        engine, max_batch=settings.max_batch, max_wait_ms=settings.batch_wait_ms,
        threads=settings.engine_threads, processes=processes, factory=factory,
        max_queue=settings.max_queue, deadline_s=settings.deadline_s, scorers=settings.scorers,
        on_fallback=app.state.metrics.count_fallback,
        on_batch=app.state.metrics.count_batch, runner=engine_runner)
    install_handlers(app)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.add_middleware(InFlightLimit, limit=settings.limit_concurrency)
    # Added last, so outermost: it sees every response, 413s and 500s included.
    app.add_middleware(Observe, metrics=app.state.metrics, worker_id=worker_id)
    app.openapi = lambda: _openapi_without_422(app)  # type: ignore[method-assign]
    app.include_router(routes.router)
    if settings.playground:
        app.include_router(playground.router)
    app.include_router(dashboard.router)
    if settings.dashboard:
        app.include_router(dashboard.page_router)
    return app


def _engine_processes(settings: ServerSettings, *, given_instance: bool) -> int:
    """How many engine processes: one unless set, or none for an engine instance given
    without a factory, which must stay in this process."""
    if settings.engine_processes is None:
        return 0 if given_instance else 1
    if settings.engine_processes and given_instance:
        raise ValueError("engine processes build their own engine: pass compressor_factory")
    return settings.engine_processes


@asynccontextmanager
async def _lifespan(app: Any) -> AsyncIterator[None]:
    """The engine built and warm before the first request; its workers stopped after the
    last."""
    await anyio.to_thread.run_sync(app.state.batcher.start)
    try:
        yield
    finally:
        app.state.batcher.close()


def _limiter(settings: ServerSettings) -> Any:
    """Redis when named; else in memory for one process, and in the SQLite file for several
    (limits in each worker's memory would let a key through once per worker)."""
    if settings.redis_url is None and (settings.workers or 1) > 1:
        from tersify.integrations.server.sqlitelimits import SqliteLimiter

        assert settings.sqlite_file is not None  # the settings refuse several workers else
        return SqliteLimiter(settings.sqlite_file)
    return make_limiter(settings.redis_url)


def _build_scorers(engine: Compressor, names: tuple[str, ...]) -> None:
    """Every scorer requests may name, built now: models load before the first request, and a
    scorer whose extra or model is missing stops the server at start (one line), not a
    request."""
    for name in names:
        try:
            engine.scorer(name)
        except TersifyError as exc:
            raise SettingsError(f"allowed scorer {name!r} cannot run here: {exc}") from None


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
        state_allowed_scorers(schema, app.state.settings.scorers)
        app.openapi_schema = schema
    return app.openapi_schema  # type: ignore[no-any-return]


def _version() -> str:
    import tersify

    return tersify.__version__
