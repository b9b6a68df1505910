"""Bad and extreme input: a clear InvalidRequestError or a correct result, never a crash."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tersify import (
    CompressionRequest,
    Compressor,
    Document,
    DocumentResult,
    InvalidRequestError,
    get_token_counter,
)

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
        ({"contexts": ["ok"], "force_keep": [""]}, r"force_keep\[0\] must be a non-empty string"),
        ({"contexts": ["ok"], "force_keep_patterns": ["[unclosed"]}, "invalid regular expression"),
        ({"contexts": ["ok"], "force_keep_patterns": [""]}, "must be a non-empty string"),
        ({"contexts": ["ok"], "preserve_first": -1}, "preserve_first"),
        ({"contexts": ["ok"], "reorder": "random"}, "reorder must be one of"),
        ({"contexts": ["ok"], "granularity": "letter"}, "granularity must be one of"),
        ({"contexts": ["ok"], "policy": "magic"}, "unknown policy 'magic'; valid choices: tersify"),
        ({"contexts": ["ok"], "scorer": "bm99"}, "unknown scorer 'bm99'; valid choices: lexical"),
        ({"contexts": [42]}, r"contexts\[0\] must be a string or a Document, got 42"),
        # Wrong types that crashed or were silently misread before the fields were type-checked.
        ({"contexts": ["ok"], "force_keep": [42]}, r"force_keep\[0\] must be a non-empty string"),
        ({"contexts": ["ok"], "force_keep": "ACME"}, "force_keep must be a list of strings, not one"),
        ({"contexts": 42}, "contexts must be a list of documents, got 42"),
        ({"contexts": {"ok": 1}}, "contexts must be a list of documents"),
        ({"contexts": b"bytes"}, "contexts must be a list of documents"),
        ({"contexts": ["ok"], "policy": ["x"]}, r"policy must be a non-empty string, got \['x'\]"),
        ({"contexts": ["ok"], "scorer": ["x"]}, "scorer must be a non-empty string or None"),
        ({"contexts": ["ok"], "scorer": ""}, "scorer must be a non-empty string or None"),
        ({"contexts": ["ok"], "keep_digits": "yes"}, "keep_digits must be true or false"),
        ({"contexts": ["ok"], "question": ["q"]}, "question must be a string"),
        ({"contexts": ["ok"], "reorder": ["original"]}, "reorder must be one of"),
        ({"contexts": ["ok"], "preserve_last": 1.5}, "preserve_last must be a non-negative integer"),
        ({"contexts": ["ok"], "target_ratio": 10**400}, r"target_ratio must be in \(0, 1\]"),
        ({"contexts": ["ok"], "target_tokens": 5, "target_ratio": [1]}, "target_ratio must be a"),
        ({"contexts": ["ok"], "force_keep_patterns": ["a{4294967296}"]}, "invalid regular exp"),
        ({"contexts": ["ok"], "force_keep_patterns": ["(" * 499 + ")" * 499]}, "invalid regular"),
        ({"contexts": ["ok"], "force_keep_patterns": "x+"}, "not one string"),
        ({"contexts": ["ok"], "force_keep_patterns": [None]}, "must be a non-empty string"),
    ],
)
def test_invalid_requests_raise_a_clear_error(fields: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        COMPRESSOR.compress(**fields)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"text": None}, "document text must be a string, got None"),
        ({"text": "ok", "id": 7}, "document id must be a string or None, got 7"),
        ({"text": "ok", "metadata": 42}, "document metadata must be a mapping"),
        ({"text": "ok", "metadata": {1: "x"}}, "document metadata must be a mapping with string"),
    ],
)
def test_invalid_documents_raise_a_clear_error(fields: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        Document(**fields)  # type: ignore[arg-type]


def test_error_messages_stay_short_whatever_the_input() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        COMPRESSOR.compress(contexts=["ok"], policy=["x" * 1_000_000])
    assert len(str(caught.value)) < 200


def test_unknown_preset_lists_the_choices() -> None:
    with pytest.raises(InvalidRequestError, match="valid choices: fast, balanced, accurate"):
        Compressor(preset="fastest")


def test_invalid_request_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        CompressionRequest(contexts=[], question="q")


def test_empty_question_is_question_agnostic() -> None:
    docs = ["Lyon is a city in France. It sits where the Rhône meets the Saône.",
            "The Amazon is the largest river by discharge. It flows through Brazil.",
            "Mount Everest is 8,849 metres tall. It lies on the border of Nepal and China."]
    result = COMPRESSOR.compress(contexts=docs, question="", target_ratio=0.5)
    # No question, nothing to prefer: every document is equally relevant.
    assert [d.relevance for d in result.documents] == [1.0, 1.0, 1.0]
    # The prompt is the kept contexts alone: no empty question block, no trailing separator.
    kept = [d.text for d in result.documents if d.kept]
    assert result.compressed_prompt == "\n\n".join(kept)
    assert result.compressed_prompt == result.compressed_prompt.strip()
    # The budget is still filled, with whole phrases of the documents.
    stats = result.stats
    assert 0.9 * stats.target_tokens <= stats.compressed_tokens <= stats.target_tokens
    for doc in result.documents:
        assert_spans_rebuild(docs[doc.index], doc)
    asked = COMPRESSOR.compress(contexts=docs, question="How tall is Everest?", target_ratio=0.5)
    assert asked.compressed_prompt.endswith("\n\nHow tall is Everest?")
    assert max(asked.documents, key=lambda d: d.relevance).index == 2


def test_empty_and_whitespace_documents() -> None:
    result = COMPRESSOR.compress(contexts=["", "   \n ", "Real text about rivers."],
                                 question="rivers", target_ratio=0.9)
    assert [d.kept for d in result.documents] == [False, False, True]
    assert result.compressed_prompt == "Real text about rivers.\n\nrivers"


def test_control_characters_survive_or_go_whole() -> None:
    text = ("Alpha\x00beta \x07gamma\x1b[31m delta.\r\nOmega\x0c eta\x7f iota.\r\n"
            "Kappa \x07zeta\x1b[0m theta \x00lambda.")
    words = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]  # control bytes inside
    split = 0
    for question in ("gamma", "zeta", "gamma zeta"):
        for ratio in (0.4, 0.5, 0.6, 0.7):
            result = COMPRESSOR.compress(contexts=[text], question=question, target_ratio=ratio)
            doc = result.documents[0]
            assert_spans_rebuild(text, doc)
            assert {s.start for s in doc.spans} <= {a for a, _ in words}
            assert {s.end for s in doc.spans} <= {b for _, b in words}
            assert doc.text in result.compressed_prompt
            split += len(doc.spans) > 1
    assert split >= 6  # most cases keep pieces apart, so the joins are checked too


def assert_spans_rebuild(source: str, doc: DocumentResult) -> None:
    """The document's text is its spans of ``source``, in order, joined by one space, or by a
    newline where the text left out between them held one (the documented assembly)."""
    spans = doc.spans
    assert all(0 <= s.start < s.end <= len(source) for s in spans)
    assert all(a.end < b.start for a, b in zip(spans, spans[1:]))  # ordered, apart
    expected = ""
    for i, span in enumerate(spans):
        if i:
            expected += "\n" if "\n" in source[spans[i - 1].end : span.start] else " "
        expected += source[span.start : span.end]
    assert doc.text == expected


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
    every = COMPRESSOR.compress(contexts=[text], question="fox river", target_tokens=500,
                                dedupe=False)
    assert 475 <= every.stats.compressed_tokens <= 500
    once = COMPRESSOR.compress(contexts=[text], question="fox river", target_tokens=500)
    assert once.compressed_prompt.count("quick brown fox") == 1  # a repeat says nothing new
    assert once.stats.budget_met


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


def test_a_tokenizer_that_is_not_offline_fails_at_once() -> None:
    # Before, an unknown Hugging Face name retried the network for ~45 s: the 20 s limit
    # fails the test then. A subprocess, so that no earlier import or cache helps.
    script = "import tersify; tersify.get_token_counter('nobody/no-such-tokenizer')"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=20)
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1].startswith("tersify.errors.InvalidRequestError: tokenizer")
    assert "offline tokenizers: cl100k_base, o200k_base" in done.stderr


@pytest.mark.parametrize("name", ["p50k_base", "r50k_base", "gpt2", "bert-base-uncased", ""])
def test_tokenizers_that_would_download_are_refused(name: str) -> None:
    with pytest.raises(InvalidRequestError, match="offline tokenizers|non-empty string"):
        get_token_counter(name)


@pytest.mark.parametrize("name", [42, None, ["cl100k_base"]])
def test_a_tokenizer_name_of_the_wrong_type_is_refused(name: object) -> None:
    with pytest.raises(InvalidRequestError, match="tokenizer must be a non-empty string"):
        get_token_counter(name)  # type: ignore[arg-type]


def test_a_directory_without_a_tokenizer_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequestError, match="neither a local tokenizer directory"):
        get_token_counter(str(tmp_path))


def test_a_local_tokenizer_directory_loads_offline() -> None:
    from tersify.models import DEFAULT_EMBEDDING, resolve

    counter = get_token_counter(resolve(DEFAULT_EMBEDDING))  # the packaged MiniLM directory
    assert counter.count("Lyon is in France.") == 5
    assert counter.token_starts("Lyon is") == [0, 5]
