"""The engine's invariants (DESIGN.md), each a Hypothesis property over requests in many scripts.

The number of examples comes from the Hypothesis profile (tests/conftest.py): 2,000 per
property in the test command, 20,000 in ``python3 scripts/dev.py props``. The model presets
run the budget and span properties on fewer, small requests (marked ``models``).
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from strategies import TOKENIZERS, TRICKY, Case, record, requests
from unicode_oracle import cut_offsets, grapheme_edges

from tersify import CompressionResult, Compressor, InvalidRequestError
from tersify.phrases import phrase_spans
from tersify.segment import Segmented, segment
from tersify.tokens import get_token_counter

MODEL_PRESETS = ["balanced", "accurate"]
MODEL_EXAMPLES = max(10, settings().max_examples // 10)  # 200 in the ci profile


@cache
def compressor(preset: str, tokenizer: str) -> Compressor:
    return Compressor(preset=preset, tokenizer=tokenizer)


def compress(case: Case, preset: str = "fast") -> CompressionResult:
    """Compress a generated request, counting whether it kept context (tests/strategies.py)."""
    result = compressor(preset, case.tokenizer).compress(**case.fields)
    record(result)
    return result


def compress_text(case: Case) -> CompressionResult:
    """Compress arbitrary text: not counted, most of it is meant to be odd."""
    return compressor("fast", case.tokenizer).compress(**case.fields)


def join(*parts: str) -> str:
    return "\n\n".join(p for p in parts if p)


def forced_words(seg: Segmented, fields: dict[str, Any]) -> set[int]:
    """Words that a force_keep string or pattern touches, words of preserved units, and the
    rest of the phrases they touch."""
    regexes = [re.compile(re.escape(s)) for s in fields.get("force_keep", ())]
    regexes += [re.compile(p) for p in fields.get("force_keep_patterns", ())]
    words = range(len(seg.word_starts))
    forced = {i for rx in regexes for m in rx.finditer(seg.text) if m.end() > m.start()
              for i in words if seg.word_starts[i] < m.end() and m.start() < seg.word_ends[i]}
    first, last = fields.get("preserve_first", 0), fields.get("preserve_last", 0)
    preserved = seg.units[:first] + (seg.units[-last:] if last else [])
    forced |= {i for u in preserved for i in range(u.first, u.last)}
    # A forced word keeps its whole phrase (a date, an amount, a name: tersify.phrases).
    return forced | {i for a, b in phrase_spans(seg) if not forced.isdisjoint(range(a, b))
                     for i in range(a, b)}


def word_spans(seg: Segmented, words: set[int]) -> list[tuple[int, int]]:
    """Consecutive words merged into character spans."""
    spans: list[tuple[int, int]] = []
    for i in sorted(words):
        if spans and i - 1 in words:
            spans[-1] = (spans[-1][0], seg.word_ends[i])
        else:
            spans.append((seg.word_starts[i], seg.word_ends[i]))
    return spans


def check_budget(case: Case, result: CompressionResult) -> None:
    """Within the target, unless instruction, question and forced words alone exceed it."""
    fields, s = case.fields, result.stats
    count = get_token_counter(case.tokenizer).count
    contexts, question, instruction = fields["contexts"], fields["question"], fields["instruction"]
    assert s.original_tokens == count(join(instruction, *contexts, question))
    assert s.compressed_tokens == count(result.compressed_prompt)
    ratio = fields.get("target_ratio") or 0.5
    assert s.target_tokens == (fields.get("target_tokens")
                               or max(1, int(ratio * s.original_tokens)))
    some_context = any(d.spans for d in result.documents) or not any(map(str.split, contexts))
    assert s.budget_met == (s.compressed_tokens <= s.target_tokens and some_context)
    if s.compressed_tokens > s.target_tokens:
        for doc, text in zip(result.documents, contexts, strict=True):
            seg = segment(text)
            kept = [(span.start, span.end) for span in doc.spans]
            assert kept == word_spans(seg, forced_words(seg, fields)), "more than forced words"


def check_spans(case: Case, result: CompressionResult) -> None:
    """Each document is its kept spans, in order, joined by a space or a newline."""
    texts = []
    for doc, original in zip(result.documents, case.fields["contexts"], strict=True):
        pieces: list[str] = []
        previous = 0
        for span in doc.spans:
            assert previous <= span.start < span.end <= len(original)
            if pieces:
                pieces.append("\n" if "\n" in original[previous : span.start] else " ")
            pieces.append(original[span.start : span.end])
            previous = span.end
        assert doc.text == "".join(pieces)
        texts.append(doc.text)
    order = sorted(range(len(texts)), key=lambda d: (-result.documents[d].relevance, d))
    order = {"original": sorted(order), "relevance": order,
             "edges": order[0::2] + order[1::2][::-1]}[case.fields["reorder"]]
    fields = case.fields
    expected = join(fields["instruction"], *[texts[d] for d in order], fields["question"])
    assert result.compressed_prompt == expected


def check_cuts(case: Case, result: CompressionResult) -> None:
    """No kept span starts or ends inside a character, a number or a spaced word."""
    for doc, original in zip(result.documents, case.fields["contexts"], strict=True):
        cuts = cut_offsets(original)
        for span in doc.spans:
            assert span.start not in cuts, (original[span.start - 3 : span.start + 3], span)
            assert span.end not in cuts, (original[span.end - 3 : span.end + 3], span)


@given(requests())
def test_never_over_budget_unless_verbatim_parts_alone_exceed_it(case: Case) -> None:
    check_budget(case, compress(case))


@pytest.mark.models
@pytest.mark.parametrize("preset", MODEL_PRESETS)
@settings(max_examples=MODEL_EXAMPLES)
@given(requests(small=True))
def test_model_presets_keep_the_budget_and_whole_input_spans(preset: str, case: Case) -> None:
    result = compress(case, preset)
    check_budget(case, result)
    check_spans(case, result)
    check_cuts(case, result)


@given(requests(blocks=False, policies=("tersify",), extras=False))
def test_within_five_percent_under_the_target_when_the_input_allows(case: Case) -> None:
    # Repeats (documents drawn twice) are not text the input allows: with dedupe they are
    # kept once (tests/test_duplicates.py), so this property reads every copy.
    fields = {**case.fields, "granularity": "word", "dedupe": False}
    result = compress(Case(tokenizer=case.tokenizer, fields=fields))
    s = result.stats
    count = get_token_counter(case.tokenizer).count
    room = s.target_tokens - count(join(fields["instruction"], fields["question"]))
    segs = [segment(text) for text in fields["contexts"]]
    biggest = max(count(seg.word(i)) for seg in segs for i in range(len(seg.word_starts)))
    # "Allows": prose (markdown blocks go whole by design) that holds comfortably more than
    # the target leaves for the contexts, made of words that each fit in the 5% slack (a word
    # is the smallest thing the engine removes).
    allows = (room >= 40 and s.original_tokens >= s.target_tokens * 1.2
              and biggest <= 0.05 * s.target_tokens)
    event(f"the input allows it: {allows}")
    if allows:
        assert s.target_tokens * 0.95 <= s.compressed_tokens <= s.target_tokens


@given(requests())
def test_forced_strings_instruction_and_question_stay_verbatim(case: Case) -> None:
    result = compress(case)
    prompt, fields = result.compressed_prompt, case.fields
    for forced in fields["force_keep"]:
        assert forced in prompt
    for pattern in fields["force_keep_patterns"]:
        for text in fields["contexts"]:
            for m in re.finditer(pattern, text):
                assert m.group() in prompt
    instruction, question = fields["instruction"], fields["question"]
    if instruction:
        assert prompt == instruction or prompt.startswith(instruction + "\n\n")
    if question:
        assert prompt == question or prompt.endswith("\n\n" + question)


@given(requests())
def test_output_is_input_spans_in_order(case: Case) -> None:
    check_spans(case, compress(case))


@given(requests())
def test_no_character_word_or_number_is_cut(case: Case) -> None:
    check_cuts(case, compress(case))


@given(requests())
def test_deterministic(case: Case) -> None:
    first = compress(case).to_dict()
    second = Compressor(preset="fast", tokenizer=case.tokenizer).compress(**case.fields).to_dict()
    first.pop("duration_ms")
    second.pop("duration_ms")
    assert first == second


ANY_TEXT = st.text(st.characters(exclude_categories=("Cs", "Cn")), max_size=300)


@given(st.lists(ANY_TEXT, min_size=1, max_size=3), st.text(max_size=50),
       st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 500)),
       st.sampled_from(TOKENIZERS))
def test_any_text_gives_a_result_within_budget_or_a_clear_error(
        contexts: list[str], question: str, budget: float, tokenizer: str) -> None:
    key = "target_tokens" if isinstance(budget, int) else "target_ratio"
    case = Case(tokenizer=tokenizer, fields={"contexts": contexts, "question": question,
                                             key: budget, "reorder": "original",
                                             "instruction": ""})
    try:
        result = compress_text(case)
    except InvalidRequestError:
        return
    check_budget(case, result)
    check_spans(case, result)


@given(st.lists(st.one_of(ANY_TEXT, st.text(TRICKY, max_size=200)), min_size=1, max_size=3),
       st.floats(0.2, 0.9), st.sampled_from(TOKENIZERS))
def test_kept_text_never_splits_a_user_perceived_character(
        contexts: list[str], ratio: float, tokenizer: str) -> None:
    # What "valid UTF-8 output" meant on bytes: on Python strings, no grapheme cluster
    # (a base and its marks, an emoji sequence, CRLF) is split by an edge of kept text.
    result = compress_text(Case(tokenizer=tokenizer, fields={"contexts": contexts,
                                                             "target_ratio": ratio}))
    for doc, original in zip(result.documents, contexts, strict=True):
        edges = grapheme_edges(original)
        for span in doc.spans:
            assert span.start in edges and span.end in edges, (original, span)


def test_most_generated_requests_keep_part_of_their_contexts() -> None:
    # Span properties say nothing about an example that keeps no context: the strategies must
    # rarely produce one.
    outcomes: list[bool] = []

    @settings(max_examples=500, derandomize=True, database=None)
    @given(requests())
    def run(case: Case) -> None:
        outcomes.append(record(compressor("fast", case.tokenizer).compress(**case.fields)))

    run()
    share = sum(outcomes) / len(outcomes)
    assert share >= 0.8, f"only {share:.0%} of {len(outcomes)} examples kept context"
