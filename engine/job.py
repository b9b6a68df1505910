"""One request, segmented and costed: its words, their costs, its target, and its result.

Per-word costs come from one tokenization of each document (each token is charged to the word
it starts in), so they are close but not exact once words are joined in a new order: the fit
loop (:mod:`tersify.fit`) therefore counts the assembled prompt for real.
"""

from __future__ import annotations

import bisect
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from itertools import chain, repeat
from operator import sub

from tersify.assemble import Slice, ordered_prompt, slices_of, spans_of, spell
from tersify.duplicates import Twins, unit_texts
from tersify.patterns import compile_matchers
from tersify.phrases import phrase_spans
from tersify.policies import Plan
from tersify.prompt_tokens import PromptTokens
from tersify.segment import Segmented
from tersify.select import SelectionProblem
from tersify.tokens import TokenCounter
from tersify.types import (
    CompressionRequest,
    CompressionResult,
    CompressionStats,
    DocumentResult,
    Span,
)

__all__ = ["Job", "auto_ratio"]

_DIGIT = re.compile(r"\d")
_WORDS = re.compile(r"\S+")
Rendered = tuple[list[Span], str, list[Slice]]  # a compressed document: spans, text, slices
_AT_LEAST_ONE = bytes([1, *range(1, 256)])  # translates a byte to max(1, byte)


AUTO_RANGE = (0.1, 0.8)  # an auto budget keeps 10% of the prompt at least, 80% at most


def auto_ratio(context_tokens: int) -> float:
    """The ratio ``target_ratio="auto"`` picks before scoring, and where the scorer has no
    calibrated model (see :meth:`Job.read_auto_budget`): ``sqrt(500 / tokens)`` clamped to
    [0.1, 0.8].

    Short contexts are barely touched (up to 780 tokens keep 80%), a 20-document RAG prompt of
    2,400 tokens keeps about 46%, and 50,000 tokens or more keep 10%: the longer the context,
    the more of it is redundant for one question.
    """
    if context_tokens <= 0:
        return 0.8
    return float(min(0.8, max(0.1, (500 / context_tokens) ** 0.5)))


