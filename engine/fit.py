"""From a plan to an exact budget: selection on estimated costs, then exact token counts.

Per-word costs come from one tokenization of each document (each token is charged to the word
it starts in), so they are close but not exact once words are joined in a new order. The fit
loop therefore counts the assembled prompt for real, takes back the last additions while it is
over the target, and grows again while it is under, a bounded number of times.
"""

from __future__ import annotations

import bisect
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tersify.assemble import join_prompt, render, spans_of
from tersify.patterns import compile_matchers
from tersify.policies import Plan
from tersify.segment import Segmented
from tersify.select import Selection, SelectionProblem, add_units, fill, select, unit_order
from tersify.tokens import TokenCounter
from tersify.types import CompressionRequest, CompressionResult, CompressionStats, DocumentResult

__all__ = ["Job", "result", "run"]

MAX_ROUNDS = 12
FILL_FLOOR = 0.95
_DIGIT = re.compile(r"\d")
_WORDS = re.compile(r"\S+")


@dataclass(kw_only=True)
class Job:
    """One request, segmented and costed; word indices are global over the documents."""

    req: CompressionRequest
    docs: list[Segmented]
    tokens: TokenCounter
    offsets: list[int]
    costs: list[int]
    doc_tokens: list[int]
    original_tokens: int
    fixed_tokens: int
    target: int = 0  # tokens for the whole prompt, set by the compressor
    forced: frozenset[int] = field(default_factory=frozenset)
    protected: frozenset[int] = field(default_factory=frozenset)

    @classmethod
    def build(cls, req: CompressionRequest, docs: list[Segmented], tokens: TokenCounter, *,
              linear_patterns: bool = False) -> Job:
        """Segmented documents plus costs, forced and protected words.

        ``linear_patterns`` runs ``force_keep_patterns`` on RE2 (see :mod:`tersify.patterns`).
        """
        offsets: list[int] = []
        costs: list[int] = []
        doc_tokens: list[int] = []
        for doc in docs:
            offsets.append(len(costs))
            starts = tokens.token_starts(doc.text)
            doc_tokens.append(len(starts))
            costs.extend(_word_costs(doc, starts))
        original = join_prompt(req.instruction, [d.text for d in req.documents], req.question)
        job = cls(req=req, docs=docs, tokens=tokens, offsets=offsets, costs=costs,
                  doc_tokens=doc_tokens, original_tokens=tokens.count(original),
                  fixed_tokens=tokens.count(join_prompt(req.instruction, [], req.question)))
        job.forced = frozenset(_forced_words(job, linear_patterns))
        if req.keep_digits:
            job.protected = frozenset(
                off + i for doc, off in zip(docs, offsets)
                for i in range(len(doc.word_starts)) if _DIGIT.search(doc.word(i)))
        return job

    def context_budget_estimate(self) -> float:
        """Tokens left for contexts once instruction, question and separators are paid."""
        return float(self.target - self.fixed_tokens - 2)

    def local(self, kept: set[int]) -> list[list[int]]:
        """Global kept word indices as sorted local indices per document."""
        out: list[list[int]] = [[] for _ in self.docs]
        for w in sorted(kept):
            d = bisect.bisect_right(self.offsets, w) - 1
            out[d].append(w - self.offsets[d])
        return out


def _word_costs(doc: Segmented, token_starts: list[int]) -> list[int]:
    costs = []
    prev_end = 0
    for end in doc.word_ends:
        lo = bisect.bisect_left(token_starts, prev_end)
        hi = bisect.bisect_left(token_starts, end)
        costs.append(max(1, hi - lo))  # a word sharing a token with its neighbour still costs one
        prev_end = end
    return costs


def _forced_words(job: Job, linear_patterns: bool) -> set[int]:
    req = job.req
    regexes = compile_matchers(req.force_keep, req.force_keep_patterns, linear=linear_patterns)
    forced: set[int] = set()
    for doc, off in zip(job.docs, job.offsets):
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


def problem_for(job: Job, plan: Plan) -> SelectionProblem:
    """The selection problem of ``job`` under ``plan``."""
    granularity = job.req.granularity or plan.granularity
    spans, blocks, priority = [], [], []
    for d, (doc, off) in enumerate(zip(job.docs, job.offsets)):
        if granularity == "document":
            if doc.word_starts:
                spans.append((off, off + len(doc.word_starts)))
                blocks.append(True)
                priority.append(plan.doc_relevance[d])
            continue
        for unit, prio in zip(doc.units, plan.unit_priority[d]):
            spans.append((off + unit.first, off + unit.last))
            blocks.append(unit.block)
            priority.append(prio)
    return SelectionProblem(
        unit_spans=spans, unit_blocks=blocks, unit_priority=priority, word_cost=job.costs,
        word_importance=[x for per_doc in plan.word_importance for x in per_doc],
        budget=job.context_budget_estimate(), forced=job.forced, protected=job.protected,
        granularity="sentence" if granularity != "word" else "word",
        unit_budget_factor=plan.unit_budget_factor, contiguous=plan.contiguous)


