"""The engine's fast paths agree with the plain forms they stand in for.

The segmenter finds the words of a text without unspaced or Prepend characters by one split
(plus a look at words that start with a non-ASCII character after a space), and tests a word for
a sentence end only where a search found closing punctuation at its end, and gives the words of an
ASCII text by ``str.split``; the lexical scorer remembers the terms of words it saw; the tiktoken
counter turns token ids into character offsets with looked-up counts. Each is checked against
the straightforward form it replaces: the match-by-match word loop, every word's own sentence
test, slicing at the offsets, a scorer that saw nothing before, and tiktoken's
``decode_with_offsets``.
"""

from __future__ import annotations

import tiktoken
from hypothesis import given
from hypothesis import strategies as st
from strategies import TOKENIZERS, TRICKY, texts

from tersify import segment as seg
from tersify.scorers import lexical
from tersify.tokens import get_token_counter

ASSIGNED = st.characters(exclude_categories=("Cs", "Cn"))
SPACED = st.characters(codec="utf-8", exclude_categories=("Cs", "Cn", "Lo"))
# Sentence punctuation, closing quotes and brackets next to spaced and unspaced words.
PUNCTUATION = st.sampled_from(list("ab E1 .!?。！？｡\"'”’)]\n東京"))
TEXTS = st.one_of(texts(), texts(blocks=False), st.text(TRICKY, max_size=60),
                  st.text(ASSIGNED, max_size=60), st.text(SPACED, max_size=80),
                  st.text(PUNCTUATION, max_size=40))


@given(TEXTS)
def test_split_words_are_the_match_by_match_words(text: str) -> None:
    assert seg._word_edges(text) == seg._joined_words(text)


@given(TEXTS)
def test_searched_sentence_ends_are_every_word_that_ends_a_sentence(text: str) -> None:
    starts, ends = seg._word_edges(text)
    every = [i for i in range(len(starts)) if seg._ends_sentence(text, starts, ends, i)]
    assert seg._sentence_ends(text, starts, ends) == every


@given(TEXTS)
def test_words_are_the_texts_at_the_word_offsets(text: str) -> None:
    doc = seg.segment(text)
    assert doc.words() == [doc.word(i) for i in range(len(doc.word_starts))]


@given(st.lists(TEXTS, min_size=1, max_size=3), st.lists(TEXTS, min_size=1, max_size=3))
def test_lexical_scores_do_not_depend_on_what_the_scorer_saw_before(
    seen: list[str], texts: list[str]
) -> None:
    memo_words = lexical.MEMO_WORDS
    lexical.MEMO_WORDS = 8  # small, so that both the growing and the full memo run
    try:
        seasoned = lexical.LexicalScorer()
        seasoned.score("Where is it?", [seg.segment(t) for t in seen])
        docs = [seg.segment(t) for t in texts]
        assert seasoned.score("東京 river 1,234?", docs) == lexical.LexicalScorer().score(
            "東京 river 1,234?", docs)
    finally:
        lexical.MEMO_WORDS = memo_words


@given(TEXTS, st.sampled_from(TOKENIZERS))
def test_token_starts_are_tiktokens_offsets(text: str, name: str) -> None:
    counter = get_token_counter(name)  # first: it puts the packaged BPE file in tiktoken's cache
    encoding = tiktoken.get_encoding(name)
    _, offsets = encoding.decode_with_offsets(encoding.encode_ordinary(text))
    assert counter.token_starts(text) == offsets


def test_sentences_longer_than_the_unit_limit_are_cut_at_the_limit() -> None:
    words = seg.MAX_UNIT_WORDS * 2 + 5
    text = " ".join(["word"] * words) + ". Next one."
    lengths = [u.last - u.first for u in seg.segment(text).units]
    assert lengths == [seg.MAX_UNIT_WORDS, seg.MAX_UNIT_WORDS, 5, 2]
