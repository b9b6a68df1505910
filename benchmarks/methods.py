"""The compared methods: tersify presets and policies, whole-document baselines, LLMLingua.

Every method takes one example (formatted documents, question, ratio, question index) and
returns an :class:`Outcome`: the kept text of each document ("" when dropped), the assembled
prompt, the target and achieved token counts and the latency of the compression itself.

Every method gets the same budget: ``int(ratio * tokens of the uncompressed prompt)`` in
``cl100k_base``, the engine's own ``stats.target_tokens`` (no instruction here).

Baselines assemble their prompt like the engine does, ``"\\n\\n".join(kept docs + [question])``
with kept documents in their original order. ``random``, ``bm25`` and ``minilm-docs`` go
through the documents in their order (seeded shuffle; BM25 rank; MiniLM rank, i.e. the
``embedding`` scorer's document scores with ``lexical_weight=0``, cosine similarity alone) and
keep each whole document whose estimated cost still fits (first fit, so a long document does
not stop shorter ones after it); the exact count of the assembled prompt then drops the last
kept documents while it is over. ``bm25-fill`` then spends what is left the way a sentence
selector would: the leading sentences of the next documents in BM25 order, while they fit.

``llmlingua`` and ``longllmlingua`` are the reference implementations (lingua.py). They get the
context budget tersify's selection gets, the target less the question and its separator, in
cl100k tokens (lingua.py converts it to their SmolLM2 tokens), and return one compressed
context with no per-document texts.
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
           "assemble", "build_method", "context_budget", "target_tokens"]

SEPARATOR = "\n\n"
TERSIFY_METHODS = ("fast", "balanced", "accurate", "lm")
BASELINES = ("none", "truncation", "random", "bm25", "bm25-fill", "minilm-docs")
LINGUA_METHODS = ("llmlingua", "longllmlingua")  # run in the benchmark's own environment
METHODS = TERSIFY_METHODS + BASELINES + LINGUA_METHODS
# Score a question once and reuse the scores at its other ratios (run.py: latency). `fast`
# is cheap enough to score at every ratio; the model-backed ones would make the run hours long.
CACHED_METHODS = ("balanced", "accurate", "lm", "minilm-docs")


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
        cache = 1 if name in CACHED_METHODS else 0
        return _engine(tersify.Compressor(preset=name, score_cache_size=cache), "tersify")
    if name == "lm":
        return _engine(tersify.Compressor(scorer="lm", score_cache_size=1), "tersify")
    if name == "truncation":
        return _engine(tersify.Compressor(preset="fast"), "truncation")
    if name == "none":
        return _none
    if name == "random":
        return _whole_documents(lambda docs, question, index: _shuffled(len(docs), seed, index))
    if name in ("bm25", "bm25-fill"):
        return _whole_documents(lambda docs, question, index: _bm25_order(docs, question),
                                fill=name == "bm25-fill")
    if name == "minilm-docs":
        return _whole_documents(_minilm_order())
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
        target = target_tokens(docs, question, ratio)
        context, ms = method.compress(docs, question, context_budget(target, question))
        prompt = SEPARATOR.join([context, question]) if context else question
        return Outcome(context=context, doc_texts=None, prompt=prompt, target=target,
                       achieved=COUNTER.count(prompt), ms=ms)

    return run


def target_tokens(docs: Sequence[str], question: str, ratio: float) -> int:
    """The budget of every method: the engine's ``max(1, int(ratio * original tokens))``."""
    return max(1, int(ratio * COUNTER.count(assemble(docs, question))))


def context_budget(target: int, question: str) -> int:
    """cl100k tokens left for the contexts once the question and its separator are paid."""
    return max(0, target - COUNTER.count(question) - COUNTER.count(SEPARATOR))


Order = Callable[[Sequence[str], str, int], list[int]]


def _whole_documents(order: Order, *, fill: bool = False) -> Method:
    def run(docs: Sequence[str], question: str, ratio: float, index: int) -> Outcome:
        started = time.perf_counter()
        target = target_tokens(docs, question, ratio)
        ranked = order(docs, question, index)
        kept = _fit(docs, question, ranked, target)
        texts = [text if i in kept else "" for i, text in enumerate(docs)]
        if fill:
            _fill_leads(texts, docs, question, ranked, target)
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


def _fill_leads(texts: list[str], docs: Sequence[str], question: str, order: list[int],
                target: int) -> None:
    """Give each dropped document, in ``order``, its longest leading run of sentences that
    still fits (``texts`` is changed in place): an estimate first, then the exact count."""
    separator = COUNTER.count(SEPARATOR)
    left = target - COUNTER.count(assemble(texts, question))
    for i in order:
        if texts[i]:
            continue
        seg = segment(docs[i])
        for unit in seg.units:
            lead = seg.text[: seg.word_ends[unit.last - 1]]
            if COUNTER.count(lead) + separator > left:
                break
            trial = [lead if k == i else t for k, t in enumerate(texts)]
            exact = COUNTER.count(assemble(trial, question))
            if exact > target:
                break
            texts[i] = lead
        if texts[i]:
            left = target - COUNTER.count(assemble(texts, question))


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
    return _ranked(scores)


def _minilm_order() -> Order:
    from tersify.scorers.embedding import EmbeddingScorer

    # lexical_weight=0: the document scores are the MiniLM cosine similarities alone (as
    # standard scores); unit_mode="lexical" skips embedding the sentences, unused here.
    scorer = EmbeddingScorer(lexical_weight=0.0, unit_mode="lexical")

    last: dict[int, list[int]] = {}  # the order of the current question (a cached method)

    def order(docs: Sequence[str], question: str, index: int) -> list[int]:
        if index not in last:
            last.clear()
            last[index] = _ranked(scorer.score(question, [segment(d) for d in docs]).documents)
        return last[index]

    return order


def _ranked(scores: Sequence[float]) -> list[int]:
    return sorted(range(len(scores)), key=lambda i: (-scores[i], i))
