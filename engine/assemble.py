"""Assembly: kept words back to text, spans, document order and the final prompt.

Kept words that follow each other in the original become one span, original whitespace
included. Spans of one document are joined by a newline where the gap between them held one,
else by a space: whitespace is the only text the output adds. Documents are put in the order
the request asks for and joined by a blank line, and so are instruction, contexts and question.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import compress, repeat
from operator import add, ne
from typing import TypeVar

from tersify.segment import Segmented
from tersify.types import Span

__all__ = ["PART_SEPARATOR", "doc_order", "join_prompt", "ordered_prompt", "prompt_parts",
           "Slice", "slices_of", "spans_of", "spell"]

PART_SEPARATOR = "\n\n"
T = TypeVar("T")  # a part of the prompt: its text, or what stands for it
Slice = tuple[str, int, int]  # (text, start, end): text[start:end]


def spans_of(doc: Segmented, kept: Sequence[int]) -> list[Span]:
    """Merge sorted local word indices into maximal character spans."""
    if not kept:
        return []
    # A run breaks after each word whose successor in ``kept`` is not the next word; found
    # by mapping in C, so a span costs a Python step and a kept word none.
    breaks = list(map(ne, kept[1:], map(add, kept, repeat(1))))
    firsts = [kept[0], *compress(kept[1:], breaks)]
    lasts = [*compress(kept, breaks), kept[-1]]
    return [Span(start=doc.word_starts[a], end=doc.word_ends[b]) for a, b in zip(firsts, lasts)]


def slices_of(text: str, spans: Sequence[Span]) -> list[Slice]:
    """The compressed text of one document as ``(text, start, end)`` slices: its spans of
    ``text`` and the white space put between them."""
    slices: list[Slice] = []
    for i, span in enumerate(spans):
        if i:
            gap = text[spans[i - 1].end : span.start]
            slices.append(("\n" if "\n" in gap else " ", 0, 1))
        slices.append((text, span.start, span.end))
    return slices


def spell(slices: Sequence[Slice]) -> str:
    """The text that ``(text, start, end)`` slices spell, one after the other."""
    return "".join(text[start:end] for text, start, end in slices)


def doc_order(reorder: str, relevance: list[float]) -> list[int]:
    """Document order in the prompt: original, by relevance, or most relevant at the edges."""
    idx = list(range(len(relevance)))
    if reorder == "original":
        return idx
    ranked = sorted(idx, key=lambda d: (-relevance[d], d))
    if reorder == "relevance":
        return ranked
    front, back = ranked[0::2], ranked[1::2]
    return front + back[::-1]


def join_prompt(instruction: str, contexts: Sequence[str], question: str) -> str:
    """Instruction, non-empty contexts and question, separated by blank lines."""
    return PART_SEPARATOR.join(p for p in (instruction, *contexts, question) if p)


def prompt_parts(instruction: T, texts: Sequence[T], question: T, *, reorder: str,
                 relevance: list[float]) -> list[T]:
    """Instruction, the documents' ``texts`` in ``reorder`` order and question, empty or not."""
    return [instruction, *(texts[d] for d in doc_order(reorder, relevance)), question]


def ordered_prompt(instruction: str, texts: Sequence[str], question: str, *, reorder: str,
                   relevance: list[float]) -> str:
    """The final prompt: instruction, the documents' ``texts`` in ``reorder`` order, question."""
    parts = prompt_parts(instruction, texts, question, reorder=reorder, relevance=relevance)
    return PART_SEPARATOR.join(p for p in parts if p)
