"""Near-duplicate units: the same sentence said again, in another document or in the same one.

Retrieval returns the same passage from two sources, and crawled pages share boilerplate; a
budget spent on a second copy buys nothing. Two units say the same thing when their normalized
words are equal (case-folded, punctuation and spacing ignored, unspaced scripts read character
by character), or nearly: the Jaccard similarity of their word-bigram sets is at least
:data:`THRESHOLD` and they state the same numbers and the same negations (a sentence with
another number, or with a "not" more, says something else). Selection then keeps the first of
them it chooses (the best, see :mod:`tersify.select`) and skips the others, unless they hold a
forced word.

The near pairs are found by all-pairs similarity search with prefix filtering (Bayardo, Ma and
Srikant 2007, "Scaling up all pairs similarity search", https://doi.org/10.1145/1242572.1242591):
with each set's bigrams ordered rarest first, two sets that reach the threshold share one of
their first ``n - ceil(THRESHOLD * n) + 1`` bigrams, so only units that share a rare bigram are
compared. The units listed under one bigram and the units compared with one unit are capped, so a
megabyte of near-identical lines stays linear: the caps can only miss a near pair (kept twice),
never invent one.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain, repeat

from tersify.segment import UNSPACED_LETTERS, Segmented

__all__ = ["THRESHOLD", "Guard", "Twins", "near_pairs", "unit_texts", "words"]

THRESHOLD = 0.8  # bigram Jaccard similarity from which two units are near-duplicates
MIN_WORDS = 3  # shorter units ("Yes.", "See below.") are never duplicates
_LISTED = 64  # units listed under one bigram
_COMPARED = 32  # units one unit is compared with
# Negations in the languages tersify has stopwords for, and Chinese (a word each character).
NEGATIONS = frozenset({
    "not", "no", "never", "nor", "none", "nothing", "neither", "without", "t",  # en (don't)
    "nicht", "kein", "keine", "keiner", "keinen", "nie", "niemals",  # de
    "nunca", "ningún", "ninguna", "jamás",  # es
    "ne", "pas", "jamais", "aucun", "aucune",  # fr
    "nu", "niciodată",  # ro
    "değil", "yok", "hiç",  # tr
    "không", "chẳng", "chưa",  # vi
    "لا", "لم", "لن", "ليس",  # ar
    "δεν", "μην", "όχι",  # el
    "не", "нет", "никогда", "ни",  # ru
    "नहीं", "न", "कभी",  # hi
    "不", "没", "沒", "未", "非", "无", "無", "别", "別",  # zh
})
# A letter of an unspaced script alone, or a run of other letters and digits.
_WORD = re.compile(f"[{UNSPACED_LETTERS}]|[^\\W{UNSPACED_LETTERS}]+")
_DIGIT = re.compile(r"\d")
# ASCII other than letters, digits, underscore and white space: a gap between words, as \\W
_ASCII_GAPS = str.maketrans({c: " " for c in map(chr, range(128))
                             if not (c.isalnum() or c == "_" or c.isspace())})


@dataclass(frozen=True, kw_only=True)
class Twins:
    """Which units of a selection problem repeat one another.

    Attributes:
        unit_class: Per unit, its class (units with equal normalized words share one), or -1
            for a unit that is never a duplicate (too short, a heading).
        near: Per class, the classes near-duplicate of it.
        word_unit: Per word, its unit.
        exempt: Units never skipped as duplicates (they hold a forced word).
    """

    unit_class: Sequence[int]
    near: Sequence[Sequence[int]]
    word_unit: Sequence[int]
    exempt: frozenset[int]

    @classmethod
    def of(cls, texts: Sequence[str | None], spans: Sequence[tuple[int, int]],
           forced: Iterable[int], *, exact: Sequence[bool] = (),
           threshold: float = THRESHOLD) -> Twins:
        """The twins of units with these ``texts`` (None: never a duplicate) and word
        ``spans``, where the ``forced`` words exempt their units. A unit marked ``exact`` (a
        block: code, a table row, a whole document) is the twin of its exact repeats only:
        in code, a near repeat is another function."""
        classes: dict[tuple[str, ...], int] = {}
        unit_class = []
        for text in texts:
            found = words(text) if text is not None else []
            unit_class.append(classes.setdefault(tuple(found), len(classes))
                              if len(found) >= MIN_WORDS else -1)
        strict = {c for c, is_exact in zip(unit_class, exact) if is_exact and c >= 0}
        word_unit = list(chain.from_iterable(repeat(u, b - a) for u, (a, b) in enumerate(spans)))
        return cls(unit_class=unit_class, near=near_pairs(list(classes), threshold, strict),
                   word_unit=word_unit, exempt=frozenset(map(word_unit.__getitem__, forced)))


def unit_texts(docs: Sequence[Segmented], offsets: Sequence[int],
               spans: Sequence[tuple[int, int]], owner: Sequence[int],
               anchor: Sequence[bool]) -> list[str | None]:
    """The text of each unit (global word ``spans`` of documents ``owner`` whose first words
    are at ``offsets``), None for one that never counts as a repeat (not an ``anchor``: a
    heading)."""
    texts: list[str | None] = []
    for (a, b), d, keep in zip(spans, owner, anchor):
        doc, off = docs[d], offsets[d]
        texts.append(doc.text[doc.word_starts[a - off]:doc.word_ends[b - 1 - off]]
                     if keep else None)
    return texts


def words(text: str) -> list[str]:
    """The normalized words of ``text``: case-folded, punctuation and spacing dropped; each
    letter of an unspaced script is a word."""
    if text.isascii():  # most text: one translation and one split, in C
        return text.lower().translate(_ASCII_GAPS).split()
    return _WORD.findall(text.casefold())


def near_pairs(keys: Sequence[tuple[str, ...]], threshold: float,
               exact: Iterable[int] = ()) -> list[list[int]]:
    """Per word sequence, the others whose bigram sets are ``threshold``-similar to its own and
    that hold the same numbers (see the module docstring); none for those ``exact`` lists."""
    sets = [frozenset(zip(k, k[1:])) for k in keys]
    freq = Counter(chain.from_iterable(sets))
    near: list[list[int]] = [[] for _ in keys]
    listed: dict[tuple[str, str], list[int]] = {}
    skip = set(exact)
    for c, bigrams in enumerate(sets):
        # Rarest first (the bigrams of no other sequence find nothing); ties by the bigram, so
        # the outcome never depends on hashing.
        prefix = len(bigrams) - math.ceil(threshold * len(bigrams)) + 1
        if c in skip or list(map(freq.__getitem__, bigrams)).count(1) >= prefix:
            continue  # exact only, or its prefix is its own: none shares enough bigrams with it
        compared: set[int] = set()
        for key in sorted(sorted(bigrams), key=freq.__getitem__)[:prefix]:
            others = listed.setdefault(key, [])
            compared.update(others[: _COMPARED - len(compared)])
            if len(others) < _LISTED:
                others.append(c)
        for d in compared:
            if _similar(bigrams, sets[d], threshold) and _claims(keys[c]) == _claims(keys[d]):
                near[c].append(d)
                near[d].append(c)
    return near


def _similar(a: frozenset[tuple[str, str]], b: frozenset[tuple[str, str]],
             threshold: float) -> bool:
    common = len(a & b)
    return common >= threshold * (len(a) + len(b) - common)


def _claims(words: Sequence[str]) -> list[str]:
    """The words that change what a sentence says when one is added: its numbers and its
    negations (``n't`` is read as the word ``t``, as :func:`words` splits it)."""
    return sorted(w for w in words if w in NEGATIONS or _DIGIT.search(w))


class Guard:
    """What one pass of selection may still add: no unit that repeats a unit with a kept word
    (other than itself), unless it is exempt. Without twins, anything."""

    def __init__(self, twins: Twins | None, kept: Iterable[int]) -> None:
        self._twins = twins
        self._seen: set[int] = set()
        self._blocked: set[int] = set()
        if twins is not None:
            for u in set(map(twins.word_unit.__getitem__, kept)):
                self.note(u)

    def allows(self, u: int, *, started: bool) -> bool:
        """Whether unit ``u`` may gain words; ``started``: it already has a kept word."""
        twins = self._twins
        return (twins is None or started or twins.unit_class[u] not in self._blocked
                or u in twins.exempt)

    def note(self, u: int) -> None:
        """Unit ``u`` now has a kept word: its twins may not gain any."""
        if self._twins is None:
            return
        c = self._twins.unit_class[u]
        if c >= 0 and c not in self._seen:
            self._seen.add(c)
            self._blocked.add(c)
            self._blocked.update(self._twins.near[c])
