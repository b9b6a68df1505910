"""The ``lexical`` scorer: BM25 relevance and in-set word informativeness, no model.

Documents and units are ranked by Okapi BM25 (Robertson & Zaragoza 2009) against the
question's terms. A word's importance is its inverse document frequency over the units of the
set (a cheap stand-in for self-information: rare words carry more), raised for question terms
and numbers, and near zero for function words.

A word's terms and importance depend on its text alone (given the set and the question), so
both are computed once per distinct word and looked up for every occurrence (terms are also
remembered across calls). BM25 reads only the question's terms of a bag, and IDF only which
terms a unit holds, so a unit's terms are chained into a list (its length), a set (for IDF)
and a count of the question terms in it, with no Python step per word; documents are not
counted again: their counts of the question's terms are summed from their units.

Terms work in any language (:mod:`tersify.languages`): bigrams of Chinese, Japanese, Korean
and Thai letters, stems and function words of the language of each word's script, and of the
request's Latin-script language (found from its function words, English by default).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from itertools import chain, compress, repeat
from operator import is_
from typing import Literal, cast

from tersify._checks import require_choice
from tersify.languages import latin_language, stemmer, stopwords, terms_of_word
from tersify.scorers import Scores
from tersify.scorers.fusion import Evidence, features, load_model, probabilities
from tersify.segment import Segmented, unspaced_share

__all__ = ["LexicalScorer", "terms_of"]

_TERM = re.compile(r"\w+")
MEMO_WORDS = 50_000  # distinct words whose terms a scorer remembers per language (about 11 MiB)
STOPWORDS = stopwords("en")


def terms_of(text: str, latin: str | None = None) -> list[str]:
    """Content terms of ``text`` (see :mod:`tersify.languages`); ``latin`` is the language of
    its Latin-script words, found from ``text`` itself when not given."""
    words = text.lower().split()
    if latin is None:
        latin = latin_language(words)
    return list(chain.from_iterable(_terms_by_word(words, latin).get(w, ()) for w in words))


class LexicalScorer:
    """BM25 + IDF scorer (the ``lexical`` entry of the registry).

    Args:
        k1: BM25 term-frequency saturation.
        b: BM25 length normalisation.
        fusion: ``learned`` ranks documents by the packaged logistic model over BM25, title,
            bridge, position and length signals (:mod:`tersify.scorers.fusion`); ``bm25`` by
            BM25 alone.
    """

    name = "lexical"

    def __init__(self, *, k1: float = 1.2, b: float = 0.75,
                 fusion: Literal["learned", "bm25"] = "learned") -> None:
        require_choice("fusion", fusion, ("learned", "bm25"))
        self.k1 = k1
        self.b = b
        self.fusion = fusion
        # language of Latin-script words -> word -> its terms, up to MEMO_WORDS words each
        self._known: dict[str, dict[str, list[str]]] = {}

    def score(self, question: str, documents: Sequence[Segmented]) -> Scores:
        """Score documents (BM25, or the learned fusion), units by BM25, words by IDF."""
        scores, evidence = self.evidence(question, documents)
        if self.fusion == "bm25" or not evidence.query:
            return scores
        logits = load_model("lexical").logits(features(evidence))
        return Scores(documents=logits, units=scores.units, words=scores.words,
                      evidence=probabilities(logits))

    def evidence(self, question: str, documents: Sequence[Segmented]) -> tuple[Scores, Evidence]:
        """BM25 scores (documents and units), IDF word importances, and what the fusion reads."""
        words = [d.words() for d in documents]
        distinct = set(chain.from_iterable(words))
        asked = question.lower().split()
        latin = latin_language(distinct.union(asked))
        query = set(chain.from_iterable(self._terms(set(asked), latin).values()))
        by_word = self._terms(distinct, latin)
        terms = by_word.__getitem__
        unit_terms = [list(chain.from_iterable(map(terms, ws[u.first : u.last])))
                      for d, ws in zip(documents, words) for u in d.units]
        unit_lengths = list(map(len, unit_terms))
        unit_sets = list(map(set, unit_terms))
        unit_idf = _idf(unit_sets)
        unit_bags = list(map(_query_bag, repeat(query), unit_terms, unit_sets))
        unit_scores = self._bm25(query, unit_bags, unit_lengths, unit_idf)
        # BM25 reads only the question's terms of a bag, and units cover every word once: a
        # document's counts of those terms and its length are its units' summed.
        units: list[list[float]] = []
        doc_bags: list[dict[str, int]] = []
        doc_lengths: list[int] = []
        doc_sets: list[set[str]] = []
        first = 0
        for d in documents:
            last = first + len(d.units)
            units.append(unit_scores[first:last])
            doc_bags.append(_query_counts(query, unit_bags[first:last]))
            doc_lengths.append(sum(unit_lengths[first:last]))
            doc_sets.append(set().union(*unit_sets[first:last]))
            first = last
        doc_scores = self._bm25(query, doc_bags, doc_lengths, _idf(doc_bags))
        importance = _importance(by_word, query, unit_idf)
        titles = [frozenset(chain.from_iterable(map(terms, ws[: d.title_length()])))
                  for d, ws in zip(documents, words)]
        evidence = Evidence(query=frozenset(query), terms=doc_sets, titles=titles,
                            lengths=doc_lengths, bm25=doc_scores,
                            unspaced=unspaced_share(question))
        return Scores(documents=doc_scores, units=units,
                      words=[list(map(importance.__getitem__, ws)) for ws in words]), evidence

    def _terms(self, words: set[str], latin: str) -> dict[str, list[str]]:
        """Each of ``words`` and its terms. Terms are remembered across calls, since most words
        of a request were seen before; the memo only grows, so a word found in it stays found.
        The request's words get a dict of their own: looked up for every occurrence, a small
        dict stays in the cache where the memo would not."""
        known = self._known.setdefault(latin, {})
        ordered = list(words)
        found = list(map(known.get, ordered))
        by_word = dict(zip(ordered, found))
        if None in found:  # words not seen before (or not remembered: the memo was full)
            fresh = _terms_by_word(compress(ordered, map(is_, found, repeat(None))), latin)
            by_word.update(fresh)
            if len(known) < MEMO_WORDS:
                known.update(fresh)
        return cast(dict[str, list[str]], by_word)  # every word has its terms now

    def _bm25(self, query: set[str], bags: Sequence[Mapping[str, int]], lengths: list[int],
              idf: dict[str, float]) -> list[float]:
        if not bags:
            return []
        avg = (sum(lengths) / len(lengths)) or 1.0
        out = []
        for bag, length in zip(bags, lengths):
            norm = self.k1 * (1 - self.b + self.b * length / avg)
            out.append(sum(idf[t] * bag[t] * (self.k1 + 1) / (bag[t] + norm)
                           for t in query if t in bag))
        return out


def _terms_by_word(words: Iterable[str], latin: str) -> dict[str, list[str]]:
    """Terms of each distinct word. English ASCII words take a bulk path (the lower-casing and
    stemming done once for all); other words go one by one through :mod:`tersify.languages`."""
    distinct = list(dict.fromkeys(words))
    # Words hold no newline, and lower-casing never looks past one (only a final sigma looks
    # at its neighbours), so this lower-cases each word as if alone.
    lowered = "\n".join(distinct).lower().split("\n")
    if latin != "en":
        return dict(zip(distinct, map(terms_of_word, lowered, repeat(latin))))
    plain = list(map(str.isascii, lowered))
    found = list(map(_TERM.findall, compress(lowered, plain)))
    stem = stemmer("en")
    stems = {t: stem(t) for t in set(chain.from_iterable(found)).difference(STOPWORDS)}
    kept = [[stems[t] for t in ts if t in stems] for ts in found]
    out = dict(zip(compress(distinct, plain), kept))
    for word, low, ascii_only in zip(distinct, lowered, plain):
        if not ascii_only:
            out[word] = terms_of_word(low, latin)
    return out


def _query_bag(query: set[str], terms: list[str], distinct: set[str]) -> dict[str, int]:
    """How often each question term occurs in ``terms`` (absent terms left out): all that BM25
    reads of a bag."""
    return {t: terms.count(t) for t in query.intersection(distinct)} if query else {}


def _query_counts(query: set[str], bags: list[dict[str, int]]) -> dict[str, int]:
    """How often each question term occurs in ``bags`` together (absent terms left out)."""
    return {t: n for t in query if (n := sum(b.get(t, 0) for b in bags))}


def _idf(bags: Sequence[Iterable[str]]) -> dict[str, float]:
    """IDF of each term over ``bags`` (each yields its distinct terms)."""
    df = Counter(chain.from_iterable(bags))  # each bag yields each of its terms once
    n = len(bags)
    weight = {c: math.log(1 + (n - c + 0.5) / (c + 0.5)) for c in set(df.values())}
    return dict(zip(df, map(weight.__getitem__, df.values())))


def _importance(terms: dict[str, list[str]], query: set[str],
                idf: dict[str, float]) -> dict[str, float]:
    """Each word's importance: the IDF of its rarest term, raised for question terms, numbers
    and capitals; near zero for function words and bare punctuation."""
    get = idf.get
    out: dict[str, float] = {}
    for word, ts in terms.items():
        if not ts:
            out[word] = 0.05 if word.isalnum() else 0.02
            continue
        score = get(ts[0], 0.0) if len(ts) == 1 else max(map(get, ts, repeat(0.0)))
        if not query.isdisjoint(ts):
            score += 2.0
        if not word.isalpha() and any(map(str.isdigit, word)):  # a letter is never a digit
            score += 1.0
        if word[:1].isupper():
            score += 0.5
        out[word] = score
    return out
