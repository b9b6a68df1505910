"""The compared methods: tersify presets and policies, whole-document baselines, LLMLingua.

Every method takes one example (formatted documents, question, ratio, question index) and
returns an :class:`Outcome`: the kept text of each document ("" when dropped), the assembled
prompt, the target and achieved token counts and the latency of the compression itself.

Baselines assemble their prompt like the engine does, ``"\\n\\n".join(kept docs + [question])``
with kept documents in their original order, and count it in ``cl100k_base``. Their target is
``int(ratio * tokens of the uncompressed prompt)``. ``random`` and ``bm25`` go through the
documents in their order (seeded shuffle, BM25 rank) and keep each whole document whose
estimated cost still fits (first fit, so a long document does not stop shorter ones after it);
the exact count of the assembled prompt then drops the last kept documents while it is over.
``llmlingua`` and ``longllmlingua`` are the reference implementations (lingua.py); they return
one compressed context and no per-document texts.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import tersify
from tersify.scorers.lexical import LexicalScorer
from tersify.segment import segment

__all__ = ["COUNTER", "LINGUA_METHODS", "METHODS", "Method", "Outcome", "TERSIFY_METHODS",
           "assemble", "build_method"]

SEPARATOR = "\n\n"
TERSIFY_METHODS = ("fast", "balanced", "accurate", "lm")
BASELINES = ("none", "truncation", "random", "bm25")
LINGUA_METHODS = ("llmlingua", "longllmlingua")  # run in the benchmark's own environment
METHODS = TERSIFY_METHODS + BASELINES + LINGUA_METHODS
CACHED_METHODS = ("fast", "balanced", "accurate", "lm")  # score once a question, reuse


@dataclass(frozen=True)
class Outcome:
    """What one method made of one example."""

    context: str  # the compressed contexts, question excluded
    doc_texts: list[str] | None  # per document ("" when dropped); None when not known
    prompt: str
    target: int
    achieved: int
    ms: float
    engine_original: int | None = None  # the engine's own count of the uncompressed prompt


Method = Callable[[Sequence[str], str, float, int], Outcome]
COUNTER = tersify.get_token_counter("cl100k_base")


def assemble(docs: Sequence[str], question: str) -> str:
    """The prompt as the engine assembles it (no instruction)."""
    return SEPARATOR.join([d for d in docs if d] + [question])


def build_method(name: str, seed: int = 0, model_path: str | None = None) -> Method:
    """The method called ``name`` (one of :data:`METHODS`), ready to run.

    ``model_path``: the SmolLM2 directory that the LLMLingua methods load.
    """
    if name in LINGUA_METHODS:
        return _lingua(name, model_path)
    if name in ("fast", "balanced", "accurate"):
        return _engine(tersify.Compressor(preset=name, score_cache_size=1), "tersify")
    if name == "lm":
        return _engine(tersify.Compressor(scorer="lm", score_cache_size=1), "tersify")
    if name == "truncation":
        return _engine(tersify.Compressor(preset="fast"), "truncation")
    if name == "none":
        return _none
    if name == "random":
        return _whole_documents(lambda docs, question, index: _shuffled(len(docs), seed, index))
    if name == "bm25":
        return _whole_documents(lambda docs, question, index: _bm25_order(docs, question))
    raise ValueError(f"unknown method {name!r}; choose from {', '.join(METHODS)}")


def _engine(compressor: tersify.Compressor, policy: str) -> Method:
    def run(docs: Sequence[str], question: str, ratio: float, index: int) -> Outcome:
        documents = [tersify.Document(text=text, id=str(i)) for i, text in enumerate(docs)]
        started = time.perf_counter()
        result = compressor.compress(contexts=documents, question=question,
                                     target_ratio=ratio, policy=policy)
        ms = (time.perf_counter() - started) * 1000
        texts = [d.text for d in result.documents]
        return Outcome(context=SEPARATOR.join(t for t in texts if t), doc_texts=texts,
                       prompt=result.compressed_prompt, target=result.stats.target_tokens,
                       achieved=result.stats.compressed_tokens, ms=ms,
                       engine_original=result.stats.original_tokens)

    return run


def _none(docs: Sequence[str], question: str, ratio: float, index: int) -> Outcome:
    started = time.perf_counter()
    prompt = assemble(docs, question)
    tokens = COUNTER.count(prompt)
    ms = (time.perf_counter() - started) * 1000
    return Outcome(context=SEPARATOR.join(docs), doc_texts=list(docs), prompt=prompt,
                   target=tokens, achieved=tokens, ms=ms)


def _lingua(name: str, model_path: str | None) -> Method:
    if model_path is None:
        raise ValueError(f"{name} needs the path of the SmolLM2 model directory")
    from lingua import LinguaMethod

    method = LinguaMethod(name, model_path)

    def run(docs: Sequence[str], question: str, ratio: float, index: int) -> Outcome:
        context, ms = method.compress(docs, question, ratio)
        prompt = SEPARATOR.join([context, question]) if context else question
        return Outcome(context=context, doc_texts=None, prompt=prompt,
                       target=max(1, int(ratio * COUNTER.count(assemble(docs, question)))),
                       achieved=COUNTER.count(prompt), ms=ms)

    return run


Order = Callable[[Sequence[str], str, int], list[int]]


def _whole_documents(order: Order) -> Method:
    def run(docs: Sequence[str], question: str, ratio: float, index: int) -> Outcome:
        started = time.perf_counter()
        target = max(1, int(ratio * COUNTER.count(assemble(docs, question))))
        kept = _fit(docs, question, order(docs, question, index), target)
        texts = [text if i in kept else "" for i, text in enumerate(docs)]
        prompt = assemble(texts, question)
        achieved = COUNTER.count(prompt)
        ms = (time.perf_counter() - started) * 1000
        return Outcome(context=SEPARATOR.join(t for t in texts if t), doc_texts=texts,
                       prompt=prompt, target=target, achieved=achieved, ms=ms)

    return run


def _fit(docs: Sequence[str], question: str, order: list[int], target: int) -> set[int]:
    """First-fit by estimated cost, then drop the last added while the exact count is over."""
    separator = COUNTER.count(SEPARATOR)
    used = COUNTER.count(question)
    added: list[int] = []
    for i in order:
        cost = COUNTER.count(docs[i]) + separator
        if used + cost <= target:
            added.append(i)
            used += cost
    while added and COUNTER.count(assemble(_keep(docs, added), question)) > target:
        added.pop()
    return set(added)


def _keep(docs: Sequence[str], added: list[int]) -> list[str]:
    chosen = set(added)
    return [text for i, text in enumerate(docs) if i in chosen]


def _shuffled(count: int, seed: int, index: int) -> list[int]:
    order = list(range(count))
    random.Random(seed * 1_000_003 + index).shuffle(order)
    return order


_LEXICAL = LexicalScorer()


def _bm25_order(docs: Sequence[str], question: str) -> list[int]:
    scores = _LEXICAL.score(question, [segment(d) for d in docs]).documents
    return sorted(range(len(docs)), key=lambda i: (-scores[i], i))
