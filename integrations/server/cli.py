"""The server's commands ``tersify serve`` and ``tersify keys`` (for tersify.integrations.cli).

Both read ``TERSIFY_*`` settings (see ServerSettings); ``--database-url`` and friends override
them. ``keys`` works on the database directly, so it needs no running server.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import replace
from typing import Any, TextIO

from tersify.integrations.server.settings import ServerSettings, SettingsError, read_token_file
from tersify.integrations.server.store import KeyStore, StoreError

__all__ = ["add_commands", "run"]


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``serve`` and ``keys`` to the ``tersify`` parser."""
    serve = sub.add_parser("serve", help="run the HTTP API (uvicorn)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--preset", default=None, help="engine preset (default: fast)")
    serve.add_argument("--allowed-scorers", default=None, type=_names, metavar="NAMES",
                       help="scorers requests may name, comma-separated (default: "
                       "TERSIFY_ALLOWED_SCORERS, else the preset's scorer)")
    _store_args(serve)
    serve.add_argument("--redis-url", default=None, help="Redis for shared rate limits")
    serve.add_argument("--workers", type=_positive, default=None, metavar="N",
                       help="serving processes on the port (TERSIFY_WORKERS, default: the "
                       "machine's cores; 1 when the limits cannot be shared: PostgreSQL "
                       "without Redis); they share keys, usage and rate limits (Redis, else "
                       "the SQLite file); each has its own engine, queue and in-flight limit")
    serve.add_argument("--admin-token-file", default=None,
                       help="file holding the admin token (or TERSIFY_ADMIN_TOKEN[_FILE])")
    serve.add_argument("--admin-token", default=None, help=argparse.SUPPRESS)  # refused
    serve.add_argument("--forwarded-allow-ips", default=None,
                       help="proxies whose X-Forwarded-For is trusted: IPs, networks or * "
                       "(default: TERSIFY_FORWARDED_ALLOW_IPS, else none)")
    _capacity_args(serve)
    _ray_args(serve)
    keys = sub.add_parser("keys", help="create, list, revoke API keys; show usage")
    _store_args(keys)
    actions = keys.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="a new key (its secret is shown once)")
    create.add_argument("name")
    create.add_argument("--rate-limit", type=_positive, default=None, help="requests per window")
    create.add_argument("--window", type=_positive, default=None, help="window in seconds")
    actions.add_parser("list", help="every key")
    revoke = actions.add_parser("revoke", help="revoke a key at once")
    revoke.add_argument("key_id")
    usage = actions.add_parser("usage", help="usage of a key by day")
    usage.add_argument("key_id")


def _names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(","))  # the settings check each name


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _capacity_args(serve: argparse.ArgumentParser) -> None:
    """How much the server takes on, and for how long (defaults: ServerSettings)."""
    serve.add_argument("--engine-processes", type=int, default=None, metavar="N",
                       help="run the engine in N worker processes (a stuck compression is "
                       "killed at its deadline); 0: threads of this process "
                       "(TERSIFY_ENGINE_PROCESSES, default 1)")
    serve.add_argument("--deadline", type=float, default=None, metavar="SECONDS",
                       dest="deadline_s", help="a request not compressed by then gets 504 "
                       "(TERSIFY_DEADLINE_S, default 30)")
    serve.add_argument("--max-queue", type=int, default=None, metavar="N",
                       help="requests waiting for or in the engine at most; more get 503 "
                       "(TERSIFY_MAX_QUEUE, default 256)")
    serve.add_argument("--limit-concurrency", type=int, default=None, metavar="N",
                       help="connections and requests served at once; more get 503 "
                       "(TERSIFY_LIMIT_CONCURRENCY, default 1000)")
    serve.add_argument("--shutdown-timeout", type=int, default=None, metavar="SECONDS",
                       dest="shutdown_timeout_s", help="how long SIGTERM waits for requests "
                       "in flight (TERSIFY_SHUTDOWN_TIMEOUT_S, default 30)")


