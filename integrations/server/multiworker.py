"""``tersify serve --workers N``: N uvicorn worker processes on one port, one app each.

Each worker listens on its own socket with ``SO_REUSEPORT``, so that the kernel spreads new
connections evenly over the workers. (uvicorn's own ``--workers`` shares one listening socket:
the first worker to wake takes a whole burst of connections, and 8 keep-alive clients that
connect at once may all land on one worker while the others idle.) The parent only supervises:
it replaces a worker that dies (unless it failed to start: then it stops them all), and on
SIGTERM or SIGINT asks each worker to stop, as one process would (requests in flight get
``shutdown_timeout_s``), and waits for them.

Workers are spawned, not forked, and build their app from the settings the command resolved
(variables, options, the token file), which travel to them in one environment variable, as
JSON; an environment is readable only by its user, like the token file.

What the workers share: keys and usage (the database), rate limits (Redis, else the SQLite
file: app.py). What each has of its own: its engine and engine processes, its queue
(``max_queue``), its in-flight limit (``limit_concurrency``), its metrics. Every response of
a worker carries ``X-Tersify-Worker``, a random id the worker drew at start (not its pid), so
that an operator can see the load spread.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import multiprocessing
import os
import secrets
import signal
import socket
import sys
import threading
import time
from typing import Any

from tersify.integrations.server.settings import ServerSettings

__all__ = ["SETTINGS_VARIABLE", "WORKER_APP", "machine_cores", "serve_workers", "worker_app"]

log = logging.getLogger("tersify.server")
STARTUP_FAILURE = 3  # a worker's exit status when it could not start (uvicorn's own)

SETTINGS_VARIABLE = "TERSIFY_SERVE_SETTINGS_JSON"
PARENT_POLL_S = 1.0  # how soon a worker notices its supervisor is gone
WORKER_APP = f"{__name__}:worker_app"  # uvicorn's factory import string


def machine_cores() -> int:
    """The cores this process may run on (its CPU affinity where the system says)."""
    counted = getattr(os, "process_cpu_count", None)  # Python 3.13+
    if counted is not None:
        return int(counted() or 1)
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def serve_workers(settings: ServerSettings, host: str, port: int,
                  options: dict[str, Any]) -> bool:
    """Serve with ``settings.workers`` worker processes until SIGTERM or SIGINT (``options``:
    uvicorn's Config). False when a worker failed to start (its log says why)."""
    os.environ[SETTINGS_VARIABLE] = json.dumps(dataclasses.asdict(settings))
    spawn = multiprocessing.get_context("spawn")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())

    def start() -> Any:
        worker = spawn.Process(target=_run_worker, args=(host, port, options),
                               name="tersify-worker")
        worker.start()
        return worker

    workers = [start() for _ in range(settings.workers or 1)]
    started = True
    while not stop.wait(0.5):
        for i, worker in enumerate(workers):
            if worker.is_alive():
                continue
            if worker.exitcode == STARTUP_FAILURE:
                started = False
                stop.set()
                break
            log.error("worker %s ended (exit status %s); starting another", worker.pid,
                      worker.exitcode)
            workers[i] = start()
    for worker in workers:
        if worker.is_alive() and worker.pid is not None:
            os.kill(worker.pid, signal.SIGTERM)
    for worker in workers:
        worker.join()
    return started


def _run_worker(host: str, port: int, options: dict[str, Any]) -> None:
    """One worker: its own listening socket on the shared port, its app, until SIGTERM (or
    until its supervisor is gone)."""
    import uvicorn

    _stop_with(os.getppid())

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on sockets
    # that say they are TCP, and with it on every small response waits ~40 ms for an ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sys.stderr.write(f"tersify: error: cannot listen on {host}:{port}: {exc.strerror}\n")
        sys.exit(STARTUP_FAILURE)
    server = uvicorn.Server(uvicorn.Config(WORKER_APP, factory=True, **options))
    server.run(sockets=[sock])
    if not server.started:
        sys.exit(STARTUP_FAILURE)


def _stop_with(supervisor: int) -> None:
    """Stop this worker as SIGTERM does once ``supervisor`` is gone: a supervisor killed
    outright (SIGKILL, the OOM killer) cannot stop its workers, which would serve on, holding
    the port, with no one to replace them or to stop them."""
    def watch() -> None:
        while os.getppid() == supervisor:
            time.sleep(PARENT_POLL_S)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="tersify-supervisor-watch", daemon=True).start()


def worker_app() -> Any:
    """The app of one worker: the exported settings, with this worker's id on its responses."""
    from tersify.integrations.server.app import create_app

    logging.basicConfig(level=logging.INFO, format="%(message)s")  # JSON lines, as one process
    values = json.loads(os.environ[SETTINGS_VARIABLE])
    if values.get("allowed_scorers") is not None:
        values["allowed_scorers"] = tuple(values["allowed_scorers"])
    return create_app(ServerSettings(**values), worker_id=secrets.token_hex(4))
