"""What the LangChain and LlamaIndex adapters share: options, back end, request, statistics.

One compression covers the whole document set: the documents become the request's contexts and
the query its question, so the budget (``target_ratio`` of the documents' tokens, or
``target_tokens``) is shared by all documents. It counts what the adapter returns, the
documents (``budget_scope="contexts"``): the query, which the adapter does not return, is not
charged to it (``budget_scope="prompt"`` charges the query and ``instruction`` too, as the engine
does by default; ``reserved_tokens`` keeps room in ``target_tokens`` for a prompt template). The
most relevant document keeps at least its best sentence (``min_documents=1``), so a small budget
never returns nothing silently. Without a query the compression is question-agnostic (the
scorer sees an empty question and ranks by content).

After compression, ``relevance_threshold`` and ``top_n`` drop the least relevant of the kept
documents (relevance is 0-1 within the set, 1 for the best) and ``reorder`` orders the rest.
``score_metadata`` names metadata fields (titles, headings) scored with each document's text: they
go in front of it as lines for the compression and are cut out of what it returns.
"""

from __future__ import annotations

import copy
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import fields, replace
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field, PrivateAttr

from tersify.assemble import doc_order, slices_of, spell
from tersify.compressor import Compressor
from tersify.errors import InvalidRequestError
from tersify.presets import get_preset
from tersify.scorers import available_scorers
from tersify.types import (
    BudgetScope,
    CompressionRequest,
    CompressionResult,
    Document,
    DocumentResult,
    Granularity,
    Reorder,
    Span,
)

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
    budget_scope: BudgetScope = "contexts"
    reserved_tokens: int = Field(default=0, ge=0)
    min_documents: int = Field(default=1, ge=0)
    scorer: str | None = _REQUEST_DEFAULTS["scorer"]
    policy: str = _REQUEST_DEFAULTS["policy"]
    instruction: str = _REQUEST_DEFAULTS["instruction"]
    force_keep: list[str] = Field(default_factory=list)
    force_keep_patterns: list[str] = Field(default_factory=list)
    preserve_first: int = Field(default=_REQUEST_DEFAULTS["preserve_first"], ge=0)
    preserve_last: int = Field(default=_REQUEST_DEFAULTS["preserve_last"], ge=0)
    keep_digits: bool = _REQUEST_DEFAULTS["keep_digits"]
    dedupe: bool = _REQUEST_DEFAULTS["dedupe"]
    granularity: Granularity | None = _REQUEST_DEFAULTS["granularity"]
    # Order of the returned documents: False/"original" as given, True/"relevance" best first,
    # "edges" best at both ends (against "lost in the middle").
    reorder: bool | Reorder = False
    top_n: int | None = Field(default=None, ge=1)
    relevance_threshold: float | None = Field(default=None, ge=0, le=1)
    score_metadata: list[str] = Field(default_factory=list)
    fail_open: bool = False
    # Where each document's statistics go in its metadata; None leaves the metadata as it was
    # (a user key of the same name is never overwritten: pick another name for ours).
    metadata_key: str | None = METADATA_KEY
    # A metadata key for the relevance alone (as rerankers write ``relevance_score``).
    relevance_key: str | None = None
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


Item = tuple[str, Mapping[str, Any]]  # a document's text and metadata


def header_of(metadata: Mapping[str, Any], keys: Sequence[str]) -> str:
    """The lines scored in front of a document: its values of ``keys`` that are present."""
    return "".join(f"{metadata[k]}\n" for k in keys if metadata.get(k) not in (None, ""))


