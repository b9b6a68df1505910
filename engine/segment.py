"""Split text into units (sentences, markdown blocks) made of words, with character offsets.

A *word* is a run of non-space characters, so numbers, URLs, code identifiers and emoji
sequences are never split. In scripts written without spaces between words (Chinese, Japanese)
a word is a run of their letters between punctuation marks, digits or other scripts, and each
of their punctuation marks is a word of its own: coarser than a dictionary's words (a clause
rather than a word), but a cut there never falls inside a word, and no dictionary has to ship.
Thai (also unspaced) puts spaces between phrases, so its runs of non-space characters already
are such clauses. Korean (spaced) and fullwidth letters and digits (``１２３``) form runs like
Latin text. Word edges never fall inside a user-perceived character
(a base and its combining marks, an emoji sequence) nor inside a number. A *unit* is a run of
whole words: a sentence of prose, or a markdown block (heading, list item, table row, block
quote, fenced code) that stays whole or goes whole. A text that is source code (recognised by
its lines, or said to be by the caller) is cut into code blocks instead, also whole or nothing
(see :mod:`tersify.code`).

The work is done by a few regular-expression passes over the whole text, so that ordinary prose
costs no Python step per word: words are found by one split, possible sentence ends by one
search, and only the few places where a rule may apply (a mark after a space, a full stop) are
looked at one by one. Lines are walked one by one for the markdown structure.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from dataclasses import dataclass
from itertools import accumulate

from tersify.code import FENCE, code_blocks, code_regions, looks_like_code

__all__ = ["Segmented", "Unit", "segment", "unspaced_share"]

# Characters of scripts written without spaces between words: Han, kana, bopomofo, their
# punctuation and halfwidth katakana. Left out on purpose: U+3000 (a space), the numerals
# 〇 and 〡-〩 (numbers), the tone marks U+302A-302F (they belong to the character before).
_UNSPACED = ("\u2e80-\u2fdf\u3001-\u3006\u3008-\u3020\u3030-\u3037\u303b-\u30ff"
             "\u3100-\u312f\u31a0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
             "\uff61-\uff9f\U0001b000-\U0001b16f\U00020000-\U0003134f")
_UNSPACED_CHAR = re.compile(f"[{_UNSPACED}]")
# Its punctuation and symbols (Unicode categories P and S, CJK strokes and radicals aside):
# each a word of its own, cutting runs of the letters (the rest of _UNSPACED) into words.
UNSPACED_MARKS = ("\u3001-\u3004\u3008-\u3020\u3030\u3036\u3037\u303d-\u303f\u30a0"
                  "\u30fb\uff61-\uff65")
UNSPACED_LETTERS = ("\u2e80-\u2fdf\u3005\u3006\u3031-\u3035\u303b\u303c\u3040-\u309f"
                    "\u30a1-\u30fa\u30fc-\u30ff\u3100-\u312f\u31a0-\u31ff\u3400-\u4dbf"
                    "\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f\U0001b000-\U0001b16f"
                    "\U00020000-\U0003134f")
_WORD = re.compile(f"[{UNSPACED_LETTERS}]+|[{UNSPACED_MARKS}]|[^\\s{_UNSPACED}]+")
# Grapheme cluster rules (Unicode UAX #29) that join across a word edge found above: a
# character never starts after a Prepend one, nor before an Extend or SpacingMark one (the
# marks and a few letters listed here), nor after a zero-width joiner in an emoji sequence.
_EXTEND_EXTRA = frozenset("\u200c\u200d\u0e33\u0eb3\uff9e\uff9f")
_PREPEND = frozenset("\u0600\u0601\u0602\u0603\u0604\u0605\u06dd\u070f\u0890\u0891\u08e2"
                     "\u0d4e\U000110bd\U000110cd\U000111c2\U000111c3\U0001193f\U00011941"
                     "\U00011a3a\U00011a84\U00011a85\U00011a86\U00011a87\U00011a88"
                     "\U00011a89\U00011d46\U00011f02")
_ZWJ = "\u200d"
# Without unspaced or Prepend characters, two words never touch and a word never grows past
# its run of non-space characters: the words are those runs, found by one split.
_NEEDS_CARE = re.compile(f"[{_UNSPACED}{''.join(sorted(_PREPEND))}]")
_SPACED_RUN = re.compile(r"(\S+)")
# Marks are not ASCII, so only a word that starts with a non-ASCII character after white space
# may start with a mark on a space.
_NON_ASCII_AFTER_SPACE = re.compile(r"\s[^\s\x00-\x7f]")
_LINE = re.compile(r"[^\n]*\n?")
_BLOCK_LINE = re.compile(r"\s{0,3}(#{1,6}\s|[-*+]\s|\d{1,3}[.)]\s|\||>)")
_CLOSERS = "\"'”’)\\]"
_SENTENCE_END = re.compile(f"[.!?][{_CLOSERS}]*$")
_CJK_ENDS = "。！？｡"
_CJK_END = frozenset(_CJK_ENDS)
# Punctuation a sentence may end with: a candidate where it ends a word (a CJK mark ends
# itself; closers after it belong to no candidate). One character class first scans fastest.
_END_MARK = re.compile(f"[.!?{_CJK_ENDS}][{_CLOSERS}]*")
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
        code: Whether the text was cut as source code (its units are code blocks).
    """

    text: str
    word_starts: list[int]
    word_ends: list[int]
    units: list[Unit]
    code: bool = False

    def word(self, i: int) -> str:
        """The text of word ``i``."""
        return self.text[self.word_starts[i] : self.word_ends[i]]

    def unit_text(self, unit: Unit) -> str:
        """The original text of ``unit``, separators included."""
        return self.text[self.word_starts[unit.first] : self.word_ends[unit.last - 1]]

    def title_length(self) -> int:
        """Words of the text's title: a short first line without closing punctuation,
        followed by more text ("Rosetta (spacecraft)"); 0 without one (and in code)."""
        if self.code:
            return 0
        end = self.text.find("\n")
        count = bisect_left(self.word_starts, end) if end >= 0 else 0
        if not 0 < count <= MAX_TITLE_WORDS or count == len(self.word_starts):
            return 0
        return 0 if _SENTENCE_END.search(self.word(count - 1)) else count

    def words(self) -> list[str]:
        """The text of every word, in order."""
        if self.text.isascii():  # segment() then cuts words at white space only
            words = self.text.split()
            if len(words) == len(self.word_starts):
                return words
        return list(map(self.text.__getitem__, map(slice, self.word_starts, self.word_ends)))


