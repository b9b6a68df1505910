"""Shared fixtures: a real tersify server (uvicorn in a thread, on a free local port).

Also the Hypothesis profiles. ``ci`` (the default, so the test command and CI run the same
examples): derandomized, 2,000 examples per property, no example database. ``dev``
(``HYPOTHESIS_PROFILE=dev``): 100 random examples, for a quick local loop. ``props``
(``python3 scripts/dev.py props``): like ``ci`` with 20,000 examples.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

ADMIN_TOKEN = "test-admin-token-0123456789abcdef"  # the minimum is 32 characters

_SLOW = [HealthCheck.too_slow, HealthCheck.data_too_large]
settings.register_profile("ci", max_examples=2_000, derandomize=True, database=None,
                          deadline=None, suppress_health_check=_SLOW, print_blob=True)
settings.register_profile("props", settings.get_profile("ci"), max_examples=20_000)
settings.register_profile("dev", max_examples=100, deadline=None, suppress_health_check=_SLOW)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """How many generated requests kept part of their contexts (tests/strategies.py)."""
    strategies = sys.modules.get("strategies")
    outcomes = getattr(strategies, "OUTCOMES", None)
    if outcomes and outcomes["examples"]:
        share = outcomes["kept context"] / outcomes["examples"]
        terminalreporter.write_line(
            f"engine properties: {share:.1%} of {outcomes['examples']:,} compressed examples "
            "kept part of their contexts")


@pytest.fixture(autouse=True, scope="session")
def _own_data_directory(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The default key database lives in the user's data directory: the tests' servers and
    ``keys`` commands (subprocesses inherit it) use a throw-away one, never the real one."""
    os.environ["XDG_DATA_HOME"] = str(tmp_path_factory.mktemp("xdg-data"))


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
    # Lifespan on, as `tersify serve` runs: the engine warms up before the server answers.
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", http="h11",
                                           loop="asyncio"))  # as `tersify serve` (cli.py)
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


@contextmanager
def serving(app: Any, key_name: str) -> Iterator[Server]:
    """``app`` on a free local port, in a thread, with one key named ``key_name``."""
    _, secret = app.state.store.create(key_name)
    url, uv, thread = start_server(app)
    try:
        yield Server(url=url, key=secret, app=app)
    finally:
        stop_server(uv, thread)


def make_app(database: Path | str, **settings: Any) -> Any:
    """An app on ``database`` (a SQLite file path, or any SQLAlchemy URL) with the test admin."""
    import tersify
    from tersify.integrations.server import ServerSettings, create_app

    url = database if isinstance(database, str) else f"sqlite:///{database}"
    config = ServerSettings(database_url=url, admin_token=ADMIN_TOKEN, **settings)
    return create_app(config, compressor=tersify.Compressor(preset="fast", linear_patterns=True))


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


def assert_inline_code_hashed(page: Any) -> None:
    """The page's one inline script and one inline style are allowed by hash in its CSP, and
    nothing else inline is (pages.py)."""
    import base64
    import hashlib
    import re

    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    for tag, directive in (("script", "script-src"), ("style", "style-src")):
        [code] = re.findall(f"<{tag}>(.*?)</{tag}>", page.text, flags=re.DOTALL)
        digest = base64.b64encode(hashlib.sha256(code.encode()).digest()).decode()
        assert f"{directive} 'sha256-{digest}'" in policy
