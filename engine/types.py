"""Frozen, keyword-only value types: the request going in and the result coming out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, get_args

from tersify._checks import (
    entries,
    patterns,
    require,
    require_choice,
    require_count,
    require_metadata,
    require_name,
    require_unicode,
    shown,
    strings,
)
from tersify.errors import InvalidRequestError

__all__ = [
    "BUDGET_SCOPES",
    "DOCUMENT_KINDS",
    "GRANULARITIES",
    "REORDERS",
    "BudgetScope",
    "CompressionRequest",
    "CompressionResult",
    "CompressionStats",
    "Document",
    "DocumentKind",
    "DocumentResult",
    "Granularity",
    "Reorder",
    "Span",
]

# The one place these values are written: the checks below and the server's schemas (and so its
# OpenAPI) read them from here.
Reorder = Literal["original", "relevance", "edges"]
Granularity = Literal["word", "sentence", "document"]
BudgetScope = Literal["prompt", "contexts"]
DocumentKind = Literal["auto", "text", "code"]
REORDERS: tuple[Reorder, ...] = get_args(Reorder)
GRANULARITIES: tuple[Granularity, ...] = get_args(Granularity)
BUDGET_SCOPES: tuple[BudgetScope, ...] = get_args(BudgetScope)
DOCUMENT_KINDS: tuple[DocumentKind, ...] = get_args(DocumentKind)
MAX_FORCE_KEEP = 200


@dataclass(frozen=True, kw_only=True)
class Document:
    """One context document.

    Args:
        text: The document's text.
        id: An optional caller identifier, echoed in the result.
        metadata: Optional caller data, echoed in the result untouched.
        kind: ``code`` for source code, cut into blocks (a function, a class, a group of
            statements) that are kept or dropped whole; ``text`` for prose and markdown, cut
            into sentences and markdown blocks; ``auto`` (default) tells them apart by the
            text's lines.
    """

    text: str
    id: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    kind: DocumentKind = "auto"

    def __post_init__(self) -> None:
        require("document text", self.text, str, "a string")
        require("document id", self.id, (str, type(None)), "a string or None")
        require_metadata("document metadata", self.metadata)
        require_choice("document kind", self.kind, DOCUMENT_KINDS)


@dataclass(frozen=True, kw_only=True)
class Span:
    """A kept piece of a document: ``document.text[start:end]``."""

    start: int
    end: int


@dataclass(frozen=True, kw_only=True)
class CompressionRequest:
    """Everything one compression needs.

    Give either ``contexts`` (the documents, least sensitive to compression) or a whole
    ``prompt`` (compressed as one context). ``instruction`` and ``question`` are kept verbatim;
    the question steers scoring. The budget is ``target_tokens`` if set, else ``target_ratio``
    (``0 < r <= 1`` or ``"auto"``), counted in the target tokenizer over the whole compressed
    prompt, or with ``budget_scope="contexts"`` over the contexts alone (the instruction and
    question then come on top: what a framework adapter returns is the documents).

    Args:
        contexts: Documents to compress (strings are wrapped into :class:`Document`).
        prompt: A whole prompt to compress instead of ``contexts``.
        instruction: Text placed first in the prompt, kept verbatim.
        question: The user's question, placed last, kept verbatim.
        target_ratio: Kept fraction of the original prompt's tokens, or ``"auto"``.
        target_tokens: Absolute token budget for the whole compressed prompt (or the contexts).
        budget_scope: What the budget counts: ``prompt`` (everything) or ``contexts``.
        min_documents: The most relevant documents that keep at least their best unit even
            when that is over the budget (``budget_met`` then says so).
        force_keep: Literal strings that always survive wherever they occur.
        force_keep_patterns: Regular expressions whose matches always survive.
        preserve_first: Units (sentences, lines) kept verbatim at the start of each document.
        preserve_last: Units kept verbatim at the end of each document.
        keep_digits: Never prune a word that contains a digit from a kept unit (nor leave it
            out of a filled part of one).
        dedupe: Keep a sentence once: a unit whose words repeat, or nearly repeat, those of a
            unit already kept (in any document) is not kept again, unless it holds a forced
            word; its budget goes to the next best text. ``False`` keeps every copy.
        reorder: Document order in the output: ``original``, ``relevance`` or ``edges``.
        granularity: Smallest unit removed: ``word``, ``sentence`` or ``document``. Unset, the
            policy's (``word`` for ``tersify``) with each document keeping at least one whole
            unit or nothing; ``word`` explicitly lifts that rule.
        policy: Name of the compression policy (see :func:`tersify.available_policies`).
        scorer: Name of the scorer; ``None`` uses the compressor's default.
    """

    contexts: Sequence[Document | str] = ()
    prompt: str | None = None
    instruction: str = ""
    question: str = ""
    target_ratio: float | Literal["auto"] | None = 0.5
    target_tokens: int | None = None
    budget_scope: BudgetScope = "prompt"
    min_documents: int = 0
    force_keep: Sequence[str] = ()
    force_keep_patterns: Sequence[str] = ()
    preserve_first: int = 0
    preserve_last: int = 0
    keep_digits: bool = False
    dedupe: bool = True
    reorder: Reorder = "original"
    granularity: Granularity | None = None
    policy: str = "tersify"
    scorer: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "contexts", self._documents())
        object.__setattr__(self, "force_keep", strings("force_keep", self.force_keep))
        object.__setattr__(self, "force_keep_patterns",
                           patterns("force_keep_patterns", self.force_keep_patterns))
        if len(self.force_keep) + len(self.force_keep_patterns) > MAX_FORCE_KEEP:
            raise InvalidRequestError(f"at most {MAX_FORCE_KEEP} force_keep strings and patterns")
        self._check_texts()
        self._check_budget()
        self._check_settings()

    def _documents(self) -> tuple[Document, ...]:
        contexts = entries("contexts", self.contexts, "documents")
        if self.prompt is not None:
            if contexts:
                raise InvalidRequestError("give either contexts or prompt, not both")
            require("prompt", self.prompt, str, "a string")
            return (Document(text=self.prompt),)
        if not contexts:
            raise InvalidRequestError("contexts is empty: give at least one document or a prompt")
        return tuple(_document(i, entry) for i, entry in enumerate(contexts))

    def _check_texts(self) -> None:
        for name in ("instruction", "question"):
            require(name, getattr(self, name), str, "a string")
            require_unicode(name, getattr(self, name))
        for i, doc in enumerate(self.documents):
            require_unicode("prompt" if self.prompt is not None else f"contexts[{i}]", doc.text)

    def _check_budget(self) -> None:
        if self.target_tokens is not None:
            require_count("target_tokens", self.target_tokens, positive=True)
        elif self.target_ratio is None:
            raise InvalidRequestError("set target_ratio or target_tokens")
        _check_ratio(self.target_ratio)  # checked even when target_tokens wins over it
        require_choice("budget_scope", self.budget_scope, BUDGET_SCOPES)
        require_count("min_documents", self.min_documents)

    def _check_settings(self) -> None:
        require_count("preserve_first", self.preserve_first)
        require_count("preserve_last", self.preserve_last)
        require("keep_digits", self.keep_digits, bool, "true or false")
        require("dedupe", self.dedupe, bool, "true or false")
        require_choice("reorder", self.reorder, REORDERS)
        if self.granularity is not None:
            require_choice("granularity", self.granularity, GRANULARITIES)
        # Names are looked up (and unknown ones listed) by get_policy and get_scorer.
        require_name("policy", self.policy)
        require_name("scorer", self.scorer, optional=True)

    @property
    def documents(self) -> tuple[Document, ...]:
        """The contexts as :class:`Document` objects (a prompt becomes one document)."""
        return self.contexts  # type: ignore[return-value]


def _check_ratio(ratio: object) -> None:
    if ratio is None or (isinstance(ratio, str) and ratio == "auto"):
        return
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)):
        raise InvalidRequestError(f"target_ratio must be a number or 'auto', got {shown(ratio)}")
    if not 0 < ratio <= 1:  # NaN fails both comparisons; a huge int never becomes a float
        raise InvalidRequestError(f"target_ratio must be in (0, 1], got {shown(ratio)}")


def _document(index: int, entry: object) -> Document:
    if isinstance(entry, Document):
        return entry
    if isinstance(entry, str):
        return Document(text=entry)
    raise InvalidRequestError(
        f"contexts[{index}] must be a string or a Document, got {shown(entry)}")


@dataclass(frozen=True, kw_only=True)
class DocumentResult:
    """What became of one input document.

    Attributes:
        index: Position of the document in the request.
        id: The document's id, if it had one.
        text: The compressed text (kept spans joined by whitespace from the original).
        spans: Kept character spans into the original text, in order.
        relevance: Relevance to the question, in [0, 1] (1 = most relevant of the set).
        original_tokens: Tokens of the original text.
        compressed_tokens: Tokens of the compressed text.
        metadata: The document's metadata, echoed.
    """

    index: int
    id: str | None
    text: str
    spans: tuple[Span, ...]
    relevance: float
    original_tokens: int
    compressed_tokens: int
    metadata: Mapping[str, Any]

    @property
    def kept(self) -> bool:
        """Whether anything of this document survived."""
        return bool(self.spans)


@dataclass(frozen=True, kw_only=True)
class CompressionStats:
    """Numbers about one compression; token counts are in the target tokenizer.

    Attributes:
        original_tokens: Tokens of the uncompressed prompt.
        compressed_tokens: Tokens of ``compressed_prompt``.
        target_tokens: The budget for the whole prompt (with ``budget_scope="contexts"``, the
            contexts' budget plus the instruction, question and separators).
        original_words: Words of the uncompressed prompt.
        compressed_words: Words of the compressed prompt.
        ratio: ``compressed_tokens / original_tokens`` (1.0 for an empty prompt).
        budget_met: The prompt fits the budget with some context in it: False when the verbatim
            parts (and ``min_documents``) alone exceed it, or when no context survived it.
    """

    original_tokens: int
    compressed_tokens: int
    target_tokens: int
    original_words: int
    compressed_words: int
    ratio: float
    budget_met: bool

    @property
    def compression_factor(self) -> float:
        """How many times smaller the prompt became (``original / compressed``)."""
        return self.original_tokens / self.compressed_tokens if self.compressed_tokens else 1.0


@dataclass(frozen=True, kw_only=True)
class CompressionResult:
    """The outcome of one compression.

    Attributes:
        compressed_prompt: Instruction, compressed contexts and question, ready to send.
        documents: One entry per input document, in input order.
        stats: Token and word counts, ratios.
        policy: The policy that ran.
        scorer: The scorer that ran (``None`` for question-agnostic policies without one).
        tokenizer: The tokenizer the budget was counted in.
        duration_ms: Wall time of the compression.
    """

    compressed_prompt: str
    documents: tuple[DocumentResult, ...]
    stats: CompressionStats
    policy: str
    scorer: str | None
    tokenizer: str
    duration_ms: float

    def text_for(self, index: int) -> str:
        """The compressed text of document ``index``."""
        return self.documents[index].text

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (numbers stay numbers; metadata is copied shallowly)."""
        stats = {f: getattr(self.stats, f) for f in self.stats.__dataclass_fields__}
        stats["compression_factor"] = self.stats.compression_factor
        return {
            "compressed_prompt": self.compressed_prompt,
            "documents": [
                {"index": d.index, "id": d.id, "text": d.text, "kept": d.kept,
                 "spans": [[s.start, s.end] for s in d.spans], "relevance": d.relevance,
                 "original_tokens": d.original_tokens, "compressed_tokens": d.compressed_tokens,
                 "metadata": dict(d.metadata)}
                for d in self.documents
            ],
            "stats": stats,
            "policy": self.policy,
            "scorer": self.scorer,
            "tokenizer": self.tokenizer,
            "duration_ms": self.duration_ms,
        }
