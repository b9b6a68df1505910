"""Source code as a document: recognised by its lines, cut into blocks that go whole.

Cut like prose, a source file falls apart into fragments that mean nothing (``= False,``, a
lone ``return``), so a document that is code is cut into *blocks* instead, each kept whole or
dropped whole, as a markdown code fence is: a top-level definition (a function, a class, a
``const x = {...}``) with its indented or bracketed body, or a group of one-line statements
(imports, constants) between blank lines. Decorators and the comments right above a statement
go with it. A block longer than :data:`MAX_BLOCK_WORDS` is cut again at the next indentation
level (a class into its methods, the class line going with the first), and a block with no
inner structure into runs of whole lines: a cut never falls inside a line.

Recognition reads at most :data:`SAMPLE_LINES` lines with fixed patterns anchored at each
line's start or end, so its cost is bounded whatever the document; it takes no pattern from the
caller. A line counts as code by its shape (an import, an assignment, a call, a decorator, a
``//`` comment, a keyword opening a block that ends with ``:``, a line that opens with ``}`` or
ends with ``{``, or with ``;`` after a symbol), as prose when it reads as a sentence (six words
or more, mostly plain words, or a closing full stop) or holds letters of a script other than
Latin outside its strings and comments; a docstring's lines and ``#`` or ``*`` comments count
as neither. A document is code when it has at least :data:`MIN_CODE_LINES` code lines and they
outnumber its prose lines :data:`CODE_PER_PROSE` to one: prose with a colon, a list or an
equation or two stays prose. A document with a markdown fence is markdown, whose fences are
blocks already. In a document of prose, a paragraph that reads as code by the same rule (source
pasted without a fence) is cut into code blocks likewise (:func:`code_regions`).
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["MAX_BLOCK_WORDS", "code_blocks", "code_regions", "looks_like_code"]

SAMPLE_LINES = 400
MIN_CODE_LINES = 3
CODE_PER_PROSE = 3
MAX_BLOCK_WORDS = 240
_MAX_DEPTH = 6  # indentation levels looked into before cutting a block into runs of lines

_LINE = re.compile(r"[^\n]*\n?")
_BLOCK_KEYWORDS = ("def|class|if|elif|else|for|while|try|except|finally|with|async|match|case"
                   "|switch|do|struct|enum|impl|trait|interface|namespace|fn|func|function")
_CODE_LINE = re.compile(
    r"\s*(?:"
    rf"(?:{_BLOCK_KEYWORDS})\b[^\n]*:\s*$"  # a Python block header
    r"|(?:import|from|package|use|using|require|#include|#define|#!)\b[^\n]*"
    r"|(?:const|let|var|val|export|return|public|private|protected|static)\s[^\n]*[=;({]"
    r"|@[A-Za-z_][\w.]*(?:\(|\s*$)"  # a decorator or annotation
    r"|//|/\*|\*/|\}|\)\s*[;{]?\s*$"
    r"|[A-Za-z_$][\w$.]*(?:\[[^\]\n]*\])?\s*(?:[-+*/|&]?=|:=)\s*[^=\s]"  # an assignment
    r"|[A-Za-z_$][\w$.]*\([^\n]*\)\s*;?\s*$"  # a call
    r"|[^\n]*\{\s*$"
    r"|(?=[^\n]*[=(\[<>+*/&|!\"'])[^\n]*;\s*$"  # a statement: a symbol, then a semicolon
    r")")
_PROSE_WORD = re.compile(r"[^\W\d_]+[,.;:!?)]?(?=\s|$)")
_SENTENCE_END = re.compile(r"[^\s(){};=]\s*[.!?。！？]\s*$")
_FOREIGN_LETTER = re.compile(r"(?![A-Za-z])[^\W\d_]")
FENCE = re.compile(r"\s{0,3}(?:```|~~~)")  # a markdown code fence line (segment.py too)
# A leading comment or decorator goes with the statement below it.
_LEAD = re.compile(r"\s*(?:#(?!include|define)|//|/\*|\*|@|--\s)")
# Lines that go on the statement above: closers, chained calls, the branches of a compound.
_GOES_ON = re.compile(r"\s*(?:[)\]}.]|&&|\|\||\?|else\b|elif\b|except\b|finally\b|catch\b)")
_NOISE = re.compile(r"\"(?:[^\"\\\n]|\\.)*\"|'(?:[^'\\\n]|\\.)*'|`[^`\n]*`|//[^\n]*|#[^\n]*")
_TRIPLE = re.compile(r"\"\"\"|'''")


def looks_like_code(text: str) -> bool:
    """Whether ``text`` reads as source code (see the module docstring)."""
    if text.count("\n") < MIN_CODE_LINES - 1:
        return False
    code = prose = 0
    in_string = False  # a docstring's lines are neither
    for n, m in enumerate(_LINE.finditer(text)):
        line = m.group()
        if n >= SAMPLE_LINES or not line:
            break
        if FENCE.match(line):
            return False
        quoted = in_string
        if len(_TRIPLE.findall(line)) % 2:
            in_string = quoted = not in_string
        if quoted or not line.strip():
            continue
        if _is_foreign(line):
            prose += 1
        elif line.lstrip()[0] in "#*" and not _CODE_LINE.match(line):
            continue  # a comment (or a markdown heading or bullet): neither
        elif _CODE_LINE.match(line):
            code += 1
        elif _is_prose(line):
            prose += 1
    return code >= MIN_CODE_LINES and code >= CODE_PER_PROSE * prose


def code_regions(text: str) -> list[tuple[int, int]]:
    """Character ranges of the paragraphs (runs of lines between blank lines) of ``text`` that
    read as code by :func:`looks_like_code`: source pasted into prose without a fence. None in
    a text with a markdown fence, whose fences say where code is."""
    if text.count("\n") < MIN_CODE_LINES - 1:
        return []
    found: list[tuple[int, int]] = []
    start, count = -1, 0
    for m in _LINE.finditer(text):
        line = m.group()
        if line.strip():
            if FENCE.match(line):
                return []
            start, count = (m.start() if count == 0 else start), count + 1
            continue
        if count >= MIN_CODE_LINES and looks_like_code(text[start : m.start()]):
            found.append((start, m.start()))
        count = 0
        if not line:
            break
    return found


def _is_foreign(line: str) -> bool:
    # Code names things in ASCII: letters of other scripts outside strings and comments are
    # prose (Chinese, with no spaces to count words by, included).
    return not line.isascii() and bool(_FOREIGN_LETTER.search(_NOISE.sub("", line)))


def _is_prose(line: str) -> bool:
    words = line.split()
    if _SENTENCE_END.search(line) and len(words) >= 3:
        return True
    return len(words) >= 6 and 2 * len(_PROSE_WORD.findall(line)) >= len(words) * 1.4


@dataclass(frozen=True, slots=True)
class _Lines:
    """Per line of a text: its start offset, indentation (None when blank), bracket depth at
    its start, and whether it goes on the statement above whatever its indentation (inside a
    triple-quoted string, a closer, a branch)."""

    starts: list[int]
    indent: list[int | None]
    depth: list[int]
    goes_on: list[bool]
    lead: list[bool]


def _read_lines(text: str) -> _Lines:
    starts, indent, depth, goes_on, lead = [], [], [], [], []
    level, in_string = 0, False
    for m in _LINE.finditer(text):
        line = m.group()
        if not line:
            break
        starts.append(m.start())
        body = line.lstrip()
        indent.append(len(line) - len(body) if body.strip() else None)
        depth.append(level)
        goes_on.append(in_string or bool(_GOES_ON.match(line)))
        lead.append(not in_string and bool(_LEAD.match(line)))
        if len(_TRIPLE.findall(line)) % 2:
            in_string = not in_string
        if not in_string:
            bare = _NOISE.sub("", line)
            opened = sum(map(bare.count, "([{")) - sum(map(bare.count, ")]}"))
            level = max(0, level + opened)
    starts.append(len(text))
    return _Lines(starts=starts, indent=indent, depth=depth, goes_on=goes_on, lead=lead)


def code_blocks(text: str, word_starts: Sequence[int]) -> list[tuple[int, int]]:
    """Blocks of ``text`` (code) as ``(first_word, last_word_exclusive)``, in order, covering
    every word once; ``word_starts`` are the start offsets of its words."""
    lines = _read_lines(text)
    rows = list(range(len(lines.indent)))
    blocks: list[tuple[int, int]] = []
    for first, last in _cut(lines, rows, word_starts, 0):
        a = bisect_left(word_starts, lines.starts[first])
        b = bisect_left(word_starts, lines.starts[last])
        if b > a:
            blocks.append((a, b))
    return blocks


def _words(lines: _Lines, word_starts: Sequence[int], first: int, last: int) -> int:
    return (bisect_left(word_starts, lines.starts[last])
            - bisect_left(word_starts, lines.starts[first]))


def _cut(lines: _Lines, rows: list[int], word_starts: Sequence[int],
         level: int) -> list[tuple[int, int]]:
    """Blocks of ``rows`` (consecutive line numbers) as line ranges, each cut again while it
    holds more than MAX_BLOCK_WORDS words."""
    out: list[tuple[int, int]] = []
    for first, last in _group(lines, _statements(lines, rows)):
        if _words(lines, word_starts, first, last) <= MAX_BLOCK_WORDS:
            out.append((first, last))
            continue
        inner = _body(lines, first, last) if level < _MAX_DEPTH else []
        parts = _cut(lines, inner, word_starts, level + 1) if inner else []
        if len(parts) > 1:
            parts[0] = (first, parts[0][1])  # the header goes with the first part
            parts[-1] = (parts[-1][0], last)  # and the closing lines with the last
            out.extend(parts)
        else:
            out.extend(_runs(lines, word_starts, first, last))
    return out


@dataclass(frozen=True, slots=True)
class _Statement:
    first: int
    last: int  # exclusive, blank lines after it included
    blank_before: bool
    lead: bool


def _statements(lines: _Lines, rows: list[int]) -> list[_Statement]:
    """``rows`` cut into statements: a statement starts on a line at the base indentation and
    bracket depth that does not go on the line above."""
    shown = [r for r in rows if lines.indent[r] is not None]
    if not shown:
        return []
    base = min(lines.indent[r] or 0 for r in shown)
    depth = lines.depth[shown[0]]
    found: list[_Statement] = []
    blank = False
    for r in rows:
        if lines.indent[r] is None:
            blank = bool(found)
            continue
        if not found or (lines.indent[r] == base and lines.depth[r] <= depth
                         and not lines.goes_on[r]):
            found.append(_Statement(first=r, last=r + 1, blank_before=blank,
                                    lead=lines.lead[r]))
        blank = False
    ends = [s.first for s in found[1:]] + [rows[-1] + 1]
    return [_Statement(first=s.first, last=end, blank_before=s.blank_before, lead=s.lead)
            for s, end in zip(found, ends)]


def _group(lines: _Lines, statements: list[_Statement]) -> list[tuple[int, int]]:
    """Statements grouped into blocks: a blank line, a statement of several lines or the one
    after it starts a new block, which takes the lead comments and decorators right above it;
    a block of lead lines alone goes with the block below it."""
    starts: list[int] = []
    before: _Statement | None = None  # the last statement other than a lead one
    for i, s in enumerate(statements):
        several = _shown_lines(lines, s) > 1
        if not starts or s.blank_before or (not s.lead and (
                several or (before is not None and _shown_lines(lines, before) > 1))):
            j = i
            while j > 0 and statements[j - 1].lead and not statements[j].blank_before:
                j -= 1
            if not starts or j > starts[-1]:
                starts.append(j)
        if not s.lead:
            before = s
    starts = [k for n, k in enumerate(starts)
              if n == 0 or not all(s.lead for s in statements[starts[n - 1] : k])]
    bounds = [*starts, len(statements)]
    return [(statements[a].first, statements[b - 1].last) for a, b in zip(bounds, bounds[1:])]


def _shown_lines(lines: _Lines, s: _Statement) -> int:
    return sum(lines.indent[r] is not None for r in range(s.first, s.last))


def _body(lines: _Lines, first: int, last: int) -> list[int]:
    """The rows of a block between its header and its closing lines: from its first line
    indented more than its first line to its last one."""
    top = lines.indent[first] or 0
    inner = [r for r in range(first + 1, last) if (lines.indent[r] or 0) > top]
    return list(range(inner[0], inner[-1] + 1)) if inner else []


def _runs(lines: _Lines, word_starts: Sequence[int], first: int,
          last: int) -> list[tuple[int, int]]:
    """Lines ``first:last`` as runs of whole lines of at most MAX_BLOCK_WORDS words (a longer
    line is a run of its own)."""
    out: list[tuple[int, int]] = []
    begin = first
    for r in range(first + 1, last + 1):
        if r == last or _words(lines, word_starts, begin, r + 1) > MAX_BLOCK_WORDS:
            out.append((begin, r))
            begin = r
    return out
