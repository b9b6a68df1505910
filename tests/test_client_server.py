"""The native endpoint and its client, over real HTTP (uvicorn on a local port)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from conftest import Server

import tersify
from tersify.integrations.client import AuthenticationError, TersifyClient

DOCS = ["Paris is the capital of France. It lies on the Seine.",
        "Berlin is the capital of Germany. It has many museums and lakes.",
        "Madrid is the capital of Spain."]
QUESTION = "What is the capital of Germany?"


def _without_duration(result: tersify.CompressionResult) -> dict[str, object]:
    data = result.to_dict()
    data.pop("duration_ms")
    return data


def test_remote_result_equals_local_result(server: Server) -> None:
    local = tersify.Compressor(preset="fast").compress(contexts=DOCS, question=QUESTION,
                                                       target_ratio=0.5, force_keep=["Seine"])
    remote = TersifyClient(server.url, api_key=server.key).compress(contexts=DOCS, question=QUESTION,
                                                target_ratio=0.5, force_keep=["Seine"])
    assert isinstance(remote, tersify.CompressionResult)
    assert _without_duration(remote) == _without_duration(local)


def test_async_and_batch_calls(server: Server) -> None:
    client = TersifyClient(server.url, api_key=server.key)
    request = tersify.CompressionRequest(contexts=DOCS, question=QUESTION, target_tokens=30)
    one = asyncio.run(client.acompress(request))
    many = client.compress_many([request, request])
    assert [r.compressed_prompt for r in many] == [one.compressed_prompt] * 2
    assert one.stats.compressed_tokens <= 30


@pytest.mark.parametrize(("body", "needle"), [
    (b"{not json", "JSON"),
    (b'{"contexts": ["a"], "question": "q", "ratio": 0.5}', "ratio: Extra inputs"),
    (b'{"contexts": [], "question": "q"}', "contexts"),
    (b'{"contexts": ["a"], "prompt": "b"}', "either contexts or prompt"),
    (b'{"contexts": ["a"], "target_ratio": 1.5}', "target_ratio"),
    (b'{"requests": []}', "requests: List should have at least 1 item"),
])
def test_bad_bodies_get_a_400_json_error(server: Server, body: bytes, needle: str) -> None:
    response = httpx.post(server.url + "/v1/tersify", content=body,
                          headers={"content-type": "application/json", "X-API-Key": server.key})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request" and needle in error["message"]


def test_a_body_over_the_limit_gets_413(server: Server) -> None:
    limit = server.app.state.settings.max_body_bytes
    body = b'{"contexts": ["' + b"a " * (limit // 2 + 10) + b'"]}'
    response = httpx.post(server.url + "/v1/tersify", content=body,
                          headers={"content-type": "application/json", "X-API-Key": server.key})
    assert response.status_code == 413 and response.json()["error"]["type"] == "too_large"


def test_the_client_reports_server_errors_as_library_errors(server: Server) -> None:
    client = TersifyClient(server.url, api_key=server.key)
    with pytest.raises(tersify.InvalidRequestError, match="unknown policy|policy"):
        client.compress(contexts=DOCS, question=QUESTION, policy="no-such-policy")


def test_the_client_without_a_key_gets_an_authentication_error(server: Server) -> None:
    with pytest.raises(AuthenticationError, match="API key"):
        TersifyClient(server.url).compress(contexts=DOCS, question=QUESTION)


def test_a_token_budget_without_a_ratio_works_remotely(server: Server) -> None:
    client = TersifyClient(server.url, api_key=server.key)
    result = client.compress(contexts=DOCS, question=QUESTION, target_tokens=25,
                             target_ratio=None)
    assert result.stats.compressed_tokens <= 25
