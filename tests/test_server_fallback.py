"""A model scorer that fails at run time (issue 10, item 9): the lexical scorer serves the
request and says so in every dialect, /metrics counts it, the log says it once; never a 500.
And a server whose preset needs a missing extra refuses to start (item 8), in threads or in
worker processes, with one line."""

from __future__ import annotations

import logging
import os
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import ADMIN_TOKEN, Server
from misbehaving import CRASH, DOCS, crashing_model_compressor, running, usage_requests
from test_server_process import CLI, free_port

from tersify.wire import request_from_dict, result_from_dict

HEADER = "X-Tersify-Fallback"
CRASHING = {"contexts": DOCS, "question": f"{CRASH}: when did the tram open?",
            "target_ratio": 0.5}
FINE = {"contexts": DOCS, "question": "When did the tram open?", "target_ratio": 0.5}


@pytest.fixture(params=[0, 1], ids=["threads", "processes"])
def crashing(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """A server whose model scorer crashes on CRASH: in a thread, or in a worker process."""
    if request.param:
        with running(tmp_path / "fb.db", engine_processes=request.param,
                     compressor_factory=crashing_model_compressor) as server:
            yield server
    else:
        with running(tmp_path / "fb.db", crashing_model_compressor()) as server:
            yield server


def post(server: Server, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(server.url + path, json=body, headers={"X-API-Key": server.key},
                      timeout=60)


def without_duration(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != "duration_ms"}


def test_the_lexical_scorer_serves_when_the_model_crashes(crashing: Server) -> None:
    r = post(crashing, "/v1/tersify", CRASHING)
    assert r.status_code == 200 and r.headers[HEADER] == "embedding->lexical"
    assert r.json()["scorer"] == "lexical"
    # Exactly what the lexical scorer makes of the request.
    local = crashing_model_compressor().compress(replace(request_from_dict(CRASHING),
                                                         scorer="lexical"))
    assert without_duration(result_from_dict(r.json()).to_dict()) == \
        without_duration(local.to_dict())
    fine = post(crashing, "/v1/tersify", FINE)
    assert fine.status_code == 200 and fine.json()["scorer"] == "embedding"
    assert HEADER not in fine.headers


def test_every_dialect_says_so_and_bills_the_served_request(crashing: Server) -> None:
    super_fb = post(crashing, "/v1/compress", {"context": DOCS[0], "query": CRASH})
    assert super_fb.status_code == 200 and super_fb.headers[HEADER] == "embedding->lexical"
    assert super_fb.json()["policy_name"] == "H2O-fallback"  # SuperCompress's documented name
    super_ok = post(crashing, "/v1/compress", {"context": DOCS[0], "query": "tram"})
    assert super_ok.json()["policy_name"] == "SuperCompress" and HEADER not in super_ok.headers
    for path, body in [
        ("/v1/prompt-compress", {"context": DOCS, "question": CRASH, "target_ratio": 0.5}),
        ("/compress/raw/", {"context": DOCS[0], "prompt": CRASH, "scaledown": {"rate": 0.5}}),
        ("/v1/tersify", {"requests": [FINE, CRASHING]}),
    ]:
        r = post(crashing, path, body)
        assert r.status_code == 200 and r.headers[HEADER] == "embedding->lexical", path
    batch = post(crashing, "/v1/tersify", {"requests": [FINE, CRASHING]}).json()["results"]
    assert [item["scorer"] for item in batch] == ["embedding", "lexical"]
    metrics = httpx.get(crashing.url + "/metrics",
                        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).text
    # super, compresso, scaledown, a batch item twice
    assert 'tersify_scorer_fallbacks_total{scorer="embedding"} 5.0' in metrics
    assert usage_requests(crashing) == 8  # every request served, batch items one each


def test_a_fallback_outage_is_logged_once(tmp_path: Path,
                                          caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="tersify.server"), \
            running(tmp_path / "log.db", crashing_model_compressor()) as server:
        for _ in range(3):
            assert post(server, "/v1/tersify", CRASHING).status_code == 200
        assert post(server, "/v1/tersify", FINE).json()["scorer"] == "embedding"
        assert post(server, "/v1/tersify", CRASHING).status_code == 200
    lines = [r.getMessage() for r in caplog.records if r.name == "tersify.server"]
    down = [line for line in lines if line.startswith("scorer embedding unavailable")]
    assert len(down) == 2  # two outages (the model recovered in between), one line each
    assert "RuntimeError: CUDA out of memory" in down[0]
    assert "serving with the lexical scorer" in down[0]
    assert lines.count("scorer embedding available again") == 1


def test_a_crash_outside_a_model_scorer_stays_an_error(tmp_path: Path) -> None:
    # A bad pattern fails with the lexical scorer too: it is the caller's error, a 400.
    with running(tmp_path / "bad.db", crashing_model_compressor()) as server:
        r = post(server, "/v1/tersify", {**CRASHING, "force_keep_patterns": ["(unclosed"]})
        assert r.status_code == 400 and HEADER not in r.headers
        assert usage_requests(server) == 0


def _without(folder: Path, module: str) -> dict[str, str]:
    """An environment whose Python finds no ``module``: a package of that name that fails to
    import, first on the path, as a machine without the extra that brings it."""
    shadow = folder / f"no-{module}" / module
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text(f'raise ImportError("No module named {module!r}")\n')
    path = os.pathsep.join(filter(None, [str(shadow.parent), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path}


@pytest.mark.parametrize("processes", ["0", "1"])
def test_a_preset_whose_extra_is_missing_refuses_to_start(tmp_path: Path,
                                                          processes: str) -> None:
    # The presets' MiniLM runs on ONNX Runtime (the ``onnx`` extra), torch or not.
    env = {**_without(tmp_path, "onnxruntime"), "TERSIFY_ENGINE_PROCESSES": processes}
    run = subprocess.run([*CLI, "serve", "--preset", "balanced", "--port", str(free_port())],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
                         check=False)
    assert run.returncode == 2
    assert len(run.stderr.splitlines()) == 1, run.stderr
    assert run.stderr.startswith("tersify: error: ") and "tersify[onnx]" in run.stderr
    assert run.stdout == ""
