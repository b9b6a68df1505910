"""The segmenter against an oracle that does not use it (tests/unicode_oracle.py).

No word edge may fall inside a grapheme cluster, a number or a word of a spaced script, and
every character that is not white space belongs to a word. The engine keeps whole words only,
so these edges are the only places where kept text can start or end.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import TRICKY, texts
from unicode_oracle import cut_offsets

from tersify import Compressor
from tersify.segment import segment

ASSIGNED = st.characters(exclude_categories=("Cs", "Cn"))


def check_words(text: str) -> None:
    seg = segment(text)
    cuts = cut_offsets(text)
    covered = [False] * len(text)
    previous = 0
    for start, end in zip(seg.word_starts, seg.word_ends, strict=True):
        assert previous <= start < end, (start, end)
        assert start not in cuts and end not in cuts, (text[start - 2 : end + 2], start, end)
        covered[start:end] = [True] * (end - start)
        previous = end
    assert all(covered[i] or text[i].isspace() for i in range(len(text)))
    spans = [(u.first, u.last) for u in seg.units]
    assert [i for a, b in spans for i in range(a, b)] == list(range(len(seg.word_starts)))


@given(st.one_of(texts(), st.text(TRICKY, max_size=60), st.text(ASSIGNED, max_size=60)))
def test_word_edges_cut_no_character_number_or_spaced_word(text: str) -> None:
    check_words(text)


@pytest.mark.parametrize("text", [
    "売上は１２３４５６７８円でした。", "서울은 한국의 수도이다. 부산은 항구 도시이다.",
    "二〇一四年、三千五百人が来た。", "ｶﾞｲﾄﾞ と か\u3099 と 〰\ufe0f と 葛\U000e0100。",
    "e\u0301t\u00e9 \u0301x 👨\u200d👩\u200d👧 🇯🇵🇺🇸 東👍🏽京", "a\r\nb\u3000c\u00a0d",
    "กำลัง ทำงาน ๑๒๓", "| 東京 | １２ |\n```\n서울은 x\n",
])
def test_known_scripts_keep_their_words(text: str) -> None:
    check_words(text)


@pytest.mark.parametrize("context", ["売上は１２３４５６７８円でした。",
                                     "서울은 한국의 수도이다. 부산은 항구 도시이다."])
def test_fullwidth_numbers_and_korean_words_survive_whole_at_every_budget(context: str) -> None:
    # Before the fix, budgets of 6-12 tokens kept "１２３" of "１２３４５６７８", and 7-17
    # tokens kept "서" of "서울은".
    compressor = Compressor(preset="fast")
    cuts = cut_offsets(context)
    for budget in range(1, 30):
        result = compressor.compress(contexts=[context], question="?", target_tokens=budget)
        for span in result.documents[0].spans:
            assert span.start not in cuts and span.end not in cuts, (budget, result.text_for(0))
