"""Budgeted selection of words: pure, no text, no tokenizer.

The selector sees a document set as one flat sequence of words, grouped into units, with an
estimated token cost per word, a priority per unit and an importance per word. It keeps
forced words first, then the units that hold them (whole if they fit, else a window around
them), then whole units by priority, then (at word granularity) prunes the least important
words of the kept units and fills what is left with the best words of the next units.
It records what it added in order, so the caller can :func:`take_back` the last additions when
the exact token count of the assembled text is over budget, and :func:`grow` the selection
again when it is under.

Three rules keep the output from saying something false or nothing (see :mod:`tersify.wholes`):
a phrase (a date, a number with its unit, a name) is kept whole or dropped whole; a forced
word is read with its neighbours; and, when asked, a document that keeps words keeps at least
one whole unit of its own, else it keeps nothing (but its forced words and their windows).
And a unit that says again what a kept unit says (the same sentence, or nearly, in any
document) is not added unless it holds a forced word (see :mod:`tersify.duplicates`).

The problem and the selection are defined in :mod:`tersify.selection` (and exported here).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import filterfalse

from tersify.duplicates import Guard
from tersify.selection import Selection, SelectionProblem
from tersify.wholes import (
    NEAR,
    WINDOW,
    anchored_docs,
    best_run,
    complete,
    edge_run,
    fragments,
    pieces,
)

__all__ = ["Selection", "SelectionProblem", "grow", "select", "take_back", "unit_order"]

_FIRST = float("inf")  # the priority of units that hold a forced word (tersify.wholes)


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
    if problem.granularity == "word" and not problem.contiguous:
        _frame(problem, chosen, order)
    factor = problem.unit_budget_factor if problem.granularity == "word" else 1.0
    _add_units(problem, chosen, order, problem.budget * max(factor, 1.0))
    if chosen.spent > problem.budget:
        _prune(problem, chosen)
    if problem.granularity == "word":
        _fill(problem, chosen, order, problem.budget)
    _drop_fragments(problem, chosen)
    return chosen


def grow(problem: SelectionProblem, chosen: Selection, order: list[int], slack: float) -> None:
    """Add to ``chosen`` about ``slack`` more estimated tokens, best units first.

    Nothing kept is removed. ``order`` is :func:`unit_order` of ``problem``.
    """
    limit = chosen.spent + slack
    if problem.granularity == "word":
        _fill(problem, chosen, order, limit)
    else:
        _add_units(problem, chosen, order, limit)


def take_back(problem: SelectionProblem, chosen: Selection, over: float) -> None:
    """Take back the last additions worth about ``over`` estimated tokens.

    At word granularity the last group loses its least important words first (whole atoms),
    but never the words of a block (markdown, code) or protected ones: a group with nothing
    else left to prune goes whole. Forced words are never taken back. Removing
    as much as the overshoot in one step (not one group per exact count) keeps the number of
    exact counts logarithmic: 10,000 one-word documents need a handful, not 10,000. Then, with
    ``whole_units``, documents left without a whole unit lose their fragments.
    """
    removed = 0
    fixed: set[int] | None = None  # protected words and blocks' words: the group goes whole
    while removed < over and chosen.groups:
        group = chosen.groups[-1]
        if problem.granularity == "word" and len(group) > 1:
            fixed = _block_words(problem) | problem.protected if fixed is None else fixed
            victims = [w for w in group if w not in fixed]
            pruned = _drop_words(problem, chosen, victims, over - removed, [group])
            removed += pruned
            if group and pruned:  # else only fixed words are left: the group goes whole
                break
        removed += _drop_last_group(problem, chosen)
    _drop_fragments(problem, chosen)


def _frame(problem: SelectionProblem, chosen: Selection, order: list[int]) -> None:
    """Keep each unit that holds a forced word whole if it fits, else a window around it."""
    cost = problem.word_cost
    for u in order:
        if problem.unit_priority[u] != _FIRST:
            return
        first, last = problem.unit_spans[u]
        missing = list(filterfalse(chosen.kept.__contains__, range(first, last)))
        room = problem.budget - chosen.spent
        if sum(map(cost.__getitem__, missing)) <= room:
            chosen.add(missing, cost)
        elif not problem.unit_blocks[u]:
            near = [w for w in missing if problem.word_importance[w] >= NEAR - WINDOW]
            chosen.add(_part(problem, missing, near, room, edge=True), cost)


def _add_units(problem: SelectionProblem, chosen: Selection, order: list[int],
               limit: float) -> None:
    cost = problem.word_cost
    anchored = _anchored(problem, chosen)
    guard = Guard(problem.twins, chosen.kept)
    for u in order:
        first, last = problem.unit_spans[u]
        new = list(filterfalse(chosen.kept.__contains__, range(first, last)))
        extra = sum(map(cost.__getitem__, new))
        if anchored is not None and not problem.unit_anchor[u] and \
                problem.unit_doc[u] not in anchored:
            continue  # a lone heading says nothing of its own
        if not guard.allows(u, started=len(new) < last - first):
            continue  # it says again what a kept unit says
        if chosen.spent + extra <= limit:
            chosen.add(new, cost)
            guard.note(u)
            if anchored is not None and problem.unit_anchor[u]:
                anchored.add(problem.unit_doc[u])
        elif problem.contiguous:
            return


def _prune(problem: SelectionProblem, chosen: Selection) -> None:
    """Bring an over-budget selection back under budget, least important words first."""
    fixed = problem.forced | problem.protected | _block_words(problem)
    removable = [w for w in chosen.kept if w not in fixed]
    _drop_words(problem, chosen, removable, chosen.spent - problem.budget, chosen.groups)
    # Units are still over budget when blocks alone overflow it: take whole groups back.
    while chosen.spent > problem.budget and chosen.groups:
        _drop_last_group(problem, chosen)


def _block_words(problem: SelectionProblem) -> set[int]:
    """Words of the units that go whole or not at all (markdown and code blocks)."""
    return {w for (a, b), blk in zip(problem.unit_spans, problem.unit_blocks) if blk
            for w in range(a, b)}


def _drop_words(problem: SelectionProblem, chosen: Selection, candidates: Iterable[int],
                over: float, groups: Sequence[list[int]]) -> int:
    """Drop the least important ``candidates`` worth ``over`` estimated tokens.

    An atom goes whole, ranked by its most important word, and only when all of it is among
    the candidates. The dropped words leave ``chosen`` and ``groups`` (the groups that hold
    them). Each word counts at least one token. Returns the tokens removed.
    """
    importance, cost, owner = problem.word_importance, problem.word_cost, problem.owner
    whole = ([p for p in pieces(candidates, owner) if complete(owner, p)] if owner
             else [[w] for w in candidates])
    whole.sort(key=lambda p: (max(map(importance.__getitem__, p)), -p[0]))
    dropped: set[int] = set()
    removed = 0
    for piece in whole:
        if removed >= over:
            break
        dropped.update(piece)
        removed += sum(max(1, cost[w]) for w in piece)
        chosen.spent -= sum(map(cost.__getitem__, piece))
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


def _anchored(problem: SelectionProblem, chosen: Selection) -> set[int] | None:
    """Documents with a whole anchor unit, or None when the problem does not ask for one."""
    if not problem.whole_units:
        return None
    return anchored_docs(problem.unit_spans, problem.unit_anchor, problem.unit_doc, chosen.kept)


def _drop_fragments(problem: SelectionProblem, chosen: Selection) -> None:
    """With ``whole_units``, drop the kept words of documents without a whole anchor unit."""
    if not problem.whole_units or not chosen.groups:
        return
    doomed = fragments(problem.unit_spans, problem.unit_anchor, problem.unit_doc,
                       problem.unit_priority, chosen.kept) - problem.forced
    if doomed:
        for group in chosen.groups:
            group[:] = [w for w in group if w not in doomed]
        chosen.groups[:] = [g for g in chosen.groups if g]
        chosen.kept -= doomed
        chosen.spent -= sum(map(problem.word_cost.__getitem__, doomed))


def _fill(problem: SelectionProblem, chosen: Selection, order: list[int], budget: float) -> None:
    """Spend what is left of ``budget`` on parts of the next units, best unit first.

    A part is the contiguous run of missing words with the most importance that fits, so a
    filled fragment reads as a phrase ("Antonio Maceo"), not as scattered keywords; it never
    cuts an atom. Contiguous policies take the run from the unit's kept side instead (a prefix
    or suffix), and units that hold a forced word the words nearest it. With ``whole_units``,
    a document without a whole anchor unit gets one whole unit or nothing.
    """
    anchored = _anchored(problem, chosen)
    guard = Guard(problem.twins, chosen.kept)
    for u in order:
        if chosen.spent >= budget:
            return
        if problem.unit_blocks[u] and anchored is None:
            continue
        first, last = problem.unit_spans[u]
        missing = list(filterfalse(chosen.kept.__contains__, range(first, last)))
        if not missing or not guard.allows(u, started=len(missing) < last - first):
            continue
        if problem.unit_blocks[u] or (anchored is not None and problem.unit_doc[u] not in
                                      anchored and problem.unit_priority[u] != _FIRST):
            _fill_whole(problem, chosen, u, missing, anchored, budget)
        else:
            edge = problem.contiguous or problem.unit_priority[u] == _FIRST
            room = budget - chosen.spent
            chosen.add(_part(problem, missing, missing, room, edge=edge), problem.word_cost)
            if problem.contiguous:
                return
        if not chosen.kept.isdisjoint(missing):
            guard.note(u)


def _fill_whole(problem: SelectionProblem, chosen: Selection, u: int, missing: list[int],
                anchored: set[int] | None, budget: float) -> None:
    """Add unit ``u`` whole if it fits (a block, or a unit of a document without one)."""
    if anchored is None or not problem.unit_anchor[u]:
        return
    if sum(map(problem.word_cost.__getitem__, missing)) <= budget - chosen.spent:
        chosen.add(missing, problem.word_cost)
        anchored.add(problem.unit_doc[u])


def _part(problem: SelectionProblem, missing: list[int], candidates: list[int], room: float, *,
          edge: bool) -> list[int]:
    """A part of a unit to add within ``room``: a run of ``candidates`` (the edge run or the
    best run) and the unit's ``missing`` protected words (keep_digits), which come along with
    any part of their unit and are paid first; nothing if no run fits."""
    protected = list(filter(problem.protected.__contains__, missing))
    room -= sum(map(problem.word_cost.__getitem__, protected))
    pick = edge_run if edge else best_run
    run = pick(problem.word_importance, problem.word_cost, problem.owner, candidates, room)
    return sorted({*run, *protected}) if run else []
