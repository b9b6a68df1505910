"""Token-to-word alignment shared by the model scorers (``lm``, ``classifier``).

A model scores its own tokens; the engine selects whole words. These helpers map each token to
the word it lies in (by character offsets), pool token values into one value per word, and
average word values over units. They need torch (the ``models`` extra).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tersify._optional import require
from tersify.segment import Segmented

__all__ = ["pool_words", "token_words", "unit_means"]


def token_words(doc: Segmented, offsets: Any) -> Any:
    """Word index of each token, by the token's last character; -1 outside every word.

    Args:
        doc: The segmented text the offsets point into.
        offsets: ``(start, end)`` character offsets per token (a sequence or an ``(n, 2)``
            tensor); empty spans (special and padding tokens) belong to no word.

    Returns:
        A long tensor with one word index per token.
    """
    torch = require("torch", extra="models")
    spans = torch.as_tensor(offsets, dtype=torch.long).reshape(-1, 2)
    if not doc.word_starts:
        return torch.full((spans.shape[0],), -1, dtype=torch.long)
    # The last character, not the first: byte-level BPE tokens carry their leading space.
    last = spans[:, 1] - 1
    word = torch.searchsorted(torch.tensor(doc.word_starts), last, right=True) - 1
    ends = torch.tensor(doc.word_ends)[word.clamp(min=0)]
    inside = (spans[:, 1] > spans[:, 0]) & (word >= 0) & (last < ends)
    return torch.where(inside, word, torch.full_like(word, -1))


def pool_words(doc: Segmented, words: Any, values: Any, *, mean: bool) -> list[float]:
    """Aggregate token values into one value per word of ``doc``.

    Args:
        doc: The segmented text.
        words: Word index per token (see :func:`token_words`).
        values: One value per token; NaN values are skipped.
        mean: Average the word's token values instead of summing them.

    Returns:
        One value per word; words without a scored token get the mean of the scored words
        (a neutral value), or 0.0 when none was scored.
    """
    torch = require("torch", extra="models")
    n = len(doc.word_starts)
    values = values.to(torch.float64)
    valid = (words >= 0) & ~torch.isnan(values)
    index = words[valid]
    totals = torch.zeros(n, dtype=torch.float64).index_add_(0, index, values[valid])
    counts = torch.bincount(index, minlength=n)
    if mean:
        totals = totals / counts.clamp(min=1)
    scored = counts > 0
    neutral = totals[scored].mean() if bool(scored.any()) else torch.tensor(0.0)
    result: list[float] = torch.where(scored, totals, neutral.to(torch.float64)).tolist()
    return result


def unit_means(doc: Segmented, word_values: Sequence[float]) -> list[float]:
    """Mean of ``word_values`` over the words of each unit of ``doc``."""
    if not doc.units:
        return []
    torch = require("torch", extra="models")
    firsts = torch.tensor([u.first for u in doc.units])
    lasts = torch.tensor([u.last for u in doc.units])
    # Units are ordered and disjoint: a word belongs to the last unit starting at or before it,
    # if that unit reaches it.
    word = torch.arange(len(word_values))
    unit = torch.searchsorted(firsts, word, right=True) - 1
    inside = (unit >= 0) & (word < lasts[unit.clamp(min=0)])
    values = torch.tensor(list(word_values), dtype=torch.float64)
    sizes = (lasts - firsts).to(torch.float64)
    totals = torch.bincount(unit[inside], weights=values[inside], minlength=len(doc.units))
    result: list[float] = (totals / sizes.clamp(min=1)).tolist()
    return result
