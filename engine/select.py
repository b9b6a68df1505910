"""Budgeted selection of words: pure, no text, no tokenizer.

The selector sees a document set as one flat sequence of words, grouped into units, with an
estimated token cost per word, a priority per unit and an importance per word. It keeps
forced words first, then whole units by priority, then (at word granularity) prunes the least
important words of the kept units and fills what is left with the best words of the next units.
It records what it added in order, so the caller can :func:`take_back` the last additions when
the exact token count of the assembled text is over budget, and :func:`grow` the selection
again when it is under.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from itertools import filterfalse
from typing import Literal

__all__ = ["Selection", "SelectionProblem", "grow", "select", "take_back", "unit_order"]


@dataclass(frozen=True, kw_only=True)
class SelectionProblem:
    """The input of :func:`select`; word indices are global over the document set.

    Attributes:
        unit_spans: ``(first_word, last_word_exclusive)`` of each unit.
        unit_blocks: Whether each unit is a block that goes whole or not at all.
        unit_priority: Higher is kept first.
        word_cost: Estimated tokens of each word, including the whitespace before it; at
            least 1 (a word that shares a token with its neighbour still costs one).
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
    """Kept words: the forced ones, then groups of additions in the order they were made.

    Attributes:
        forced: The forced words, sorted; kept whatever the budget, never taken back.
        groups: The additions, oldest first; :func:`take_back` starts from the last.
        kept: Every kept word: the forced ones and those of the groups.
        spent: Estimated tokens of the kept words.
    """

    forced: list[int] = field(default_factory=list)
    groups: list[list[int]] = field(default_factory=list)
    kept: set[int] = field(default_factory=set)
    spent: float = 0.0

    def add(self, words: list[int], cost: Sequence[int]) -> None:
        """Keep ``words`` as one group."""
        if words:
            self.kept.update(words)
            self.groups.append(words)
            self.spent += sum(map(cost.__getitem__, words))


def unit_order(problem: SelectionProblem) -> list[int]:
    """Units by descending priority; earlier units win ties, so the order is deterministic."""
    prio = problem.unit_priority
    return sorted(range(len(prio)), key=lambda u: (-prio[u], u))


def select(problem: SelectionProblem) -> Selection:
    """Choose words under ``problem.budget`` (see the module docstring)."""
    cost = problem.word_cost
    forced = sorted(problem.forced)
    chosen = Selection(forced=forced, kept=set(forced), spent=sum(map(cost.__getitem__, forced)))
    order = unit_order(problem)
    factor = problem.unit_budget_factor if problem.granularity == "word" else 1.0
    _add_units(problem, chosen, order, problem.budget * max(factor, 1.0))
    if chosen.spent > problem.budget:
        _prune(problem, chosen)
    if problem.granularity == "word":
        _fill(problem, chosen, order)
    return chosen


def grow(problem: SelectionProblem, chosen: Selection, order: list[int], slack: float) -> None:
    """Add to ``chosen`` about ``slack`` more estimated tokens, best units first.

    Nothing kept is removed. ``order`` is :func:`unit_order` of ``problem``.
    """
    limit = chosen.spent + slack
    if problem.granularity == "word":
        _fill(replace(problem, budget=limit), chosen, order)
    else:
        _add_units(problem, chosen, order, limit)


def take_back(problem: SelectionProblem, chosen: Selection, over: float) -> None:
    """Take back the last additions worth about ``over`` estimated tokens.

    At word granularity the last group loses its least important words first; a group with
    nothing left to prune goes whole. Forced words are never taken back. Removing as much as
    the overshoot in one step (not one group per exact count) keeps the number of exact counts
    logarithmic: 10,000 one-word documents need a handful, not 10,000.
    """
    removed = 0
    while removed < over and chosen.groups:
        group = chosen.groups[-1]
        if problem.granularity == "word" and len(group) > 1:
            victims = [w for w in group if w not in problem.protected]
            pruned = _drop_words(problem, chosen, victims, over - removed, [group])
            removed += pruned
            if group and pruned:  # else only protected words are left: the group goes whole
                return
        removed += _drop_last_group(problem, chosen)


def _add_units(problem: SelectionProblem, chosen: Selection, order: list[int],
               limit: float) -> None:
    cost = problem.word_cost
    for u in order:
        first, last = problem.unit_spans[u]
        new = list(filterfalse(chosen.kept.__contains__, range(first, last)))
        extra = sum(map(cost.__getitem__, new))
        if chosen.spent + extra <= limit:
            chosen.add(new, cost)
        elif problem.contiguous:
            return


def _prune(problem: SelectionProblem, chosen: Selection) -> None:
    """Bring an over-budget selection back under budget, least important words first."""
    blocks = {w for (a, b), blk in zip(problem.unit_spans, problem.unit_blocks) if blk
              for w in range(a, b)}
    fixed = problem.forced | problem.protected | blocks
    removable = [w for w in chosen.kept if w not in fixed]
    _drop_words(problem, chosen, removable, chosen.spent - problem.budget, chosen.groups)
    # Units are still over budget when blocks alone overflow it: take whole groups back.
    while chosen.spent > problem.budget and chosen.groups:
        _drop_last_group(problem, chosen)


def _drop_words(problem: SelectionProblem, chosen: Selection, candidates: Iterable[int],
                over: float, groups: Sequence[list[int]]) -> int:
    """Drop the least important ``candidates`` worth ``over`` estimated tokens.

    The dropped words leave ``chosen`` and ``groups`` (the groups that hold them). Each word
    counts at least one token. Returns the tokens removed.
    """
    victims = sorted(candidates, key=lambda w: (problem.word_importance[w], -w))
    dropped: set[int] = set()
    removed = 0
    for w in victims:
        if removed >= over:
            break
        dropped.add(w)
        removed += max(1, problem.word_cost[w])
        chosen.spent -= problem.word_cost[w]
    if dropped:
        for group in groups:
            group[:] = [w for w in group if w not in dropped]
        chosen.kept -= dropped
    return removed


def _drop_last_group(problem: SelectionProblem, chosen: Selection) -> int:
    """Take the last group back whole; returns its tokens (at least 1 unless it was empty)."""
    group = chosen.groups.pop()
    chosen.kept.difference_update(group)
    cost = sum(map(problem.word_cost.__getitem__, group))
    chosen.spent -= cost
    return max(1, cost) if group else 0


def _fill(problem: SelectionProblem, chosen: Selection, order: list[int]) -> None:
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
        missing = list(filterfalse(chosen.kept.__contains__, range(first, last)))
        if not missing:
            continue
        # Protected words (keep_digits) come along with any part of their unit: paid first.
        protected = list(filter(problem.protected.__contains__, missing))
        room = problem.budget - chosen.spent - sum(map(problem.word_cost.__getitem__, protected))
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
