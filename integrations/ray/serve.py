"""The HTTP API on Ray Serve: the same app (dialects, keys, usage, limits) on N replicas.

Each replica runs the app of ``create_app`` (integrations/server/app.py) over an engine of its
own, behind Serve's HTTP proxy. Its compressions go through :meth:`TersifyReplica.compress`,
a ``@serve.batch`` method: requests that reach a replica together share one engine call
(``Compressor.compress_together``, one model pass per scorer), as the app's own batcher does
in one process; admission (``max_queue``), deadlines and the scorer fallback stay the app's.

Two ways to start it:

- ``tersify serve --ray --replicas 2`` (or ``--min-replicas 1 --max-replicas 8``) starts a
  local Ray instance, or joins the cluster at ``RAY_ADDRESS``, deploys, and serves until
  SIGINT or SIGTERM, then shuts Serve down;
- ``serve run tersify.integrations.ray.serve:app_from_env`` on a running cluster, with the
  same ``TERSIFY_*`` settings in the environment (``TERSIFY_RAY_*`` for the replicas, see
  :class:`ReplicaOptions`), or arguments: ``serve run ... replicas=4``.

Shared by every replica: keys and usage (the database: PostgreSQL across machines) and rate
limits (Redis; a SQLite file serves only replicas on one machine). Each replica has its own:
engine and models, batch queue, ``max_queue``, in-flight limit, metrics; its id is on every
response as ``X-Tersify-Worker``. So more than one replica needs shared limits, as
``--workers`` does. The settings, the admin token and database password included, reach the
replicas as the deployment's arguments, which Ray keeps in its control store: whoever can
reach the cluster's ports can read them, so keep the cluster private (as Ray advises anyway).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, TextIO

from tersify._optional import require
from tersify.compressor import Compressor
from tersify.integrations.server.fallback import Outcome, compress_each
from tersify.integrations.server.settings import ServerSettings, SettingsError
from tersify.types import CompressionRequest

require("ray.serve", extra="ray")

from ray import serve  # noqa: E402

__all__ = ["ReplicaOptions", "TersifyReplica", "app_from_env", "build", "serve_until_stopped"]

APP_NAME = "tersify"


@dataclass(frozen=True, kw_only=True)
class ReplicaOptions:
    """How many replicas, and what each holds of the cluster (``TERSIFY_RAY_<FIELD>``).

    Args:
        replicas: A fixed number of replicas (unless ``max_replicas`` is set).
        min_replicas: With ``max_replicas``: Serve's autoscaler keeps at least this many.
        max_replicas: Autoscale between ``min_replicas`` and this, aiming at
            ``target_ongoing_requests`` per replica.
        target_ongoing_requests: Requests in a replica the autoscaler aims at.
        max_ongoing_requests: Requests one replica takes at once; more wait in the proxy. At
            least the app's ``max_batch``, so that a batch can fill.
        replica_cpus: CPUs reserved per replica (fractions allowed).
        replica_gpus: GPUs reserved per replica, for model scorers.

    Raises:
        SettingsError: A value out of range, naming it.
    """

    replicas: int = 1
    min_replicas: int | None = None
    max_replicas: int | None = None
    target_ongoing_requests: float = 8.0
    max_ongoing_requests: int = 64
    replica_cpus: float = 1.0
    replica_gpus: float = 0.0

    def __post_init__(self) -> None:
        counts = {"replicas": 1, "min_replicas": 0, "max_replicas": 1, "max_ongoing_requests": 1}
        for name, low in counts.items():
            value = getattr(self, name)
            if value is not None and (type(value) is not int or value < low):
                raise SettingsError(f"{name} must be a whole number of at least {low}, "
                                    f"got {value!r}")
        for name in ("target_ongoing_requests", "replica_cpus", "replica_gpus"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise SettingsError(f"{name} must be a number of at least 0, got {value!r}")
        if self.min_replicas is not None and self.max_replicas is None:
            raise SettingsError("min_replicas needs max_replicas (autoscaling)")
        if self.max_replicas is not None and (self.min_replicas or 0) > self.max_replicas:
            raise SettingsError(f"min_replicas {self.min_replicas} is above max_replicas "
                                f"{self.max_replicas}")

    @property
    def most(self) -> int:
        """The most replicas that may run at once."""
        return self.max_replicas if self.max_replicas is not None else self.replicas

    def deployment_options(self) -> dict[str, Any]:
        """The options of Serve's deployment."""
        actor = {"num_cpus": self.replica_cpus, "num_gpus": self.replica_gpus}
        scaling: dict[str, Any] = {"num_replicas": self.replicas}
        if self.max_replicas is not None:
            scaling = {"autoscaling_config": {
                "min_replicas": self.min_replicas or 0, "max_replicas": self.max_replicas,
                "initial_replicas": max(self.min_replicas or 0, 1),
                "target_ongoing_requests": self.target_ongoing_requests}}
        return {**scaling, "ray_actor_options": actor,
                "max_ongoing_requests": self.max_ongoing_requests}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None,
                 given: Mapping[str, str] | None = None) -> ReplicaOptions:
        """Options from ``TERSIFY_RAY_<FIELD>`` variables, then ``given`` (by field name, as
        ``serve run ... replicas=4`` passes them).

        Raises:
            SettingsError: A value that is not a number, or an unknown name in ``given``.
        """
        env = os.environ if environ is None else environ
        names = {f.name for f in fields(cls)}
        given = given or {}
        unknown = sorted(set(given) - names)
        if unknown:
            raise SettingsError(f"unknown replica option {unknown[0]!r}: use one of "
                                f"{', '.join(sorted(names))}")
        raw = {n: env[f"TERSIFY_RAY_{n.upper()}"] for n in names
               if env.get(f"TERSIFY_RAY_{n.upper()}", "") != ""} | dict(given)
        values: dict[str, Any] = {}
        for name, text in raw.items():
            number = float if name in ("target_ongoing_requests", "replica_cpus",
                                       "replica_gpus") else int
            try:
                values[name] = number(str(text).strip())
            except ValueError:
                raise SettingsError(f"{name} must be a number, got {text!r}") from None
        return cls(**values)


