"""LangChain document compressor (extra ``langchain``: needs ``langchain-core`` only).

>>> from tersify.integrations.langchain import TersifyCompressor
>>> compressor = TersifyCompressor(target_ratio=0.3)
>>> docs = compressor.compress_documents(retrieved_docs, "who won?")  # doctest: +SKIP

Returns new ``Document`` objects (the input is never mutated): compressed ``page_content``, the
original metadata and id, and ``metadata["tersify"]`` with relevance, tokens before/after and the
kept character spans. Documents that keep nothing are dropped; ``reorder=True`` sorts the rest by
relevance. The budget covers the whole set of documents, the best of which keeps at least a
sentence; ``top_n``, ``relevance_threshold``, ``relevance_key`` and every engine option are there
too (see tersify.integrations._adapter). Give a
``compressor`` (a local ``tersify.Compressor``) or a ``base_url`` (a tersify server), else a local
``Compressor(preset=preset)`` is made on first use; ``fail_open=True`` passes documents through
with a warning when the server is down.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

from tersify._optional import require

require("langchain_core", extra="langchain")

from langchain_core.callbacks import CallbackManager, Callbacks  # noqa: E402
from langchain_core.documents import BaseDocumentCompressor, Document  # noqa: E402
from langchain_core.load.serializable import (  # noqa: E402
    Serializable,
    SerializedConstructor,
    SerializedNotImplemented,
)
from pydantic import ConfigDict, SecretStr  # noqa: E402

from tersify.integrations import _adapter  # noqa: E402
from tersify.types import CompressionResult  # noqa: E402

__all__ = ["TersifyCompressor"]


class TersifyCompressor(BaseDocumentCompressor, Serializable, _adapter.AdapterOptions):
    """Compress retrieved documents under one token budget for the whole set (options: see
    tersify.integrations._adapter.AdapterOptions)."""

    api_key: SecretStr | None = None

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    @classmethod
    def is_lc_serializable(cls) -> bool:
        return True

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        return ["tersify", "integrations", "langchain"]

    def to_json(self) -> SerializedConstructor | SerializedNotImplemented:
        """LangChain's serialized form; a ``compressor`` instance is written as the preset,
        tokenizer and scorer that rebuild it (see ``_adapter.described``)."""
        if self.compressor is None:
            return super().to_json()
        engine = _adapter.described(self)
        return self.model_copy(update={"compressor": None, **engine}).to_json()

    @property
    def lc_secrets(self) -> dict[str, str]:
        return {"api_key": _adapter.API_KEY_VARIABLE}

    def compress_documents(self, documents: Sequence[Document], query: str,
                           callbacks: Callbacks | None = None) -> Sequence[Document]:
        """New, compressed documents for ``query`` (see the module docstring)."""
        if not documents:  # a retriever with no hits
            return []
        items = [(d.page_content, d.metadata) for d in documents]
        result = _adapter.compress(self, items, query)
        return self._documents(documents, result, callbacks)

    async def acompress_documents(self, documents: Sequence[Document], query: str,
                                  callbacks: Callbacks | None = None) -> Sequence[Document]:
        """:meth:`compress_documents` without blocking the event loop."""
        if not documents:
            return []
        items = [(d.page_content, d.metadata) for d in documents]
        result = await _adapter.acompress(self, items, query)
        return self._documents(documents, result, callbacks)

    def _documents(self, documents: Sequence[Document], result: CompressionResult | None,
                   callbacks: Callbacks | None) -> list[Document]:
        if result is None:  # failed open: the input, as copies
            return [Document(page_content=d.page_content, metadata=copy.deepcopy(d.metadata),
                             id=d.id) for d in documents]
        items = [(d.page_content, d.metadata) for d in documents]
        out = [Document(page_content=r.text, id=documents[r.index].id,
                        metadata=_adapter.with_stats(documents[r.index].metadata,
                                                     _adapter.stats_of(r, result), self))
               for r in _adapter.returned(result, items, self)]
        if callbacks:
            CallbackManager.configure(inheritable_callbacks=callbacks).on_custom_event(
                "tersify_compression", result.stats.__dict__ | {"documents_out": len(out)})
        return out
