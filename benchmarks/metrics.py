"""Scoring of one compressed example and aggregation of many (see run.py for the meaning).

Answer recall follows SQuAD's evaluation: text is lower-cased, punctuation removed, the
articles a/an/the removed and whitespace folded; an answer is kept when any normalized gold
answer (ignoring answers that normalize to nothing) is a substring of the normalized compressed
contexts, the question excluded.

A supporting document (MuSiQue's ``gold``) counts as kept when at least half of its normalized
words, title included, survive in order in its compressed text: the longest common subsequence
of the two word lists, over the document's word count. Methods that return no per-document text
(LLMLingua) are judged on the words of their compressed string mapped back to each document
(align.py), so every method meets the same rule, here and in the error analysis.
Keeping the title line alone is not enough: a title holds none of the facts a multi-hop question
needs, and engines that keep titles would look better than they are (on musique20 with ``fast``
at ratio 0.1, a "title line or half the words" rule reads 0.53 where half the words reads 0.40).
"""

from __future__ import annotations

import math
import re
import statistics
import string
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["IN_BAND", "answer_kept", "document_kept", "normalize", "summarize", "surviving_share"]

IN_BAND = (0.95, 1.00)
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalize(text: str) -> str:
    """SQuAD normalisation: lower case, no punctuation, no articles, single spaces."""
    text = text.lower().translate(_PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def answer_kept(answers: Sequence[str], context: str) -> bool:
    """Whether any normalized gold answer is a substring of the normalized ``context``."""
    haystack = normalize(context)
    return any(n and n in haystack for n in (normalize(a) for a in answers))


def document_kept(original: str, compressed: str) -> bool:
    """Whether a supporting document survived: at least 50% of its normalized words remain."""
    return surviving_share(original, compressed) >= 0.5


def surviving_share(original: str, compressed: str) -> float:
    """Share of ``original``'s normalized words that survive, in order, in ``compressed``."""
    before = normalize(original).split()
    if not before or not compressed:
        return 0.0
    return _lcs_length(before, normalize(compressed).split()) / len(before)


def _lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence (one DP row; ``a`` is the shorter side)."""
    if len(a) > len(b):
        a, b = b, a
    row = [0] * (len(a) + 1)
    for word in b:
        diagonal = 0
        for j, other in enumerate(a, start=1):
            above = row[j]
            row[j] = diagonal + 1 if word == other else max(row[j - 1], above)
            diagonal = above
    return row[-1]


def _percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in [0, 100]) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


def summarize(records: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Aggregate the per-example records of one method at one ratio."""
    fits = [float(r["achieved"]) / max(1, int(r["target"])) for r in records]
    # Latency counts cold calls only, the ones that scored (see run.py); a call that reused
    # cached scores only selected and fitted, and is not a sample.
    latency = [float(r["ms"]) for r in records if r.get("cold", True)]
    low, high = IN_BAND
    out = {
        "n": float(len(records)),
        "recall": statistics.fmean(1.0 if r["answer_kept"] else 0.0 for r in records),
        "fit_median": statistics.median(fits),
        "fit_min": min(fits),
        "fit_max": max(fits),
        "in_band": statistics.fmean(1.0 if low <= f <= high else 0.0 for f in fits),
        "kept_ratio": statistics.fmean(float(r["achieved"]) / max(1, int(r["original"]))
                                       for r in records),
        "n_lat": float(len(latency)),
    }
    if latency:
        out["p50_ms"] = statistics.median(latency)
        out["p95_ms"] = _percentile(latency, 95)
    support = [r["support_kept"] for r in records if r.get("support_kept") is not None]
    if support:
        out["support_recall"] = statistics.fmean(float(s) for s in support)
        out["support_all"] = statistics.fmean(1.0 if s == 1.0 else 0.0 for s in support)
    return out
