"""Split text into units (sentences, markdown blocks) made of words, with character offsets.

A *word* is a run of non-space characters, so numbers, URLs, code identifiers and emoji
sequences are never split; scripts written without spaces between words (Chinese, Japanese)
count one character as a word, while Korean (spaced) and fullwidth letters and digits
(``１２３``) form runs like Latin text. Word edges never fall inside a user-perceived character
(a base and its combining marks, an emoji sequence) nor inside a number. A *unit* is a run of
whole words: a sentence of prose, or a markdown block (heading, list item, table row, block
quote, fenced code) that stays whole or goes whole.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

__all__ = ["Segmented", "Unit", "segment"]

# Characters of scripts written without spaces between words: Han, kana, bopomofo, their
# punctuation and halfwidth katakana. Left out on purpose: U+3000 (a space), the numerals
# 〇 and 〡-〩 (numbers), the tone marks U+302A-302F (they belong to the character before).
_UNSPACED = ("\u2e80-\u2fdf\u3001-\u3006\u3008-\u3020\u3030-\u3037\u303b-\u30ff"
             "\u3100-\u312f\u31a0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
             "\uff61-\uff9f\U0001b000-\U0001b16f\U00020000-\U0003134f")
_WORD = re.compile(f"[{_UNSPACED}]|[^\\s{_UNSPACED}]+")
# Grapheme cluster rules (Unicode UAX #29) that join across a word edge found above: a
# character never starts after a Prepend one, nor before an Extend or SpacingMark one (the
# marks and a few letters listed here), nor after a zero-width joiner in an emoji sequence.
_EXTEND_EXTRA = frozenset("\u200c\u200d\u0e33\u0eb3\uff9e\uff9f")
_PREPEND = frozenset("\u0600\u0601\u0602\u0603\u0604\u0605\u06dd\u070f\u0890\u0891\u08e2"
                     "\u0d4e\U000110bd\U000110cd\U000111c2\U000111c3\U0001193f\U00011941"
                     "\U00011a3a\U00011a84\U00011a85\U00011a86\U00011a87\U00011a88"
                     "\U00011a89\U00011d46\U00011f02")
_ZWJ = "\u200d"
_LINE = re.compile(r"[^\n]*\n?")
_BLOCK_LINE = re.compile(r"\s{0,3}(#{1,6}\s|[-*+]\s|\d{1,3}[.)]\s|\||>)")
_FENCE = re.compile(r"\s{0,3}(```|~~~)")
_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*$")
_CJK_END = frozenset("。！？｡")
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
        for start, end in _words(self.text, line.start(), line.end()):
            self.starts.append(start)
            self.ends.append(end)
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


def _words(text: str, begin: int, end: int) -> list[tuple[int, int]]:
    """Word edges in ``text[begin:end]`` (one line), moved off character and number insides."""
    words: list[tuple[int, int]] = []
    for m in _WORD.finditer(text, begin, end):
        start, stop = m.span()
        if words and words[-1][1] == start and _joined(text[start - 1], text[start]):
            start = words.pop()[0]  # two unspaced characters that make one character or number
        elif start > begin and _extends(text[start]) and _is_space_separator(text[start - 1]):
            start -= 1  # a mark on a space: the space and its mark are one character
        if text[stop - 1] in _PREPEND and stop < end and _is_space_separator(text[stop]):
            stop += 1
        words.append((start, stop))
    return words


def _joined(before: str, after: str) -> bool:
    return (_extends(after) or before == _ZWJ or before in _PREPEND
            or (_is_numeral(before) and _is_numeral(after)))


def _extends(char: str) -> bool:
    return (unicodedata.category(char)[0] == "M" or char in _EXTEND_EXTRA
            or "\U0001f3fb" <= char <= "\U0001f3ff" or "\U000e0020" <= char <= "\U000e007f")


def _is_numeral(char: str) -> bool:
    # Han numerals (二十, 三千) count as well as digits: 三千 cut to 三 is another number.
    return unicodedata.numeric(char, None) is not None


def _is_space_separator(char: str) -> bool:
    # Spaces that are not controls: a grapheme cluster may start with one (UAX #29, GB9).
    return unicodedata.category(char) == "Zs"


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
    if word[-1] in _CJK_END:
        return True
    if not _SENTENCE_END.search(word):
        return False
    stem = word.rstrip("\"'”’)]").rstrip(".!?").lower()
    if stem in _ABBREVIATIONS or (len(stem) == 1 and stem.isalpha()):
        return False
    nxt = text[starts[i + 1]] if i + 1 < len(starts) else ""
    return not nxt.islower()
