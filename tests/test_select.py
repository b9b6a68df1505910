"""Budgeted selection on its own (tersify.select): Hypothesis properties over made-up problems.

The engine's properties (test_invariants.py) see selection only through whole compressions;
these call :func:`select`, :func:`grow` and :func:`take_back` directly, on problems with ties,
blocks, forced and protected words and budgets from below zero to above the total cost.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from hypothesis import given
from hypothesis import strategies as st

from tersify.select import Selection, SelectionProblem, grow, select, take_back, unit_order


@st.composite
def problems(draw: st.DrawFn) -> SelectionProblem:
    """A document set as units of words, with costs, scores and a budget."""
    sizes = draw(st.lists(st.integers(1, 6), max_size=8))
    spans, first = [], 0
    for size in sizes:
        spans.append((first, first + size))
        first += size
    n = first
    cost = draw(st.lists(st.integers(1, 4), min_size=n, max_size=n))
    # Few distinct values, so ties (broken by word index) are common.
    importance = draw(st.lists(st.integers(0, 4).map(float), min_size=n, max_size=n))
    words = st.integers(0, max(0, n - 1))
    atoms = []  # a phrase of two or three words inside some units
    for (a, b), pick in zip(spans, draw(st.lists(st.integers(0, 5), min_size=len(spans),
                                                 max_size=len(spans)))):
        if b - a >= 2 and pick < 3:
            start = a + pick % (b - a - 1)
            atoms.append((start, min(b, start + 2 + pick % 2)))
    docs = draw(st.lists(st.integers(0, 2), min_size=len(spans), max_size=len(spans)))
    return SelectionProblem(
        unit_spans=spans,
        unit_blocks=draw(st.lists(st.booleans(), min_size=len(spans), max_size=len(spans))),
        unit_priority=draw(st.lists(st.integers(-3, 3).map(float), min_size=len(spans),
                                    max_size=len(spans))),
        word_cost=cost, word_importance=importance,
        budget=float(draw(st.integers(-2, sum(cost) + 2))),
        forced=draw(st.frozensets(words, max_size=3)) if n else frozenset(),
        protected=draw(st.frozensets(words, max_size=4)) if n else frozenset(),
        granularity=draw(st.sampled_from(["word", "sentence"])),
        unit_budget_factor=draw(st.sampled_from([1.0, 1.5, 3.0, math.inf])),
        contiguous=draw(st.booleans()), atoms=atoms,
        unit_doc=sorted(docs),  # documents are runs of units
        unit_anchor=draw(st.lists(st.integers(0, 4).map(bool), min_size=len(spans),
                                  max_size=len(spans))),
        whole_units=draw(st.booleans()))


@dataclass(frozen=True)
class Snapshot:
    kept: frozenset[int]
    groups: tuple[tuple[int, ...], ...]
    spent: float

    @staticmethod
    def of(chosen: Selection) -> Snapshot:
        return Snapshot(frozenset(chosen.kept), tuple(tuple(g) for g in chosen.groups),
                        chosen.spent)


def cost_of(problem: SelectionProblem, words: set[int] | frozenset[int]) -> int:
    return sum(problem.word_cost[w] for w in words)


def assert_consistent(problem: SelectionProblem, chosen: Selection) -> None:
    """Forced words kept and never in a group; groups disjoint; kept and spent add up."""
    assert chosen.forced == sorted(problem.forced)
    in_groups = [w for g in chosen.groups for w in g]
    assert len(in_groups) == len(set(in_groups))
    assert not set(in_groups) & problem.forced
    assert chosen.kept == problem.forced | set(in_groups)
    assert chosen.spent == cost_of(problem, chosen.kept)


def assert_atoms_whole(problem: SelectionProblem, chosen: Selection) -> None:
    """Each atom is kept whole or not at all."""
    for a, b in problem.atoms:
        part = chosen.kept & set(range(a, b))
        assert not part or part == set(range(a, b)), (a, b, sorted(chosen.kept))


def assert_documents_keep_a_whole_unit(problem: SelectionProblem, chosen: Selection) -> None:
    """With ``whole_units``, a document keeps a whole anchor unit, or only forced words and
    words of units that hold one."""
    if not problem.whole_units:
        return
    for doc in set(problem.unit_doc):
        units = [u for u, d in enumerate(problem.unit_doc) if d == doc]
        whole = [u for u in units if problem.unit_anchor[u]
                 and set(range(*problem.unit_spans[u])) <= chosen.kept]
        loose = {w for u in units for w in range(*problem.unit_spans[u])
                 if w in chosen.kept and not problem.forced & set(range(*problem.unit_spans[u]))}
        assert whole or not loose, (doc, sorted(loose))


def assert_protected_stay_with_their_unit(problem: SelectionProblem, chosen: Selection) -> None:
    """Once any non-forced word of a unit is kept, so are its protected words."""
    for first, last in problem.unit_spans:
        unit = set(range(first, last))
        if (unit & chosen.kept) - problem.forced:
            assert unit & problem.protected <= chosen.kept


@given(problems())
def test_select_never_exceeds_the_budget_it_is_given(problem: SelectionProblem) -> None:
    chosen = select(problem)
    assert_consistent(problem, chosen)
    assert_atoms_whole(problem, chosen)
    assert_documents_keep_a_whole_unit(problem, chosen)
    forced_cost = cost_of(problem, problem.forced)
    if forced_cost > problem.budget:
        assert chosen.kept == problem.forced and not chosen.groups  # only forced words remain
    else:
        assert chosen.spent <= problem.budget


@given(problems())
def test_select_keeps_sentences_and_blocks_whole(problem: SelectionProblem) -> None:
    chosen = select(problem)
    assert_protected_stay_with_their_unit(problem, chosen)
    for (first, last), block in zip(problem.unit_spans, problem.unit_blocks):
        if block or problem.granularity == "sentence":
            unit = set(range(first, last))
            kept = unit & chosen.kept
            assert kept <= problem.forced or kept == unit


@given(problems(), st.integers(1, 20))
def test_take_back_removes_the_least_important_words_of_the_last_group_first(
        problem: SelectionProblem, over: int) -> None:
    # Without whole_units: dropping a document's fragments reaches into earlier groups (the
    # property test_forced_words_survive_any_sequence_of_grow_and_take_back checks that rule).
    problem = replace(problem, whole_units=False)
    chosen = select(problem)
    before = Snapshot.of(chosen)
    take_back(problem, chosen, over)
    assert_consistent(problem, chosen)
    assert_protected_stay_with_their_unit(problem, chosen)
    k = len(chosen.groups)
    assert tuple(tuple(g) for g in chosen.groups[: k - 1]) == before.groups[: max(0, k - 1)]
    if not k:
        return
    last, original = chosen.groups[-1], before.groups[k - 1]
    assert [w for w in original if w in last] == last  # a subsequence: only drops, no moves
    dropped = set(original) - set(last)
    if dropped:
        assert problem.granularity == "word" and not dropped & problem.protected
        # An atom is ranked by its most important word, and goes whole.
        owner = problem.owner
        atom = {w: list(range(*owner[w])) if w in owner else [w] for w in original}
        key = {w: (max(problem.word_importance[x] for x in atom[w]), -atom[w][0])
               for w in original}
        survivors = [key[w] for w in last if w not in problem.protected]
        assert max(key[w] for w in dropped) < min(survivors, default=(math.inf, 0))
    if any(w not in problem.protected for w in last) or problem.granularity == "sentence":
        assert before.spent - chosen.spent >= over  # enough was taken back


@given(problems(), st.integers(1, 20))
def test_take_back_takes_something_while_anything_was_added(problem: SelectionProblem,
                                                            over: int) -> None:
    chosen = select(problem)
    before = Snapshot.of(chosen)
    take_back(problem, chosen, over)
    assert chosen.kept <= before.kept
    if any(before.groups):
        assert chosen.kept < before.kept


# Slack in halves, as the fit loop gives it (a gap times a power of two): float rounding of
# arbitrary fractions is not what this property is about.
@given(problems(), st.integers(0, 60).map(lambda x: x / 2))
def test_grow_only_adds_and_stays_within_its_slack(problem: SelectionProblem,
                                                   slack: float) -> None:
    chosen = select(problem)
    before = Snapshot.of(chosen)
    grow(problem, chosen, unit_order(problem), slack)
    assert_consistent(problem, chosen)
    assert_protected_stay_with_their_unit(problem, chosen)
    assert before.kept <= chosen.kept
    assert tuple(tuple(g) for g in chosen.groups[: len(before.groups)]) == before.groups
    assert chosen.spent <= before.spent + slack


@given(problems(), st.lists(st.tuples(st.booleans(), st.integers(1, 12)), max_size=6))
def test_forced_words_survive_any_sequence_of_grow_and_take_back(
        problem: SelectionProblem, steps: list[tuple[bool, int]]) -> None:
    chosen = select(problem)
    order = unit_order(problem)
    for grows, amount in steps:
        if grows:
            grow(problem, chosen, order, float(amount))
        else:
            take_back(problem, chosen, amount)
        assert_consistent(problem, chosen)
        assert_protected_stay_with_their_unit(problem, chosen)
        assert_atoms_whole(problem, chosen)
        assert_documents_keep_a_whole_unit(problem, chosen)


def one_unit(importance: list[float], *, budget: float, factor: float = 1.0,
             protected: frozenset[int] = frozenset()) -> SelectionProblem:
    n = len(importance)
    return SelectionProblem(unit_spans=[(0, n)], unit_blocks=[False], unit_priority=[1.0],
                            word_cost=[1] * n, word_importance=importance, budget=budget,
                            protected=protected, unit_budget_factor=factor)


def test_select_prunes_the_least_important_words_to_the_budget() -> None:
    # Units are chosen for twice the budget (all four words), then pruned back to two.
    chosen = select(one_unit([3.0, 1.0, 2.0, 4.0], budget=2, factor=2.0))
    assert chosen.kept == {0, 3} and chosen.groups == [[0, 3]] and chosen.spent == 2


def test_take_back_prunes_the_least_important_words_first() -> None:
    problem = one_unit([3.0, 1.0, 2.0, 4.0], budget=4, protected=frozenset({1}))
    chosen = select(problem)
    take_back(problem, chosen, 2)  # word 1 is the least important but protected
    assert chosen.kept == {1, 3} and chosen.groups == [[1, 3]]