def _ray_args(serve: argparse.ArgumentParser) -> None:
    """Ray Serve replicas in place of worker processes (the ``ray`` extra; ray/serve.py)."""
    serve.add_argument("--ray", action="store_true",
                       help="serve on Ray Serve replicas: a local Ray instance, or the cluster "
                       "at RAY_ADDRESS (needs the ray extra; TERSIFY_RAY_* settings)")
    serve.add_argument("--replicas", type=_positive, default=None, metavar="N",
                       help="with --ray: N replicas (TERSIFY_RAY_REPLICAS, default 1)")
    serve.add_argument("--min-replicas", type=int, default=None, metavar="N",
                       help="with --ray and --max-replicas: autoscale from N")
    serve.add_argument("--max-replicas", type=_positive, default=None, metavar="N",
                       help="with --ray: autoscale up to N replicas")


def _store_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database-url", default=None,
                        help="SQLAlchemy URL (default: TERSIFY_DATABASE_URL, else tersify.db in "
                        "your data directory: ~/.local/share/tersify on Linux)")


def _settings(args: argparse.Namespace) -> ServerSettings:
    if getattr(args, "admin_token", None) is not None:  # argv is visible to every local user
        raise SettingsError("--admin-token is not accepted on the command line: set "
                            "TERSIFY_ADMIN_TOKEN or TERSIFY_ADMIN_TOKEN_FILE, or use "
                            "--admin-token-file")
    settings = ServerSettings.from_env()
    overrides = {name: getattr(args, name, None)
                 for name in ("database_url", "redis_url", "preset", "forwarded_allow_ips",
                              "allowed_scorers", "engine_processes", "deadline_s", "max_queue",
                              "limit_concurrency", "shutdown_timeout_s", "workers")}
    token_file = getattr(args, "admin_token_file", None)
    if token_file is not None:
        overrides["admin_token"] = read_token_file(token_file, "--admin-token-file")
    return replace(settings, **{k: v for k, v in overrides.items() if v is not None})


def _redacted(url: str) -> str:
    """A database URL with its password, if any, as ***."""
    from sqlalchemy.engine import make_url

    return str(make_url(url).render_as_string(hide_password=True))