def run(job: Job, plan: Plan) -> tuple[set[int], int]:
    """Select words and fit them to the exact target; returns kept words and prompt tokens."""
    count = _counter(job, plan)
    if job.original_tokens <= job.target:  # the budget holds it all (word costs add up to
        everything = set(range(len(job.costs)))  # more than the joint count, so selection
        return everything, count(everything)  # alone could leave a few words out)
    problem = problem_for(job, plan)
    chosen = select(problem)
    order = unit_order(problem)
    n = count(chosen.kept)
    step = 1.0
    for _ in range(MAX_ROUNDS):
        if n > job.target and len(chosen.groups) > 1:
            _take_back(problem, chosen, n - job.target)
        elif n < job.target and step >= 0.05:
            before = len(chosen.kept)
            _grow(problem, chosen, order, (job.target - n) * step)
            if len(chosen.kept) == before:
                break
            step /= 2  # each growth that has to be taken back is half as bold next time
        else:
            break
        n = count(chosen.kept)
    while n > job.target and len(chosen.groups) > 1:
        _take_back(problem, chosen, n - job.target)
        n = count(chosen.kept)
    return chosen.kept, n


def _counter(job: Job, plan: Plan) -> Callable[[set[int]], int]:
    def count(kept: set[int]) -> int:
        texts = [render(doc.text, spans_of(doc, local))
                 for doc, local in zip(job.docs, job.local(kept))]
        ordered = [texts[d] for d in doc_order(job.req.reorder, plan.doc_relevance)]
        return job.tokens.count(join_prompt(job.req.instruction, ordered, job.req.question))
    return count


def _take_back(problem: SelectionProblem, chosen: Selection, over: int) -> None:
    """Take back the last additions worth about ``over`` estimated tokens.

    Removing as much as the overshoot in one step (not one group per exact count) keeps the
    number of exact counts logarithmic: 10,000 one-word documents need a handful, not 10,000.
    """
    removed = 0
    while removed < over and len(chosen.groups) > 1:
        group = chosen.groups[-1]
        if problem.granularity == "word" and len(group) > 1:
            pruned = _prune_group(problem, chosen, group, over - removed)
            removed += pruned
            if group and pruned:  # else only protected words are left: the group goes whole
                return
        chosen.groups.pop()
        chosen.kept.difference_update(group)
        cost = sum(problem.word_cost[w] for w in group)
        chosen.spent -= cost
        removed += max(1, cost) if group else 0


def _prune_group(problem: SelectionProblem, chosen: Selection, group: list[int],
                 over: int) -> int:
    """Drop the least important words of ``group`` worth ``over`` tokens; what was removed."""
    victims = sorted((w for w in group if w not in problem.protected),
                     key=lambda w: (problem.word_importance[w], -w))
    dropped: set[int] = set()
    removed = 0
    for w in victims:
        if removed >= over:
            break
        dropped.add(w)
        removed += max(1, problem.word_cost[w])
        chosen.spent -= problem.word_cost[w]
    group[:] = [w for w in group if w not in dropped]
    chosen.kept -= dropped
    return removed


def _grow(problem: SelectionProblem, chosen: Selection, order: list[int], slack: float) -> None:
    limit = chosen.spent + slack
    if problem.granularity == "word":
        fill(SelectionProblem(**{**problem.__dict__, "budget": limit}), chosen, order)
    else:
        add_units(problem, chosen, order, limit)


def doc_order(reorder: str, relevance: list[float]) -> list[int]:
    """Document order in the prompt: original, by relevance, or most relevant at the edges."""
    idx = list(range(len(relevance)))
    if reorder == "original":
        return idx
    ranked = sorted(idx, key=lambda d: (-relevance[d], d))
    if reorder == "relevance":
        return ranked
    front, back = ranked[0::2], ranked[1::2]
    return front + back[::-1]


def result(job: Job, plan: Plan, kept: set[int], compressed_tokens: int, *, policy: str,
           scorer: str | None, started: float) -> CompressionResult:
    """Assemble the result of a fitted job."""
    req = job.req
    documents = []
    for d, (doc, local) in enumerate(zip(job.docs, job.local(kept))):
        spans = spans_of(doc, local)
        text = render(doc.text, spans)
        source = req.documents[d]
        documents.append(DocumentResult(
            index=d, id=source.id, text=text, spans=tuple(spans),
            relevance=plan.doc_relevance[d], original_tokens=job.doc_tokens[d],
            compressed_tokens=job.tokens.count(text) if text else 0, metadata=source.metadata))
    ordered = [documents[d].text for d in doc_order(req.reorder, plan.doc_relevance)]
    prompt = join_prompt(req.instruction, ordered, req.question)
    fixed_words = len(_WORDS.findall(req.instruction)) + len(_WORDS.findall(req.question))
    stats = CompressionStats(
        original_tokens=job.original_tokens, compressed_tokens=compressed_tokens,
        target_tokens=job.target, original_words=fixed_words + len(job.costs),
        compressed_words=fixed_words + len(kept),
        ratio=compressed_tokens / job.original_tokens if job.original_tokens else 1.0,
        budget_met=compressed_tokens <= job.target)
    return CompressionResult(
        compressed_prompt=prompt, documents=tuple(documents), stats=stats, policy=policy,
        scorer=scorer, tokenizer=job.tokens.name,
        duration_ms=(time.perf_counter() - started) * 1000)