def replica_settings(settings: ServerSettings, options: ReplicaOptions) -> ServerSettings:
    """``settings`` as each replica runs them: its engine in its own process (Serve's
    replicas are the processes), and ``workers`` set to the most replicas, so that the
    limits are shared as among ``--workers`` (Redis, else the SQLite file).

    Raises:
        SettingsError: More than one replica without limits they can share.
    """
    if options.most > 1 and not settings.limits_shareable:
        raise SettingsError(f"{options.most} replicas need limits shared by every replica: set "
                            "a Redis URL (TERSIFY_REDIS_URL), or use a SQLite file as the "
                            "database (replicas on one machine only), or serve one replica")
    if options.max_ongoing_requests < settings.max_batch:
        raise SettingsError(f"max_ongoing_requests {options.max_ongoing_requests} is below "
                            f"max_batch {settings.max_batch}: a batch could never fill")
    return replace(settings, workers=options.most, engine_processes=0)


@serve.ingress()
class TersifyReplica:
    """One replica: the server's app over an engine of its own, whose compressions Serve
    batches (:meth:`compress`)."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.metrics: Any = None  # the app's, once built
        # Patterns come from clients: RE2, as in the app factory.
        self.engine = Compressor(preset=settings.preset, linear_patterns=True)
        self.compress.set_max_batch_size(settings.max_batch)  # type: ignore[attr-defined]
        self.compress.set_batch_wait_timeout_s(  # type: ignore[attr-defined]
            settings.batch_wait_ms / 1000)

    def __serve_build_asgi_app__(self) -> Any:
        """The app, built in the replica (Serve calls this after ``__init__``)."""
        from tersify.integrations.server.app import create_app

        replica = serve.get_replica_context().replica_id.unique_id
        app = create_app(self.settings, compressor=self.engine, worker_id=replica,
                         engine_runner=self.compress)
        self.metrics = app.state.metrics
        return app

    @serve.batch(max_batch_size=16, batch_wait_timeout_s=0.002)
    async def compress(self, requests: list[CompressionRequest]) -> list[Outcome]:
        """Each request's outcome; the requests share their scorers' model passes. Off the
        event loop, which keeps serving meanwhile."""
        if self.metrics is not None:
            self.metrics.count_batch(len(requests))
        return await asyncio.to_thread(compress_each, self.engine, requests)


def build(settings: ServerSettings, options: ReplicaOptions | None = None) -> Any:
    """The Serve application: ``options``' replicas of the app on ``settings``. The database's
    tables are made here, once, before any replica opens it.

    Raises:
        SettingsError: Settings the replicas cannot share (see :func:`replica_settings`).
        StoreError: The database cannot be opened.
    """
    from tersify.integrations.server.store import KeyStore

    options = options or ReplicaOptions()
    settings = replica_settings(settings, options)
    KeyStore(settings.database_url).close()
    deployment = serve.deployment(name="TersifyReplica")(TersifyReplica)
    # A stopping replica waits for its requests in flight as long as one server would.
    return deployment.options(**options.deployment_options(),
                              graceful_shutdown_timeout_s=settings.shutdown_timeout_s
                              ).bind(settings)


def app_from_env(args: dict[str, str] | None = None) -> Any:
    """The application from ``TERSIFY_*`` and ``TERSIFY_RAY_*`` variables, for
    ``serve run tersify.integrations.ray.serve:app_from_env [replicas=N ...]``."""
    return build(ServerSettings.from_env(), ReplicaOptions.from_env(given=args))


class _Stopped(BaseException):
    """SIGINT or SIGTERM: stop serving (a BaseException, like KeyboardInterrupt, so that no
    ``except Exception`` on the way swallows it)."""


def _stop(*_: object) -> None:
    raise _Stopped


def serve_until_stopped(settings: ServerSettings, options: ReplicaOptions, *, host: str,
                        port: int, out: TextIO = sys.stdout) -> int:
    """Deploy on a local Ray instance, or the cluster at ``RAY_ADDRESS``; serve until SIGINT or
    SIGTERM, which may come while the replicas start; then shut Serve (and a local Ray) down.
    The exit status: 0, or 1 when the replicas could not start (one line says why)."""
    import ray

    app = build(settings, options)  # a bad setting stops us before Ray starts
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    joining = bool(os.environ.get("RAY_ADDRESS"))
    if joining:
        ray.init(logging_level=logging.WARNING)
    else:
        ray.init(include_dashboard=False, logging_level=logging.WARNING)
    for sig in (signal.SIGTERM, signal.SIGINT):  # over Ray's own, which exits at once
        signal.signal(sig, _stop)
    try:
        return _deploy_and_wait(app, options, host=host, port=port, joining=joining, out=out)
    except _Stopped:
        return 0
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):  # a second signal ends us at once
            signal.signal(sig, signal.SIG_DFL)
        if joining:  # the cluster's Serve stays up for its other applications
            serve.delete(APP_NAME)
        else:
            serve.shutdown()  # type: ignore[no-untyped-call]
        ray.shutdown()


def _deploy_and_wait(app: Any, options: ReplicaOptions, *, host: str, port: int,
                     joining: bool, out: TextIO) -> int:
    serve.start(http_options={"host": host, "port": port})
    try:
        serve.run(app, name=APP_NAME, route_prefix="/")
    except Exception as exc:  # a replica failed to start (Serve gave up retrying)
        reason = (str(exc).strip() or type(exc).__name__).splitlines()[0]
        sys.stderr.write(f"tersify: error: the replicas could not start: {reason}\n")
        return 1
    where = "the Ray cluster at RAY_ADDRESS" if joining else "a local Ray instance"
    out.write(f"tersify serving on http://{host}:{port} (docs at /docs), "
              f"{_replicas(options)} on {where}\n")
    out.flush()
    while True:
        time.sleep(3600)


def _replicas(options: ReplicaOptions) -> str:
    if options.max_replicas is None:
        return f"{options.replicas} replica" + ("s" if options.replicas > 1 else "")
    return f"{options.min_replicas or 0} to {options.max_replicas} replicas (autoscaled)"
