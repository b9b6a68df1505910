"""Hostile bodies over real HTTP: patterns that would backtrack, ten thousand contexts, bodies over
every limit, ids and metadata that cannot be written back, the heavy scorers, a client that hangs
up. Each answer is a 200 or a 4xx naming what is wrong, never a 500; /healthz keeps answering
within a second; usage counts exactly the requests that were answered.

The servers are built as ``tersify serve`` builds them (the preset's engine, RE2 patterns): a
real ``tersify serve`` process for the slow cases, uvicorn in a thread where the test needs the
app's state.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from conftest import ADMIN_TOKEN, Server, serving
from test_server_process import serve

import tersify
from tersify.integrations.server import ServerSettings, create_app
from tersify.integrations.server.limits import (
    MAX_BATCH,
    MAX_BATCH_CONTEXTS,
    MAX_CONTEXT_CHARS,
    MAX_CONTEXTS,
    MAX_ID_CHARS,
    MAX_METADATA_BYTES,
    MAX_METADATA_DEPTH,
    MAX_TOTAL_CHARS,
)
from tersify.integrations.server.settings import SettingsError
from tersify.types import CompressionRequest, CompressionResult

CLI = [sys.executable, "-m", "tersify.integrations.cli"]
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
REDOS = {"contexts": ["a" * 40 + "!"], "question": "q", "force_keep_patterns": ["(a+)+$"]}
DOC = "The Harbor Line tram opened to passengers on 14 May 1911. A ticket cost two pennies."


# --- servers and probes ------------------------------------------------------------------------


@contextmanager
def running(database: Path, compressor: tersify.Compressor | None = None,
            **settings: Any) -> Iterator[Server]:
    """A server built by the app factory with the preset's engine (or ``compressor``), in a
    thread, with one key named "hostile"."""
    config = ServerSettings(database_url=f"sqlite:///{database}", admin_token=ADMIN_TOKEN,
                            **{"rate_limit": 100_000, **settings})
    app = create_app(config, compressor=compressor)
    with serving(app, "hostile") as server:
        yield server


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running(tmp_path_factory.mktemp("hostile") / "keys.db") as server:
        yield server


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``tersify serve`` as a process (``app`` is None), with one key."""
    folder = tmp_path_factory.mktemp("served")
    env = {"TERSIFY_DATABASE_URL": f"sqlite:///{folder / 'keys.db'}",
           "TERSIFY_ADMIN_TOKEN": ADMIN_TOKEN, "TERSIFY_RATE_LIMIT": "100000"}
    with serve(folder, env) as (_, url):
        made = httpx.post(url + "/admin/keys", json={"name": "hostile"}, headers=ADMIN)
        assert made.status_code == 201, made.text
        yield Server(url=url, key=made.json()["secret"], app=None)
    assert "Traceback" not in (folder / "err.txt").read_text()


def post(server: Server, body: Any, path: str = "/v1/tersify",
         timeout: float = 60) -> httpx.Response:
    """POST ``body`` (bytes as they are, anything else as JSON) with the server's key."""
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(server.url + path, content=content, timeout=timeout,
                      headers={"X-API-Key": server.key, "Content-Type": "application/json"})


def billed(server: Server) -> int:
    """Requests recorded for the server's key (read as the admin)."""
    keys = httpx.get(server.url + "/admin/keys", headers=ADMIN).json()["keys"]
    key_id = next(k["id"] for k in keys if k["name"] == "hostile")
    usage = httpx.get(f"{server.url}/api/keys/{key_id}/usage", headers=ADMIN)
    assert usage.status_code == 200, usage.text
    return int(usage.json()["requests"])


def refused(response: httpx.Response, status: int = 400) -> str:
    """The message of a JSON error with ``status`` (and never a trace)."""
    assert response.status_code == status, response.text[:500]
    assert "Traceback" not in response.text
    error = response.json()["error"]
    assert error["request_id"] == response.headers["X-Request-ID"]
    return str(error["message"])


