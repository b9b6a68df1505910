"""Which document each word of a compressed context came from, for methods that do not say.

LLMLingua and LongLLMLingua return one compressed string: documents reordered (LongLLMLingua
sorts them by rank), tokens and separators pruned. To judge every method by the same
per-document rule (metrics.document_kept, errors.loss_stage), their output is mapped back to
the documents: the compressed words are cut into runs, each run matched in order against one
document, and the cut that matches the most words wins, each run costing :data:`RUN_COST`
words (so a stray common word does not open a run of its own). A document's text is then the
words matched in it, in order; words that match nowhere (a pruned token can leave half a
word) count for no document. Pruning the space between two words glues them together
("meaningpriority"): a word found in no document is read as two when it splits into two
words that are.

Words are compared normalized (metrics.normalize). Each compressed word is matched at most
once. The search is a longest-common-subsequence over all documents at once, with a jump to
any document allowed at the run cost; it visits only the positions where a compressed word
occurs in a document, so it takes milliseconds for a 20-document example.
"""

from __future__ import annotations

from collections.abc import Container, Iterator, Sequence

from metrics import normalize

__all__ = ["RUN_COST", "split_by_document"]

RUN_COST = 2

_Best = tuple[int, int]  # (score, node), node -1 = the start


class _PrefixMax:
    """Max of (score, node) over positions below p, with point updates that only raise."""

    def __init__(self, size: int) -> None:
        self._tree: list[_Best] = [(-(10**9), -1)] * (size + 1)

    def below(self, position: int) -> _Best:
        best, i = self._tree[0], position
        while i > 0:
            best = max(best, self._tree[i])
            i -= i & -i
        return best

    def raise_at(self, position: int, value: _Best) -> None:
        i = position + 1
        while i < len(self._tree):
            self._tree[i] = max(self._tree[i], value)
            i += i & -i


def split_by_document(context: str, docs: Sequence[str]) -> list[str]:
    """Per document, the words of ``context`` matched in it ("" when none), normalized."""
    doc_words = [normalize(d).split() for d in docs]
    where: dict[str, list[tuple[int, int]]] = {}
    for j, words in enumerate(doc_words):
        for p, word in enumerate(words):
            where.setdefault(word, []).append((j, p))
    trees = [_PrefixMax(len(words)) for words in doc_words]
    nodes: list[tuple[int, int, int]] = []  # (document, position, previous node or -1)
    best: _Best = (0, -1)
    for word in _unglued(normalize(context).split(), where):
        found = []
        for j, p in where.get(word, ()):
            run = trees[j].below(p)
            jump = (best[0] - RUN_COST, best[1])
            score, previous = max(run, jump)
            found.append((score + 1, j, p, previous))
        for score, j, p, previous in found:  # all after the lookups: one match per word
            nodes.append((j, p, previous))
            trees[j].raise_at(p, (score, len(nodes) - 1))
            best = max(best, (score, len(nodes) - 1))
    matched: list[list[int]] = [[] for _ in docs]
    node = best[1]
    while node >= 0:
        j, p, node = nodes[node]
        matched[j].append(p)
    return [" ".join(doc_words[j][p] for p in sorted(ps)) for j, ps in enumerate(matched)]


def _unglued(words: Sequence[str], known: Container[str]) -> Iterator[str]:
    """``words``, each unknown one that is two known words glued together split in two."""
    for word in words:
        if word in known:
            yield word
            continue
        halves = next(((word[:k], word[k:]) for k in range(1, len(word))
                       if word[:k] in known and word[k:] in known), None)
        yield from halves or (word,)
