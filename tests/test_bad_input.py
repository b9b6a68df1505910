"""Bad and extreme input: a clear InvalidRequestError or a correct result, never a crash."""

from __future__ import annotations

import time

import pytest

from tersify import CompressionRequest, Compressor, Document, InvalidRequestError

COMPRESSOR = Compressor(preset="fast")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"contexts": []}, "contexts is empty"),
        ({"contexts": "one string"}, "not one string"),
        ({"contexts": ["a"], "prompt": "b"}, "not both"),
        ({"contexts": ["a b c"], "target_ratio": 0}, r"target_ratio must be in \(0, 1\]"),
        ({"contexts": ["a b c"], "target_ratio": 1.5}, r"target_ratio must be in \(0, 1\]"),
        ({"contexts": ["a b c"], "target_ratio": float("nan")}, "target_ratio"),
        ({"contexts": ["a b c"], "target_ratio": "half"}, "target_ratio"),
        ({"contexts": ["a b c"], "target_tokens": -5}, "target_tokens must be a positive"),
        ({"contexts": ["a b c"], "target_tokens": 0}, "target_tokens must be a positive"),
        ({"contexts": ["a b c"], "target_tokens": 2.5}, "target_tokens must be a positive"),
        ({"contexts": ["a b c"], "target_ratio": None}, "set target_ratio or target_tokens"),
        ({"contexts": ["bad \ud800 surrogate"]}, "lone surrogate"),
        ({"contexts": ["ok"], "question": "bad \udfff"}, "lone surrogate"),
        ({"contexts": ["ok"], "force_keep": [""]}, "non-empty strings"),
        ({"contexts": ["ok"], "force_keep_patterns": ["[unclosed"]}, "invalid regular expression"),
        ({"contexts": ["ok"], "force_keep_patterns": [""]}, "non-empty strings"),
        ({"contexts": ["ok"], "preserve_first": -1}, "preserve_first"),
        ({"contexts": ["ok"], "reorder": "random"}, "reorder must be one of"),
        ({"contexts": ["ok"], "granularity": "letter"}, "granularity must be one of"),
        ({"contexts": ["ok"], "policy": "magic"}, "unknown policy 'magic'; valid choices: tersify"),
        ({"contexts": ["ok"], "scorer": "bm99"}, "unknown scorer 'bm99'; valid choices: lexical"),
        ({"contexts": [42]}, "document text must be a string"),
    ],
)
def test_invalid_requests_raise_a_clear_error(fields: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        COMPRESSOR.compress(**fields)


def test_unknown_preset_lists_the_choices() -> None:
    with pytest.raises(InvalidRequestError, match="valid choices: fast, balanced, accurate"):
        Compressor(preset="fastest")


def test_invalid_request_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        CompressionRequest(contexts=[], question="q")


def test_empty_question_is_question_agnostic() -> None:
    result = COMPRESSOR.compress(contexts=["One sentence here. Another one there."], question="",
                                 target_ratio=0.5)
    assert result.stats.compressed_tokens <= result.stats.target_tokens


def test_empty_and_whitespace_documents() -> None:
    result = COMPRESSOR.compress(contexts=["", "   \n ", "Real text about rivers."],
                                 question="rivers", target_ratio=0.9)
    assert [d.kept for d in result.documents] == [False, False, True]
    assert result.compressed_prompt == "Real text about rivers.\n\nrivers"


def test_control_characters_survive_or_go_whole() -> None:
    text = "Alpha\x00beta \x07gamma\x1b[31m delta \r\n epsilon\x7f zeta."
    result = COMPRESSOR.compress(contexts=[text], question="gamma", target_ratio=0.6)
    for span in result.documents[0].spans:
        assert text[span.start : span.end] in text


def test_ten_thousand_documents() -> None:
    docs = [f"Document {i} talks about topic {i % 97} and the number {i * 7}." for i in range(10_000)]
    started = time.perf_counter()
    result = COMPRESSOR.compress(contexts=docs, question="topic 42", target_ratio=0.01)
    assert time.perf_counter() - started < 120  # a guard against hangs, not a speed target
    assert result.stats.compressed_tokens <= result.stats.target_tokens
    assert len(result.documents) == 10_000


def test_two_megabyte_document() -> None:
    sentence = "The quick brown fox number 12 jumps over the lazy dog near the river bank. "
    text = sentence * (2_000_000 // len(sentence))
    result = COMPRESSOR.compress(contexts=[text], question="fox river", target_tokens=500)
    assert 475 <= result.stats.compressed_tokens <= 500


def test_budget_smaller_than_the_question_is_reported_not_exceeded_silently() -> None:
    result = COMPRESSOR.compress(contexts=["Some context words here."],
                                 question="a fairly long question that costs many tokens?",
                                 target_tokens=3)
    assert result.stats.budget_met is False
    assert result.compressed_prompt.endswith("costs many tokens?")
    assert all(not d.kept for d in result.documents)


def test_keyword_fields_and_request_object_are_exclusive() -> None:
    req = CompressionRequest(contexts=[Document(text="x y z")])
    with pytest.raises(TypeError):
        COMPRESSOR.compress(req, target_ratio=0.5)
