"""The adapters inside the real frameworks, offline, with the packaged MiniLM for retrieval."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from langchain_tests.integration_tests import RetrieversIntegrationTests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))
CORPUS = json.loads((ROOT / "examples" / "data" / "corpus.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize(("module", "blocked", "extra"), [
    ("tersify.integrations.langchain", "langchain_core", "langchain"),
    ("tersify.integrations.llamaindex", "llama_index", "llamaindex"),
])
def test_a_missing_framework_names_its_extra(module: str, blocked: str, extra: str) -> None:
    code = (f"import sys; sys.modules[{blocked!r}] = None\n"
            "from tersify import MissingDependencyError\n"
            f"try:\n    import {module}\nexcept MissingDependencyError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert f"tersify[{extra}]" in out.stdout


def test_a_missing_httpx_names_the_client_extra() -> None:
    code = ("import sys; sys.modules['httpx'] = None\n"
            "from tersify import MissingDependencyError\n"
            "from tersify.integrations.client import TersifyClient\n"
            "try:\n    TersifyClient()\nexcept MissingDependencyError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert "tersify[client]" in out.stdout


def test_langchain_compressor_serializes_the_langchain_way() -> None:
    from langchain_core.load import dumps, loads

    from tersify.integrations.langchain import TersifyCompressor

    original = TersifyCompressor(target_ratio=0.3, policy="tersify", force_keep=["Velmora"])
    text = dumps(original)
    assert "tersify" in json.loads(text)["id"]
    restored = loads(text, valid_namespaces=["tersify"], allowed_objects=[TersifyCompressor])
    assert isinstance(restored, TersifyCompressor)
    assert (restored.target_ratio, restored.force_keep) == (0.3, ["Velmora"])


def test_a_compressor_instance_is_serialized_as_what_rebuilds_it() -> None:
    from langchain_core.load import dumps, loads

    import tersify
    from tersify.integrations.langchain import TersifyCompressor

    engine = tersify.Compressor(preset="accurate", tokenizer="o200k_base")
    text = dumps(TersifyCompressor(compressor=engine, target_ratio=0.3))
    restored = loads(text, valid_namespaces=["tersify"], allowed_objects=[TersifyCompressor])
    assert (restored.preset, restored.tokenizer, restored.target_ratio) == (
        "accurate", "o200k_base", 0.3)
    lm = tersify.Compressor(preset="fast", scorer="lm")
    again = loads(dumps(TersifyCompressor(compressor=lm)), valid_namespaces=["tersify"],
                  allowed_objects=[TersifyCompressor])
    assert (again.preset, again.scorer) == ("fast", "lm")
    custom = tersify.Compressor(scorer=_OwnScorer())
    with pytest.raises(ValueError, match="scorer or tokenizer of its own"):
        dumps(TersifyCompressor(compressor=custom))


class _OwnScorer:
    """A scorer of the caller's own (not in the registry): nothing can rebuild it by name."""

    name = "own"

    def score(self, question: str, documents: Any) -> Any:
        from tersify.scorers import get_scorer

        return get_scorer("lexical").score(question, documents)


def test_llamaindex_postprocessor_round_trips_and_names_its_class() -> None:
    from tersify.integrations.llamaindex import TersifyPostprocessor

    processor = TersifyPostprocessor(target_tokens=200, reorder=True)
    data = processor.to_dict()
    assert data["class_name"] == "TersifyPostprocessor"
    restored = TersifyPostprocessor.from_dict(data)
    assert (restored.target_tokens, restored.reorder) == (200, True)


# --- LangChain: a compression retriever around a real in-memory vector store ---------------


def _langchain_store() -> Any:
    from langchain_core.documents import Document
    from langchain_core.vectorstores import InMemoryVectorStore
    from langchain_models import MiniLMEmbeddings

    store = InMemoryVectorStore(MiniLMEmbeddings())
    store.add_documents([Document(page_content=d["text"], id=d["id"],
                                  metadata={"source": d["source"]})
                         for d in CORPUS["documents"]])
    return store


@pytest.mark.models
def test_contextual_compression_retriever_returns_compressed_documents() -> None:
    from langchain_classic.retrievers import ContextualCompressionRetriever

    from tersify.integrations.langchain import TersifyCompressor

    store = _langchain_store()
    base = store.as_retriever(search_kwargs={"k": 6})
    retriever = ContextualCompressionRetriever(
        base_compressor=TersifyCompressor(target_ratio=0.3), base_retriever=base)
    plain = base.invoke(CORPUS["question"])
    compressed = retriever.invoke(CORPUS["question"])
    assert CORPUS["answer"] in " ".join(d.page_content for d in compressed)
    assert sum(len(d.page_content) for d in compressed) < 0.5 * sum(
        len(d.page_content) for d in plain)
    assert all(d.metadata["source"].startswith("city-archive/") for d in compressed)


def _retriever_class() -> type:
    from langchain_classic.retrievers import ContextualCompressionRetriever

    from tersify.integrations.langchain import TersifyCompressor

    class CompressedStoreRetriever(ContextualCompressionRetriever):
        """A MiniLM vector store behind tersify, returning ``k`` documents."""

        k: int = 4

        def __init__(self, k: int = 4, **kwargs: Any) -> None:
            super().__init__(
                k=k, base_compressor=TersifyCompressor(target_ratio=0.95),
                base_retriever=_langchain_store().as_retriever(search_kwargs={"k": k}), **kwargs)

    return CompressedStoreRetriever


@pytest.mark.models
class TestCompressedRetrieverStandard(RetrieversIntegrationTests):  # type: ignore[misc]
    """langchain-tests' retriever suite against the wrapped retriever."""

    @property
    def retriever_constructor(self) -> type:
        return _retriever_class()

    @property
    def retriever_query_example(self) -> str:
        return CORPUS["question"]