@contextmanager
def healthz_answers(url: str) -> Iterator[None]:
    """Meanwhile /healthz is asked every 50 ms (from its first answer on), and every answer
    must come within 1 s."""
    stop, first, misses = threading.Event(), threading.Event(), []

    def probe() -> None:
        with httpx.Client(timeout=1) as client:
            while not stop.is_set():
                try:
                    status = client.get(url + "/healthz").status_code
                    if status != 200:
                        misses.append(status)
                except httpx.HTTPError as exc:
                    misses.append(repr(exc))
                first.set()
                stop.wait(0.05)

    prober = threading.Thread(target=probe, daemon=True)
    prober.start()
    assert first.wait(timeout=10)
    try:
        yield
    finally:
        stop.set()
        prober.join(timeout=10)
    assert misses == []


# --- item 1: user patterns run in linear time ---------------------------------------------------


def test_a_backtracking_pattern_is_answered_at_once_while_healthz_answers(served: Server) -> None:
    # (a+)+$ on 40 a's and a "!" takes Python's re hours, holding the GIL all the while.
    before = billed(served)
    with healthz_answers(served.url):
        r = post(served, REDOS, timeout=60)
    assert r.status_code == 200, r.text
    assert r.json()["documents"][0]["metadata"] == {}
    for pattern, construct in [(r"(a)\1", "backreference"), ("a(?=!)", "lookahead")]:
        message = refused(post(served, {**REDOS, "force_keep_patterns": ["x", pattern]}))
        assert message.startswith("force_keep_patterns[1]") and "RE2" in message, construct
    assert billed(served) == before + 1  # the 200 only
    doc = httpx.get(served.url + "/openapi.json").json()["paths"]["/v1/tersify"]["post"]
    assert "RE2 syntax" in doc["description"]
    schema = httpx.get(served.url + "/openapi.json").json()["components"]["schemas"]
    assert "RE2" in schema["NativeRequest"]["properties"]["force_keep_patterns"]["description"]


# --- item 2 and the contexts limit: many small documents ---------------------------------------


