"""A prompt counted from its parts has the tokens of the prompt counted whole.

:class:`tersify.prompt_tokens.PromptTokens` counts a joined prompt from each part's own token
starts plus fresh counts of the short stretches around the separators, cut where an ASCII
letter meets a space. These properties compare it with tiktoken counting the joined text, on
parts built to put every kind of character next to the cuts and the separators (contractions,
digits, marks, line breaks, trailing white space), and on parts cut down to a few of their
words as the fit loop counts them. Word costs read from the token starts are compared with
the per-word loop they stand in for.
"""

from __future__ import annotations

import bisect

from hypothesis import given
from hypothesis import strategies as st
from strategies import TOKENIZERS, TRICKY, texts

from tersify.assemble import PART_SEPARATOR
from tersify.job import _word_costs
from tersify.prompt_tokens import PromptTokens, cuts
from tersify.segment import segment
from tersify.tokens import get_token_counter

# Letters and spaces make cuts; the rest sits next to them and next to the separators.
NEAR_CUTS = st.sampled_from(["a", "Z", " ", " ", "'s", "'S", "'ll", "1", "12345", ".", "\n",
                             "\r\n", "  ", "\t", "é", "\u0301", "東", "👍🏽", "-", "ß", "Σ"])
PARTS = st.one_of(st.lists(NEAR_CUTS, max_size=40).map("".join), st.text(TRICKY, max_size=30),
                  texts(blocks=False))


def _fresh(name: str, parts: list[str]) -> int:
    return get_token_counter(name).count(PART_SEPARATOR.join(p for p in parts if p))


@given(st.lists(PARTS, max_size=6), st.sampled_from(TOKENIZERS))
def test_joined_count_is_the_count_of_the_joined_text(parts: list[str], name: str) -> None:
    assert PromptTokens(get_token_counter(name)).joined(parts) == _fresh(name, parts)


@given(st.lists(PARTS, min_size=1, max_size=4), st.lists(st.booleans(), min_size=1),
       st.sampled_from(TOKENIZERS))
def test_parts_cut_down_and_seen_before_count_as_their_joined_text(
    parts: list[str], keep: list[bool], name: str
) -> None:
    counter = PromptTokens(get_token_counter(name))
    counter.joined(parts)  # the uncut parts are encoded first, as the fit loop finds them
    words = [p.split(" ") for p in parts]
    cut_down = [" ".join(w for i, w in enumerate(ws) if keep[i % len(keep)]) for ws in words]
    assert counter.joined(cut_down) == _fresh(name, cut_down)
    assert counter.joined(parts) == _fresh(name, parts)


@given(PARTS)
def test_cuts_are_spaces_after_ascii_letters(text: str) -> None:
    every = [i for i in range(1, len(text))
             if text[i] == " " and text[i - 1].isascii() and text[i - 1].isalpha()]
    assert cuts(text) == ((every[0], every[-1]) if every else None)


@given(PARTS, st.sampled_from(TOKENIZERS))
def test_word_costs_are_the_tokens_starting_in_each_word(text: str, name: str) -> None:
    doc = segment(text)
    starts = get_token_counter(name).token_starts(text)
    expected, prev_end = [], 0
    for end in doc.word_ends:
        begun = bisect.bisect_left(starts, end) - bisect.bisect_left(starts, prev_end)
        expected.append(max(1, begun))
        prev_end = end
    assert _word_costs(doc, starts) == expected
