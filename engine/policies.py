"""Named compression policies: each turns scores into unit priorities and word importances.

=================  ===========================================================================
``tersify``        question-aware: documents and units ranked by the scorer, words pruned by
                   importance, budget filled exactly (the default)
``truncation``     keep the beginning of the context, cut the end
``fifo``           first in, first out: evict the oldest text, keep the most recent (the end)
``summarization``  extractive and question-agnostic: keep the sentences most central to the
                   document set, leads first
``h2o``            heavy hitters plus a recent window (after Zhang et al. 2023, H2O): keep the
                   most informative words anywhere and the most recent words, a fifth of the budget
=================  ===========================================================================
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tersify.errors import InvalidRequestError
from tersify.normalize import minmax, zscores
from tersify.scorers import Scores
from tersify.scorers.lexical import terms_of
from tersify.segment import Segmented
from tersify.types import Granularity

__all__ = ["Plan", "Policy", "Tuning", "available_policies", "get_policy"]


@dataclass(frozen=True, kw_only=True)
class Tuning:
    """Knobs of the ``tersify`` policy, set by presets.

    Attributes:
        doc_weight: Share of a unit's priority that comes from its document's relevance.
        unit_budget_factor: At word granularity, choose units for this many times the budget
            before pruning words back to it (1.0 keeps chosen sentences whole).
        granularity: Default granularity when the request leaves it unset.
        auto_mass: With ``target_ratio="auto"`` and a calibrated scorer, the budget holds the
            likeliest documents until they hold this share of the expected evidence (chosen
            on training splits by ``benchmarks/auto_budget.py``).
    """

    doc_weight: float = 0.5
    unit_budget_factor: float = 1.0
    granularity: Granularity = "word"
    auto_mass: float = 0.7


@dataclass(frozen=True, kw_only=True)
class Plan:
    """Per document: unit priorities and word importances, plus how to select."""

    unit_priority: list[list[float]]
    word_importance: list[list[float]]
    doc_relevance: list[float]
    granularity: Granularity
    unit_budget_factor: float = 1.0
    contiguous: bool = False
    whole_units: bool = False  # unless the request names a granularity (see Job.problem)


# (documents, scores, tuning, fraction of the context words the budget keeps) -> plan
PlanFn = Callable[[Sequence[Segmented], "Scores | None", Tuning, float], Plan]


@dataclass(frozen=True, kw_only=True)
class Policy:
    """A named policy.

    Attributes:
        name: Registry name.
        question_aware: Whether the question steers it (else scorers see an empty question).
        uses_scorer: Whether it needs a scorer at all.
        plan: Builds the :class:`Plan` from the segmented documents and scores.
    """

    name: str
    question_aware: bool
    uses_scorer: bool
    plan: PlanFn


def _tersify(
    docs: Sequence[Segmented], scores: Scores | None, tuning: Tuning, keep: float
) -> Plan:
    assert scores is not None  # guaranteed by uses_scorer
    doc_z = zscores(scores.documents)
    unit_z = iter(zscores([s for per_doc in scores.units for s in per_doc]))
    w = tuning.doc_weight
    priority = [[w * doc_z[d] + (1 - w) * next(unit_z) for _ in doc.units]
                for d, doc in enumerate(docs)]
    return Plan(unit_priority=priority, word_importance=[list(x) for x in scores.words],
                doc_relevance=minmax(scores.documents), granularity=tuning.granularity,
                unit_budget_factor=tuning.unit_budget_factor, whole_units=True)


def _positional(*, keep_end: bool) -> PlanFn:
    sign = 1.0 if keep_end else -1.0

    def plan(
        docs: Sequence[Segmented], scores: Scores | None, tuning: Tuning, keep: float
    ) -> Plan:
        priority, importance, unit_base, word_base = [], [], 0, 0
        for doc in docs:
            priority.append([sign * (unit_base + i) for i in range(len(doc.units))])
            importance.append([sign * (word_base + i) for i in range(len(doc.word_starts))])
            unit_base += len(doc.units)
            word_base += len(doc.word_starts)
        return Plan(unit_priority=priority, word_importance=importance,
                    doc_relevance=[1.0] * len(docs), granularity="word", contiguous=True)

    return plan


def _summarization(
    docs: Sequence[Segmented], scores: Scores | None, tuning: Tuning, keep: float
) -> Plan:
    bags = [[Counter(terms_of(doc.unit_text(u))) for u in doc.units] for doc in docs]
    centroid: Counter[str] = Counter()
    for per_doc in bags:
        for bag in per_doc:
            centroid.update(bag)
    priority = [[_cosine(bag, centroid) + (0.2 if i == 0 else 0.0) for i, bag in enumerate(per_doc)]
                for per_doc in bags]
    importance = [list(x) for x in scores.words] if scores else [[0.0] * len(d.word_starts)
                                                                 for d in docs]
    return Plan(unit_priority=priority, word_importance=importance,
                doc_relevance=minmax([max(p, default=0.0) for p in priority]), granularity="word",
                whole_units=True)


def _h2o(
    docs: Sequence[Segmented], scores: Scores | None, tuning: Tuning, keep: float
) -> Plan:
    assert scores is not None
    total = sum(len(d.word_starts) for d in docs)
    recent_from = total - max(1, int(total * keep / 5))  # a fifth of the budget is recent
    importance, base = [], 0
    for d, doc in enumerate(docs):
        importance.append([s + (1e6 if base + i >= recent_from else 0.0)
                           for i, s in enumerate(scores.words[d])])
        base += len(doc.word_starts)
    return Plan(unit_priority=[[0.0] * len(d.units) for d in docs], word_importance=importance,
                doc_relevance=minmax(scores.documents), granularity="word",
                unit_budget_factor=math.inf)


def _cosine(a: Counter[str], b: Counter[str]) -> float:
    dot = sum(v * b[t] for t, v in a.items())
    norm = math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values()))
    return dot / norm if norm else 0.0


_POLICIES = {
    p.name: p
    for p in (
        Policy(name="tersify", question_aware=True, uses_scorer=True, plan=_tersify),
        Policy(name="truncation", question_aware=False, uses_scorer=False,
               plan=_positional(keep_end=False)),
        Policy(name="fifo", question_aware=False, uses_scorer=False,
               plan=_positional(keep_end=True)),
        Policy(name="summarization", question_aware=False, uses_scorer=True, plan=_summarization),
        Policy(name="h2o", question_aware=False, uses_scorer=True, plan=_h2o),
    )
}


def available_policies() -> tuple[str, ...]:
    """Names accepted by :func:`get_policy`."""
    return tuple(_POLICIES)


def get_policy(name: str) -> Policy:
    """The policy registered under exactly ``name``.

    Raises:
        InvalidRequestError: ``name`` is not registered.
    """
    try:
        return _POLICIES[name]
    except KeyError:
        raise InvalidRequestError(
            f"unknown policy {name!r}; valid choices: {', '.join(available_policies())}"
        ) from None