def run(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """Carry out ``serve`` or ``keys``; the exit status (2 and one line for a bad setting or
    a database that cannot be opened)."""
    try:
        settings = _settings(args)
        if args.command == "serve":
            return _serve(args, settings, out)
        store = KeyStore(settings.database_url)
    except (SettingsError, StoreError) as exc:
        sys.stderr.write(f"tersify: error: {exc}\n")
        return 2
    try:
        return _keys(args, store, out)
    finally:
        store.close()


def _serve(args: argparse.Namespace, settings: ServerSettings, out: TextIO) -> int:
    if args.ray:
        return _serve_ray(args, settings, out)
    if any(getattr(args, n) is not None for n in ("replicas", "min_replicas", "max_replicas")):
        raise SettingsError("--replicas, --min-replicas and --max-replicas need --ray")
    import uvicorn

    from tersify.integrations.server import multiworker

    logging.basicConfig(level=logging.INFO, format="%(message)s")  # JSON lines from the app
    settings = _with_workers(settings, out)
    app = _checked_app(settings, out)
    options = {"host": args.host, "port": args.port, "log_level": "warning",
               # uvicorn trusts X-Forwarded-For from 127.0.0.1 unless told otherwise: only
               # named proxies.
               "proxy_headers": settings.forwarded_allow_ips is not None,
               "forwarded_allow_ips": settings.forwarded_allow_ips or "",
               "limit_concurrency": uvicorn_backstop(settings.limit_concurrency),
               "timeout_graceful_shutdown": settings.shutdown_timeout_s,
               # The same HTTP parser and event loop whether uvicorn's optional speedups
               # (httptools, uvloop; the ray extra brings them) are installed or not: what the
               # tests check and the benchmarks measured.
               "http": "h11", "loop": "asyncio"}
    workers = settings.workers or 1
    served = f"tersify serving on http://{args.host}:{args.port} (docs at /docs)"
    if workers == 1:
        out.write(served + "\n")
        out.flush()
        uvicorn.run(app, **options)
        return 0
    # The check's engine and database handles go: each worker builds its own.
    app.state.batcher.close()
    app.state.store.close()
    out.write(f"{served}, {workers} worker processes\n")
    out.flush()
    options.pop("host"), options.pop("port")
    if not multiworker.serve_workers(settings, args.host, args.port, options):
        sys.stderr.write("tersify: error: a worker could not start (its log says why)\n")
        return 1
    return 0


def _serve_ray(args: argparse.Namespace, settings: ServerSettings, out: TextIO) -> int:
    """``serve --ray``: Ray Serve replicas (each its own engine) in place of workers."""
    if settings.workers is not None or settings.engine_processes:
        raise SettingsError("--ray serves with Ray Serve replicas (--replicas), each running "
                            "its engine itself: not with --workers or --engine-processes")
    from tersify.integrations.ray.serve import ReplicaOptions, serve_until_stopped

    given = {n: str(v) for n in ("replicas", "min_replicas", "max_replicas")
             if (v := getattr(args, n)) is not None}
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    return serve_until_stopped(settings, ReplicaOptions.from_env(given=given), host=args.host,
                               port=args.port, out=out)


def _with_workers(settings: ServerSettings, out: TextIO) -> ServerSettings:
    """``settings`` with a worker count: the one given, else the machine's cores (one, and a
    line saying why, when the limits could not be shared)."""
    from tersify.integrations.server import multiworker

    if settings.workers is not None:
        return settings
    if not settings.limits_shareable:
        out.write("serving with one worker: several need shared rate limits (set "
                  "TERSIFY_REDIS_URL, or use a SQLite file as the database)\n")
        return replace(settings, workers=1)
    return replace(settings, workers=multiworker.machine_cores())


def _checked_app(settings: ServerSettings, out: TextIO) -> Any:
    """The app, its engine and models ready before the port opens (else SettingsError: one
    line, exit 2), and the database tables made before any worker starts."""
    from tersify.integrations.server.app import create_app

    app = create_app(settings)
    try:
        app.state.batcher.start()
    except SettingsError:
        raise
    except Exception as exc:
        reason = (str(exc).strip() or type(exc).__name__).splitlines()[0]
        raise SettingsError(f"the engine of preset {settings.preset!r} cannot start: "
                            f"{reason}") from None
    if not app.state.store.all():
        out.write("No API keys yet. Create the first one with:\n"
                  f"    tersify keys --database-url {_redacted(settings.database_url)} "
                  "create my-app\n")
    return app


def uvicorn_backstop(limit: int) -> int:
    """uvicorn's own limit, above the app's (which answers in the JSON shape): uvicorn counts
    idle keep-alive connections as well, and answers in plain text."""
    return 2 * limit + 16


def _keys(args: argparse.Namespace, store: KeyStore, out: TextIO) -> int:
    if args.action == "create":
        key, secret = store.create(args.name, rate_limit=args.rate_limit,
                                   rate_window_s=args.window)
        out.write(f"id: {key.id}\nsecret: {secret}\n(the secret is shown only now)\n")
    elif args.action == "list":
        for k in store.all():
            state = "active" if k.active else f"revoked {k.revoked_at:%Y-%m-%d %H:%M}"
            out.write(f"{k.id}  {k.hint}...  {k.name}  {state}\n")
    elif args.action == "revoke":
        if not store.revoke(args.key_id):
            sys.stderr.write(f"tersify: error: no active key {args.key_id!r}\n")
            return 2
        out.write(f"revoked {args.key_id}\n")
    else:
        days = store.usage(args.key_id)
        out.write(json.dumps({"key_id": args.key_id, "days": [d.__dict__ for d in days]},
                             indent=2) + "\n")
    return 0
