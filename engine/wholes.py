"""What word-level selection keeps whole, so that its output never says something false.

- A *phrase* (an atom: a date, a number with its unit, a multi-word name; found by
  :mod:`tersify.phrases`) is kept whole or dropped whole: ``2 March 1961`` never becomes
  ``2 1961``. Forced and protected words are widened to their whole phrases.
- A forced word is read with its neighbours: the units that hold one come first, and inside
  them the words nearest a forced word are kept first and pruned last (their importance is
  ``NEAR`` minus the distance), so a unit too long for the budget leaves a window around
  its forced words instead of ``1994`` alone.
- When the problem asks for it (``whole_units``), a document keeps words only if it keeps at
  least one whole *anchor* unit (a sentence or block other than a lone heading): fragments of
  any other document are dropped, so ``'tram opened May'`` from an irrelevant document never
  stands for that document. Forced words and the units that hold them stay.

Everything here is linear in the words it looks at.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence

__all__ = ["NEAR", "WINDOW", "anchored_docs", "best_run", "complete", "edge_run", "fragments",
           "framed", "owners", "pieces", "widen"]

NEAR = 1e12
WINDOW = 8  # words on each side of a forced word read with it when its unit does not fit

Span = tuple[int, int]
Owner = dict[int, Span]


def owners(atoms: Sequence[Span]) -> dict[int, Span]:
    """The atom of each word that belongs to one."""
    return {w: span for span in atoms for w in range(*span)}


def widen(words: frozenset[int], owner: dict[int, Span]) -> frozenset[int]:
    """``words`` plus the rest of every atom they touch."""
    extra = {x for w in words if w in owner for x in range(*owner[w])}
    return words | extra if extra else words


def pieces(words: Iterable[int], owner: dict[int, Span]) -> list[list[int]]:
    """``words`` cut into pieces: each atom's words together, every other word alone, in the
    order their first word comes in ``words``."""
    out: dict[int, list[int]] = {}
    for w in words:
        span = owner.get(w)
        out.setdefault(span[0] if span else w, []).append(w)
    return list(out.values())


def framed(spans: Sequence[Span], priority: Sequence[float], importance: Sequence[float],
           forced: frozenset[int]) -> tuple[list[float], list[float]]:
    """Priorities and importances with the units that hold forced words put first (their
    priority is infinite) and their words ranked by nearness to a forced word."""
    prio, imp = list(priority), list(importance)
    firsts = [a for a, _ in spans]
    units = set()
    for w in forced:
        u = bisect.bisect_right(firsts, w) - 1
        if u >= 0 and spans[u][0] <= w < spans[u][1]:
            units.add(u)
    for u in units:
        a, b = spans[u]
        prio[u] = float("inf")
        for w, d in zip(range(a, b), _distances(a, b, forced)):
            if d:
                imp[w] = NEAR - d
    return prio, imp


def _distances(a: int, b: int, forced: frozenset[int]) -> list[int]:
    """Distance of each word of ``a:b`` to the nearest forced word in it (two passes)."""
    far = b - a + 1
    out, last = [], -far
    for w in range(a, b):
        last = w if w in forced else last
        out.append(w - last)
    nxt = far + b
    for w in range(b - 1, a - 1, -1):
        nxt = w if w in forced else nxt
        out[w - a] = min(out[w - a], nxt - w)
    return out


def anchored_docs(spans: Sequence[Span], anchor: Sequence[bool], doc: Sequence[int],
                  kept: set[int]) -> set[int]:
    """Documents that keep a whole anchor unit."""
    found = set()
    for u, (a, b) in enumerate(spans):
        if anchor[u] and a in kept and all(map(kept.__contains__, range(a + 1, b))):
            found.add(doc[u])
    return found


def fragments(spans: Sequence[Span], anchor: Sequence[bool], doc: Sequence[int],
              priority: Sequence[float], kept: set[int]) -> set[int]:
    """Kept words of documents without a whole anchor unit, but those of forced units (whose
    priority is infinite, see :func:`framed`)."""
    anchored = anchored_docs(spans, anchor, doc, kept)
    doomed: set[int] = set()
    for u, (a, b) in enumerate(spans):
        if doc[u] not in anchored and priority[u] != float("inf"):
            doomed.update(filter(kept.__contains__, range(a, b)))
    return doomed


def complete(owner: Owner, piece: list[int]) -> bool:
    """Whether ``piece`` (words cut by :func:`pieces`) is a word alone or a whole atom."""
    span = owner.get(piece[0])
    return span is None or len(piece) == span[1] - span[0]


def edge_run(importance: Sequence[float], cost: Sequence[int], owner: Owner,
             missing: list[int], room: float) -> list[int]:
    """The most important missing words, each with its whole atom, until one does not fit
    (for prefix and suffix policies, whose importance is the position, and for windows
    around forced words, whose importance is the nearness). An atom is missing whole, so
    it comes whole even when only some of its words are among ``missing``."""
    ordered = sorted(missing, key=lambda w: (-importance[w], w))
    run: list[int] = []
    taken: set[int] = set()
    for w in ordered:
        if w in taken:
            continue
        piece = list(range(*owner[w])) if w in owner else [w]
        need = sum(map(cost.__getitem__, piece))
        if room < need:
            break
        run.extend(piece)
        taken.update(piece)
        room -= need
    return sorted(run)


def best_run(importance: Sequence[float], cost: Sequence[int], owner: Owner,
             missing: list[int], room: float) -> list[int]:
    """The contiguous run of ``missing`` with the most importance that fits ``room``.

    A run never jumps over a kept word and never cuts an atom: the window drops a whole atom
    from its left end, and a run is a candidate only when it ends on an atom's last word.
    """
    best: tuple[float, int, int] = (0.0, 0, 0)
    lo, spent, gain = 0, 0.0, 0.0
    for hi, w in enumerate(missing):
        if hi and missing[hi - 1] + 1 != w:
            lo, spent, gain = hi, 0.0, 0.0
        spent += cost[w]
        gain += importance[w]
        # Shrink from the left a piece at a time: over the room, or starting inside an atom.
        while lo <= hi and (spent > room or _inside(owner, missing[lo])):
            end = owner[missing[lo]][1] if missing[lo] in owner else missing[lo] + 1
            while lo <= hi and missing[lo] < end:
                spent -= cost[missing[lo]]
                gain -= importance[missing[lo]]
                lo += 1
        if lo <= hi and not _inside(owner, w + 1) and gain > best[0]:
            best = (gain, lo, hi + 1)
    return missing[best[1] : best[2]]


def _inside(owner: Owner, w: int) -> bool:
    """Whether ``w`` is an atom's word other than its first."""
    return w in owner and owner[w][0] != w
