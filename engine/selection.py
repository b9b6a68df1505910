"""What budgeted selection (:mod:`tersify.select`) works on: the problem, and the selection
it grows and takes back.

The problem is built once per request (:meth:`tersify.job.Job.problem`); building it widens the
forced and protected words to whole phrases and puts the units that hold a forced word first
(:mod:`tersify.wholes`), so that every pass of selection reads the same rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from tersify.duplicates import Twins
from tersify.wholes import framed, owners, widen

__all__ = ["Selection", "SelectionProblem"]


@dataclass(frozen=True, kw_only=True)
class SelectionProblem:
    """The input of :func:`tersify.select.select`; word indices are global over the document set.

    Attributes:
        unit_spans: ``(first_word, last_word_exclusive)`` of each unit, in word order.
        unit_blocks: Whether each unit is a block that goes whole or not at all.
        unit_priority: Higher is kept first.
        word_cost: Estimated tokens of each word, including the whitespace before it; at
            least 1 (a word that shares a token with its neighbour still costs one).
        word_importance: Higher survives pruning and is added first when filling.
        budget: Estimated tokens available for the words.
        forced: Words that are always kept (widened to whole atoms).
        protected: Words that pruning never removes once their unit is kept (widened too).
        granularity: ``sentence`` keeps whole units; ``word`` also prunes and fills words.
        unit_budget_factor: At word granularity, units are first chosen for this many times
            the budget, then words are pruned down to it.
        contiguous: Stop at the first unit or word that does not fit (prefix/suffix policies).
        atoms: ``(first, last_exclusive)`` of phrases kept whole or dropped whole; each lies
            inside one unit and no two overlap.
        unit_doc: The document of each unit (read only with ``whole_units``).
        unit_anchor: Whether each unit, kept whole, anchors its document (``whole_units``).
        whole_units: A document keeps words only if it keeps a whole anchor unit.
        twins: Units that repeat one another: a unit that repeats one with a kept word is
            not added (:mod:`tersify.duplicates`); None adds repeats like any unit.
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
    atoms: Sequence[tuple[int, int]] = ()
    unit_doc: Sequence[int] = ()
    unit_anchor: Sequence[bool] = ()
    whole_units: bool = False
    twins: Twins | None = None
    owner: dict[int, tuple[int, int]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        owner = owners(self.atoms)
        forced = widen(self.forced, owner)
        object.__setattr__(self, "owner", owner)
        object.__setattr__(self, "forced", forced)
        object.__setattr__(self, "protected", widen(self.protected, owner))
        if forced and not self.contiguous:
            prio, imp = framed(self.unit_spans, self.unit_priority, self.word_importance, forced)
            object.__setattr__(self, "unit_priority", prio)
            object.__setattr__(self, "word_importance", imp)


@dataclass(kw_only=True)
class Selection:
    """Kept words: the forced ones, then groups of additions in the order they were made.

    Attributes:
        forced: The forced words, sorted; kept whatever the budget, never taken back.
        groups: The additions, oldest first; :func:`tersify.select.take_back` starts from the last.
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
