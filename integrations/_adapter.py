"""What the LangChain and LlamaIndex adapters share: settings, back end, request, statistics.

One compression covers the whole document set: the documents become the request's contexts and
the query its question, so the budget (``target_ratio`` of the original tokens, or
``target_tokens``) is shared by all documents and, as everywhere in tersify, counts the query
too: the compressed documents get the budget minus the query's tokens. Without a query the
compression is question-agnostic (the scorer sees an empty question and ranks by content).
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from tersify.compressor import Compressor
from tersify.types import CompressionRequest, CompressionResult, Document, DocumentResult

__all__ = ["AdapterSettings", "Backend", "acompress", "backend_of", "compress", "settings_of",
           "stats_of"]

METADATA_KEY = "tersify"


class Backend(Protocol):
    """A local :class:`tersify.Compressor` or a :class:`TersifyClient`."""

    def compress(self, request: CompressionRequest | None = None, /,
                 **fields: Any) -> CompressionResult: ...


@dataclass(frozen=True, kw_only=True)
class AdapterSettings:
    """The adapter options that shape each request."""

    target_ratio: float | Literal["auto"] | None = 0.5
    target_tokens: int | None = None
    scorer: str | None = None
    policy: str = "tersify"
    force_keep: Sequence[str] = field(default_factory=tuple)
    fail_open: bool = False


def settings_of(adapter: Any) -> AdapterSettings:
    """The request options of an adapter (both adapters declare the same option fields)."""
    return AdapterSettings(
        target_ratio=adapter.target_ratio, target_tokens=adapter.target_tokens,
        scorer=adapter.scorer, policy=adapter.policy, force_keep=tuple(adapter.force_keep),
        fail_open=adapter.fail_open)


def backend_of(adapter: Any) -> Backend:
    """The adapter's back end, made once and kept in its ``_backend``: the given
    ``compressor``, else a client for ``base_url``, else ``Compressor(preset=preset)``."""
    if adapter._backend is None:
        if adapter.compressor is not None:
            adapter._backend = adapter.compressor
        elif adapter.base_url:
            from tersify.integrations.client import TersifyClient

            key = adapter.api_key
            key = key.get_secret_value() if hasattr(key, "get_secret_value") else key
            adapter._backend = TersifyClient(adapter.base_url, api_key=key)
        else:
            adapter._backend = Compressor(preset=adapter.preset)
    return adapter._backend  # type: ignore[no-any-return]


def build_request(texts: Sequence[str], query: str | None,
                  settings: AdapterSettings) -> CompressionRequest:
    """The request for one document set (document ids are their positions)."""
    return CompressionRequest(
        contexts=[Document(text=t, id=str(i)) for i, t in enumerate(texts)],
        question=query or "",
        target_ratio=settings.target_ratio, target_tokens=settings.target_tokens,
        scorer=settings.scorer, policy=settings.policy, force_keep=tuple(settings.force_keep))


def compress(adapter: Any, texts: Sequence[str], query: str | None) -> CompressionResult | None:
    """Compress the set with the adapter's back end and options; None when the server is down
    and ``fail_open`` (a warning says so).

    Call it with at least one text (the adapters return ``[]`` for an empty set themselves).
    """
    settings = settings_of(adapter)
    request = build_request(texts, query, settings)
    try:
        return backend_of(adapter).compress(request)
    except Exception as exc:
        _fail_open_or_raise(exc, settings)
        return None


async def acompress(adapter: Any, texts: Sequence[str],
                    query: str | None) -> CompressionResult | None:
    """:func:`compress` without blocking: the client's async path, else a worker thread."""
    import asyncio

    settings = settings_of(adapter)
    request = build_request(texts, query, settings)
    backend = backend_of(adapter)
    try:
        native = getattr(backend, "acompress", None)
        if native is not None:
            return await native(request)  # type: ignore[no-any-return]
        return await asyncio.to_thread(backend.compress, request)
    except Exception as exc:
        _fail_open_or_raise(exc, settings)
        return None


def _fail_open_or_raise(exc: Exception, settings: AdapterSettings) -> None:
    """Warn when the server is down and ``fail_open``; re-raise anything else."""
    from tersify.integrations.client import ServerUnavailableError

    if not (settings.fail_open and isinstance(exc, ServerUnavailableError)):
        raise exc
    warnings.warn(f"tersify server unavailable, documents passed through uncompressed: {exc}",
                  RuntimeWarning, stacklevel=4)


def stats_of(doc: DocumentResult, result: CompressionResult) -> dict[str, Any]:
    """The per-document statistics the adapters put under ``metadata["tersify"]``."""
    return {
        "relevance": doc.relevance,
        "original_tokens": doc.original_tokens,
        "compressed_tokens": doc.compressed_tokens,
        "spans": [[s.start, s.end] for s in doc.spans],
        "policy": result.policy,
        "scorer": result.scorer,
    }


def kept_order(result: CompressionResult, by_relevance: bool) -> list[DocumentResult]:
    """The documents that kept something, in input order or by falling relevance."""
    kept = [d for d in result.documents if d.kept]
    return sorted(kept, key=lambda d: (-d.relevance, d.index)) if by_relevance else kept


def with_stats(metadata: Mapping[str, Any], stats: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``metadata`` with the statistics added (the input is never mutated)."""
    return {**copy.deepcopy(dict(metadata)), METADATA_KEY: dict(stats)}