@dataclass(frozen=True, kw_only=True)
class Job:
    """One request, segmented and costed; word indices are global over the documents.

    Attributes:
        req: The request.
        docs: Its documents, segmented.
        tokens: The tokenizer the budget is counted in, with this request's encodings.
        offsets: Global index of each document's first word.
        costs: Estimated tokens of each word.
        doc_tokens: Tokens of each document's text.
        original_tokens: Tokens of the uncompressed prompt.
        fixed_tokens: Tokens of the instruction and question alone.
        target: Token budget for the whole prompt.
        forced: Words that always survive (``force_keep``, ``preserve_first``/``last``).
        protected: Words never pruned from a kept unit (``keep_digits``).
        atoms: Phrases kept whole or dropped whole (:mod:`tersify.phrases`), global spans.
    """

    req: CompressionRequest
    docs: list[Segmented]
    tokens: PromptTokens
    offsets: list[int]
    costs: list[int]
    doc_tokens: list[int]
    original_tokens: int
    fixed_tokens: int
    target: int
    forced: frozenset[int]
    protected: frozenset[int]
    atoms: list[tuple[int, int]]
    # (document, its kept words) -> its rendering: the fit loop renders most documents the
    # same way round after round, and the result renders them once more
    _rendered: dict[tuple[int, tuple[int, ...]], Rendered] = field(
        default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def build(cls, req: CompressionRequest, docs: list[Segmented], tokens: TokenCounter, *,
              linear_patterns: bool = False) -> Job:
        """Cost the segmented documents of ``req``; find its target, forced and protected words.

        ``linear_patterns`` runs ``force_keep_patterns`` on RE2 (see :mod:`tersify.patterns`).
        """
        counter = PromptTokens(tokens)
        offsets: list[int] = []
        costs: list[int] = []
        doc_tokens: list[int] = []
        for doc in docs:
            offsets.append(len(costs))
            starts = counter.token_starts(doc.text)
            doc_tokens.append(len(starts))
            costs.extend(_word_costs(doc, starts))
        original = counter.joined([req.instruction, *(d.text for d in docs), req.question])
        fixed = counter.joined([req.instruction, req.question])
        return cls(
            req=req, docs=docs, tokens=counter, offsets=offsets, costs=costs,
            doc_tokens=doc_tokens, original_tokens=original, fixed_tokens=fixed,
            target=_target(req, sum(doc_tokens), original, fixed),
            forced=frozenset(_forced_words(req, docs, offsets, linear_patterns)),
            protected=_digit_words(docs, offsets) if req.keep_digits else frozenset(),
            atoms=[(off + a, off + b) for doc, off in zip(docs, offsets)
                   for a, b in phrase_spans(doc)])

    def read_auto_budget(self, evidence: Sequence[float], mass: float) -> Job:
        """This job with the budget ``target_ratio="auto"`` takes once the documents are
        scored by a calibrated model: room for the likeliest documents whole, most likely
        first, until they hold ``mass`` of the set's expected evidence (the sum of the
        probabilities): one document when the scorer is sure, many when it is not; plus the
        instruction and question, within :data:`AUTO_RANGE` of the prompt. A request that set
        ``target_tokens`` keeps it."""
        if self.req.target_ratio != "auto" or self.req.target_tokens or not evidence:
            return self
        needed, held, enough = self.fixed_tokens, 0.0, mass * sum(evidence)
        for d in sorted(range(len(evidence)), key=evidence.__getitem__, reverse=True):
            needed += self.doc_tokens[d] + 2
            held += evidence[d]
            if held >= enough:
                break
        low, high = (int(r * self.original_tokens) for r in AUTO_RANGE)
        return replace(self, target=max(1, min(max(needed, low), high)))

    def context_budget_estimate(self) -> float:
        """Tokens left for contexts once instruction, question and separators are paid."""
        return float(self.target - self.fixed_tokens - 2)

    def local(self, kept: set[int]) -> list[list[int]]:
        """Global kept word indices as sorted local indices per document."""
        ordered = sorted(kept)
        # Each document's words are a slice of the sorted indices, found by one bisect each.
        bounds = [*map(bisect.bisect_left, repeat(ordered), self.offsets), len(ordered)]
        return [list(map(sub, ordered[a:b], repeat(off)))
                for a, b, off in zip(bounds, bounds[1:], self.offsets)]

    def rendered(self, kept: set[int]) -> list[Rendered]:
        """Spans, compressed text and its slices of each document once ``kept`` is kept."""
        out = []
        for d, local in enumerate(self.local(kept)):
            key = (d, tuple(local))
            found = self._rendered.get(key)
            if found is None:
                doc = self.docs[d]
                spans = spans_of(doc, local)
                slices = slices_of(doc.text, spans)
                found = self._rendered[key] = (spans, spell(slices), slices)
            out.append(found)
        return out

    def problem(self, plan: Plan) -> SelectionProblem:
        """The selection problem of this job under ``plan``.

        Unless the request names a granularity, a plan that asks for whole units has every
        document keep a whole sentence or block (not a lone heading) or nothing.
        """
        granularity = self.req.granularity or plan.granularity
        spans, blocks, priority, owner, anchor = [], [], [], [], []
        for d, (doc, off) in enumerate(zip(self.docs, self.offsets)):
            if granularity == "document":
                if doc.word_starts:
                    spans.append((off, off + len(doc.word_starts)))
                    blocks.append(True)
                    priority.append(plan.doc_relevance[d])
                    owner.append(d)
                    anchor.append(True)
                continue
            for unit, prio in zip(doc.units, plan.unit_priority[d]):
                spans.append((off + unit.first, off + unit.last))
                blocks.append(unit.block)
                priority.append(prio)
                owner.append(d)
                # A code block opening with a ``#`` comment is no markdown heading.
                anchor.append(doc.code or not (unit.block and _is_heading(doc.word(unit.first))))
        forced = self.forced | self.minimum(plan)
        return SelectionProblem(
            unit_spans=spans, unit_blocks=blocks, unit_priority=priority, word_cost=self.costs,
            word_importance=list(chain.from_iterable(plan.word_importance)),
            budget=self.context_budget_estimate(), forced=forced, protected=self.protected,
            granularity="sentence" if granularity != "word" else "word",
            unit_budget_factor=plan.unit_budget_factor, contiguous=plan.contiguous,
            atoms=self.atoms, unit_doc=owner, unit_anchor=anchor,
            whole_units=plan.whole_units and self.req.granularity is None,
            twins=Twins.of(unit_texts(self.docs, self.offsets, spans, owner, anchor), spans,
                           forced, exact=blocks) if self.req.dedupe and not plan.contiguous
            else None)

    def minimum(self, plan: Plan) -> set[int]:
        """The words of the best unit of each of the ``min_documents`` most relevant documents
        that have no forced word already: kept whatever the budget, as forced words are."""
        words: set[int] = set()
        ranked = sorted(range(len(self.docs)), key=lambda d: -plan.doc_relevance[d])
        for d in [d for d in ranked if self.docs[d].word_starts][:self.req.min_documents]:
            doc, off = self.docs[d], self.offsets[d]
            if any(off <= w < off + len(doc.word_starts) for w in self.forced):
                continue
            if not doc.units or (self.req.granularity or plan.granularity) == "document":
                words.update(range(off, off + len(doc.word_starts)))
                continue
            best = max(range(len(doc.units)), key=plan.unit_priority[d].__getitem__)
            words.update(range(off + doc.units[best].first, off + doc.units[best].last))
        return words

    def result(self, plan: Plan, kept: set[int], compressed_tokens: int, *, policy: str,
               scorer: str | None, started: float) -> CompressionResult:
        """The result of this job once ``kept`` was fitted to ``compressed_tokens``."""
        req = self.req
        documents = []
        for d, (spans, text, slices) in enumerate(self.rendered(kept)):
            source = req.documents[d]
            documents.append(DocumentResult(
                index=d, id=source.id, text=text, spans=tuple(spans),
                relevance=plan.doc_relevance[d], original_tokens=self.doc_tokens[d],
                compressed_tokens=self.tokens.count(slices) if text else 0,
                metadata=source.metadata))
        prompt = ordered_prompt(req.instruction, [d.text for d in documents], req.question,
                                reorder=req.reorder, relevance=plan.doc_relevance)
        return CompressionResult(
            compressed_prompt=prompt, documents=tuple(documents),
            stats=self._stats(len(kept), compressed_tokens), policy=policy, scorer=scorer,
            tokenizer=self.tokens.name, duration_ms=(time.perf_counter() - started) * 1000)

    def _stats(self, kept_words: int, compressed_tokens: int) -> CompressionStats:
        req = self.req
        fixed_words = len(_WORDS.findall(req.instruction)) + len(_WORDS.findall(req.question))
        return CompressionStats(
            original_tokens=self.original_tokens, compressed_tokens=compressed_tokens,
            target_tokens=self.target, original_words=fixed_words + len(self.costs),
            compressed_words=fixed_words + kept_words,
            ratio=compressed_tokens / self.original_tokens if self.original_tokens else 1.0,
            budget_met=compressed_tokens <= self.target and (kept_words > 0 or not self.costs))


def _target(req: CompressionRequest, context_tokens: int, original: int, fixed: int) -> int:
    """The budget of the whole prompt. Over the contexts alone (``budget_scope``), the
    contexts get ``target_tokens`` or their share of the ratio (all that the prompt holds
    beyond instruction and question, separators included) and the verbatim parts come on top."""
    ratio = auto_ratio(context_tokens) if req.target_ratio == "auto" else float(
        req.target_ratio or 0.5)
    if req.budget_scope == "contexts":
        return fixed + (req.target_tokens or max(1, int(ratio * (original - fixed))))
    return req.target_tokens or max(1, int(ratio * original))


def _word_costs(doc: Segmented, token_starts: list[int]) -> list[int]:
    """Tokens that start in each word or the white space before it; at least one, as a word
    sharing a token with its neighbour still costs one. Mapped in C: no Python step per word."""
    before = list(map(bisect.bisect_left, repeat(token_starts), doc.word_ends))  # tokens before
    begun = map(sub, before, chain((0,), before))  # each word's end
    try:
        return list(bytes(begun).translate(_AT_LEAST_ONE))
    except ValueError:  # a word of 256 tokens or more (a long run without spaces)
        return list(map(max, map(sub, before, chain((0,), before)), repeat(1)))


def _forced_words(req: CompressionRequest, docs: list[Segmented], offsets: list[int],
                  linear_patterns: bool) -> set[int]:
    regexes = compile_matchers(req.force_keep, req.force_keep_patterns, linear=linear_patterns)
    forced: set[int] = set()
    for doc, off in zip(docs, offsets):
        for rx in regexes:
            for m in rx.finditer(doc.text):
                if m.end() > m.start():
                    lo = bisect.bisect_right(doc.word_ends, m.start())
                    hi = bisect.bisect_left(doc.word_starts, m.end())
                    forced.update(off + i for i in range(lo, hi))
        tail = doc.units[-req.preserve_last :] if req.preserve_last else []
        for unit in doc.units[: req.preserve_first] + tail:
            forced.update(off + i for i in range(unit.first, unit.last))
    return forced


def _is_heading(first_word: str) -> bool:
    return first_word.strip("#") == "" and len(first_word) <= 6


def _digit_words(docs: list[Segmented], offsets: list[int]) -> frozenset[int]:
    return frozenset(off + i for doc, off in zip(docs, offsets)
                     for i in range(len(doc.word_starts)) if _DIGIT.search(doc.word(i)))
