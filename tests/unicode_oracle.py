"""Where kept text may not start or end, decided without tersify's segmenter.

An edge at offset ``p`` of a text cuts something when ``p`` falls

- inside a grapheme cluster, a user-perceived character (the ``regex`` module's ``\\X``,
  Unicode UAX #29): ``e`` + U+0301, an emoji ZWJ sequence, a flag, ``\\r\\n``;
- inside a run of numeric characters (any character with a Unicode numeric value, in the
  Unicode version of the running Python, which is also the engine's: 7, ７, ٧, 七);
- inside a word of a script written with spaces: a run of characters that are neither white
  space, controls, nor characters of scripts written without spaces (Han, kana, bopomofo,
  Thai, Lao, Khmer, Myanmar) and their punctuation. Korean is written with spaces, so its
  words count here.
"""

from __future__ import annotations

import unicodedata

import regex

__all__ = ["cut_offsets", "grapheme_edges"]

_CLUSTER = regex.compile(r"\X")
_UNSPACED = regex.compile(
    r"(?V1)[\p{scx=Han}\p{scx=Hiragana}\p{scx=Katakana}\p{scx=Bopomofo}\p{scx=Thai}"
    r"\p{scx=Lao}\p{scx=Khmer}\p{scx=Myanmar}"
    r"[[\p{Blk=CJK_Symbols_and_Punctuation}\p{Blk=Halfwidth_and_Fullwidth_Forms}]"
    r"&&[\p{P}\p{S}\p{Zs}]]]"
)
_SPACE_OR_CONTROL = regex.compile(r"[\s\p{Cc}]")


def grapheme_edges(text: str) -> set[int]:
    """Offsets at which a grapheme cluster starts, plus the end of the text."""
    return {m.start() for m in _CLUSTER.finditer(text)} | {len(text)}


def cut_offsets(text: str) -> set[int]:
    """Offsets where an edge of kept text would cut a character, a number or a word."""
    edges = grapheme_edges(text)
    cuts = set()
    for p in range(1, len(text)):
        before, after = text[p - 1], text[p]
        if (p not in edges or (_numeric(before) and _numeric(after))
                or (_in_spaced_word(before) and _in_spaced_word(after))):
            cuts.add(p)
    return cuts


def _numeric(char: str) -> bool:
    return unicodedata.numeric(char, None) is not None


def _in_spaced_word(char: str) -> bool:
    return not (_SPACE_OR_CONTROL.match(char) or _UNSPACED.match(char))
