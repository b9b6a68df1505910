"""LlamaIndex node postprocessor (extra ``llamaindex``: needs ``llama-index-core`` only).

>>> from tersify.integrations.llamaindex import TersifyPostprocessor
>>> engine = index.as_query_engine(  # doctest: +SKIP
...     node_postprocessors=[TersifyPostprocessor(target_ratio=0.3)])

Each node is compressed separately under one budget shared by all of them (see
tersify.integrations._adapter). The returned nodes are copies: same node ids, metadata,
relationships and scores (``set_score=True``: the relevance instead), compressed text, and
``metadata["tersify"]`` with relevance, tokens before/after and kept spans, excluded from the
LLM and embedding text. Nodes that keep nothing are dropped; ``reorder=True`` sorts the rest by
relevance; ``top_n``, ``relevance_threshold`` and every engine option are there too. Without a
query (``query_bundle`` is None) the compression is question-agnostic: it ranks by content
alone. Each call emits a :class:`TersifyCompressionEvent` through LlamaIndex's instrumentation
dispatcher.
"""

from __future__ import annotations

from tersify._optional import require

require("llama_index.core", extra="llamaindex")

from llama_index.core import instrumentation  # noqa: E402
from llama_index.core.bridge.pydantic import ConfigDict, Field  # noqa: E402
from llama_index.core.instrumentation.events import BaseEvent  # noqa: E402
from llama_index.core.postprocessor.types import BaseNodePostprocessor  # noqa: E402
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle  # noqa: E402

from tersify.integrations import _adapter  # noqa: E402
from tersify.types import CompressionResult  # noqa: E402

__all__ = ["TersifyCompressionEvent", "TersifyPostprocessor"]

dispatcher = instrumentation.get_dispatcher(__name__)  # type: ignore[attr-defined]


class TersifyCompressionEvent(BaseEvent):
    """One compression: token counts and node counts (``failed_open`` when passed through)."""

    original_tokens: int = 0
    compressed_tokens: int = 0
    nodes_in: int = 0
    nodes_out: int = 0
    failed_open: bool = False

    @classmethod
    def class_name(cls) -> str:
        return "TersifyCompressionEvent"


class TersifyPostprocessor(BaseNodePostprocessor, _adapter.AdapterOptions):
    """Compress retrieved nodes under one token budget for the whole set (options: see
    tersify.integrations._adapter.AdapterOptions)."""

    # A misspelt option (target_ration=0.1) is an error, as in the LangChain adapter.
    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    api_key: str | None = Field(default=None, exclude=True)
    # Write each node's relevance (0-1 within the set) into NodeWithScore.score, as a reranker
    # does; off, the retriever's score stays.
    set_score: bool = False

    @classmethod
    def class_name(cls) -> str:
        return "TersifyPostprocessor"

    def _postprocess_nodes(self, nodes: list[NodeWithScore],
                           query_bundle: QueryBundle | None = None) -> list[NodeWithScore]:
        if not nodes:  # a retriever with no hits
            return []
        query = query_bundle.query_str if query_bundle else None
        result = _adapter.compress(self, _items(nodes), query)
        return self._rebuild(nodes, result)

    async def _apostprocess_nodes(self, nodes: list[NodeWithScore],
                                  query_bundle: QueryBundle | None = None) -> list[NodeWithScore]:
        if not nodes:
            return []
        query = query_bundle.query_str if query_bundle else None
        result = await _adapter.acompress(self, _items(nodes), query)
        return self._rebuild(nodes, result)

    def _rebuild(self, nodes: list[NodeWithScore],
                 result: CompressionResult | None) -> list[NodeWithScore]:
        if result is None:  # failed open: copies of the input
            dispatcher.event(TersifyCompressionEvent(nodes_in=len(nodes), nodes_out=len(nodes),
                                                     failed_open=True))
            return [NodeWithScore(node=n.node.model_copy(deep=True), score=n.score)
                    for n in nodes]
        out = []
        for doc in _adapter.returned(result, _items(nodes), self):
            source = nodes[doc.index]
            node = source.node.model_copy(deep=True)
            node.set_content(doc.text)
            node.metadata = _adapter.with_stats(node.metadata, _adapter.stats_of(doc, result),
                                                self)
            for excluded in (node.excluded_llm_metadata_keys, node.excluded_embed_metadata_keys):
                excluded.extend(k for k in (self.metadata_key, self.relevance_key)
                                if k is not None and k not in excluded)
            out.append(NodeWithScore(node=node,
                                     score=doc.relevance if self.set_score else source.score))
        dispatcher.event(TersifyCompressionEvent(
            original_tokens=result.stats.original_tokens,
            compressed_tokens=result.stats.compressed_tokens,
            nodes_in=len(nodes), nodes_out=len(out)))
        return out


def _items(nodes: list[NodeWithScore]) -> list[_adapter.Item]:
    return [(n.node.get_content(metadata_mode=MetadataMode.NONE), n.node.metadata)
            for n in nodes]