def unspaced_share(text: str) -> float:
    """Share of the non-space characters of ``text`` from scripts written without spaces."""
    visible = len(text) - sum(map(text.count, " \n\t"))
    return len(_UNSPACED_CHAR.findall(text)) / visible if visible > 0 else 0.0


def segment(text: str, *, code: bool | None = None) -> Segmented:
    """Cut ``text`` into words and units (see the module docstring).

    Args:
        text: The text.
        code: Cut it as source code (True), as prose and markdown (False), or as what its
            lines look like (None).
    """
    starts, ends = _word_edges(text)
    if code or (code is None and looks_like_code(text)):
        units = [Unit(first=a, last=b, block=True) for a, b in code_blocks(text, starts)]
        return Segmented(text=text, word_starts=starts, word_ends=ends, units=units, code=True)
    state = _Segmenter(text, starts, ends, _sentence_ends(text, starts, ends))
    state.regions = code_regions(text)[::-1] if code is None else []
    for line in _LINE.finditer(text):
        if not line.group():
            break
        state.line(line)
    return state.finish()


class _Segmenter:
    """Line-by-line state: open code fence, pending title line, units so far."""

    def __init__(self, text: str, starts: list[int], ends: list[int],
                 sentence_ends: list[int]) -> None:
        self.text = text
        self.starts = starts
        self.ends = ends
        self.sentence_ends = sentence_ends
        self.units: list[Unit] = []
        self.seen = 0  # words of the lines walked so far
        self.fence: int | None = None  # first word of an open code fence
        self.heading: int | None = None  # first word of a title line awaiting its paragraph
        self.regions: list[tuple[int, int]] = []  # code paragraphs ahead, the next one last
        self.skip = 0  # lines that start before this offset belong to a code region

    def line(self, line: re.Match[str]) -> None:
        if line.start() < self.skip:
            return
        if self.regions and self.regions[-1][0] == line.start():
            self._region(*self.regions.pop())
            return
        first = self.seen
        last = self.seen = bisect_left(self.starts, line.end(), first)
        is_fence = bool(FENCE.match(line.group()))
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

    def _region(self, start: int, end: int) -> None:
        """Units of a paragraph of code in prose: its code blocks, whole or nothing."""
        if self.heading is not None:
            self._sentences(self.heading, self.seen)
            self.heading = None
        first = self.seen
        self.seen = bisect_left(self.starts, end, first)
        local = [s - start for s in self.starts[first : self.seen]]
        for a, b in code_blocks(self.text[start:end], local):
            self.units.append(Unit(first=first + a, last=first + b, block=True))
        self.skip = end

    def finish(self) -> Segmented:
        if self.heading is not None:
            self._sentences(self.heading, len(self.starts))
        if self.fence is not None:  # an unclosed fence runs to the end
            _add(self.units, Unit(first=self.fence, last=len(self.starts), block=True))
        return Segmented(text=self.text, word_starts=self.starts, word_ends=self.ends,
                         units=self.units)

    def _sentences(self, first: int, last: int) -> None:
        """Units of words ``first:last``: sentences, cut to at most MAX_UNIT_WORDS words."""
        ends = self.sentence_ends
        inner = ends[bisect_left(ends, first) : bisect_left(ends, last - 1)]
        begin = first
        for end in [i + 1 for i in inner] + [last]:
            while end - begin > MAX_UNIT_WORDS:
                self.units.append(Unit(first=begin, last=begin + MAX_UNIT_WORDS, block=False))
                begin += MAX_UNIT_WORDS
            _add(self.units, Unit(first=begin, last=end, block=False))
            begin = end