def build_request(items: Sequence[Item], query: str | None,
                  options: AdapterOptions) -> CompressionRequest:
    """The request for one document set (document ids are their positions).

    Raises:
        InvalidRequestError: ``reserved_tokens`` without room for a document in the budget.
    """
    target_tokens = options.target_tokens
    if options.reserved_tokens:
        if target_tokens is None or target_tokens <= options.reserved_tokens:
            raise InvalidRequestError(
                f"reserved_tokens={options.reserved_tokens} needs a larger target_tokens "
                f"(got {target_tokens}): it is taken from that budget")
        target_tokens -= options.reserved_tokens
    texts = [header_of(meta, options.score_metadata) + text for text, meta in items]
    return CompressionRequest(
        contexts=[Document(text=t, id=str(i)) for i, t in enumerate(texts)],
        question=query or "", instruction=options.instruction,
        target_ratio=options.target_ratio, target_tokens=target_tokens,
        budget_scope=options.budget_scope, min_documents=options.min_documents,
        scorer=options.scorer, policy=options.policy, force_keep=tuple(options.force_keep),
        force_keep_patterns=tuple(options.force_keep_patterns),
        preserve_first=options.preserve_first, preserve_last=options.preserve_last,
        keep_digits=options.keep_digits, dedupe=options.dedupe, granularity=options.granularity)


def compress(adapter: AdapterOptions, items: Sequence[Item],
             query: str | None) -> CompressionResult | None:
    """Compress the set with the adapter's back end and options; None when the server is down
    and ``fail_open`` (a warning says so).

    Call it with at least one document (the adapters return ``[]`` for an empty set themselves).
    """
    request = build_request(items, query, adapter)
    try:
        return backend_of(adapter).compress(request)
    except Exception as exc:
        _fail_open_or_raise(exc, adapter.fail_open)
        return None


async def acompress(adapter: AdapterOptions, items: Sequence[Item],
                    query: str | None) -> CompressionResult | None:
    """:func:`compress` without blocking: the client's async path, else a worker thread."""
    import asyncio

    request = build_request(items, query, adapter)
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


def returned(result: CompressionResult, items: Sequence[Item],
             options: AdapterOptions) -> list[DocumentResult]:
    """The documents to return, in the adapter's order: those that kept something of their
    own text, above ``relevance_threshold``, the ``top_n`` most relevant; each with its spans
    and text in its own text's coordinates (scored metadata lines cut out)."""
    docs = [_without_header(d, items[d.index][0],
                            len(header_of(items[d.index][1], options.score_metadata)))
            for d in result.documents]
    kept = [d for d in docs if d.kept and d.relevance >= (options.relevance_threshold or 0.0)]
    if options.top_n is not None:
        best = sorted(kept, key=lambda d: (-d.relevance, d.index))[:options.top_n]
        kept = sorted(best, key=lambda d: d.index)
    reorder = options.reorder
    order = {True: "relevance", False: "original"}.get(reorder, reorder)  # type: ignore[arg-type]
    return [kept[i] for i in doc_order(str(order), [d.relevance for d in kept])]


def _without_header(doc: DocumentResult, text: str, header: int) -> DocumentResult:
    if not header:
        return doc
    spans = [Span(start=max(s.start, header) - header, end=s.end - header)
             for s in doc.spans if s.end > header]
    return replace(doc, spans=tuple(spans), text=spell(slices_of(text, spans)))


def with_stats(metadata: Mapping[str, Any], stats: Mapping[str, Any],
               options: AdapterOptions) -> dict[str, Any]:
    """A deep copy of ``metadata`` with the statistics under ``metadata_key`` and the relevance
    under ``relevance_key`` (the input is never mutated); without keys, the copy alone.

    Raises:
        InvalidRequestError: ``metadata`` already holds one of the keys (the user's own value).
    """
    copied = copy.deepcopy(dict(metadata))
    added = {options.metadata_key: dict(stats), options.relevance_key: stats["relevance"]}
    for key, value in added.items():
        if key is None:
            continue
        if key in copied:
            option = "metadata_key" if key == options.metadata_key else "relevance_key"
            raise InvalidRequestError(
                f"a document's metadata already has the key {key!r}: give the adapter another "
                f"{option}, or None for none")
        copied[key] = value
    return copied