def test_the_standard_suite_is_collected() -> None:
    # Imported unguarded above, so a broken langchain-tests is a collection error; and should
    # its base class ever lose its tests, this fails instead of the suite silently vanishing.
    tests = [name for name in dir(TestCompressedRetrieverStandard) if name.startswith("test_")]
    assert len(tests) >= 4, tests


# --- LlamaIndex: a vector index and a query engine with a recording LLM ---------------------


@pytest.mark.models
@pytest.mark.parametrize("use_async", [False, True])
def test_query_engine_sends_the_compressed_context_to_the_llm(use_async: bool) -> None:
    import asyncio

    from llama_index.core import VectorStoreIndex
    from llama_index.core.instrumentation import get_dispatcher
    from llama_index.core.instrumentation.event_handlers import BaseEventHandler
    from llama_index.core.query_engine import RetrieverQueryEngine
    from llama_index.core.schema import TextNode
    from llamaindex_models import MiniLMEmbedding, RecordingLLM

    from tersify.integrations.llamaindex import TersifyCompressionEvent, TersifyPostprocessor

    events: list[Any] = []

    class Collect(BaseEventHandler):
        def handle(self, event: Any, **kwargs: Any) -> None:
            if isinstance(event, TersifyCompressionEvent):
                events.append(event)

    get_dispatcher().add_event_handler(Collect())
    nodes = [TextNode(text=d["text"], id_=d["id"], metadata={"source": d["source"]})
             for d in CORPUS["documents"]]
    index = VectorStoreIndex(nodes, embed_model=MiniLMEmbedding())
    llm = RecordingLLM()
    engine = RetrieverQueryEngine.from_args(
        index.as_retriever(similarity_top_k=6), llm=llm,
        node_postprocessors=[TersifyPostprocessor(target_ratio=0.3)])
    question = CORPUS["question"]
    response = asyncio.run(engine.aquery(question)) if use_async else engine.query(question)
    prompt = llm.prompts[-1]
    kept = response.source_nodes
    assert kept and all(n.node.get_content() in prompt for n in kept)
    assert CORPUS["answer"] in prompt and CORPUS["answer"] in str(response)
    assert "tersify" not in prompt and "relevance" not in prompt  # stats stay out of the LLM text
    assert sum(len(n.node.get_content()) for n in kept) < 0.5 * sum(
        len(d["text"]) for d in CORPUS["documents"][:6])
    assert all(n.node.node_id in {d["id"] for d in CORPUS["documents"]} for n in kept)
    assert events and events[-1].nodes_in == 6 and events[-1].nodes_out == len(kept)


def test_llamaindex_keeps_ids_relationships_and_scores_on_copies() -> None:
    from llama_index.core.schema import (
        NodeRelationship,
        NodeWithScore,
        RelatedNodeInfo,
        TextNode,
    )

    from tersify.integrations.llamaindex import TersifyPostprocessor

    nodes = []
    for i, d in enumerate(CORPUS["documents"]):
        node = TextNode(text=d["text"], id_=d["id"], metadata={"source": d["source"]},
                        excluded_llm_metadata_keys=["source"])
        node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=f"file-{i}")
        nodes.append(NodeWithScore(node=node, score=0.9 - i / 20))
    before = [n.model_dump() for n in nodes]
    out = TersifyPostprocessor(target_ratio=0.4).postprocess_nodes(
        nodes, query_str=CORPUS["question"])
    assert [n.model_dump() for n in nodes] == before  # the input is untouched
    by_id = {n.node.node_id: n for n in nodes}
    for n in out:
        source = by_id[n.node.node_id]
        assert n.score == source.score and n.node is not source.node
        assert n.node.relationships == source.node.relationships
        assert n.node.excluded_llm_metadata_keys == ["source", "tersify"]
        assert "tersify" in n.node.excluded_embed_metadata_keys
        stats = n.node.metadata["tersify"]
        assert 0 < stats["compressed_tokens"] <= stats["original_tokens"]


def test_llamaindex_writes_the_relevance_as_the_score_when_asked() -> None:
    from llama_index.core.schema import NodeWithScore, TextNode

    from tersify.integrations.llamaindex import TersifyPostprocessor

    nodes = [NodeWithScore(node=TextNode(text=d["text"], id_=d["id"]), score=0.5)
             for d in CORPUS["documents"]]
    out = TersifyPostprocessor(target_ratio=0.4, set_score=True, relevance_key="relevance",
                               reorder=True).postprocess_nodes(nodes, query_str=CORPUS["question"])
    assert len(out) > 1 and out[0].score == 1.0
    assert [n.score for n in out] == [n.node.metadata["relevance"] for n in out]
    assert all("relevance" in n.node.excluded_llm_metadata_keys for n in out)
    assert all(n.score == 0.5 for n in nodes)  # the input's scores are untouched


def test_langchain_reports_statistics_to_callbacks() -> None:
    from langchain_core.callbacks import BaseCallbackHandler
    from langchain_core.documents import Document

    from tersify.integrations.langchain import TersifyCompressor

    seen: list[tuple[str, Any]] = []

    class Handler(BaseCallbackHandler):
        def on_custom_event(self, name: str, data: Any, **kwargs: Any) -> None:
            seen.append((name, data))

    docs = [Document(page_content=d["text"]) for d in CORPUS["documents"]]
    out = TersifyCompressor(target_ratio=0.3).compress_documents(
        docs, CORPUS["question"], callbacks=[Handler()])
    assert seen and seen[0][0] == "tersify_compression"
    assert seen[0][1]["documents_out"] == len(out)
    assert seen[0][1]["compressed_tokens"] < seen[0][1]["original_tokens"]
