"""The engine's invariants (DESIGN.md), each as a Hypothesis property over odd inputs."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tersify import Compressor, InvalidRequestError
from tersify.assemble import render
from tersify.segment import segment

COMPRESSOR = Compressor(preset="fast")
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

WORDS = st.sampled_from(
    ["the", "river", "flows", "north", "into", "1,234.56", "km", "of", "delta", "Paris", "2014", "café", "naïve", "https://ex.am/p?q=1", "snake_case_id", "CamelCase", "😀", "👩\u200d👩\u200d👧", "東京", "は", "日本", "の", "首都", "です", "。", "مرحبا", "بالعالم", "שלום", "עולם", "e.g.", "Dr.", "Smith", "said:", '"yes!"', "(maybe)", "3.14159", "-42", "$5", "100%", "x=y+1", "A.", "B.", "Who?", "Why."]
)
SEPARATORS = st.sampled_from([" ", " ", " ", "  ", "\n", "\n\n", "\t", ". ", "\u200f "])


@st.composite
def texts(draw: st.DrawFn, *, blocks: bool = True) -> str:
    # Prose-only texts are long enough for the budget to leave room for the contexts.
    words = draw(st.lists(WORDS, min_size=0 if blocks else 40, max_size=80 if blocks else 160))
    seps = draw(st.lists(SEPARATORS, min_size=len(words), max_size=len(words)))
    prefixes = ["", "# Heading\n", "- item one\n", "```\ncode()\n```\n"] if blocks else [""]
    prefix = draw(st.sampled_from(prefixes))
    return prefix + "".join(w + s for w, s in zip(words, seps))


@st.composite
def requests(draw: st.DrawFn, *, blocks: bool = True) -> dict[str, object]:
    contexts = draw(st.lists(texts(blocks=blocks), min_size=1, max_size=6))
    return {
        "contexts": contexts,
        "question": draw(st.sampled_from(["", "Where does the river flow?", "東京 は?", "2014"])),
        "instruction": draw(st.sampled_from(["", "Answer briefly."])),
        "target_ratio": draw(st.floats(min_value=0.05, max_value=1.0)),
        "policy": draw(st.sampled_from(["tersify", "truncation", "fifo", "summarization", "h2o"])),
        "granularity": draw(st.sampled_from([None, "word", "sentence", "document"])),
        "reorder": draw(st.sampled_from(["original", "relevance", "edges"])),
    }


@PROPERTY
@given(requests())
def test_never_over_budget(fields: dict[str, object]) -> None:
    result = COMPRESSOR.compress(**fields)
    s = result.stats
    assert s.compressed_tokens == COMPRESSOR.tokens.count(result.compressed_prompt)
    if s.budget_met:
        assert s.compressed_tokens <= s.target_tokens


@PROPERTY
@given(requests(blocks=False))
def test_within_five_percent_when_the_input_allows(fields: dict[str, object]) -> None:
    fields = {**fields, "granularity": "word", "policy": "tersify"}
    result = COMPRESSOR.compress(**fields)
    s = result.stats
    verbatim = COMPRESSOR.tokens.count("\n\n".join(
        p for p in (fields["instruction"], fields["question"]) if p))
    # "Allows": prose (markdown blocks go whole by design) that holds comfortably more than
    # the budget leaves for the contexts.
    assume(s.target_tokens - verbatim >= 40 and s.original_tokens >= s.target_tokens * 1.2)
    assert s.target_tokens * 0.95 <= s.compressed_tokens <= s.target_tokens


@PROPERTY
@given(requests(), st.data())
def test_forced_strings_instruction_and_question_verbatim(fields: dict[str, object],
                                                          data: st.DataObject) -> None:
    contexts = fields["contexts"]
    assert isinstance(contexts, list)
    words = [w for text in contexts for w in text.split()]
    forced = data.draw(st.lists(st.sampled_from(words), max_size=2, unique=True)) if words else []
    result = COMPRESSOR.compress(**{**fields, "force_keep": forced})
    prompt = result.compressed_prompt
    for s in forced:
        assert s in prompt
    assert prompt.startswith(str(fields["instruction"]))
    assert prompt.endswith(str(fields["question"]))


@PROPERTY
@given(requests())
def test_output_is_input_spans_in_order_and_no_word_is_cut(fields: dict[str, object]) -> None:
    result = COMPRESSOR.compress(**fields)
    contexts = fields["contexts"]
    assert isinstance(contexts, list)
    for doc, original in zip(result.documents, contexts):
        seg = segment(original)
        starts, ends = set(seg.word_starts), set(seg.word_ends)
        previous_end = 0
        for span in doc.spans:
            assert previous_end <= span.start < span.end <= len(original)
            assert span.start in starts and span.end in ends
            previous_end = span.end
        assert doc.text == render(original, doc.spans)
        for number in re.finditer(r"\d+(?:[.,]\d+)*", original):
            inside = [s for s in doc.spans if s.start < number.end() and number.start() < s.end]
            assert all(s.start <= number.start() and number.end() <= s.end for s in inside)


@PROPERTY
@given(requests())
def test_output_is_valid_utf8(fields: dict[str, object]) -> None:
    result = COMPRESSOR.compress(**fields)
    result.compressed_prompt.encode("utf-8")
    for doc in result.documents:
        doc.text.encode("utf-8")


@PROPERTY
@given(requests())
def test_deterministic(fields: dict[str, object]) -> None:
    first = COMPRESSOR.compress(**fields)
    second = Compressor(preset="fast").compress(**fields)
    assert first.compressed_prompt == second.compressed_prompt
    assert [d.spans for d in first.documents] == [d.spans for d in second.documents]


@PROPERTY
@given(st.text(max_size=300), st.text(max_size=50),
       st.floats(allow_nan=True, allow_infinity=True))
def test_arbitrary_text_gives_a_result_or_a_clear_error(text: str, question: str,
                                                        ratio: float) -> None:
    try:
        result = COMPRESSOR.compress(contexts=[text], question=question, target_ratio=ratio)
    except InvalidRequestError:
        return
    assert result.stats.compressed_tokens <= result.stats.target_tokens or not result.stats.budget_met
