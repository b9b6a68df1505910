"""Phrases that go whole or not at all: dates, numbers with their unit, multi-word names.

Word-level pruning that keeps part of such a phrase says something false ("closed on 2 1961"
from "closed on 2 March 1961", "3.2" from "$3.2 million", "York" from "New York City"), so the
selector treats each phrase found here as one indivisible group (see :mod:`tersify.select`).

Detection is linear in the text and takes no pattern from the caller: two fixed searches find
the only words worth looking at (those with a digit, those starting with a capital letter), and
each of them is compared with at most its three neighbours; a word's text is looked at only
when it is short. A phrase never crosses a unit (sentence) boundary.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable

from tersify.segment import Segmented

__all__ = ["MAX_NAME_WORDS", "phrase_spans"]

MAX_NAME_WORDS = 6  # a longer run of capitalised words is a title-cased line, not a name
_SHORT = 24  # longer words are never a month, a day, a year or a unit
_DIGIT = re.compile(r"\d+")
_CONNECTORS = "of|de|del|della|la|le|da|di|du|van|von|der|den|&|al|bin"
# Two or more capitalised words, one space apart, a connector allowed between two; a word
# followed by punctuation ends the run. Word characters and spaces never overlap, so the
# search never backtracks more than one word.
_UPPER = "A-ZÀ-ÖØ-ÞΑ-ΩА-ЯЁ"
_CAPITALISED = f"[{_UPPER}][^\\s,.;:!?)\\]”’\"]*"
# The capital comes first and the space before it is checked after it (``(?<!\S.)``), so the
# search skips to capitals instead of trying the pattern at every character.
_NAME_RUN = re.compile(f"[{_UPPER}](?<!\\S.){_CAPITALISED[len(_UPPER) + 2:]}"
                       f"(?:(?: (?:{_CONNECTORS}))? {_CAPITALISED})+")
_LEADING = frozenset(
    """a an the in on at of for to by from with as and or but if it its this that these those he
    she they we i you his her their our my your when where while after before during since
    however although though there here what which who why how""".split())
_EDGE = "\"'()[]“”‘’"
_STOPS = ",.;:!?"
_MONTHS = frozenset(
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec".split())
_UNITS = frozenset(
    """% percent per cent km km2 km² m m2 m² cm mm kilometres kilometers kilometre kilometer metres
    meters metre meter miles mile mi ft feet foot inches inch yards yard kg g mg grams gram
    kilograms kilogram tonnes tonne tons ton lb lbs pounds pound oz litres liters litre liter ml
    gallons gallon hectares hectare ha acres acre sq square mph km/h kph °c °f ° degrees degree
    seconds second sec secs minutes minute min mins hours hour hrs hr days day weeks week months
    month years year yrs decades decade centuries century million millions billion billions
    trillion thousand thousands hundred hundreds bn mn dollars dollar euros euro yen yuan rupees
    usd eur gbp people times""".split())
_CURRENCY = frozenset("$ € £ ¥ US$ USD EUR GBP".split())


def phrase_spans(seg: Segmented) -> list[tuple[int, int]]:
    """Local ``(first, last_exclusive)`` word spans of the phrases of ``seg``, in order.

    Each span has at least two words and lies inside one unit; spans never overlap.
    """
    words = _Words(seg)
    taken: list[tuple[int, int]] = []
    used: set[int] = set()
    for i in _indices(seg, _DIGIT.finditer(seg.text)):
        if i not in used:
            span = _date(words, i) or _amount(words, i)
            _take(taken, used, span)
    for span in _names(words, _NAME_RUN.finditer(seg.text)):
        _take(taken, used, span)
    firsts = [u.first for u in seg.units]
    same_unit = [s for s in taken
                 if bisect_right(firsts, s[0]) == bisect_right(firsts, s[1] - 1)]
    return sorted(same_unit)


class _Words:
    """Short lower-cased cores of words (outer quotes and brackets removed), on demand."""

    def __init__(self, seg: Segmented) -> None:
        self.seg = seg
        self.n = len(seg.word_starts)
        self._cores: dict[int, str] = {}

    def raw(self, i: int) -> str:
        s, e = self.seg.word_starts[i], self.seg.word_ends[i]
        return self.seg.text[s:e] if e - s <= _SHORT else ""

    def core(self, i: int) -> str:
        """The word without outer quotes, brackets and trailing punctuation, lower-cased."""
        found = self._cores.get(i)
        if found is None:
            found = self._cores[i] = (self.raw(i).strip(_EDGE + _STOPS).lower()
                                      if 0 <= i < self.n else "")
        return found

    def stops(self, i: int, allow: str = "") -> bool:
        """Whether word ``i`` ends a clause (a comma, full stop, bracket after it)."""
        last = self.seg.text[self.seg.word_ends[i] - 1]
        return last not in allow and last in _STOPS + ")]”’\"'"

    def is_day(self, i: int) -> bool:
        c = self.core(i).removesuffix("st").removesuffix("nd").removesuffix("rd")
        c = c.removesuffix("th")
        return 1 <= len(c) <= 2 and c.isdecimal()

    def is_year(self, i: int) -> bool:
        c = self.core(i)
        return 3 <= len(c) <= 4 and c.isdecimal()

    def is_month(self, i: int) -> bool:
        return self.core(i).removesuffix(".") in _MONTHS


def _indices(seg: Segmented, matches: Iterable[re.Match[str]]) -> list[int]:
    """Words that the matches start in, in order, each once."""
    found: list[int] = []
    for m in matches:
        i = bisect_right(seg.word_ends, m.start())
        if i < len(seg.word_starts) and (not found or found[-1] != i):
            found.append(i)
    return found


def _date(w: _Words, i: int) -> tuple[int, int] | None:
    """``2 March 1961``, ``March 2, 1961``, ``March 1961``, ``2 March``, ``March 2``."""
    if w.is_day(i) and not w.stops(i) and w.is_month(i + 1):  # 2 March [1961]
        year = not w.stops(i + 1) and w.is_year(i + 2)
        return (i, i + 3) if year else (i, i + 2)
    if i and w.is_month(i - 1) and not w.stops(i - 1):  # March 2[,] [1961] / March 1961
        if w.is_day(i) and not w.stops(i, allow=",") and w.is_year(i + 1):
            return (i - 1, i + 2)
        if w.is_day(i) or w.is_year(i):
            return (i - 1, i + 1)
    return None


def _amount(w: _Words, i: int) -> tuple[int, int] | None:
    """A number and its unit (``5 km``, ``$3.2 million``, ``40 %``), with a currency before."""
    first = i - 1 if i and w.raw(i - 1) in _CURRENCY else i
    last = i + 1
    while last < w.n and last - i <= 2 and not w.stops(last - 1) and w.core(last) in _UNITS:
        last += 1
    return (first, last) if last - first >= 2 else None


def _names(w: _Words, runs: Iterable[re.Match[str]]) -> Iterable[tuple[int, int]]:
    """The words of each run of capitalised words."""
    ends = w.seg.word_ends
    for m in runs:
        first, last = bisect_right(ends, m.start()), bisect_right(ends, m.end() - 1) + 1
        for word in m.group().split(" "):  # the run's words, one space apart
            if word.lower() not in _LEADING:
                break
            first += 1
        if 2 <= last - first <= MAX_NAME_WORDS:
            yield (first, last)


def _take(taken: list[tuple[int, int]], used: set[int], span: tuple[int, int] | None) -> None:
    if span is None or not used.isdisjoint(range(*span)):
        return
    taken.append(span)
    used.update(range(*span))