def _is_title(text: str, starts: list[int], ends: list[int], first: int, last: int) -> bool:
    # A short line without closing punctuation ("Rosetta (spacecraft)") titles the paragraph
    # below it: it goes with that paragraph's first sentence rather than alone.
    closing = text[starts[last - 1] : ends[last - 1]]
    return last - first <= MAX_TITLE_WORDS and not _SENTENCE_END.search(closing)


def _word_edges(text: str) -> tuple[list[int], list[int]]:
    """Start and end offsets of the words of ``text``."""
    ascii_only = text.isascii()
    if not ascii_only and _NEEDS_CARE.search(text):
        return _joined_words(text)
    edges = list(accumulate(map(len, _SPACED_RUN.split(text)), initial=0))
    starts, ends = edges[1:-1:2], edges[2:-1:2]  # the split alternates space and word
    for m in () if ascii_only else _NON_ASCII_AFTER_SPACE.finditer(text):
        p = m.end() - 1
        if _extends(text[p]) and _is_space_separator(text[p - 1]):
            starts[bisect_left(starts, p)] = p - 1  # the space and its mark are one character
    return starts, ends


def _joined_words(text: str) -> tuple[list[int], list[int]]:
    """Word edges moved off character and number insides, one match at a time."""
    starts: list[int] = []
    ends: list[int] = []
    for m in _WORD.finditer(text):
        start, stop = m.span()
        if ends and ends[-1] == start and _joined(text[start - 1], text[start]):
            ends.pop()  # two words that make one character or number
            start = starts.pop()
        elif start and _extends(text[start]) and _is_space_separator(text[start - 1]):
            start -= 1  # a mark on a space: the space and its mark are one character
        if text[stop - 1] in _PREPEND and stop < len(text) and _is_space_separator(text[stop]):
            stop += 1
        starts.append(start)
        ends.append(stop)
    return starts, ends


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


def _sentence_ends(text: str, starts: list[int], ends: list[int]) -> list[int]:
    """Words after which a sentence ends, in order (the search finds the few candidates)."""
    found = []
    for m in _END_MARK.finditer(text):
        end = m.start() + 1 if text[m.start()] in _CJK_END else m.end()
        i = bisect_left(ends, end)
        if i < len(ends) and ends[i] == end and _ends_sentence(text, starts, ends, i):
            found.append(i)
    return found


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
