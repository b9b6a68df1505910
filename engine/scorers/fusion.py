"""Learned fusion of document signals: one logistic model turns evidence into relevance.

BM25 alone misses the documents a multi-hop question needs first: the *bridge* document (the
first hop) shares few words with the question, and nothing lets the documents already ranked
high steer the rest. So each document is described by a few signals, each on a scale that does
not depend on the document set:

=================  ==========================================================================
``bm25``           standard score of its BM25 relevance within the set
``dense``          standard score of its encoder similarity (``embedding`` scorer only)
``dense_unspaced`` the same times the share of the question written without spaces (Chinese,
                   Japanese, Thai): lets the model trust an English encoder less there
``coverage``       share of the question's distinct terms it holds
``title``          share of its title's terms the question names (a short first line)
``bridge_in``      share of its title's terms named by one of the :data:`ANCHORS` best other
                   documents of the set (the document the first hop points to: the second hop)
``bridge_out``     share of the best document's title terms it names (the first hop, named
                   by the document that answers)
``hop2``           share of the best other document's rare terms (in at most :data:`RARE`
                   documents of the set, not the question's) that it holds: the second hop
                   scored against what the first hop says
``position``       its place in the given order, 0 first to 1 last (retrievers put the best
                   first; search results carry that signal)
``position_unspaced`` the same times the question's unspaced share (see ``dense_unspaced``)
``length``         standard score of its log length
=================  ==========================================================================

"The best document" is the best by BM25 and title match, so the second stage reads the
first. A logistic model over these (weights learned on training splits only, by
``scripts/train_fusion.py``, shipped in ``data/fusion.json``) gives each document's log-odds
of holding evidence for the question; the policy ranks documents by it, and ``auto`` budgets
read its probability.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from itertools import chain

from tersify.normalize import zscores

__all__ = ["DENSE_FEATURES", "LEXICAL_FEATURES", "Evidence", "Model", "features", "load_model",
           "probabilities"]

LEXICAL_FEATURES = ("bm25", "coverage", "title", "bridge_in", "bridge_out", "hop2", "position",
                    "position_unspaced", "length")
RARE = 3  # a term in at most this many documents of the set names something (``hop2``)
ANCHORS = 1  # documents, best first, whose words can make another a bridge (``bridge_in``)
DENSE_FEATURES = ("dense", "dense_unspaced", *LEXICAL_FEATURES)


@dataclass(frozen=True, kw_only=True)
class Evidence:
    """What the lexical pass found about each document of one set.

    Attributes:
        query: The question's distinct terms.
        terms: Each document's distinct terms.
        titles: Each document's title terms (empty without a short first line).
        lengths: Each document's number of terms.
        bm25: Each document's BM25 relevance.
        unspaced: Share of the question's characters from scripts written without spaces.
    """

    query: frozenset[str]
    terms: Sequence[set[str]]
    titles: Sequence[frozenset[str]]
    lengths: Sequence[int]
    bm25: Sequence[float]
    unspaced: float


@dataclass(frozen=True, kw_only=True)
class Model:
    """A logistic model: ``bias + sum(weight * feature)`` is a document's log-odds."""

    features: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float

    def logits(self, rows: Sequence[Mapping[str, float]]) -> list[float]:
        """Each row's log-odds."""
        pairs = list(zip(self.features, self.weights, strict=True))
        return [self.bias + sum(w * row[f] for f, w in pairs) for row in rows]


def _share(part: frozenset[str], whole: set[str] | frozenset[str]) -> float:
    return len(part & whole) / len(part) if part else 0.0


def _rare_terms(evidence: Evidence, documents: Sequence[int]) -> dict[int, frozenset[str]]:
    """The terms of each of ``documents`` found in at most :data:`RARE` documents of the set,
    the question's left out."""
    seen = Counter(chain.from_iterable(evidence.terms))
    common = {t for t, n in seen.items() if n > RARE} | evidence.query
    return {d: frozenset(evidence.terms[d].difference(common)) for d in documents}


def features(evidence: Evidence, dense: Sequence[float] | None = None) -> list[dict[str, float]]:
    """Each document's signals (see the module docstring); ``dense`` adds the ``dense`` one."""
    n = len(evidence.terms)
    query = evidence.query
    title = [_share(t, query) for t in evidence.titles]
    bm25 = zscores(evidence.bm25)
    first_stage = [b + t for b, t in zip(bm25, title)]
    order = sorted(range(n), key=first_stage.__getitem__, reverse=True)
    length = zscores([math.log1p(x) for x in evidence.lengths])
    anchors = order[:ANCHORS + 1]
    rare = _rare_terms(evidence, order[:2])  # the best, and the best for the best itself
    rows = []
    for d in range(n):
        best = order[0] if order[0] != d else (order[1] if n > 1 else d)
        other = best != d
        position = d / (n - 1) if n > 1 else 0.0
        rows.append({
            "bm25": bm25[d],
            "coverage": len(query & evidence.terms[d]) / len(query) if query else 0.0,
            "title": title[d],
            "bridge_in": max((_share(evidence.titles[d], evidence.terms[a])
                              for a in anchors if a != d), default=0.0),
            "bridge_out": _share(evidence.titles[best], evidence.terms[d]) if other else 0.0,
            "hop2": _share(rare[best], evidence.terms[d]) if other else 0.0,
            "position": position,
            "position_unspaced": position * evidence.unspaced,
            "length": length[d],
        })
    if dense is not None:
        for row, z in zip(rows, zscores(dense), strict=True):
            row["dense"], row["dense_unspaced"] = z, z * evidence.unspaced
    return rows


def probabilities(logits: Sequence[float]) -> list[float]:
    """The logistic function of each log-odds."""
    return [1 / (1 + math.exp(-min(max(x, -50.0), 50.0))) for x in logits]


@cache
def load_model(name: str) -> Model:
    """The packaged model ``name`` (``lexical`` or ``dense``) from ``data/fusion.json``."""
    text = resources.files("tersify").joinpath("data/fusion.json").read_text(encoding="utf-8")
    entry = json.loads(text)["models"][name]
    return Model(features=tuple(entry["features"]), weights=tuple(entry["weights"]),
                 bias=float(entry["bias"]))
