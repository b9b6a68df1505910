"""Assembly: kept words back to text, spans and the final prompt.

Kept words that follow each other in the original become one span, original whitespace
included. Spans of one document are joined by a newline where the gap between them held one,
else by a space: whitespace is the only text the output adds. Documents are joined by a blank
line, and so are instruction, contexts and question.
"""

from __future__ import annotations

from collections.abc import Sequence

from tersify.segment import Segmented
from tersify.types import Span

__all__ = ["PART_SEPARATOR", "join_prompt", "render", "spans_of"]

PART_SEPARATOR = "\n\n"


def spans_of(doc: Segmented, kept: Sequence[int]) -> list[Span]:
    """Merge sorted local word indices into maximal character spans."""
    spans: list[Span] = []
    run_start = prev = -2
    for w in kept:
        if w != prev + 1:
            if prev >= 0:
                spans.append(Span(start=doc.word_starts[run_start], end=doc.word_ends[prev]))
            run_start = w
        prev = w
    if prev >= 0:
        spans.append(Span(start=doc.word_starts[run_start], end=doc.word_ends[prev]))
    return spans


def render(text: str, spans: Sequence[Span]) -> str:
    """The compressed text of one document."""
    parts: list[str] = []
    for i, span in enumerate(spans):
        if i:
            gap = text[spans[i - 1].end : span.start]
            parts.append("\n" if "\n" in gap else " ")
        parts.append(text[span.start : span.end])
    return "".join(parts)


def join_prompt(instruction: str, contexts: Sequence[str], question: str) -> str:
    """Instruction, non-empty contexts and question, separated by blank lines."""
    return PART_SEPARATOR.join(p for p in (instruction, *contexts, question) if p)
