"""Failures inside the engine, over real HTTP: a failing request inside a micro-batch leaves its
neighbours alone, and an internal error is a JSON 500 with its request id, no trace, no bill.
Also the two answers schemathesis found off-schema on the admin routes (405's Allow, 5.0)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import ADMIN_TOKEN, Server
from fragile import SECRET, TRIGGER, fragile_compressor, fragile_server

from tersify.wire import request_from_dict, result_from_dict

DOCS = ["The Harbor Line tram opened to passengers on 14 May 1911. A ticket cost two pennies.",
        "The lighthouse was finished in 1887 and automated in 1961.",
        "The fish market opens at four in the morning and closes at noon."]
INTERNAL = {"type": "internal_error", "message": "the server failed on this request"}


@pytest.fixture
def fragile(tmp_path: Path) -> Iterator[Server]:
    with fragile_server(tmp_path / "faults.db") as running:
        yield running


def usage_requests(server: Server) -> int:
    key_id = server.app.state.store.all()[0].id
    r = httpx.get(f"{server.url}/api/keys/{key_id}/usage",
                  headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert r.status_code == 200
    return int(r.json()["requests"])


def without_duration(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != "duration_ms"}


def test_a_failing_request_leaves_its_batch_neighbours_alone(tmp_path: Path) -> None:
    # The first request of a batch waits a second for company: all seven share one engine call.
    questions = ["When did the tram open?", "What did a ticket cost?", f"{TRIGGER} the tram",
                 "When was the lighthouse automated?", "When does the market open?",
                 f"{TRIGGER} the lighthouse", "What closes at noon?"]
    bodies = [{"contexts": DOCS, "question": q, "target_ratio": 0.5} for q in questions]
    with fragile_server(tmp_path / "batch.db", batch_wait_ms=1000.0) as server:
        before = server.app.state.batcher.batches

        async def burst() -> list[httpx.Response]:
            async with httpx.AsyncClient(timeout=60) as client:
                return list(await asyncio.gather(*(
                    client.post(server.url + "/v1/tersify", json=body,
                                headers={"X-API-Key": server.key, "X-Request-ID": f"batch-{i}"})
                    for i, body in enumerate(bodies))))

        responses = asyncio.run(burst())
        assert server.app.state.batcher.batches == before + 1
        local = fragile_compressor()
        for i, (body, r) in enumerate(zip(bodies, responses, strict=True)):
            assert r.headers["X-Request-ID"] == f"batch-{i}"
            if TRIGGER in body["question"]:
                assert r.status_code == 500
                assert r.json() == {"error": {**INTERNAL, "request_id": f"batch-{i}"}}
                continue
            assert r.status_code == 200, r.text
            expected = local.compress(request_from_dict(body)).to_dict()
            assert without_duration(result_from_dict(r.json()).to_dict()) == \
                without_duration(expected)
            assert r.json()["compressed_prompt"].endswith(body["question"])
        assert usage_requests(server) == 5  # the five successes, not the two failures


DIALECTS = [
    ("/v1/tersify", {"contexts": DOCS, "question": f"{TRIGGER} it", "target_ratio": 0.5}),
    ("/v1/prompt-compress", {"context": DOCS, "question": f"{TRIGGER} it", "target_ratio": 0.5}),
    ("/v1/compress", {"context": DOCS[0], "query": f"{TRIGGER} it"}),
    ("/compress/raw/", {"context": DOCS[0], "prompt": f"{TRIGGER} it",
                        "scaledown": {"rate": 0.5}}),
    ("/api/compress", {"context": DOCS[0], "query": f"{TRIGGER} it"}),
    ("/v1/tersify", {"requests": [{"contexts": DOCS, "question": "fine"},
                                  {"contexts": DOCS, "question": f"{TRIGGER} it"}]}),
]


def test_an_internal_error_is_a_json_500_with_its_request_id_and_no_trace(
        fragile: Server, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        for n, (path, body) in enumerate(DIALECTS):
            rid = f"fault-{n}"
            r = httpx.post(fragile.url + path, json=body, timeout=60,
                           headers={"X-API-Key": fragile.key, "X-Request-ID": rid})
            assert r.status_code == 500, (path, r.text)
            assert r.headers["content-type"] == "application/json"
            assert r.headers["X-Request-ID"] == rid
            assert r.json() == {"error": {**INTERNAL, "request_id": rid}}
            assert SECRET not in r.text and "Traceback" not in r.text
            assert "RuntimeError" not in r.text
    # The operator gets the trace, in the server's log, under the same request id.
    logged = {getattr(rec, "request_id", None) for rec in caplog.records
              if rec.exc_info and rec.exc_info[0] is RuntimeError}
    assert logged >= {f"fault-{n}" for n in range(len(DIALECTS))}
    unnamed = httpx.post(fragile.url + "/v1/compress", json=DIALECTS[2][1],
                         headers={"X-API-Key": fragile.key})
    assert unnamed.status_code == 500
    assert unnamed.json()["error"]["request_id"] == unnamed.headers["X-Request-ID"] != ""


def test_a_500_is_not_billed_and_the_server_keeps_serving(fragile: Server) -> None:
    for path, body in DIALECTS:
        assert httpx.post(fragile.url + path, json=body, timeout=60,
                          headers={"X-API-Key": fragile.key}).status_code == 500
    assert usage_requests(fragile) == 0
    metrics = httpx.get(fragile.url + "/metrics",
                        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).text
    assert 'route="/v1/tersify",status="500"} 2.0' in metrics
    assert httpx.get(fragile.url + "/healthz").json() == {"status": "ok"}
    ok = httpx.post(fragile.url + "/v1/compress", json={"context": DOCS[0], "query": "tram"},
                    headers={"X-API-Key": fragile.key})
    assert ok.status_code == 200
    assert usage_requests(fragile) == 1


def test_a_405_names_every_method_of_the_path(fragile: Server) -> None:
    # Starlette's own 405 names only the first route of a path: /admin/keys has two.
    for method, path, allowed in [("OPTIONS", "/admin/keys", "GET, POST"),
                                  ("PUT", "/admin/keys", "GET, POST"),
                                  ("GET", "/v1/compress", "POST"),
                                  ("GET", "/admin/keys/key_x", "DELETE")]:
        r = httpx.request(method, fragile.url + path)
        assert r.status_code == 405 and r.headers["Allow"] == allowed, (method, path)
        assert r.json()["error"]["type"] == "method_not_allowed"


def test_admin_key_limits_take_integral_numbers_as_the_schema_allows(fragile: Server) -> None:
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    made = httpx.post(fragile.url + "/admin/keys", headers=admin,
                      json={"name": "n", "rate_limit": 5.0, "rate_window_s": 60.0})
    assert made.status_code == 201
    assert (made.json()["key"]["rate_limit"], made.json()["key"]["rate_window_s"]) == (5, 60)
    for bad in ({"rate_limit": 5.5}, {"rate_limit": 0}, {"rate_window_s": "60"}):
        r = httpx.post(fragile.url + "/admin/keys", headers=admin, json={"name": "n", **bad})
        assert r.status_code == 400, bad
    schema = httpx.get(fragile.url + "/openapi.json").json()["components"]["schemas"]["NewKey"]
    assert schema["properties"]["rate_limit"]["anyOf"][0] == {
        "type": "integer", "minimum": 1, "maximum": 1_000_000}
