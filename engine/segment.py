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
MAX_TITLE_WORDS = 12


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
    state = _Segmenter(text)
    for line in _LINE.finditer(text):
        if not line.group():
            break
        state.line(line)
    return state.finish()


class _Segmenter:
    """Line-by-line state: open code fence, pending title line, words and units so far."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.units: list[Unit] = []
        self.fence: int | None = None  # first word of an open code fence
        self.heading: int | None = None  # first word of a title line awaiting its paragraph

    def line(self, line: re.Match[str]) -> None:
        first = len(self.starts)
        for m in _WORD.finditer(line.group()):
            self.starts.append(line.start() + m.start())
            self.ends.append(line.start() + m.end())
        last = len(self.starts)
        is_fence = bool(_FENCE.match(line.group()))
        prose = not (self.fence is not None or is_fence or _BLOCK_LINE.match(line.group()))
        if self.heading is not None and (first == last or not prose):
            self._sentences(self.heading, first)  # a short line after all, not a title
            self.heading = None
        if self.fence is not None or is_fence:
            if self.fence is None:
                self.fence = first
            elif is_fence:
                _add(self.units, Unit(first=self.fence, last=last, block=True))
                self.fence = None
        elif first == last:
            return
        elif not prose:
            _add(self.units, Unit(first=first, last=last, block=True))
        elif self.heading is None and _is_title(self.text, self.starts, self.ends, first, last):
            self.heading = first
        else:
            self._sentences(first if self.heading is None else self.heading, last)
            self.heading = None

    def finish(self) -> Segmented:
        if self.heading is not None:
            self._sentences(self.heading, len(self.starts))
        if self.fence is not None:  # an unclosed fence runs to the end
            _add(self.units, Unit(first=self.fence, last=len(self.starts), block=True))
        return Segmented(text=self.text, word_starts=self.starts, word_ends=self.ends,
                         units=self.units)

    def _sentences(self, first: int, last: int) -> None:
        self.units.extend(_sentences(self.text, self.starts, self.ends, first, last))


def _is_title(text: str, starts: list[int], ends: list[int], first: int, last: int) -> bool:
    # A short line without closing punctuation ("Rosetta (spacecraft)") titles the paragraph
    # below it: it goes with that paragraph's first sentence rather than alone.
    closing = text[starts[last - 1] : ends[last - 1]]
    return last - first <= MAX_TITLE_WORDS and not _SENTENCE_END.search(closing)


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
