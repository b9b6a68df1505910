"""Schemathesis against the live server's OpenAPI schema (bounded): no failing check."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import make_app, start_server, stop_server

pytestmark = pytest.mark.services


def test_schemathesis_finds_no_failure(tmp_path: Path) -> None:
    # Limits that never bite here: this test checks the schema against the server; the body
    # limit (413) and rate limits (429) have their own tests.
    app = make_app(tmp_path / "k.db", rate_limit=1_000_000, playground_limit=1_000_000,
                   max_body_bytes=200_000_000)
    _, secret = app.state.store.create("schemathesis")
    url, server, thread = start_server(app)
    st = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or "schemathesis"
    try:
        run = subprocess.run(
            [st, "run", f"{url}/openapi.json", "--checks", "all", "--max-examples", "15",
             "--header", f"X-API-Key: {secret}", "--exclude-path-regex", "^/admin",
             "--seed", "1", "--generation-database", "none", "--no-color",
             "--output-sanitize", "false"],
            capture_output=True, text=True, timeout=900, check=False)
    finally:
        stop_server(server, thread)
    # The report's end holds the summary; its failures section names each rejected case.
    failures = run.stdout.split("FAILURES", 1)[-1]
    assert run.returncode == 0, failures[:4000] + "\n...\n" + run.stdout[-3000:]
