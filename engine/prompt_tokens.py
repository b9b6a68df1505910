"""Exact token counts of prompts joined from parts, without tokenizing the whole prompt again.

A prompt is its parts (instruction, documents, question) joined by blank lines, and a
compressed document is slices of the original (its kept spans) joined by a space or a newline.
Tokenizing each prompt whole repeats the work already done on each document (whose token starts
give word costs), once per round of the fit loop.

A tiktoken encoding cuts text into pieces by a regular expression and encodes each piece alone.
In both built-in encodings a piece that holds a letter ends with its letters (or a contraction
such as ``'s``), so a piece never holds an ASCII letter followed by a space, and whether a piece
ends after such a letter is decided by the next character alone, a space or the end of the text
alike. At such a position, a *cut*, the pieces of the prompt and those of the text the slice
comes from therefore both split, and between two cuts of one slice they are the same pieces. So
a prompt spelled by slices counts as each slice's tokens between its first and last cut, read
from its text's own token starts (each text is encoded once), plus a fresh count of each short
stretch from one slice's last cut to the next slice's first cut, separators included. A slice
without a cut joins the stretch whole. Other tokenizers (Hugging Face, the caller's own) give
no such guarantee and count the text whole.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Sequence

from tersify.assemble import PART_SEPARATOR, Slice, spell
from tersify.tokens import TiktokenCounter, TokenCounter

__all__ = ["PromptTokens", "cuts", "joined_slices"]

_CUT = re.compile(r"[A-Za-z] ")  # a cut is the position of the space


def cuts(text: str, start: int = 0, end: int | None = None) -> tuple[int, int] | None:
    """First and last cut of ``text[start:end]``: positions of a space after an ASCII letter,
    both inside the stretch."""
    end = len(text) if end is None else end
    first = _CUT.search(text, start, end)
    if first is None:
        return None
    last = text.rfind(" ", start, end)
    while not ("a" <= text[last - 1] <= "z" or "A" <= text[last - 1] <= "Z"):
        last = text.rfind(" ", start, last)  # stops at the first cut at the latest
    return first.start() + 1, last


def joined_slices(parts: Sequence[Sequence[Slice]]) -> list[Slice]:
    """The slices of the non-empty ``parts`` joined by :data:`PART_SEPARATOR`."""
    out: list[Slice] = []
    for part in parts:
        if any(start < end for _, start, end in part):
            if out:
                out.append((PART_SEPARATOR, 0, len(PART_SEPARATOR)))
            out.extend(part)
    return out


class PromptTokens:
    """Token counts of one request's texts and of prompts joined from them.

    Each text is encoded once: its token starts are remembered for the life of this object
    (one request), so a part that comes back in the next prompt costs no new encoding.
    """

    def __init__(self, tokens: TokenCounter) -> None:
        self.tokens = tokens
        self.name = tokens.name
        # The cuts hold for the encodings TiktokenCounter loads, not for a subclass's counts.
        self._by_parts = type(tokens) is TiktokenCounter
        self._starts: dict[str, list[int]] = {}

    def token_starts(self, text: str) -> list[int]:
        """Character offset at which each token of ``text`` starts (encoded once)."""
        starts = self._starts.get(text)
        if starts is None:
            starts = self._starts[text] = self.tokens.token_starts(text)
        return starts

    def joined(self, parts: Sequence[str]) -> int:
        """Tokens of the non-empty ``parts`` joined by :data:`PART_SEPARATOR`."""
        return self.count(joined_slices([[(p, 0, len(p))] for p in parts]))

    def count(self, slices: Sequence[Slice]) -> int:
        """Tokens of the text that ``slices`` spell, one after the other."""
        if not self._by_parts:
            return self.tokens.count(spell(slices))
        total = 0
        stretch: list[str] = []  # text since the last cut
        for text, start, end in slices:
            edges = cuts(text, start, end)
            if edges is None:
                stretch.append(text[start:end])
                continue
            first, last = edges
            stretch.append(text[start:first])
            total += self.tokens.count("".join(stretch))
            starts = self.token_starts(text)
            total += bisect_left(starts, last) - bisect_left(starts, first)
            stretch = [text[last:end]]
        return total + self.tokens.count("".join(stretch))
