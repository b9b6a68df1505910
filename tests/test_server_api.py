"""The HTTP API over real HTTP: the three dialects, keys, usage, limits, errors, operations."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from conftest import ADMIN_TOKEN, Server, make_app, start_server, stop_server

CONTEXT = ("The Harbor Line tram opened to passengers on 14 May 1911.\n"
           "A single ticket cost two copper pennies.\n"
           "The lighthouse was finished in 1887 and automated in 1961.\n"
           "The fish market opens at four in the morning and closes at noon.\n"
           "Each autumn the town holds a lantern festival on the harbour.")
QUESTION = "When did the Harbor Line tram open?"


def post(server: Server, path: str, body: object, key: str | None = None) -> httpx.Response:
    headers = {"X-API-Key": key or server.key}
    return httpx.post(server.url + path, json=body, headers=headers, timeout=30)


def new_key(server: Server, **limits: int) -> tuple[str, str]:
    response = httpx.post(server.url + "/admin/keys", json={"name": "t", **limits},
                          headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert response.status_code == 201
    data = response.json()
    return data["key"]["id"], data["secret"]


def test_compresso_dialect(server: Server) -> None:
    r = post(server, "/v1/prompt-compress", {
        "context": CONTEXT.split("\n"), "question": QUESTION, "target_ratio": 0.5,
        "compression_settings": {"force_keep_tokens": ["lantern"]}})
    assert r.status_code == 200
    data = r.json()
    assert data["compressed_prompt"].endswith(QUESTION) and "14 May 1911" in data[
        "compressed_prompt"] and "lantern" in data["compressed_prompt"]
    stats = data["statistics"]
    assert stats["compressed_tokens"] <= 0.5 * stats["original_tokens"]
    assert stats["token_ratio"] == pytest.approx(stats["compressed_tokens"]
                                                 / stats["original_tokens"])
    assert data["analytics"]["request_id"] == r.headers["X-Request-ID"]
    whole = post(server, "/v1/prompt-compress", {"prompt": CONTEXT, "target_tokens": 30,
                                                   "compression_settings": {"include_question": False}})
    assert whole.status_code == 200 and whole.json()["statistics"]["compressed_tokens"] <= 30


def test_supercompress_dialect(server: Server) -> None:
    r = post(server, "/v1/compress", {"context": CONTEXT, "query": QUESTION})
    assert r.status_code == 200
    data = r.json()
    # SuperCompress's name for its question-aware policy (H2O-fallback is the fallback's).
    assert data["budget_ratio"] == 0.35 and data["policy_name"] == "SuperCompress"
    assert data["kept_tokens"] < data["original_tokens"]
    assert data["kv_savings_pct"] == round((1 - data["kept_tokens"] / data["original_tokens"])
                                           * 100, 2)
    assert 0 < data["kept_line_ratio"] <= 1 and "kept_spans" not in data
    for bad in ({"context": CONTEXT, "budget_ratio": 0.01}, {"context": ""},
                {"context": "x" * 120_001}, {"context": CONTEXT, "query": "q" * 2001}):
        assert post(server, "/v1/compress", bad).status_code == 400


def test_scaledown_dialect(server: Server) -> None:
    for rate in ("auto", 0.4):
        r = post(server, "/compress/raw/", {"context": CONTEXT, "prompt": QUESTION,
                                            "scaledown": {"rate": rate}})
        assert r.status_code == 200
        data = r.json()
        assert data["successful"] is True and data["compressed_prompt"].endswith(QUESTION)
        assert data["request_metadata"]["compression_rate"] == rate
        assert data["compressed_prompt_tokens"] < data["original_prompt_tokens"]
    bad = post(server, "/compress/raw/", {"context": CONTEXT, "prompt": QUESTION,
                                          "scaledown": {"rate": 1.5}})
    assert bad.status_code == 400 and "rate" in bad.json()["error"]["message"]
    assert post(server, "/compress/raw/", {"context": CONTEXT}).status_code == 400


@pytest.mark.parametrize("headers", [
    {"X-API-Key": "{key}"}, {"x-api-key": "{key}"}, {"X-API-KEY": "{key}"},
    {"Authorization": "Bearer {key}"}, {"authorization": "bearer {key}"}])
def test_key_headers_in_any_case(server: Server, headers: dict[str, str]) -> None:
    filled = {k: v.format(key=server.key) for k, v in headers.items()}
    r = httpx.post(server.url + "/v1/compress", json={"context": CONTEXT}, headers=filled)
    assert r.status_code == 200


def test_missing_wrong_and_revoked_keys_get_401(server: Server) -> None:
    assert httpx.post(server.url + "/v1/compress", json={"context": CONTEXT}).status_code == 401
    assert post(server, "/v1/compress", {"context": CONTEXT}, key="tsk_live_nope").status_code \
        == 401
    key_id, secret = new_key(server)
    assert post(server, "/v1/compress", {"context": CONTEXT}, key=secret).status_code == 200
    revoke = httpx.delete(server.url + f"/admin/keys/{key_id}",
                          headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert revoke.status_code == 204
    r = post(server, "/v1/compress", {"context": CONTEXT}, key=secret)
    assert r.status_code == 401 and r.json()["error"]["type"] == "unauthorized"


def test_admin_endpoints_need_the_admin_token(server: Server) -> None:
    assert httpx.get(server.url + "/admin/keys").status_code == 401
    assert httpx.get(server.url + "/admin/keys",
                     headers={"Authorization": f"Bearer {server.key}"}).status_code == 401
    listed = httpx.get(server.url + "/admin/keys",
                       headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert listed.status_code == 200 and all("secret" not in k for k in listed.json()["keys"])


def test_rate_limit_headers_and_429(server: Server) -> None:
    _, secret = new_key(server, rate_limit=3, rate_window_s=60)
    seen = [post(server, "/v1/compress", {"context": CONTEXT}, key=secret) for _ in range(4)]
    assert [r.status_code for r in seen] == [200, 200, 200, 429]
    assert [r.headers["X-RateLimit-Remaining"] for r in seen] == ["2", "1", "0", "0"]
    assert all(r.headers["X-RateLimit-Limit"] == "3" for r in seen)
    assert 0 < int(seen[-1].headers["Retry-After"]) <= 60
    assert seen[-1].json()["error"]["type"] == "rate_limited"


def test_usage_counts_successes_only_and_exactly_under_concurrency(server: Server) -> None:
    key_id, secret = new_key(server, rate_limit=1000)
    assert post(server, "/v1/compress", {"context": CONTEXT, "budget_ratio": 7},
                key=secret).status_code == 400

    async def burst() -> list[int]:
        async with httpx.AsyncClient(timeout=60) as client:
            calls = [client.post(server.url + "/v1/compress", headers={"X-API-Key": secret},
                                 json={"context": CONTEXT, "query": f"q{i}"}) for i in range(50)]
            return [r.status_code for r in await asyncio.gather(*calls)]

    statuses = asyncio.run(burst())
    usage = httpx.get(server.url + f"/api/keys/{key_id}/usage", headers={"X-API-Key": secret})
    assert usage.status_code == 200
    assert usage.json()["requests"] == statuses.count(200) == 50
    assert usage.json()["tokens_in"] > usage.json()["tokens_out"] > 0
    other = httpx.get(server.url + f"/api/keys/{key_id}/usage", headers={"X-API-Key": server.key})
    assert other.status_code == 403  # a valid key, but not this one


def test_playground_is_keyless_and_limited_per_address(tmp_path: Path) -> None:
    app = make_app(tmp_path / "k.db", playground_limit=10)  # compare: 5 policies, 5 requests
    url, uv, thread = start_server(app)
    try:
        body = {"context": CONTEXT, "query": QUESTION, "compare": True}
        first = httpx.post(url + "/api/compress", json=body)
        assert first.status_code == 200
        data = first.json()
        assert set(data["compare"]) == {"tersify", "fifo", "truncation", "summarization", "h2o"}
        assert all(CONTEXT[a:b] in data["compressed_text"] for a, b in data["kept_spans"])
        assert httpx.post(url + "/api/compress", json=body).status_code == 200
        third = httpx.post(url + "/api/compress", json=body)
        assert third.status_code == 429 and "Retry-After" in third.headers
        page = httpx.get(url + "/")
        assert page.status_code == 200 and "tersify playground" in page.text
    finally:
        stop_server(uv, thread)


def test_operations_endpoints_and_request_ids(server: Server) -> None:
    assert httpx.get(server.url + "/healthz").json() == {"status": "ok"}
    assert httpx.get(server.url + "/readyz").status_code == 200
    r = httpx.post(server.url + "/v1/compress", json={"context": CONTEXT},
                   headers={"X-API-Key": server.key, "X-Request-ID": "abc-123"})
    assert r.headers["X-Request-ID"] == "abc-123"
    metrics = httpx.get(server.url + "/metrics",
                        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).text
    assert "tersify_requests_total" in metrics and 'route="/v1/compress"' in metrics


def test_openapi_documents_every_status(server: Server) -> None:
    spec = httpx.get(server.url + "/openapi.json").json()
    for path in ("/v1/prompt-compress", "/v1/compress", "/compress/raw/", "/v1/tersify",
                 "/api/compress"):
        statuses = set(spec["paths"][path]["post"]["responses"])
        assert {"200", "400", "401", "413", "429", "500"} <= statuses
    assert httpx.get(server.url + "/docs").status_code == 200


def test_errors_never_leak_a_trace(server: Server) -> None:
    r = httpx.post(server.url + "/v1/compress", content=b"\xff\xfe",
                   headers={"X-API-Key": server.key, "content-type": "application/json"})
    assert r.status_code == 400 and "Traceback" not in r.text
    assert set(r.json()["error"]) == {"type", "message", "request_id"}


def test_keys_command_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"

    def tersify(*args: str) -> str:
        return subprocess.run([sys.executable, "-m", "tersify.integrations.cli", "keys", "--database-url",
                               url, *args], capture_output=True, text=True, check=True).stdout

    created = tersify("create", "cli-key")
    key_id = created.split("id: ")[1].split()[0]
    assert "tsk_live_" in created and key_id in tersify("list")
    assert f"revoked {key_id}" in tersify("revoke", key_id)
    assert "revoked" in tersify("list")
    assert json.loads(tersify("usage", key_id))["days"] == []


def test_concurrent_requests_are_micro_batched(tmp_path: Path) -> None:
    app = make_app(tmp_path / "b.db", batch_wait_ms=50.0, rate_limit=1000)
    _, secret = app.state.store.create("batch")
    url, uv, thread = start_server(app)
    try:
        async def burst() -> list[int]:
            async with httpx.AsyncClient(timeout=60) as client:
                calls = [client.post(url + "/v1/compress", headers={"X-API-Key": secret},
                                     json={"context": CONTEXT, "query": f"q{i}"})
                         for i in range(24)]
                return [r.status_code for r in await asyncio.gather(*calls)]

        assert asyncio.run(burst()) == [200] * 24
        assert app.state.batcher.batches < 24  # several requests shared an engine call
    finally:
        stop_server(uv, thread)


def test_access_log_is_one_json_line_per_request(server: Server,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO", logger="tersify.server.access"):
        httpx.get(server.url + "/healthz", headers={"X-Request-ID": "log-check"})
    lines = [json.loads(r.getMessage()) for r in caplog.records
             if r.name == "tersify.server.access"]
    assert any(line["request_id"] == "log-check" and line["status"] == 200
               and line["route"] == "/healthz" for line in lines)


def test_supercompress_budget_ratio_is_the_kept_share_of_the_context(server: Server) -> None:
    whole = post(server, "/v1/compress", {"context": CONTEXT, "budget_ratio": 1.0}).json()
    assert whole["compressed_text"] == CONTEXT and whole["kv_savings_pct"] == 0.0
    part = post(server, "/v1/compress", {"context": CONTEXT, "query": QUESTION}).json()
    assert 0.30 * part["original_tokens"] <= part["kept_tokens"] <= 0.35 * part["original_tokens"]


def test_compresso_statistics_describe_the_prompt_returned(server: Server) -> None:
    from tersify import get_token_counter

    body = {"context": CONTEXT, "question": QUESTION, "target_ratio": 0.6,
            "compression_settings": {"include_question": False}}
    data = post(server, "/v1/prompt-compress", body).json()
    assert QUESTION not in data["compressed_prompt"]
    assert data["statistics"]["compressed_tokens"] == get_token_counter("cl100k_base").count(
        data["compressed_prompt"])
    assert data["statistics"]["compressed_words"] == len(data["compressed_prompt"].split())


def test_validation_runs_after_the_key_and_its_limit(server: Server) -> None:
    bad = post(server, "/v1/compress", {"context": 1})
    assert bad.status_code == 400 and "X-RateLimit-Remaining" in bad.headers
    unkeyed = httpx.post(server.url + "/v1/compress", json={"context": 1})
    assert unkeyed.status_code == 401
    spec = httpx.get(server.url + "/openapi.json").json()
    assert all("422" not in op["responses"] for path in spec["paths"].values()
               for op in path.values())


def test_a_streamed_body_over_the_limit_gets_413_with_a_request_id(server: Server) -> None:
    limit = server.app.state.settings.max_body_bytes

    def chunks() -> object:
        yield b'{"context": "'
        for _ in range(limit // 10_000 + 2):
            yield b"a" * 10_000
        yield b'"}'

    r = httpx.post(server.url + "/v1/compress", content=chunks(),
                   headers={"X-API-Key": server.key, "content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["type"] == "too_large"
    assert r.headers["X-Request-ID"]


def test_kept_line_ratio_counts_lines_with_kept_text() -> None:
    from tersify.integrations.server.translate import kept_line_ratio
    from tersify.types import DocumentResult, Span

    text = "one\n\ntwo three\nfour\nfive"
    doc = DocumentResult(index=0, id=None, text="", relevance=1.0, original_tokens=0,
                         compressed_tokens=0, metadata={},
                         spans=(Span(start=0, end=3), Span(start=9, end=14)))
    assert kept_line_ratio(text, doc) == 0.5  # "one" and "three" of 4 non-empty lines


def test_keys_command_refuses_a_non_positive_limit(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "tersify.integrations.cli", "keys", "--database-url",
                          f"sqlite:///{tmp_path / 'k.db'}", "create", "x", "--rate-limit", "0"],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 2 and "positive" in run.stderr
