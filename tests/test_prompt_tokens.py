"""A prompt counted from its parts has the tokens of the prompt counted whole.

:class:`tersify.prompt_tokens.PromptTokens` counts a joined prompt from each part's own token
starts plus fresh counts of the short stretches around the separators, cut where an ASCII
letter meets a space, and a compressed document from slices of its original the same way.
These properties compare it with tiktoken counting the text whole, on parts built to put every
kind of character next to the cuts and the separators (contractions, digits, marks, line
breaks, trailing white space), and on slices of them glued as compressed documents are. Word costs read from the token starts are compared with
the per-word loop they stand in for.
"""

from __future__ import annotations

import bisect

from hypothesis import given
from hypothesis import strategies as st
from strategies import TOKENIZERS, TRICKY, texts

from tersify.assemble import PART_SEPARATOR, Slice
from tersify.job import _word_costs
from tersify.prompt_tokens import PromptTokens, cuts
from tersify.segment import segment
from tersify.tokens import get_token_counter

# Letters and spaces make cuts; the rest sits next to them and next to the separators.
NEAR_CUTS = st.sampled_from(["a", "Z", " ", " ", "'s", "'S", "'ll", "1", "12345", ".", "\n",
                             "\r\n", "  ", "\t", "é", "\u0301", "東", "👍🏽", "-", "ß", "Σ"])
GLUE = st.sampled_from([" ", "\n", "x", "'"])
PARTS = st.one_of(st.lists(NEAR_CUTS, max_size=40).map("".join), st.text(TRICKY, max_size=30),
                  texts(blocks=False))


def _fresh(name: str, parts: list[str]) -> int:
    return get_token_counter(name).count(PART_SEPARATOR.join(p for p in parts if p))


@given(st.lists(PARTS, max_size=6), st.sampled_from(TOKENIZERS))
def test_joined_count_is_the_count_of_the_joined_text(parts: list[str], name: str) -> None:
    assert PromptTokens(get_token_counter(name)).joined(parts) == _fresh(name, parts)


@given(st.lists(PARTS, min_size=1, max_size=4), st.data(), st.sampled_from(TOKENIZERS))
def test_slices_of_seen_texts_count_as_the_text_they_spell(
    parts: list[str], data: st.DataObject, name: str
) -> None:
    counter = PromptTokens(get_token_counter(name))
    counter.joined(parts)  # the whole parts are encoded first, as the fit loop finds them
    slices: list[Slice] = []
    for text in parts:  # stretches of each part, glued as compressed documents are
        bounds = sorted(data.draw(st.lists(st.integers(0, len(text)), max_size=6)))
        for start, end in zip(bounds[::2], bounds[1::2]):
            slices += [(data.draw(GLUE), 0, 1), (text, start, end)]
    assert counter.count(slices) == get_token_counter(name).count(
        "".join(text[a:b] for text, a, b in slices))


@given(PARTS, st.integers(0, 50), st.integers(0, 50))
def test_cuts_are_spaces_after_ascii_letters(text: str, start: int, end: int) -> None:
    every = [i for i in range(start + 1, min(end, len(text)))
             if text[i] == " " and text[i - 1].isascii() and text[i - 1].isalpha()]
    assert cuts(text, start, end) == ((every[0], every[-1]) if every else None)


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


def test_a_word_of_hundreds_of_tokens_costs_them_all() -> None:
    text = "short " + "1234567890" * 100 + " end"  # digits go three to a token
    doc = segment(text)
    costs = _word_costs(doc, get_token_counter("cl100k_base").token_starts(text))
    assert costs[0] == 1 and costs[1] > 300 and costs[2] == 1
