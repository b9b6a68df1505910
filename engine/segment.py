"""Split text into units (sentences, markdown blocks) made of words, with character offsets.

A *word* is a run of non-space characters, so numbers, URLs, code identifiers and emoji
sequences are never split; scripts written without spaces (Chinese, Japanese, Korean) count one
character as a word. A *unit* is a run of whole words: a sentence of prose, or a markdown
block (heading, list item, table row, block quote, fenced code) that stays whole or goes whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Segmented", "Unit", "segment"]

_CJK = "\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef"
_WORD = re.compile(f"[{_CJK}]|[^\\s{_CJK}]+")
_LINE = re.compile(r"[^\n]*\n?")
_BLOCK_LINE = re.compile(r"\s{0,3}(#{1,6}\s|[-*+]\s|\d{1,3}[.)]\s|\||>)")
_FENCE = re.compile(r"\s{0,3}(```|~~~)")
_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*$")
_CJK_END = frozenset("。！？")
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st vs etc e.g i.e no nos fig al approx inc ltd co corp dept est "
    "jan feb mar apr jun jul aug sep sept oct nov dec mt ft gen col lt sgt rev u.s u.k".split()
)
MAX_UNIT_WORDS = 60


@dataclass(frozen=True, slots=True)
class Unit:
    """A run of whole words: ``words[first:last]`` of the segmented text."""

    first: int
    last: int
    block: bool  # markdown structure: never pruned word by word


@dataclass(frozen=True, slots=True)
class Segmented:
    """A text cut into words and units.

    Attributes:
        text: The original text.
        word_starts: Start offset of every word.
        word_ends: End offset (exclusive) of every word.
        units: Units in text order; together they cover every word once.
    """

    text: str
    word_starts: list[int]
    word_ends: list[int]
    units: list[Unit]

    def word(self, i: int) -> str:
        """The text of word ``i``."""
        return self.text[self.word_starts[i] : self.word_ends[i]]

    def unit_text(self, unit: Unit) -> str:
        """The original text of ``unit``, separators included."""
        return self.text[self.word_starts[unit.first] : self.word_ends[unit.last - 1]]


def segment(text: str) -> Segmented:
    """Cut ``text`` into words and units (see the module docstring)."""
    starts: list[int] = []
    ends: list[int] = []
    units: list[Unit] = []
    in_fence = False
    fence_first = 0
    for line in _LINE.finditer(text):
        if not line.group():
            break
        first = len(starts)
        for m in _WORD.finditer(line.group()):
            starts.append(line.start() + m.start())
            ends.append(line.start() + m.end())
        last = len(starts)
        is_fence = bool(_FENCE.match(line.group()))
        if in_fence or is_fence:
            if is_fence and in_fence:
                _add(units, Unit(first=fence_first, last=last, block=True))
            elif is_fence:
                fence_first = first
            in_fence = in_fence != is_fence
            continue
        if first == last:
            continue
        if _BLOCK_LINE.match(line.group()):
            _add(units, Unit(first=first, last=last, block=True))
        else:
            units.extend(_sentences(text, starts, ends, first, last))
    if in_fence and fence_first < len(starts):  # an unclosed fence runs to the end
        _add(units, Unit(first=fence_first, last=len(starts), block=True))
    return Segmented(text=text, word_starts=starts, word_ends=ends, units=units)


def _add(units: list[Unit], unit: Unit) -> None:
    if unit.last > unit.first:
        units.append(unit)


def _sentences(text: str, starts: list[int], ends: list[int], first: int, last: int) -> list[Unit]:
    out: list[Unit] = []
    begin = first
    for i in range(first, last):
        long_enough = i + 1 - begin >= MAX_UNIT_WORDS
        if i + 1 == last or long_enough or _ends_sentence(text, starts, ends, i):
            out.append(Unit(first=begin, last=i + 1, block=False))
            begin = i + 1
    return out


def _ends_sentence(text: str, starts: list[int], ends: list[int], i: int) -> bool:
    word = text[starts[i] : ends[i]]
    if word in _CJK_END:
        return True
    if not _SENTENCE_END.search(word):
        return False
    stem = word.rstrip("\"'”’)]").rstrip(".!?").lower()
    if stem in _ABBREVIATIONS or (len(stem) == 1 and stem.isalpha()):
        return False
    nxt = text[starts[i + 1]] if i + 1 < len(starts) else ""
    return not nxt.islower()
