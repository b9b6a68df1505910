"""Dialect bodies to engine requests, engine results to dialect bodies: pure functions."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import Literal

from tersify.errors import InvalidRequestError
from tersify.integrations.server import schemas as s
from tersify.types import CompressionRequest, CompressionResult, DocumentResult

__all__ = ["compresso_request", "compresso_response", "scaledown_request",
           "scaledown_response", "super_request", "super_response"]


def compresso_request(body: s.CompressoRequest) -> CompressionRequest:
    settings = body.compression_settings
    budget: dict[str, object] = {"target_ratio": body.target_ratio}
    if body.target_tokens > 0:
        budget = {"target_tokens": body.target_tokens}
    elif body.target_tokens == 0:
        raise InvalidRequestError("target_tokens must be -1 (use target_ratio) or positive")
    # Empty strings count as absent, as in Compresso's own example (every text field "").
    if isinstance(body.context, str):
        contexts = [body.context] if body.context else []
    else:
        contexts = list(body.context or [])
    if body.prompt is None and body.context is None:
        raise InvalidRequestError("give context or prompt")
    prompt = body.prompt or None
    if prompt is not None and contexts:
        raise InvalidRequestError("give either context or prompt, not both")
    if prompt is None and not contexts:
        contexts = [""]  # nothing to compress: an empty prompt, as the example's answer shows
    return CompressionRequest(
        contexts=contexts, prompt=prompt, instruction=body.instruction,
        question=body.question, preserve_first=settings.preserve_k_first,
        preserve_last=settings.preserve_k_last, force_keep=settings.force_keep_tokens,
        **budget)  # type: ignore[arg-type]


def compresso_response(body: s.CompressoRequest, result: CompressionResult, request_id: str,
                       count: Callable[[str], int]) -> s.CompressoResponse:
    prompt, stats = result.compressed_prompt, result.stats
    tokens, words = stats.compressed_tokens, stats.compressed_words
    if not body.compression_settings.include_question and body.question:
        prompt = prompt.removesuffix(body.question).rstrip()
        tokens, words = count(prompt), len(prompt.split())  # what the caller receives
    return s.CompressoResponse(
        compressed_prompt=prompt,
        statistics=s.CompressoStatistics(
            original_tokens=stats.original_tokens, compressed_tokens=tokens,
            original_words=stats.original_words, compressed_words=words,
            token_ratio=tokens / stats.original_tokens if stats.original_tokens else 1.0,
            word_ratio=words / stats.original_words if stats.original_words else 1.0),
        analytics=s.CompressoAnalytics(
            compression_duration=result.duration_ms / 1000, request_id=request_id,
            # Compresso's docs show UTC as "Z" ("2025-04-28T20:05:09.812Z"), not "+00:00".
            timestamp=dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z")))


SUPER_POLICY_NAMES = {"tersify": "SuperCompress"}


def super_request(body: s.SuperRequest, count: Callable[[str], int],
                  policy: str = "tersify") -> CompressionRequest:
    """``budget_ratio`` is the kept share of the context's tokens (SuperCompress's meaning): the
    engine's budget, which covers the whole prompt, adds the query and its separator."""
    context_budget = math.floor(body.budget_ratio * count(body.context))
    overhead = count("\n\n" + body.query)  # the engine fits the whole prompt exactly
    return CompressionRequest(contexts=[body.context], question=body.query, policy=policy,
                              target_tokens=max(1, context_budget + overhead))


def super_response(body: s.SuperRequest, result: CompressionResult,
                   with_spans: bool = False, fallback: bool = False) -> s.SuperResponse:
    """``policy_name`` as SuperCompress names it: ``SuperCompress`` for the question-aware
    policy, ``H2O-fallback`` when the lexical scorer stood in for a failed model (``fallback``),
    the policy's own name otherwise."""
    doc = result.documents[0]
    original = doc.original_tokens
    return s.SuperResponse(
        compressed_text=doc.text, original_tokens=original, kept_tokens=doc.compressed_tokens,
        kv_savings_pct=round((1 - doc.compressed_tokens / original) * 100, 2) if original else 0.0,
        kept_line_ratio=round(kept_line_ratio(body.context, doc), 3),
        policy_name="H2O-fallback" if fallback else SUPER_POLICY_NAMES.get(result.policy,
                                                                             result.policy),
        budget_ratio=body.budget_ratio,
        kept_spans=[[sp.start, sp.end] for sp in doc.spans] if with_spans else None)


def kept_line_ratio(text: str, doc: DocumentResult) -> float:
    """Share of the non-empty input lines that keep at least one character (one linear sweep:
    lines and spans are both in text order)."""
    lines, start = [], 0
    for line in text.split("\n"):
        if line.strip():
            lines.append((start, start + len(line)))
        start += len(line) + 1
    if not lines:
        return 1.0
    kept, spans, i = 0, doc.spans, 0
    for a, b in lines:
        while i < len(spans) and spans[i].end <= a:
            i += 1
        kept += i < len(spans) and spans[i].start < b
    return kept / len(lines)


def scaledown_request(body: s.ScaleDownRequest) -> CompressionRequest:
    rate: float | Literal["auto"] = body.scaledown.rate
    if rate != "auto" and not 0 < float(rate) <= 1:
        raise InvalidRequestError(f'scaledown.rate must be "auto" or in (0, 1], got {rate}')
    return CompressionRequest(contexts=[body.context], question=body.prompt, target_ratio=rate)


def scaledown_response(body: s.ScaleDownRequest, result: CompressionResult,
                       latency_ms: float) -> s.ScaleDownResponse:
    stats = result.stats
    return s.ScaleDownResponse(
        compressed_prompt=result.compressed_prompt, original_prompt_tokens=stats.original_tokens,
        compressed_prompt_tokens=stats.compressed_tokens, successful=True,
        latency_ms=round(latency_ms, 3),
        request_metadata=s.ScaleDownMetadata(
            compression_time_ms=round(result.duration_ms, 3),
            compression_rate=body.scaledown.rate,
            prompt_length=len(body.context) + len(body.prompt),
            compressed_prompt_length=len(result.compressed_prompt)))
