"""What the LangChain and LlamaIndex adapters share: options, back end, request, statistics.

One compression covers the whole document set: the documents become the request's contexts and
the query its question, so the budget (``target_ratio`` of the original tokens, or
``target_tokens``) is shared by all documents and, as everywhere in tersify, counts the query
too: the compressed documents get the budget minus the query's tokens. Without a query the
compression is question-agnostic (the scorer sees an empty question and ranks by content).
"""

from __future__ import annotations

import copy
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import fields
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field, PrivateAttr

from tersify.compressor import Compressor
from tersify.errors import InvalidRequestError
from tersify.presets import get_preset
from tersify.scorers import available_scorers
from tersify.types import CompressionRequest, CompressionResult, Document, DocumentResult

__all__ = ["AdapterOptions", "Backend", "acompress", "backend_of", "compress", "stats_of"]

METADATA_KEY = "tersify"
API_KEY_VARIABLE = "TERSIFY_API_KEY"
# The engine's request defaults: the adapters' options that are request fields default to them.
_REQUEST_DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(CompressionRequest)}


class Backend(Protocol):
    """A local :class:`tersify.Compressor` or a :class:`TersifyClient`."""

    def compress(self, request: CompressionRequest | None = None, /,
                 **fields: Any) -> CompressionResult: ...


class AdapterOptions(BaseModel):
    """The option fields both adapters declare (a pydantic base of each; ``api_key`` stays with
    each adapter, which stores it its framework's way)."""

    compressor: Any = Field(default=None, exclude=True)
    base_url: str | None = None
    preset: str = "fast"
    tokenizer: str = "cl100k_base"
    target_ratio: float | Literal["auto"] | None = _REQUEST_DEFAULTS["target_ratio"]
    target_tokens: int | None = _REQUEST_DEFAULTS["target_tokens"]
    scorer: str | None = _REQUEST_DEFAULTS["scorer"]
    policy: str = _REQUEST_DEFAULTS["policy"]
    force_keep: list[str] = Field(default_factory=list)
    reorder: bool = False
    fail_open: bool = False
    # Where each document's statistics go in its metadata; None leaves the metadata as it was
    # (a user key of the same name is never overwritten: pick another name for ours).
    metadata_key: str | None = METADATA_KEY
    _backend: Any = PrivateAttr(default=None)


def backend_of(adapter: AdapterOptions) -> Backend:
    """The adapter's back end, made once and kept in its ``_backend``: the given
    ``compressor``, else a client for ``base_url``, else ``Compressor(preset, tokenizer)``."""
    if adapter._backend is None:
        if adapter.compressor is not None:
            adapter._backend = adapter.compressor
        elif adapter.base_url:
            from tersify.integrations.client import TersifyClient

            local_only = {"preset", "tokenizer"} & adapter.model_fields_set
            if local_only:
                raise InvalidRequestError(
                    f"{' and '.join(sorted(local_only))} choose the local engine; a server "
                    "(base_url) uses its own (tersify serve --preset); scorer= goes with each "
                    "request")

            key: Any = getattr(adapter, "api_key", None)  # SecretStr (LangChain) or str
            key = key.get_secret_value() if hasattr(key, "get_secret_value") else key
            # As LangChain's own integrations do: the environment when no key is given.
            key = key or os.environ.get(API_KEY_VARIABLE) or None
            adapter._backend = TersifyClient(adapter.base_url, api_key=key)
        else:
            adapter._backend = Compressor(preset=adapter.preset, tokenizer=adapter.tokenizer)
    return adapter._backend  # type: ignore[no-any-return]


def described(adapter: AdapterOptions) -> dict[str, Any]:
    """The options that rebuild the adapter's engine without the ``compressor`` instance
    (which no serializer can carry): its preset, tokenizer and scorer.

    Raises:
        ValueError: The compressor's scorer or tokenizer is an instance, not a name.
    """
    engine = adapter.compressor
    if engine is None:
        return {}
    scorer = engine.default_scorer
    if scorer not in available_scorers() or not isinstance(engine.tokens.name, str):
        raise ValueError("this compressor has a scorer or tokenizer of its own: build the "
                         "adapter from preset=, tokenizer= and scorer= to serialize it")
    return {"preset": engine.preset, "tokenizer": engine.tokens.name,
            "scorer": adapter.scorer or (None if scorer == get_preset(engine.preset).scorer
                                         else scorer)}


def build_request(texts: Sequence[str], query: str | None,
                  options: AdapterOptions) -> CompressionRequest:
    """The request for one document set (document ids are their positions)."""
    return CompressionRequest(
        contexts=[Document(text=t, id=str(i)) for i, t in enumerate(texts)],
        question=query or "",
        target_ratio=options.target_ratio, target_tokens=options.target_tokens,
        scorer=options.scorer, policy=options.policy, force_keep=tuple(options.force_keep))


def compress(adapter: AdapterOptions, texts: Sequence[str],
             query: str | None) -> CompressionResult | None:
    """Compress the set with the adapter's back end and options; None when the server is down
    and ``fail_open`` (a warning says so).

    Call it with at least one text (the adapters return ``[]`` for an empty set themselves).
    """
    request = build_request(texts, query, adapter)
    try:
        return backend_of(adapter).compress(request)
    except Exception as exc:
        _fail_open_or_raise(exc, adapter.fail_open)
        return None


async def acompress(adapter: AdapterOptions, texts: Sequence[str],
                    query: str | None) -> CompressionResult | None:
    """:func:`compress` without blocking: the client's async path, else a worker thread."""
    import asyncio

    request = build_request(texts, query, adapter)
    backend = backend_of(adapter)
    try:
        native = getattr(backend, "acompress", None)
        if native is not None:
            return await native(request)  # type: ignore[no-any-return]
        return await asyncio.to_thread(backend.compress, request)
    except Exception as exc:
        _fail_open_or_raise(exc, adapter.fail_open)
        return None


def _fail_open_or_raise(exc: Exception, fail_open: bool) -> None:
    """Warn when the server is down and ``fail_open``; re-raise anything else."""
    from tersify.integrations.client import ServerUnavailableError

    if not (fail_open and isinstance(exc, ServerUnavailableError)):
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


def with_stats(metadata: Mapping[str, Any], stats: Mapping[str, Any],
               key: str | None) -> dict[str, Any]:
    """A deep copy of ``metadata`` with the statistics under ``key`` (the input is never
    mutated); without a key, the copy alone.

    Raises:
        InvalidRequestError: ``metadata`` already holds ``key`` (the user's own value).
    """
    copied = copy.deepcopy(dict(metadata))
    if key is None:
        return copied
    if key in copied:
        raise InvalidRequestError(
            f"a document's metadata already has the key {key!r}: give the adapter another "
            "metadata_key for tersify's statistics, or None for none")
    return {**copied, key: dict(stats)}
