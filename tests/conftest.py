"""Shared fixtures: a real tersify server (uvicorn in a thread, on a free local port)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ADMIN_TOKEN = "test-admin-token"


@dataclass(frozen=True)
class Server:
    """A running server, its admin token and one API key."""

    url: str
    key: str
    app: Any


def start_server(app: Any) -> tuple[str, Any, Any]:
    """Serve ``app`` with uvicorn in a thread; its URL, the uvicorn server and the thread."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server, thread


def stop_server(server: Any, thread: Any) -> None:
    server.should_exit = True
    thread.join(timeout=10)


def make_app(database: Path | str, **settings: Any) -> Any:
    """An app on ``database`` (a SQLite file path, or any SQLAlchemy URL) with the test admin."""
    import tersify
    from tersify.integrations.server import ServerSettings, create_app

    url = database if isinstance(database, str) else f"sqlite:///{database}"
    config = ServerSettings(database_url=url, admin_token=ADMIN_TOKEN, **settings)
    return create_app(config, compressor=tersify.Compressor(preset="fast"))


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A running tersify server (``fast`` preset, SQLite) for the whole session."""
    app = make_app(tmp_path_factory.mktemp("server") / "keys.db", rate_limit=100_000)
    _, secret = app.state.store.create("tests")
    url, uv, thread = start_server(app)
    yield Server(url=url, key=secret, app=app)
    stop_server(uv, thread)


@pytest.fixture(scope="session")
def server_url(server: Server) -> str:
    return server.url


def closed_port_url() -> str:
    """A local URL where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    from services import postgres_server

    with postgres_server() as url:
        yield url


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from services import redis_server

    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url
