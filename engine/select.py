"""Budgeted selection of words: pure, no text, no tokenizer.

The selector sees a document set as one flat sequence of words, grouped into units, with an
estimated token cost per word, a priority per unit and an importance per word. It keeps
forced words first, then whole units by priority, then (at word granularity) prunes the least
important words of the kept units and fills what is left with the best words of the next units.
It records what it added in order, so the caller can take back the last additions if the exact
token count of the assembled text is over budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Selection", "SelectionProblem", "select"]


@dataclass(frozen=True, kw_only=True)
class SelectionProblem:
    """The input of :func:`select`; word indices are global over the document set.

    Attributes:
        unit_spans: ``(first_word, last_word_exclusive)`` of each unit.
        unit_blocks: Whether each unit is a block that goes whole or not at all.
        unit_priority: Higher is kept first.
        word_cost: Estimated tokens of each word, including the whitespace before it.
        word_importance: Higher survives pruning and is added first when filling.
        budget: Estimated tokens available for the words.
        forced: Words that are always kept.
        protected: Words that pruning never removes once their unit is kept.
        granularity: ``sentence`` keeps whole units; ``word`` also prunes and fills words.
        unit_budget_factor: At word granularity, units are first chosen for this many times
            the budget, then words are pruned down to it.
        contiguous: Stop at the first unit or word that does not fit (prefix/suffix policies).
    """

    unit_spans: Sequence[tuple[int, int]]
    unit_blocks: Sequence[bool]
    unit_priority: Sequence[float]
    word_cost: Sequence[int]
    word_importance: Sequence[float]
    budget: float
    forced: frozenset[int] = frozenset()
    protected: frozenset[int] = frozenset()
    granularity: Literal["word", "sentence"] = "word"
    unit_budget_factor: float = 1.0
    contiguous: bool = False


@dataclass(kw_only=True)
class Selection:
    """Kept words and the order in which they were added (forced words first)."""

    kept: set[int] = field(default_factory=set)
    groups: list[list[int]] = field(default_factory=list)
    spent: float = 0.0

    def add(self, words: list[int], cost: Sequence[int]) -> None:
        """Keep ``words`` as one group."""
        if words:
            self.kept.update(words)
            self.groups.append(words)
            self.spent += sum(cost[w] for w in words)


def unit_order(problem: SelectionProblem) -> list[int]:
    """Units by descending priority; earlier units win ties, so the order is deterministic."""
    prio = problem.unit_priority
    return sorted(range(len(prio)), key=lambda u: (-prio[u], u))


def select(problem: SelectionProblem) -> Selection:
    """Choose words under ``problem.budget`` (see the module docstring)."""
    cost = problem.word_cost
    forced = sorted(problem.forced)
    # Group 0 is always the forced group, even when empty, so callers never take it back.
    chosen = Selection(kept=set(forced), groups=[forced], spent=sum(cost[w] for w in forced))
    order = unit_order(problem)
    factor = problem.unit_budget_factor if problem.granularity == "word" else 1.0
    add_units(problem, chosen, order, problem.budget * max(factor, 1.0))
    if chosen.spent > problem.budget:
        _prune(problem, chosen)
    if problem.granularity == "word":
        fill(problem, chosen, order)
    return chosen


def add_units(problem: SelectionProblem, chosen: Selection, order: list[int], limit: float) -> None:
    cost = problem.word_cost
    for u in order:
        first, last = problem.unit_spans[u]
        new = [w for w in range(first, last) if w not in chosen.kept]
        extra = sum(cost[w] for w in new)
        if chosen.spent + extra <= limit:
            chosen.add(new, cost)
        elif problem.contiguous:
            return


def _prune(problem: SelectionProblem, chosen: Selection) -> None:
    blocks = {w for (a, b), blk in zip(problem.unit_spans, problem.unit_blocks) if blk
              for w in range(a, b)}
    fixed = problem.forced | problem.protected | blocks
    removable = sorted((w for w in chosen.kept if w not in fixed),
                       key=lambda w: (problem.word_importance[w], -w))
    dropped: set[int] = set()
    for w in removable:
        if chosen.spent <= problem.budget:
            break
        dropped.add(w)
        chosen.spent -= problem.word_cost[w]
    chosen.kept -= dropped
    chosen.groups = [[w for w in g if w not in dropped] for g in chosen.groups]
    # Units are still over budget when blocks alone overflow it: take whole groups back.
    while chosen.spent > problem.budget and len(chosen.groups) > 1:
        group = chosen.groups.pop()
        chosen.kept -= set(group)
        chosen.spent -= sum(problem.word_cost[w] for w in group)


def fill(problem: SelectionProblem, chosen: Selection, order: list[int]) -> None:
    """Spend what is left on parts of the next units, best unit first.

    A part is the contiguous run of missing words with the most importance that fits, so a
    filled fragment reads as a phrase ("Antonio Maceo"), not as scattered keywords. Contiguous
    policies take the run from the unit's kept side instead (a prefix or suffix).
    """
    for u in order:
        if chosen.spent >= problem.budget:
            return
        if problem.unit_blocks[u]:
            continue
        first, last = problem.unit_spans[u]
        missing = [w for w in range(first, last) if w not in chosen.kept]
        if not missing:
            continue
        # Protected words (keep_digits) come along with any part of their unit: paid first.
        protected = [w for w in missing if w in problem.protected]
        room = problem.budget - chosen.spent - sum(problem.word_cost[w] for w in protected)
        added = (_edge_run if problem.contiguous else _best_run)(problem, missing, room)
        chosen.add(sorted({*added, *protected}) if added else [], problem.word_cost)
        if problem.contiguous:
            return


def _edge_run(problem: SelectionProblem, missing: list[int], room: float) -> list[int]:
    importance, cost = problem.word_importance, problem.word_cost
    ordered = sorted(missing, key=lambda w: (-importance[w], w))
    run: list[int] = []
    for w in ordered:
        if room < cost[w]:
            break
        run.append(w)
        room -= cost[w]
    return sorted(run)


def _best_run(problem: SelectionProblem, missing: list[int], room: float) -> list[int]:
    importance, cost = problem.word_importance, problem.word_cost
    best: tuple[float, int, int] = (0.0, 0, 0)
    lo, spent, gain = 0, 0.0, 0.0
    for hi, w in enumerate(missing):
        if hi and missing[hi - 1] + 1 != w:  # a gap: runs never jump over kept words
            lo, spent, gain = hi, 0.0, 0.0
        spent += cost[w]
        gain += importance[w]
        while spent > room and lo <= hi:
            spent -= cost[missing[lo]]
            gain -= importance[missing[lo]]
            lo += 1
        if lo <= hi and gain > best[0]:
            best = (gain, lo, hi + 1)
    return missing[best[1] : best[2]]
