"""The contract every framework adapter keeps, on a local compressor and on a real server.

Each adapter is driven through a small runner that turns (text, metadata) pairs into the
framework's objects and back, so one suite checks LangChain and LlamaIndex alike.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import closed_port_url

import tersify
from tersify.integrations.client import ServerUnavailableError

CORPUS = json.loads((Path(__file__).resolve().parents[1] / "examples" / "data" / "corpus.json")
                    .read_text(encoding="utf-8"))
QUESTION = CORPUS["question"]
Item = tuple[str, dict[str, Any]]
ITEMS: list[Item] = [(d["text"], {"id": d["id"], "title": d["title"], "source": d["source"],
                                  "tags": {"archive": [d["source"]]}})
                     for d in CORPUS["documents"]]
COUNTER = tersify.get_token_counter("cl100k_base")


@dataclass
class Runner:
    """One adapter: build it, feed it items, read items back."""

    name: str
    make: Callable[..., Any]
    wrap: Callable[[list[Item]], list[Any]]
    run: Callable[[Any, list[Any], str], list[Any]]
    arun: Callable[[Any, list[Any], str], Any]
    unwrap: Callable[[Any], Item]


def _langchain() -> Runner:
    from langchain_core.documents import Document

    from tersify.integrations.langchain import TersifyCompressor

    return Runner(
        "langchain", TersifyCompressor,
        lambda items: [Document(page_content=t, metadata=copy.deepcopy(m), id=m["id"])
                       for t, m in items],
        lambda a, docs, q: list(a.compress_documents(docs, q)),
        lambda a, docs, q: a.acompress_documents(docs, q),
        lambda d: (d.page_content, d.metadata))


def _llamaindex() -> Runner:
    from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

    from tersify.integrations.llamaindex import TersifyPostprocessor

    return Runner(
        "llamaindex", TersifyPostprocessor,
        lambda items: [NodeWithScore(node=TextNode(text=t, metadata=copy.deepcopy(m), id_=m["id"]),
                                     score=1.0 - i / 10) for i, (t, m) in enumerate(items)],
        lambda a, nodes, q: a.postprocess_nodes(nodes, QueryBundle(q) if q else None),
        lambda a, nodes, q: a.apostprocess_nodes(nodes, QueryBundle(q) if q else None),
        lambda n: (n.node.get_content(), n.node.metadata))


RUNNERS = {"langchain": _langchain, "llamaindex": _llamaindex}


@pytest.fixture(params=["langchain", "llamaindex"])
def runner(request: pytest.FixtureRequest) -> Runner:
    return RUNNERS[request.param]()


@pytest.fixture(params=["local", "remote"])
def backend(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.param == "local":
        return {"compressor": tersify.Compressor(preset="fast")}
    server = request.getfixturevalue("server")
    return {"base_url": server.url, "api_key": server.key}


def compress(runner: Runner, backend: dict[str, Any], query: str = QUESTION,
             **settings: Any) -> list[Item]:
    adapter = runner.make(**backend, **settings)
    return [runner.unwrap(x) for x in runner.run(adapter, runner.wrap(ITEMS), query)]


def test_budget_in_tokens_covers_the_whole_set(runner: Runner, backend: dict[str, Any]) -> None:
    out = compress(runner, backend, target_tokens=150)
    used = sum(m["tersify"]["compressed_tokens"] for _, m in out)
    assert 0 < used <= 150
    assert all(COUNTER.count(text) == m["tersify"]["compressed_tokens"] for text, m in out)


def test_budget_as_ratio_covers_the_whole_set(runner: Runner, backend: dict[str, Any]) -> None:
    out = compress(runner, backend, target_ratio=0.3)
    original = sum(COUNTER.count(t) for t, _ in ITEMS)
    used = sum(m["tersify"]["compressed_tokens"] for _, m in out)
    assert 0 < used <= 0.3 * (original + 2 * len(ITEMS))  # separators: the documents' share


def test_the_query_is_not_charged_to_the_documents(runner: Runner,
                                                   backend: dict[str, Any]) -> None:
    query = f"{QUESTION} " * 4  # about half the budget
    out = compress(runner, backend, query=query, target_tokens=120)
    used = sum(m["tersify"]["compressed_tokens"] for _, m in out)
    assert COUNTER.count(query) > 60 and 60 < used <= 120
    charged = compress(runner, backend, query=query, target_tokens=120, budget_scope="prompt",
                       min_documents=0)
    assert sum(m["tersify"]["compressed_tokens"] for _, m in charged) <= 120 - COUNTER.count(query)


def test_a_small_budget_keeps_the_best_document(runner: Runner, backend: dict[str, Any]) -> None:
    out = compress(runner, backend, target_ratio=0.01)
    assert len(out) == 1 and out[0][1]["tersify"]["relevance"] == 1.0 and out[0][0]
    assert compress(runner, backend, target_ratio=0.01, min_documents=0) == []


def test_reserved_tokens_come_off_the_budget(runner: Runner, backend: dict[str, Any]) -> None:
    out = compress(runner, backend, target_tokens=200, reserved_tokens=120)
    assert 0 < sum(m["tersify"]["compressed_tokens"] for _, m in out) <= 80
    with pytest.raises(tersify.InvalidRequestError, match="reserved_tokens"):
        compress(runner, backend, target_tokens=100, reserved_tokens=100)


def test_inputs_are_untouched(runner: Runner, backend: dict[str, Any]) -> None:
    adapter = runner.make(**backend, target_ratio=0.3)
    inputs = runner.wrap(ITEMS)
    before = [runner.unwrap(x) for x in copy.deepcopy(inputs)]
    runner.run(adapter, inputs, QUESTION)
    assert [runner.unwrap(x) for x in inputs] == before


def test_outputs_share_no_state_with_inputs(runner: Runner, backend: dict[str, Any]) -> None:
    adapter = runner.make(**backend, target_ratio=0.5)
    inputs = runner.wrap(ITEMS)
    before = [runner.unwrap(x) for x in copy.deepcopy(inputs)]
    for out in runner.run(adapter, inputs, QUESTION):
        runner.unwrap(out)[1]["tags"]["archive"].append("changed")
    assert [runner.unwrap(x) for x in inputs] == before


def test_no_documents_give_no_documents(runner: Runner, backend: dict[str, Any]) -> None:
    adapter = runner.make(**backend, target_ratio=0.5)
    assert runner.run(adapter, [], QUESTION) == []
    assert asyncio.run(runner.arun(adapter, [], QUESTION)) == []


def test_metadata_is_kept_and_statistics_added(runner: Runner, backend: dict[str, Any]) -> None:
    originals = {m["id"]: (t, m) for t, m in ITEMS}
    out = compress(runner, backend, target_ratio=0.4)
    assert out
    for text, meta in out:
        source, source_meta = originals[meta["id"]]
        assert {k: meta[k] for k in source_meta} == source_meta
        stats = meta["tersify"]
        assert 0.0 <= stats["relevance"] <= 1.0
        assert stats["compressed_tokens"] <= stats["original_tokens"]
        pieces = [source[a:b] for a, b in stats["spans"]]
        assert pieces and all(p in text for p in pieces)


def test_the_statistics_key_is_the_users_choice(runner: Runner, backend: dict[str, Any]) -> None:
    out = compress(runner, backend, target_ratio=0.4, metadata_key="compression")
    assert out and all("compression" in m and "tersify" not in m for _, m in out)
    bare = compress(runner, backend, target_ratio=0.4, metadata_key=None)
    assert bare and all(set(m) == {"id", "title", "source", "tags"} for _, m in bare)


def test_a_users_own_key_is_never_overwritten(runner: Runner, backend: dict[str, Any]) -> None:
    adapter = runner.make(**backend, target_ratio=0.4, metadata_key="source")
    with pytest.raises(tersify.InvalidRequestError, match="already has the key 'source'"):
        runner.run(adapter, runner.wrap(ITEMS), QUESTION)


def test_the_api_key_comes_from_the_environment(runner: Runner, server: Any,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERSIFY_API_KEY", server.key)
    out = compress(runner, {"base_url": server.url}, target_ratio=0.4)
    assert out and all("tersify" in m for _, m in out)
    monkeypatch.setenv("TERSIFY_API_KEY", "tsk_live_not-a-key")
    with pytest.raises(tersify.TersifyError):
        compress(runner, {"base_url": server.url}, target_ratio=0.4)


def test_local_engine_options_are_refused_in_remote_mode(runner: Runner, server: Any) -> None:
    adapter = runner.make(base_url=server.url, api_key=server.key, preset="accurate")
    with pytest.raises(tersify.InvalidRequestError, match="preset choose the local engine"):
        runner.run(adapter, runner.wrap(ITEMS), QUESTION)


def test_a_misspelt_option_is_refused(runner: Runner) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="target_ration"):
        runner.make(target_ration=0.1)


def test_documents_that_keep_nothing_are_dropped(runner: Runner, backend: dict[str, Any]) -> None:
    out = compress(runner, backend, target_tokens=70)
    assert 0 < len(out) < len(ITEMS)
    assert all(text for text, _ in out)


def test_the_answer_survives(runner: Runner, backend: dict[str, Any]) -> None:
    items = [*ITEMS[1:], ITEMS[0]]  # the answer's document last: truncation loses it
    for policy, survives in (("tersify", True), ("truncation", False)):
        adapter = runner.make(**backend, target_ratio=0.25, policy=policy)
        out = [runner.unwrap(x) for x in runner.run(adapter, runner.wrap(items), QUESTION)]
        assert (CORPUS["answer"] in " ".join(t for t, _ in out)) is survives, policy


def test_forced_strings_are_kept(runner: Runner, backend: dict[str, Any]) -> None:
    forced = "Ada Kerrow"
    out = compress(runner, backend, target_tokens=80, force_keep=[forced])
    assert forced in " ".join(t for t, _ in out)


def test_reorder_sorts_by_relevance(runner: Runner, backend: dict[str, Any]) -> None:
    for reorder in (True, "relevance"):
        out = compress(runner, backend, target_ratio=0.5, reorder=reorder)
        relevance = [m["tersify"]["relevance"] for _, m in out]
        assert len(out) > 2 and relevance == sorted(relevance, reverse=True)


def test_reorder_edges_puts_the_best_at_both_ends(runner: Runner,
                                                  backend: dict[str, Any]) -> None:
    out = compress(runner, backend, target_ratio=0.5, reorder="edges")
    relevance = [m["tersify"]["relevance"] for _, m in out]
    ranked = sorted(relevance, reverse=True)
    assert len(out) > 2 and relevance[0] == ranked[0] and relevance[-1] == ranked[1]
    middle = relevance[len(relevance) // 2]
    assert middle == min(relevance) or len(relevance) % 2 == 0


def test_top_n_keeps_the_most_relevant(runner: Runner, backend: dict[str, Any]) -> None:
    every = compress(runner, backend, target_ratio=0.5)
    out = compress(runner, backend, target_ratio=0.5, top_n=2)
    best = sorted((m["tersify"]["relevance"] for _, m in every), reverse=True)[:2]
    assert sorted((m["tersify"]["relevance"] for _, m in out), reverse=True) == best
    assert [m["id"] for _, m in out] == [m["id"] for _, m in every if m["id"] in
                                         {m2["id"] for _, m2 in out}]  # input order kept


def test_a_relevance_threshold_drops_the_weak(runner: Runner, backend: dict[str, Any]) -> None:
    every = compress(runner, backend, target_ratio=0.5)
    out = compress(runner, backend, target_ratio=0.5, relevance_threshold=0.5)
    assert out and all(m["tersify"]["relevance"] >= 0.5 for _, m in out)
    assert len(out) == sum(m["tersify"]["relevance"] >= 0.5 for _, m in every) < len(every)


def test_the_relevance_goes_under_its_own_key_when_asked(runner: Runner,
                                                         backend: dict[str, Any]) -> None:
    out = compress(runner, backend, target_ratio=0.5, relevance_key="relevance_score")
    assert out and all(m["relevance_score"] == m["tersify"]["relevance"] for _, m in out)


def test_engine_options_reach_the_engine(runner: Runner, backend: dict[str, Any]) -> None:
    whole = compress(runner, backend, target_ratio=0.5, granularity="document")
    originals = {m["id"]: t for t, m in ITEMS}
    assert whole and all(text == originals[m["id"]] for text, m in whole)
    firsts = compress(runner, backend, target_ratio=0.5, preserve_first=1, min_documents=0)
    assert all(text[:12] == originals[m["id"]][:12] for text, m in firsts)
    forced = compress(runner, backend, target_tokens=80, force_keep_patterns=[r"Ada \w+"])
    assert "Ada Kerrow" in " ".join(t for t, _ in forced)


def test_metadata_can_be_scored_with_the_text(runner: Runner, backend: dict[str, Any]) -> None:
    items: list[Item] = [("The town has 9,000 people and a harbour.", {"id": "b", "title": "Brill"}),
                         ("The town has 5,000 people and a harbour.", {"id": "a", "title": "Ardmore"})]
    adapter = runner.make(**backend, target_ratio=0.9, top_n=1, score_metadata=["title"])
    out = [runner.unwrap(x) for x in runner.run(adapter, runner.wrap(items),
                                                "How many people live in Ardmore?")]
    assert out == [(items[1][0], {**items[1][1], "tersify": out[0][1]["tersify"]})]
    assert out[0][1]["tersify"]["spans"] == [[0, len(items[1][0])]]


def test_async_equals_sync(runner: Runner, backend: dict[str, Any]) -> None:
    adapter = runner.make(**backend, target_ratio=0.3)
    sync = [runner.unwrap(x) for x in runner.run(adapter, runner.wrap(ITEMS), QUESTION)]
    result = asyncio.run(runner.arun(adapter, runner.wrap(ITEMS), QUESTION))
    assert [runner.unwrap(x) for x in result] == sync


def test_without_a_query_it_compresses_by_content(runner: Runner,
                                                  backend: dict[str, Any]) -> None:
    out = compress(runner, backend, query="", target_ratio=0.5)
    assert out and sum(m["tersify"]["compressed_tokens"] for _, m in out) < sum(
        COUNTER.count(t) for t, _ in ITEMS)


def test_server_down_fails_open_when_asked(runner: Runner) -> None:
    with pytest.warns(RuntimeWarning, match="unavailable"):
        out = compress(runner, {"base_url": closed_port_url()}, fail_open=True)
    assert out == [(t, m) for t, m in ITEMS]


def test_server_down_raises_by_default(runner: Runner) -> None:
    with pytest.raises(ServerUnavailableError):
        compress(runner, {"base_url": closed_port_url()})


def test_a_bad_budget_is_a_clear_error(runner: Runner, backend: dict[str, Any]) -> None:
    with pytest.raises(tersify.InvalidRequestError, match="target_ratio"):
        compress(runner, backend, target_ratio=1.5)
