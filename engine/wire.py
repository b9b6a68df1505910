"""JSON form of requests and results, shared by the HTTP server and its client.

The JSON field names are the dataclass field names. A request's ``contexts`` entries are strings
or ``{"text", "id", "metadata", "kind"}`` objects; ``target_ratio`` is a number or ``"auto"``.
Reading is strict: an unknown field or a wrongly typed value raises
:class:`InvalidRequestError` naming it, so a typo never silently falls back to a default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from tersify.errors import InvalidRequestError
from tersify.types import (
    CompressionRequest,
    CompressionResult,
    CompressionStats,
    Document,
    DocumentResult,
    Span,
)

__all__ = ["request_from_dict", "request_to_dict", "result_from_dict"]

REQUEST_FIELDS = tuple(f.name for f in fields(CompressionRequest))
_DOCUMENT_FIELDS = tuple(f.name for f in fields(Document))


def request_to_dict(request: CompressionRequest) -> dict[str, Any]:
    """The JSON-ready form of ``request``: ``prompt`` or ``contexts``, never both, and no null
    values (an unset field takes the reader's default; ``target_ratio`` is ignored when
    ``target_tokens`` is set)."""
    data = {name: getattr(request, name) for name in REQUEST_FIELDS}
    data["force_keep"] = list(request.force_keep)
    data["force_keep_patterns"] = list(request.force_keep_patterns)
    if request.prompt is not None:
        del data["contexts"]
    else:
        data["contexts"] = [{"text": d.text, "id": d.id, "metadata": dict(d.metadata),
                             "kind": d.kind} for d in request.documents]
    return {name: value for name, value in data.items() if value is not None}


def request_from_dict(data: Mapping[str, Any]) -> CompressionRequest:
    """A validated request from its JSON form.

    Raises:
        InvalidRequestError: An unknown field, a bad document entry or any invalid value.
    """
    if not isinstance(data, Mapping):
        raise InvalidRequestError("a request must be a JSON object")
    unknown = sorted(set(data) - set(REQUEST_FIELDS))
    if unknown:
        raise InvalidRequestError(
            f"unknown request field(s) {', '.join(unknown)}; valid: {', '.join(REQUEST_FIELDS)}")
    values = dict(data)
    contexts = values.get("contexts", ())
    if not isinstance(contexts, (list, tuple)):
        raise InvalidRequestError("contexts must be a list of strings or documents")
    values["contexts"] = [_document(entry, i) for i, entry in enumerate(contexts)]
    for name in ("force_keep", "force_keep_patterns"):
        if not isinstance(values.get(name, []), (list, tuple)):
            raise InvalidRequestError(f"{name} must be a list of strings")
    try:
        return CompressionRequest(**values)
    except TypeError as exc:  # e.g. a list where a string belongs reaching a len() or join
        raise InvalidRequestError(f"invalid request: {exc}") from None


def _document(entry: Any, index: int) -> Document:
    if isinstance(entry, str):
        return Document(text=entry)
    if not isinstance(entry, Mapping):
        raise InvalidRequestError(f"contexts[{index}] must be a string or an object")
    unknown = sorted(set(entry) - set(_DOCUMENT_FIELDS))
    if unknown or "text" not in entry:
        raise InvalidRequestError(
            f"contexts[{index}] needs 'text' and allows only {', '.join(_DOCUMENT_FIELDS)}")
    doc_id, metadata = entry.get("id"), entry.get("metadata")
    if metadata is None:  # null: no metadata (but 0, "" or [] are wrong, not empty)
        metadata = {}
    if doc_id is not None and not isinstance(doc_id, str):
        raise InvalidRequestError(f"contexts[{index}].id must be a string")
    if not isinstance(metadata, Mapping):
        raise InvalidRequestError(f"contexts[{index}].metadata must be an object")
    return Document(text=entry["text"], id=doc_id, metadata=dict(metadata),
                    kind=entry.get("kind", "auto"))


def result_from_dict(data: Mapping[str, Any]) -> CompressionResult:
    """A result from the form :meth:`CompressionResult.to_dict` writes."""
    stats = data["stats"]
    return CompressionResult(
        compressed_prompt=data["compressed_prompt"],
        documents=tuple(
            DocumentResult(
                index=int(d["index"]), id=d["id"], text=d["text"],
                spans=tuple(Span(start=int(a), end=int(b)) for a, b in d["spans"]),
                relevance=float(d["relevance"]), original_tokens=int(d["original_tokens"]),
                compressed_tokens=int(d["compressed_tokens"]), metadata=dict(d["metadata"]))
            for d in data["documents"]),
        stats=CompressionStats(**{f.name: stats[f.name] for f in fields(CompressionStats)}),
        policy=data["policy"], scorer=data["scorer"], tokenizer=data["tokenizer"],
        duration_ms=float(data["duration_ms"]),
    )