def test_the_most_contexts_allowed_are_answered_while_healthz_answers(served: Server) -> None:
    one = {"contexts": ["x"] * MAX_CONTEXTS, "question": "x", "target_ratio": 0.5}
    batch = {"requests": [one] * (MAX_BATCH_CONTEXTS // MAX_CONTEXTS)}  # 10,000 contexts
    before = billed(served)
    with healthz_answers(served.url):
        over = refused(post(served, {**one, "contexts": ["x"] * 10_000}, timeout=120))
        over_batch = refused(post(served, {"requests": [*batch["requests"], one]}))
    assert over == f"contexts: List should have at most {MAX_CONTEXTS} items after " \
                   "validation, not 10000"
    assert over_batch == "body: the batch holds 11,000 contexts; at most 10,000"
    assert billed(served) == before

    with healthz_answers(served.url):
        single = post(served, one, timeout=120)
        many = post(served, batch, timeout=120)
    assert single.status_code == 200 and len(single.json()["documents"]) == MAX_CONTEXTS
    assert single.json()["stats"]["budget_met"] is True
    assert many.status_code == 200, many.text[:300]
    assert [len(r["documents"]) for r in many.json()["results"]] == [MAX_CONTEXTS] * 10
    assert billed(served) == before + 1 + 10  # each item of a batch is a request


# --- item 3: callers pick only the scorers the server allows -----------------------------------


def test_a_request_may_name_only_a_scorer_the_server_allows(hostile: Server) -> None:
    before = billed(hostile)
    for name in ("embedding", "lm", "classifier", "turbo"):
        message = refused(post(hostile, {"contexts": [DOC], "question": "tram", "scorer": name}))
        assert message == f"scorer: scorer {name!r} is not allowed on this server; " \
                          "allowed: lexical"
    batch = {"requests": [{"contexts": [DOC]}, {"contexts": [DOC], "scorer": "embedding"}]}
    assert refused(post(hostile, batch)).startswith("requests.1.scorer: scorer 'embedding'")
    assert billed(hostile) == before
    ok = post(hostile, {"contexts": [DOC], "question": "tram", "scorer": "lexical"})
    assert ok.status_code == 200 and ok.json()["scorer"] == "lexical"
    assert billed(hostile) == before + 1
    scorer = httpx.get(hostile.url + "/openapi.json").json()[
        "components"]["schemas"]["NativeRequest"]["properties"]["scorer"]
    assert scorer["anyOf"] == [{"type": "string", "enum": ["lexical"]}, {"type": "null"}]


def test_allowed_scorers_setting() -> None:
    assert ServerSettings().scorers == ("lexical",)
    assert ServerSettings(preset="balanced").scorers == ("embedding",)
    read = ServerSettings.from_env({"TERSIFY_ALLOWED_SCORERS": " lexical, embedding "})
    assert read.allowed_scorers == read.scorers == ("lexical", "embedding")
    assert ServerSettings.from_env({"TERSIFY_ALLOWED_SCORERS": ""}).allowed_scorers is None
    with pytest.raises(SettingsError, match="^TERSIFY_ALLOWED_SCORERS must be a comma-separated "
                       "list of scorers from lexical, embedding, lm, classifier, got 'lexical,'"):
        ServerSettings.from_env({"TERSIFY_ALLOWED_SCORERS": "lexical,"})
    with pytest.raises(SettingsError, match="^allowed_scorers must include 'lexical', the "
                       "scorer of preset 'fast'"):
        ServerSettings(allowed_scorers=("embedding",))
    with pytest.raises(SettingsError, match="^allowed_scorers must be"):
        ServerSettings(allowed_scorers=["lexical"])  # type: ignore[arg-type]


def _refuses_to_start(tmp_path: Path, args: list[str], env: dict[str, str]) -> str:
    port = socket.socket()
    port.bind(("127.0.0.1", 0))
    with port:
        number = str(port.getsockname()[1])
    run = subprocess.run([*CLI, "serve", "--port", number, *args], cwd=tmp_path,
                         env={**os.environ, **env}, capture_output=True, text=True, timeout=120,
                         check=False)
    assert run.returncode == 2 and run.stdout == ""
    assert len(run.stderr.splitlines()) == 1, run.stderr
    return run.stderr


def test_serve_refuses_an_unknown_scorer_or_one_whose_extra_is_missing(tmp_path: Path) -> None:
    unknown = _refuses_to_start(tmp_path, ["--allowed-scorers", "lexical,turbo"], {})
    assert unknown.startswith("tersify: error: allowed_scorers must be a comma-separated list")
    # A torch that cannot be imported, first on the path: the models extra is missing.
    (tmp_path / "hidden" / "torch").mkdir(parents=True)
    (tmp_path / "hidden" / "torch" / "__init__.py").write_text(
        "raise ImportError('torch is hidden by this test')\n")
    env = {"PYTHONPATH": str(tmp_path / "hidden"), "TERSIFY_ALLOWED_SCORERS": "lexical"}
    missing = _refuses_to_start(tmp_path, ["--allowed-scorers", "lexical,lm"], env)
    assert missing == ("tersify: error: allowed scorer 'lm' cannot run here: 'torch' is "
                       "required for this feature; install it with pip install "
                       "'tersify[models]'\n")


@pytest.mark.models
def test_a_server_may_allow_a_model_scorer(tmp_path: Path) -> None:
    with running(tmp_path / "k.db", allowed_scorers=("lexical", "embedding")) as server:
        ok = post(server, {"contexts": [DOC], "question": "tram", "scorer": "embedding"})
        assert ok.status_code == 200 and ok.json()["scorer"] == "embedding"
        message = refused(post(server, {"contexts": [DOC], "scorer": "lm"}))
        assert message.endswith("allowed: lexical, embedding")
        assert billed(server) == 1


# --- item 4: every body is bounded, and the OpenAPI says how -----------------------------------


def _words(chars: int) -> str:
    """``chars`` characters of ten-letter words."""
    return ("abcdefghi " * (chars // 10 + 1))[:chars]


def _nested(levels: int) -> dict[str, Any]:
    value: Any = 1
    for _ in range(levels):
        value = {"a": value}
    return value  # type: ignore[no-any-return]


def _doc(**fields: Any) -> dict[str, Any]:
    return {"contexts": [{"text": DOC, **fields}], "question": "tram"}


FULL = [_words(MAX_CONTEXT_CHARS)] * 8 + [_words(MAX_TOTAL_CHARS - 8 * MAX_CONTEXT_CHARS)]
META_AT_LIMIT = {"k": "v" * (MAX_METADATA_BYTES - len('{"k":""}'))}

AT_THE_LIMITS = [  # each at a limit, not over it
    ("/v1/tersify", {"contexts": FULL}),
    ("/v1/tersify", {"contexts": [_words(MAX_CONTEXT_CHARS)], "question": "q" * 10_000,
                     "instruction": "i" * 10_000}),
    ("/v1/tersify", {"prompt": _words(MAX_CONTEXT_CHARS)}),
    ("/v1/tersify", _doc(id="i" * MAX_ID_CHARS, metadata=META_AT_LIMIT)),
    ("/v1/tersify", _doc(id="\u00e9\U0001f600", metadata=_nested(MAX_METADATA_DEPTH))),
    ("/v1/tersify", {"requests": [_doc()] * MAX_BATCH}),
    ("/v1/tersify", {"contexts": [DOC], "force_keep": ["k" * 1_000]}),
    ("/v1/prompt-compress", {"context": FULL}),
    ("/v1/prompt-compress", {"context": ["x"] * MAX_CONTEXTS}),
]

OVER = [  # (path, body, the message)
    ("/v1/tersify", {"contexts": [*FULL, "z"]},
     "body: the request holds 1,000,001 characters; at most 1,000,000"),
    ("/v1/tersify", {"contexts": FULL, "question": "z"},
     "body: the request holds 1,000,001 characters; at most 1,000,000"),
    ("/v1/tersify", {"contexts": [{"text": "a", "metadata": {"k": "v" * 100}}] * 1 + FULL[:8]
                     + [_words(MAX_TOTAL_CHARS - 8 * MAX_CONTEXT_CHARS - 100)]},
     "body: the request holds 1,000,009 characters; at most 1,000,000"),  # metadata counts
    ("/v1/tersify", {"contexts": ["x" * (MAX_CONTEXT_CHARS + 1)]},
     "contexts.0.text: String should have at most 120000 characters"),
    ("/v1/tersify", {"contexts": [{"text": "x" * (MAX_CONTEXT_CHARS + 1)}]},
     "contexts.0.document.text: String should have at most 120000 characters"),
    ("/v1/tersify", {"prompt": "x" * (MAX_CONTEXT_CHARS + 1)},
     "prompt: String should have at most 120000 characters"),
    ("/v1/tersify", {"contexts": ["x"] * (MAX_CONTEXTS + 1)},
     "contexts: List should have at most 1000 items after validation, not 1001"),
    ("/v1/tersify", {"contexts": [DOC], "question": "q" * 10_001},
     "question: String should have at most 10000 characters"),
    ("/v1/tersify", {"contexts": [DOC], "instruction": "i" * 10_001},
     "instruction: String should have at most 10000 characters"),
    ("/v1/tersify", {"contexts": [DOC], "force_keep": ["k" * 1_001]},
     "force_keep.0: String should have at most 1000 characters"),
    ("/v1/tersify", {"contexts": [DOC], "force_keep_patterns": ["k" * 1_001]},
     "force_keep_patterns.0: String should have at most 1000 characters"),
    ("/v1/tersify", _doc(id="i" * (MAX_ID_CHARS + 1)),
     "contexts.0.document.id: String should have at most 256 characters"),
    ("/v1/tersify", _doc(metadata={"k": META_AT_LIMIT["k"] + "v"}),
     "contexts.0.document.metadata: metadata is over 16,384 bytes as JSON"),
    ("/v1/tersify", _doc(metadata={"k": list(range(200_000))}),  # a 1.3 MB array
     "contexts.0.document.metadata: metadata is over 16,384 bytes as JSON"),
    ("/v1/tersify", _doc(metadata=_nested(MAX_METADATA_DEPTH + 1)),
     "contexts.0.document.metadata: metadata is nested deeper than 8 levels"),
    ("/v1/tersify", {"requests": [_doc()] * (MAX_BATCH + 1)},
     "requests: List should have at most 64 items after validation, not 65"),
    ("/v1/tersify", {"requests": [{"contexts": FULL[:5]}, {"contexts": FULL[5:]},
                                  {"contexts": ["z"]}]},
     "body: the batch holds 1,000,001 characters; at most 1,000,000"),
    ("/v1/tersify", {"requests": [{"contexts": ["x"] * MAX_CONTEXTS}] * 11},
     "body: the batch holds 11,000 contexts; at most 10,000"),
    ("/v1/prompt-compress", {"context": [*FULL, "z"]},
     "body: the request holds 1,000,001 characters; at most 1,000,000"),
    ("/v1/prompt-compress", {"context": ["x"] * (MAX_CONTEXTS + 1)},
     "context.list: List should have at most 1000 items after validation, not 1001"),
    ("/v1/prompt-compress", {"context": ["x" * (MAX_CONTEXT_CHARS + 1)]},
     "context.list.0: String should have at most 120000 characters"),
    ("/v1/prompt-compress", {"context": "x", "compression_settings": {
        "force_keep_tokens": ["k" * 1_001]}},
     "compression_settings.force_keep_tokens.0: String should have at most 1000 characters"),
    ("/v1/compress", {"context": "x" * (MAX_CONTEXT_CHARS + 1)},
     "context: String should have at most 120000 characters"),
    ("/compress/raw/", {"context": "x", "prompt": "p" * 2_001, "scaledown": {}},
     "prompt: String should have at most 2000 characters"),
]


@pytest.mark.parametrize(("path", "body", "message"), OVER,
                         ids=[f"{p}:{m[:48]}" for p, _, m in OVER])
def test_a_body_over_a_limit_is_a_400_naming_it_and_not_billed(
        hostile: Server, path: str, body: Any, message: str) -> None:
    before = billed(hostile)
    assert refused(post(hostile, body, path)) == message
    assert billed(hostile) == before


@pytest.mark.parametrize(("path", "body"), AT_THE_LIMITS,
                         ids=[f"{p}:{i}" for i, (p, _) in enumerate(AT_THE_LIMITS)])
def test_a_body_at_the_limits_is_served(hostile: Server, path: str, body: Any) -> None:
    r = post(hostile, body, path, timeout=120)
    assert r.status_code == 200, r.text[:500]
    if path == "/v1/tersify" and "contexts" in body and isinstance(body["contexts"][0], dict):
        echoed = r.json()["documents"][0]
        assert (echoed["id"], echoed["metadata"]) == (body["contexts"][0].get("id"),
                                                      body["contexts"][0].get("metadata", {}))


def test_the_openapi_states_the_limits(hostile: Server) -> None:
    openapi = httpx.get(hostile.url + "/openapi.json").json()
    schemas = openapi["components"]["schemas"]
    native, document = schemas["NativeRequest"]["properties"], schemas["NativeDocument"]
    assert native["contexts"]["maxItems"] == MAX_CONTEXTS
    assert {"type": "string", "maxLength": MAX_CONTEXT_CHARS} in native["contexts"]["items"][
        "oneOf"]
    assert document["properties"]["text"]["maxLength"] == MAX_CONTEXT_CHARS
    assert document["properties"]["id"]["anyOf"][0]["maxLength"] == MAX_ID_CHARS
    assert "16,384 bytes as JSON, 8 levels deep" in document["properties"]["metadata"][
        "description"]
    assert native["prompt"]["maxLength"] == MAX_CONTEXT_CHARS
    assert native["question"]["maxLength"] == native["instruction"]["maxLength"] == 10_000
    assert native["force_keep"]["items"]["maxLength"] == 1_000
    assert native["force_keep_patterns"]["items"]["maxLength"] == 1_000
    assert schemas["NativeBatch"]["properties"]["requests"]["maxItems"] == MAX_BATCH
    description = openapi["paths"]["/v1/tersify"]["post"]["description"]
    for stated in ("120,000 characters", "1,000 contexts per request", "64 requests",
                   "10,000 contexts", "1,000,000 characters in all", "256 characters",
                   "16,384 bytes", "8 levels"):
        assert stated in description, stated
    compresso = schemas["CompressoRequest"]["properties"]
    forms = {form["type"]: form for form in compresso["context"]["oneOf"]}
    assert forms["string"]["maxLength"] == forms["array"]["items"]["maxLength"] == 120_000
    assert forms["array"]["maxItems"] == MAX_CONTEXTS
    assert "1,000,000" in compresso["context"]["description"]
    assert compresso["question"]["maxLength"] == compresso["instruction"]["maxLength"] == 2_000
    assert schemas["SuperRequest"]["properties"]["context"]["maxLength"] == 120_000
    assert schemas["SuperRequest"]["properties"]["query"]["maxLength"] == 2_000
    assert schemas["ScaleDownRequest"]["properties"]["context"]["maxLength"] == 120_000
    assert schemas["ScaleDownRequest"]["properties"]["prompt"]["maxLength"] == 2_000


# --- item 5: nothing unwritable, nothing billed that was not delivered -------------------------


def _raw_doc(fields: str) -> bytes:
    """A native body with one document whose fields after its text are written as given."""
    return ('{"contexts": [{"text": "The tram opened in 1911.", ' + fields
            + '}], "question": "tram"}').encode()


UNWRITABLE = [  # raw JSON: \ud800 is a lone surrogate, NaN and Infinity are not JSON
    (_raw_doc(r'"id": "doc-\ud800"'), "contexts.0.document.id: Input should be a valid string"),
    (_raw_doc(r'"metadata": {"\udc00key": 1}'),
     "contexts.0.document.metadata: metadata key is not valid Unicode (lone surrogate at "
     "position 0)"),
    (_raw_doc(r'"metadata": {"k": ["fine", {"deeper": "x\ud83d"}]}'),
     "contexts.0.document.metadata: metadata is not valid Unicode (lone surrogate at "
     "position 1)"),
    (_raw_doc('"metadata": {"k": NaN}'),
     "contexts.0.document.metadata: metadata holds nan, which JSON cannot carry"),
    (_raw_doc('"metadata": {"k": [1, -Infinity]}'),
     "contexts.0.document.metadata: metadata holds -inf, which JSON cannot carry"),
    (_raw_doc('"metadata": ' + '{"a": ' * 900 + "1" + "}" * 900),
     "contexts.0.document.metadata: metadata is nested deeper than 8 levels"),
    (_raw_doc('"metadata": {"k": ' + "[" * 900 + "]" * 900 + "}"),
     "contexts.0.document.metadata: metadata is nested deeper than 8 levels"),
]


@pytest.mark.parametrize(("body", "message"), UNWRITABLE,
                         ids=[m.split(": ", 1)[-1][:40] for _, m in UNWRITABLE])
def test_an_id_or_metadata_that_cannot_be_written_back_is_a_400_not_billed(
        hostile: Server, body: bytes, message: str) -> None:
    before = billed(hostile)
    assert refused(post(hostile, body)).startswith(message)
    assert billed(hostile) == before
    fine = post(hostile, _raw_doc(r'"id": "doc-\ud83d\ude00", "metadata": {"k": [1.5, null]}'))
    assert fine.status_code == 200
    assert fine.json()["documents"][0]["id"] == "doc-\U0001f600"
    assert billed(hostile) == before + 1


class UnwritableCompressor(tersify.Compressor):
    """The real engine, whose result for a question with "unwritable" in it names its first
    document with a lone surrogate (as a bug might): UTF-8 cannot carry it, so the response
    cannot be written."""

    def compress(self, request: CompressionRequest | None = None, /,
                 **fields: Any) -> CompressionResult:
        result = super().compress(request, **fields)
        return result if request is None else _broken(request, result)

    def compress_together(self, requests: Sequence[CompressionRequest]
                          ) -> list[CompressionResult | Exception]:
        return [_broken(r, out) if isinstance(out, CompressionResult) else out
                for r, out in zip(requests, super().compress_together(requests), strict=True)]


def _broken(request: CompressionRequest, result: CompressionResult) -> CompressionResult:
    if "unwritable" not in request.question:
        return result
    broken = replace(result.documents[0], id="doc-\ud800")
    return replace(result, documents=(broken, *result.documents[1:]))


def test_a_response_that_cannot_be_written_is_a_500_and_not_billed(tmp_path: Path) -> None:
    engine = UnwritableCompressor(preset="fast", linear_patterns=True)
    with running(tmp_path / "k.db", compressor=engine) as server:
        for path, body in [("/v1/tersify", {"contexts": [DOC], "question": "unwritable"}),
                           ("/v1/tersify", {"requests": [{"contexts": [DOC]}, {
                               "contexts": [DOC], "question": "unwritable tram"}]})]:
            assert refused(post(server, body, path), 500) == "the server failed on this request"
        assert billed(server) == 0
        assert post(server, {"contexts": [DOC], "question": "tram"}).status_code == 200
        assert billed(server) == 1


def _answered(server: Server, route: str) -> dict[str, int]:
    """Responses on ``route`` by status, as /metrics counts them."""
    text = httpx.get(server.url + "/metrics", headers=ADMIN).text
    pattern = rf'tersify_requests_total{{[^}}]*route="{re.escape(route)}",status="(\d+)"}} (\S+)'
    return {status: int(float(n)) for status, n in re.findall(pattern, text)}


def _counted(server: Server, polls: int) -> bool:
    """Whether the key's limit counts a request besides this poll and the ``polls`` before."""
    key_id = server.app.state.store.all()[0].id
    r = httpx.get(f"{server.url}/api/keys/{key_id}/usage", headers={"X-API-Key": server.key})
    return int(r.headers["X-RateLimit-Remaining"]) < 1_000 - polls - 1


def test_a_client_that_hangs_up_before_the_answer_is_not_billed(tmp_path: Path) -> None:
    # A large lexical request (about 600,000 characters): its compression takes a while, and the
    # client is gone long before it ends.
    body = json.dumps({"contexts": [_words(2_000) + str(i) for i in range(300)],
                       "question": "abcdefghi 7", "target_ratio": 0.2}).encode()
    with running(tmp_path / "k.db", rate_limit=1_000) as server:
        host, port = urlsplit(server.url).hostname, urlsplit(server.url).port
        head = (f"POST /v1/tersify HTTP/1.1\r\nHost: {host}\r\nX-API-Key: {server.key}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
        client = socket.create_connection((str(host), int(port or 80)))
        client.sendall(head.encode() + body)
        polls = 0
        while not _counted(server, polls):  # it passed the gate: its compression is under way
            polls += 1
            assert polls < 400, "the request never reached the server"
            time.sleep(0.02)
        client.close()
        deadline = time.monotonic() + 120
        while not _answered(server, "/v1/tersify"):
            assert time.monotonic() < deadline, "the abandoned request never finished"
            time.sleep(0.05)
        assert _answered(server, "/v1/tersify") == {"499": 1}  # client closed: abandoned
        assert billed(server) == 0
        assert post(server, {"contexts": [DOC], "question": "tram"}).status_code == 200
        assert billed(server) == 1
