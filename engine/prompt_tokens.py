"""Exact token counts of prompts joined from parts, without tokenizing the whole prompt again.

A prompt is its parts (instruction, documents, question) joined by blank lines. Tokenizing it
whole repeats the work already done on each document (whose token starts give word costs), and
the fit loop counts prompts that differ from the previous one in a few documents only.

A tiktoken encoding cuts text into pieces by a regular expression and encodes each piece alone.
In both built-in encodings a piece that holds a letter ends with its letters (or a contraction
such as ``'s``), so a piece never holds an ASCII letter followed by a space, and whether a piece
ends after such a letter is decided by the next character alone, a space or the end of the text
alike. At such a position, a *cut*, the pieces of the joined prompt and those of the part alone
therefore both split, and between two cuts they are the same pieces. So the prompt's count is
each part's tokens between its first and last cut, read from the part's own token starts, plus
a fresh count of each short stretch from one part's last cut to the next part's first cut,
separator included. A part without a cut joins the stretch whole. Other tokenizers (Hugging
Face, the caller's own) give no such guarantee and count the joined prompt whole.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Sequence

from tersify.assemble import PART_SEPARATOR
from tersify.tokens import TiktokenCounter, TokenCounter

__all__ = ["PromptTokens", "cuts"]

_CUT = re.compile(r"[A-Za-z] ")  # a cut is the position of the space


def cuts(text: str) -> tuple[int, int] | None:
    """First and last cut of ``text``: positions of a space that follows an ASCII letter."""
    first = _CUT.search(text)
    if first is None:
        return None
    last = text.rfind(" ")
    while not ("a" <= text[last - 1] <= "z" or "A" <= text[last - 1] <= "Z"):
        last = text.rfind(" ", 0, last)  # stops at the first cut at the latest
    return first.start() + 1, last


class PromptTokens:
    """Token counts of one request's texts and of prompts joined from them.

    Each text is encoded once: its token starts are remembered for the life of this object
    (one request), so a part that comes back in the next prompt costs no new encoding.
    """

    def __init__(self, tokens: TokenCounter) -> None:
        self.tokens = tokens
        self.name = tokens.name
        self._by_parts = isinstance(tokens, TiktokenCounter)
        self._starts: dict[str, list[int]] = {}

    def token_starts(self, text: str) -> list[int]:
        """Character offset at which each token of ``text`` starts (encoded once)."""
        starts = self._starts.get(text)
        if starts is None:
            starts = self._starts[text] = self.tokens.token_starts(text)
        return starts

    def count(self, text: str) -> int:
        """Tokens of ``text``."""
        if self._by_parts:
            return len(self.token_starts(text))
        return self.tokens.count(text)

    def joined(self, parts: Sequence[str]) -> int:
        """Tokens of the non-empty ``parts`` joined by :data:`PART_SEPARATOR`."""
        present = [p for p in parts if p]
        if not self._by_parts:
            return self.tokens.count(PART_SEPARATOR.join(present))
        total = 0
        stretch: list[str] = []  # text since the last cut, by part
        for part in present:
            edges = cuts(part)
            if edges is None:
                stretch.append(part)
                continue
            first, last = edges
            stretch.append(part[:first])
            total += self.tokens.count(PART_SEPARATOR.join(stretch))
            starts = self.token_starts(part)
            total += bisect_left(starts, last) - bisect_left(starts, first)
            stretch = [part[last:]]
        return total + self.tokens.count(PART_SEPARATOR.join(stretch))
