"""Schemathesis against the live server's OpenAPI schema (bounded): no failing check, on the
keyed routes with an API key and on the admin routes with the admin token.

``TERSIFY_SCHEMATHESIS_EXAMPLES`` sets the examples per operation: a modest count in the test
command, many more in ``scripts/dev.py bench``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ADMIN_TOKEN, Server, make_app, start_server, stop_server

pytestmark = pytest.mark.services

EXAMPLES = int(os.environ.get("TERSIFY_SCHEMATHESIS_EXAMPLES", "15"))


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Server]:
    """A server of its own for each run (the admin run revokes keys)."""
    # Limits that never bite here: this test checks the schema against the server; the body
    # limit (413) and rate limits (429) have their own tests.
    app = make_app(tmp_path / "k.db", rate_limit=1_000_000,
                   playground_limit=1_000_000, max_body_bytes=200_000_000)
    _, secret = app.state.store.create("schemathesis")
    url, server, thread = start_server(app)
    yield Server(url=url, key=secret, app=app)
    stop_server(server, thread)


def schemathesis(url: str, *options: str) -> None:
    """Run schemathesis on the server's schema with ``options``; fail with its report."""
    st = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or "schemathesis"
    run = subprocess.run(
        [st, "run", f"{url}/openapi.json", "--checks", "all", "--max-examples", str(EXAMPLES),
         "--seed", "1", "--generation-database", "none", "--no-color",
         "--output-sanitize", "false", *options,
         # Correctness, not speed (the benchmarks time the server): a first request for the
         # embedding scorer loads its model, which takes longer than schemathesis' 10 s.
         "--request-timeout", "300"],
        capture_output=True, text=True, timeout=max(900, 60 * EXAMPLES), check=False)
    # The report's end holds the summary; its failures section names each rejected case.
    failures = run.stdout.split("FAILURES", 1)[-1]
    assert run.returncode == 0, failures[:4000] + "\n...\n" + run.stdout[-3000:]
    assert "No operations" not in run.stdout, run.stdout[-3000:]


def test_schemathesis_finds_no_failure_on_the_keyed_routes(live: Server) -> None:
    schemathesis(live.url, "--header", f"X-API-Key: {live.key}",
                 "--exclude-path-regex", "^/admin")


def test_schemathesis_finds_no_failure_on_the_admin_routes(live: Server) -> None:
    # The admin token alone: a key header would win over it (X-API-Key is read first).
    schemathesis(live.url, "--header", f"Authorization: Bearer {ADMIN_TOKEN}",
                 "--include-path-regex", "^/(admin/|api/keys/)")
    assert len(live.app.state.store.all()) > 1  # the token worked: it created keys
