"""Scorers: how relevant each document and unit is, and how much each word carries.

A scorer is any object with a ``name`` and a ``score(question, documents)`` method returning
:class:`Scores` (see :class:`Scorer`). Built-in scorers are looked up by exact name and imported
lazily, so ``lexical`` works without torch:

=============  ==========================================================  ================
name           what                                                        needs
=============  ==========================================================  ================
``lexical``    BM25 relevance + in-set word informativeness                nothing
``embedding``  MiniLM sentence/document similarity (+ BM25 fusion)         ``onnx`` extra
``lm``         causal-LM self-information and question contrast            ``models`` extra
``classifier`` token keep-probabilities of a token-classification model    ``models`` extra
=============  ==========================================================  ================
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from tersify.errors import InvalidRequestError
from tersify.segment import Segmented

__all__ = ["BatchScorer", "Scorer", "Scores", "available_scorers", "get_scorer", "score_many"]


@dataclass(frozen=True, kw_only=True)
class Scores:
    """Raw scores for one document set; higher means keep. Scales are the scorer's own.

    Attributes:
        documents: Relevance of each document to the question.
        units: Relevance of each unit, per document (same shape as ``Segmented.units``).
        words: Importance of each word, per document (same shape as ``Segmented.word_starts``).
        evidence: Probability that each document holds evidence for the question, where the
            scorer has a calibrated model (the learned fusion); ``None`` otherwise. ``auto``
            budgets read it.
    """

    documents: Sequence[float]
    units: Sequence[Sequence[float]]
    words: Sequence[Sequence[float]]
    evidence: Sequence[float] | None = None


@runtime_checkable
class Scorer(Protocol):
    """Scores documents, units and words of a document set against a question."""

    name: str

    def score(self, question: str, documents: Sequence[Segmented]) -> Scores:
        """Score ``documents`` for ``question`` (empty for question-agnostic scoring)."""
        ...


@runtime_checkable
class BatchScorer(Scorer, Protocol):
    """A scorer that scores several document sets in one call (sharing model passes)."""

    def score_many(self, items: Sequence[tuple[str, Sequence[Segmented]]]) -> list[Scores]:
        """:meth:`score` for each (question, documents) pair, in order."""
        ...


def score_many(scorer: Scorer, items: Sequence[tuple[str, Sequence[Segmented]]]) -> list[Scores]:
    """Scores for each (question, documents) pair: in one call when ``scorer`` batches."""
    if isinstance(scorer, BatchScorer):
        return scorer.score_many(items)
    return [scorer.score(question, documents) for question, documents in items]


_REGISTRY = {
    "lexical": "tersify.scorers.lexical:LexicalScorer",
    "embedding": "tersify.scorers.embedding:EmbeddingScorer",
    "lm": "tersify.scorers.lm:LMScorer",
    "classifier": "tersify.scorers.classifier:ClassifierScorer",
}


def available_scorers() -> tuple[str, ...]:
    """Names accepted by :func:`get_scorer`."""
    return tuple(_REGISTRY)


def get_scorer(name: str, **options: Any) -> Scorer:
    """Build the scorer registered under exactly ``name``.

    Args:
        name: One of :func:`available_scorers`.
        **options: Keyword arguments for the scorer's constructor.

    Raises:
        InvalidRequestError: ``name`` is not registered.
        MissingDependencyError: The scorer needs an extra that is not installed.
    """
    if name not in _REGISTRY:
        raise InvalidRequestError(
            f"unknown scorer {name!r}; valid choices: {', '.join(available_scorers())}"
        )
    module_name, _, attr = _REGISTRY[name].partition(":")
    scorer: Scorer = getattr(importlib.import_module(module_name), attr)(**options)
    return scorer
