"""The client against servers that refuse or fail, over real HTTP, sync and async: a 429 is a
RateLimitError with retry_after and no retry, a 5xx a ServerUnavailableError (which fail_open
adapters pass through), also when a proxy in front answers in its own words."""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from conftest import ADMIN_TOKEN, Server, start_server, stop_server
from fragile import SECRET, TRIGGER, fragile_server

import tersify
from tersify.integrations.client import (
    RateLimitError,
    ServerUnavailableError,
    TersifyClient,
)

DOCS = ["The Harbor Line tram opened to passengers on 14 May 1911. A ticket cost two pennies.",
        "The lighthouse was finished in 1887 and automated in 1961."]
MODES = ["sync", "async"]


@pytest.fixture(scope="module")
def fragile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with fragile_server(tmp_path_factory.mktemp("client-errors") / "k.db") as server:
        yield server


def call(client: TersifyClient, mode: str, **fields: Any) -> tersify.CompressionResult:
    if mode == "sync":
        return client.compress(**fields)
    return asyncio.run(client.acompress(**fields))


def answered(server: Server, status: int) -> float:
    """How many POST /v1/tersify got ``status`` (from the server's own metrics)."""
    text = httpx.get(server.url + "/metrics",
                     headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).text
    found = re.search(r'tersify_requests_total\{method="POST",route="/v1/tersify",'
                      rf'status="{status}"\}} (\S+)', text)
    return float(found.group(1)) if found else 0.0


@pytest.mark.parametrize("mode", MODES)
def test_a_429_is_a_rate_limit_error_with_retry_after_and_no_retry(fragile: Server,
                                                                  mode: str) -> None:
    _, secret = fragile.app.state.store.create("limited", rate_limit=2, rate_window_s=60)
    client = TersifyClient(fragile.url, api_key=secret)
    for _ in range(2):
        assert call(client, mode, contexts=DOCS, question="tram").stats.compressed_tokens > 0
    refused = answered(fragile, 429)
    with pytest.raises(RateLimitError, match="rate limit of 2 requests per 60 s") as info:
        call(client, mode, contexts=DOCS, question="tram")
    assert info.value.retry_after is not None and 0 < info.value.retry_after <= 60
    assert not isinstance(info.value, ServerUnavailableError)
    assert answered(fragile, 429) == refused + 1  # one request: the client does not retry


@pytest.mark.parametrize("mode", MODES)
def test_a_500_is_a_server_unavailable_error_without_the_servers_internals(
        fragile: Server, mode: str) -> None:
    client = TersifyClient(fragile.url, api_key=fragile.key)
    failed = answered(fragile, 500)
    with pytest.raises(ServerUnavailableError,
                       match="server error 500: the server failed on this request") as info:
        call(client, mode, contexts=DOCS, question=f"{TRIGGER} the tram")
    assert SECRET not in str(info.value)
    assert answered(fragile, 500) == failed + 1  # one request: the client does not retry
    assert call(client, mode, contexts=DOCS, question="tram").documents  # and still works


def test_a_batch_with_a_failing_request_is_a_server_unavailable_error(fragile: Server) -> None:
    client = TersifyClient(fragile.url, api_key=fragile.key)
    requests = [tersify.CompressionRequest(contexts=DOCS, question=q)
                for q in ("tram", f"{TRIGGER} it")]
    with pytest.raises(ServerUnavailableError, match="server error 500"):
        client.compress_many(requests)


@pytest.mark.parametrize("mode", MODES)
def test_fail_open_adapters_pass_documents_through_on_a_500(fragile: Server, mode: str) -> None:
    from langchain_core.documents import Document

    from tersify.integrations.langchain import TersifyCompressor

    docs = [Document(page_content=t, metadata={"n": i}) for i, t in enumerate(DOCS)]

    def run(adapter: TersifyCompressor, query: str) -> list[tuple[str, dict[str, Any]]]:
        out = (adapter.compress_documents(docs, query) if mode == "sync"
               else asyncio.run(adapter.acompress_documents(docs, query)))
        return [(d.page_content, d.metadata) for d in out]

    options: dict[str, Any] = {"base_url": fragile.url, "api_key": fragile.key,
                               "target_ratio": 0.3}
    with pytest.warns(RuntimeWarning, match="unavailable.*server error 500"):
        passed = run(TersifyCompressor(**options, fail_open=True), f"{TRIGGER} it")
    assert passed == [(d.page_content, d.metadata) for d in docs]
    compressed = run(TersifyCompressor(**options, fail_open=True), "When did the tram open?")
    assert sum(len(t) for t, _ in compressed) < sum(len(d) for d in DOCS)  # when it can
    with pytest.raises(ServerUnavailableError, match="server error 500"):
        run(TersifyCompressor(**options), f"{TRIGGER} it")


# --- a proxy in front of the server, answering in its own words -------------------------------


def _proxy_answer(path: str) -> tuple[int, dict[str, str], bytes]:
    in_30_s = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30)
    answers: dict[str, tuple[int, dict[str, str], bytes]] = {
        "/html": (503, {"content-type": "text/html"},
                  b"<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>"),
        "/text-error": (502, {"content-type": "application/json"}, b'{"error": "bad gateway"}'),
        "/list": (500, {"content-type": "application/json"}, b'["upstream failed"]'),
        "/dated": (429, {"retry-after": email.utils.format_datetime(in_30_s, usegmt=True)},
                   b"slow down"),
        "/vague": (429, {"retry-after": "later"}, b"slow down"),
    }
    return answers[path.removesuffix("/v1/tersify")]


async def _proxy(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    status, headers, body = _proxy_answer(scope["path"])
    await send({"type": "http.response.start", "status": status,
                "headers": [(k.encode(), v.encode()) for k, v in headers.items()]})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def proxy() -> Iterator[str]:
    url, server, thread = start_server(_proxy)
    yield url
    stop_server(server, thread)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("path", "needle"), [
    ("/html", "server error 503: <html><body><h1>503 Service Temporarily Unavailable"),
    ("/text-error", "server error 502: bad gateway"),
    ("/list", 'server error 500: ["upstream failed"]'),
])
def test_a_proxys_5xx_is_a_server_unavailable_error(proxy: str, path: str, needle: str,
                                                    mode: str) -> None:
    with pytest.raises(ServerUnavailableError) as info:
        call(TersifyClient(proxy + path), mode, contexts=DOCS)
    assert needle in str(info.value)


@pytest.mark.parametrize("mode", MODES)
def test_a_proxys_429_with_a_date_or_nonsense_in_retry_after(proxy: str, mode: str) -> None:
    with pytest.raises(RateLimitError, match="slow down") as dated:
        call(TersifyClient(proxy + "/dated"), mode, contexts=DOCS)
    assert dated.value.retry_after is not None and 20 < dated.value.retry_after <= 30
    with pytest.raises(RateLimitError) as vague:
        call(TersifyClient(proxy + "/vague"), mode, contexts=DOCS)
    assert vague.value.retry_after is None

