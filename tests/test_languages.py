"""Every language of the benchmark's sets: terms, stems, digits, and cuts in unspaced scripts."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from strategies import Case, requests

from tersify import Compressor
from tersify.languages import latin_language, terms_of_word
from tersify.scorers.lexical import LexicalScorer, terms_of
from tersify.segment import UNSPACED_LETTERS, segment

# Letters a cut must never fall between: unspaced CJK letters and Thai (a dictionary-free
# check: a kept span starts and ends at punctuation, a space, a digit or another script).
_UNSPACED_SCRIPTS = (re.compile(f"[{UNSPACED_LETTERS}]"), re.compile("[\u0e01-\u0e4e]"))


def test_cjk_runs_give_overlapping_bigrams_and_a_lone_letter_itself() -> None:
    assert terms_of("北京是中国的首都") == ["北京", "京是", "是中", "中国", "国的", "的首", "首都"]
    assert terms_of("京") == ["京"]
    assert terms_of("東京駅は1923年") == ["東京", "京駅", "駅は", "1923", "年"]
    assert terms_of("서울은") == ["서울", "울은"]


def test_thai_terms_keep_their_marks() -> None:
    # \w leaves Thai vowel signs and tone marks out: "ที่" would lose its marks.
    terms = terms_of("ที่นี่")
    assert "".join(t[0] for t in terms) + terms[-1][-1] == "ที่นี่"


def test_devanagari_words_keep_their_vowel_signs() -> None:
    assert terms_of("हिन्दी") and all(len(t) > 1 for t in terms_of("हिन्दी भाषा"))


def test_bm25_ranks_chinese_documents_by_shared_words() -> None:
    docs = [segment("巴黎是法国的首都，也是最大的城市。"), segment("北京是中国的首都。"),
            segment("长城位于中国北部。")]
    scores = LexicalScorer(fusion="bm25").score("中国的首都是哪座城市？", docs).documents
    assert max(range(3), key=scores.__getitem__) == 1


@pytest.mark.parametrize("text", ["٣٦٠٠", "३६००", "３６００", "3600"])
def test_digits_of_any_script_are_the_same_term(text: str) -> None:
    assert terms_of(text) == ["3600"]


@pytest.mark.parametrize("number", ["٣٦٠٠", "३६००", "３６００"])
def test_numbers_of_any_script_count_as_numbers(number: str) -> None:
    doc = segment(f"alpha {number} omega")
    importance = LexicalScorer().score("unrelated", [doc]).words[0]
    assert importance[1] > importance[0]  # the same IDF, raised for a number
    result = Compressor(preset="fast").compress(
        contexts=[f"alpha beta gamma {number} delta epsilon zeta eta theta iota kappa."],
        question="gamma", target_tokens=12, keep_digits=True, granularity="word")
    assert number in result.compressed_prompt or not result.documents[0].spans


def test_the_latin_language_comes_from_function_words() -> None:
    assert latin_language("die stadt wurde 1923 gegründet und ist der sitz".split()) == "de"
    assert latin_language("la ciudad fue fundada por los españoles".split()) == "es"
    assert latin_language("the city was founded in 1923".split()) == "en"
    assert latin_language([]) == "en"


def test_function_words_of_each_language_are_dropped() -> None:
    assert terms_of_word("und", "de") == [] and terms_of_word("und", "en") == ["und"]
    assert terms_of("في من على") == [] and terms_of("и в на") == []


def test_snowball_stems_match_inflections() -> None:
    pytest.importorskip("snowballstemmer")
    assert terms_of("The line closed") == terms_of("lines close")
    assert terms_of_word("städte", "de") == terms_of_word("stadt", "de")
    assert terms_of("городов") == terms_of("город")
    assert terms_of("casas fundadas por los") == terms_of("casa fundada por la")


def test_unspaced_runs_are_whole_words() -> None:
    seg = segment("東京駅は1923年に開業しました。新幹線も停まる、大きな駅です。")
    assert seg.words() == ["東京駅は", "1923", "年に開業しました", "。", "新幹線も停まる", "、",
                           "大きな駅です", "。"]


@given(requests())
def test_no_output_cuts_an_unspaced_word(case: Case) -> None:
    result = Compressor(preset="fast", tokenizer=case.tokenizer).compress(**case.fields)
    for doc, text in zip(result.documents, case.fields["contexts"]):
        for span in doc.spans:
            for edge in (span.start, span.end):
                inside = 0 < edge < len(text)
                assert not (inside and any(
                    script.match(text[edge - 1]) and script.match(text[edge])
                    for script in _UNSPACED_SCRIPTS)), (text, edge)
