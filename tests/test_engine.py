"""Behaviour of the engine's settings, policies and building blocks (lexical scorer, no torch)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

import pytest

from tersify import (
    CompressionRequest,
    CompressionResult,
    Compressor,
    Document,
    Scores,
    auto_ratio,
    get_token_counter,
)
from tersify.assemble import doc_order
from tersify.job import AUTO_RANGE
from tersify.scorers.lexical import LexicalScorer
from tersify.segment import Segmented, segment

COMPRESSOR = Compressor(preset="fast")
DOCS = [
    "Lyon is a city in France. It sits where the Rhône meets the Saône. Silk weaving made it rich.",
    "The Amazon is the largest river by discharge. It flows through Brazil. Its basin is huge.",
    "Mount Everest is 8,849 metres tall. It lies on the border of Nepal and China.",
    "Tea was first drunk in China. It later spread to Japan and then to Europe by sea.",
]


def test_question_steers_what_is_kept() -> None:
    result = COMPRESSOR.compress(contexts=DOCS, question="How tall is Mount Everest?",
                                 target_ratio=0.3)
    assert "8,849 metres" in result.compressed_prompt
    best = max(result.documents, key=lambda d: d.relevance)
    assert best.index == 2 and best.relevance == 1.0


def test_the_answer_survives_where_positional_policies_lose_it() -> None:
    # The answer's document sits in the middle: truncation keeps the beginning and fifo the
    # end, so only a question-aware policy can keep it at this budget.
    docs = [*DOCS[:2], "The Harbor Line tram of Velmora opened to passengers on 14 May 1911.",
            *DOCS[2:]]
    question = "When did the Harbor Line tram open?"
    kept = {policy: COMPRESSOR.compress(contexts=docs, question=question, target_ratio=0.3,
                                        policy=policy).compressed_prompt
            for policy in ("tersify", "truncation", "fifo")}
    assert "14 May 1911" in kept["tersify"]
    assert "14 May 1911" not in kept["truncation"]
    assert "14 May 1911" not in kept["fifo"]


def test_result_carries_provenance_and_statistics() -> None:
    result = COMPRESSOR.compress(contexts=[Document(text=t, id=f"d{i}", metadata={"n": i})
                                           for i, t in enumerate(DOCS)],
                                 question="Which river flows through Brazil?", target_ratio=0.5)
    for doc in result.documents:
        assert doc.id == f"d{doc.index}" and doc.metadata["n"] == doc.index
        assert doc.original_tokens == COMPRESSOR.tokens.count(DOCS[doc.index])
        assert doc.compressed_tokens == (COMPRESSOR.tokens.count(doc.text) if doc.text else 0)
    s = result.stats
    assert s.original_tokens == COMPRESSOR.tokens.count("\n\n".join([*DOCS, result.compressed_prompt.split("\n\n")[-1]]))
    assert s.ratio == pytest.approx(s.compressed_tokens / s.original_tokens)
    assert s.compressed_words < s.original_words
    assert result.policy == "tersify" and result.scorer == "lexical"
    assert result.tokenizer == "cl100k_base" and result.duration_ms > 0
    assert result.text_for(1) == result.documents[1].text


def test_truncation_keeps_the_beginning_and_fifo_the_end() -> None:
    text = " ".join(f"w{i}" for i in range(200))
    head = COMPRESSOR.compress(contexts=[text], policy="truncation", target_ratio=0.2)
    tail = COMPRESSOR.compress(contexts=[text], policy="fifo", target_ratio=0.2)
    assert text.startswith(head.compressed_prompt)
    assert text.endswith(tail.compressed_prompt)
    assert head.scorer is None and tail.scorer is None


@pytest.mark.parametrize("policy", ["summarization", "h2o", "tersify"])
def test_every_policy_meets_the_budget(policy: str) -> None:
    result = COMPRESSOR.compress(contexts=DOCS, question="Where is Lyon?", policy=policy,
                                 target_ratio=0.4)
    assert 0.95 * result.stats.target_tokens <= result.stats.compressed_tokens
    assert result.stats.compressed_tokens <= result.stats.target_tokens
    assert result.policy == policy


def test_target_tokens_counts_the_whole_prompt() -> None:
    result = COMPRESSOR.compress(contexts=DOCS, instruction="Answer briefly.",
                                 question="Where is Lyon?", target_tokens=40)
    assert result.compressed_prompt.startswith("Answer briefly.\n\n")
    assert 38 <= COMPRESSOR.tokens.count(result.compressed_prompt) <= 40


def test_force_keep_strings_and_patterns() -> None:
    result = COMPRESSOR.compress(contexts=DOCS, question="Where is Lyon?", target_ratio=0.3,
                                 force_keep=["Saône"], force_keep_patterns=[r"\d,\d{3} metres"])
    assert "Saône." in result.compressed_prompt and "8,849 metres" in result.compressed_prompt


def test_preserve_first_and_last_units_of_each_document() -> None:
    result = COMPRESSOR.compress(contexts=DOCS[:2], question="tea", target_ratio=0.9,
                                 preserve_first=1, preserve_last=1)
    for doc in DOCS[:2]:
        sentences = doc.split(". ")
        assert sentences[0] in result.compressed_prompt
        assert sentences[-1] in result.compressed_prompt


VOYAGER = ("The probe Voyager 2 launched in 1977 and passed Jupiter in 1979 at 570,000 km. "
           "It reached Saturn in 1981 after 4 years and Uranus in 1986 with 11 instruments. "
           "Neptune came in 1989 at a distance of 4,950 km above the clouds. "
           "The mission team of 217 engineers still listens for its 23 watt signal today.")


def digit_words_lost(text: str, result: CompressionResult) -> list[str]:
    """Words with a digit that are missing from sentences of which something was kept.

    Sentences end at a full stop before a space; words are runs of non-spaces (the text above
    has neither abbreviations nor decimal points, so this needs no segmenter).
    """
    kept = {i for s in result.documents[0].spans for i in range(s.start, s.end)}
    lost = []
    for sentence in re.finditer(r"\S.*?\.(?= |$)", text):
        words = [(m.start() + sentence.start(), m.end() + sentence.start(), m.group())
                 for m in re.finditer(r"\S+", sentence.group())]
        if any(a in kept for a, _, _ in words):
            lost += [w for a, b, w in words
                     if re.search(r"\d", w) and not kept.issuperset(range(a, b))]
    return lost


def test_keep_digits_keeps_every_number_of_a_kept_sentence() -> None:
    lost_without = 0
    for ratio in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7):
        request = CompressionRequest(contexts=[VOYAGER], question="When did Voyager reach Saturn?",
                                     target_ratio=ratio, granularity="word")
        kept = COMPRESSOR.compress(dataclasses.replace(request, keep_digits=True))
        assert digit_words_lost(VOYAGER, kept) == [], ratio
        assert kept.stats.compressed_tokens <= kept.stats.target_tokens
        pruned = COMPRESSOR.compress(request)
        lost_without += len(digit_words_lost(VOYAGER, pruned))
    assert lost_without >= 10  # the budgets are tight enough that pruning reaches numbers


@pytest.mark.parametrize(("reorder", "expected"), [("original", [0, 1, 2, 3]),
                                                   ("relevance", [2, 0, 3, 1]),
                                                   ("edges", [2, 3, 1, 0])])
def test_document_order(reorder: str, expected: list[int]) -> None:
    assert doc_order(reorder, [0.5, 0.1, 0.9, 0.3]) == expected


def test_granularity_document_keeps_whole_documents() -> None:
    result = COMPRESSOR.compress(contexts=DOCS, question="Which river flows through Brazil?",
                                 target_ratio=0.5, granularity="document")
    assert all(d.text in ("", DOCS[d.index]) for d in result.documents)
    assert result.documents[1].text == DOCS[1]


def test_whole_prompt_input_is_one_context() -> None:
    result = COMPRESSOR.compress(prompt=" ".join(DOCS), target_ratio=0.5)
    assert len(result.documents) == 1
    assert result.stats.compressed_tokens <= result.stats.target_tokens


def test_auto_budget_without_a_calibrated_scorer_follows_the_length_rule() -> None:
    assert auto_ratio(100) == 0.8
    assert auto_ratio(2000) == pytest.approx(0.5)
    assert auto_ratio(10**6) == 0.1
    result = COMPRESSOR.compress(contexts=DOCS * 10, policy="truncation", target_ratio="auto")
    expected = auto_ratio(sum(COMPRESSOR.tokens.count(d) for d in DOCS * 10))
    assert result.stats.target_tokens == int(expected * result.stats.original_tokens)


def test_auto_budget_reads_the_evidence() -> None:
    """Sure of one document: room for about it; unsure: much more, within the documented range."""
    fillers = [f"Report {i} on harbour cranes, shipping lanes and cargo tonnage." for i in range(16)]
    sure = COMPRESSOR.compress(contexts=[*fillers, DOCS[2]], question="How tall is Mount Everest?",
                               target_ratio="auto")
    unsure = COMPRESSOR.compress(contexts=[*fillers, DOCS[2]], question="Which report?",
                                 target_ratio="auto")
    for result in (sure, unsure):
        stats = result.stats
        low, high = (int(r * stats.original_tokens) for r in AUTO_RANGE)
        assert low <= stats.target_tokens <= high and stats.budget_met
    assert sure.documents[-1].text == DOCS[2]  # the likeliest document fits whole
    assert sure.stats.target_tokens < unsure.stats.target_tokens
    fixed = COMPRESSOR.compress(contexts=[*fillers, DOCS[2]], question="How tall is Mount Everest?",
                                target_tokens=40)
    assert fixed.stats.target_tokens == 40  # a request's own budget wins


def test_compress_many_reports_progress() -> None:
    seen: list[tuple[int, int]] = []
    reqs = [CompressionRequest(contexts=DOCS, question=q, target_ratio=0.5)
            for q in ("Lyon?", "Tea?", "Everest?")]
    results = COMPRESSOR.compress_many(reqs, progress=lambda done, total: seen.append((done, total)))
    assert [r.compressed_prompt for r in results] == [COMPRESSOR.compress(q).compressed_prompt
                                                      for q in reqs]
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_o200k_tokenizer_counts_the_budget() -> None:
    compressor = Compressor(tokenizer="o200k_base")
    result = compressor.compress(contexts=DOCS, question="Lyon", target_ratio=0.5)
    counter = get_token_counter("o200k_base")
    assert result.tokenizer == "o200k_base"
    assert counter.count(result.compressed_prompt) == result.stats.compressed_tokens
    assert counter.count("hello world") != 0


def test_segmentation_keeps_markdown_blocks_and_abbreviations_whole() -> None:
    text = ("# Title here\nDr. Smith met Mr. Jones in the U.S. on Monday. They talked.\n"
            "- a list item. With two sentences.\n| a | b |\n```\nx = 1\ny = 2\n```\nEnd.")
    seg = segment(text)
    units = [seg.unit_text(u) for u in seg.units]
    assert units == ["# Title here", "Dr. Smith met Mr. Jones in the U.S. on Monday.",
                     "They talked.", "- a list item. With two sentences.", "| a | b |",
                     "```\nx = 1\ny = 2\n```", "End."]
    assert [u.block for u in seg.units] == [True, False, False, True, True, True, False]


def test_segmentation_keeps_cjk_runs_whole_and_keeps_emoji_sequences() -> None:
    seg = segment("東京です。👩‍👩‍👧 ok")
    words = [seg.word(i) for i in range(len(seg.word_starts))]
    assert words == ["東京です", "。", "👩‍👩‍👧", "ok"]
    assert len(seg.units) == 2


class CountingScorer:
    """A custom scorer (the plug-in path) that counts its calls."""

    name = "counting"

    def __init__(self) -> None:
        self.calls = 0
        self.inner = LexicalScorer()

    def score(self, question: str, documents: Sequence[Segmented]) -> Scores:
        self.calls += 1
        return self.inner.score(question, documents)


def test_custom_scorer_instance_and_score_cache() -> None:
    scorer = CountingScorer()
    compressor = Compressor(scorer=scorer, score_cache_size=2)
    for ratio in (0.5, 0.3, 0.2):
        result = compressor.compress(contexts=DOCS, question="Lyon?", target_ratio=ratio)
        assert result.scorer == "counting"
    assert scorer.calls == 1
    compressor.compress(contexts=DOCS, question="Tea?", target_ratio=0.5)
    compressor.compress(contexts=DOCS, question="Rivers?", target_ratio=0.5)
    compressor.compress(contexts=DOCS, question="Lyon?", target_ratio=0.5)  # evicted by now
    assert scorer.calls == 4
    uncached = CountingScorer()
    Compressor(scorer=uncached).compress(contexts=DOCS, question="Lyon?")
    Compressor(scorer=uncached).compress(contexts=DOCS, question="Lyon?")
    assert uncached.calls == 2


def test_a_budget_that_holds_everything_keeps_everything() -> None:
    docs = ["The Harbor Line tram opened to passengers on 14 May 1911.",
            "A single ticket cost two copper pennies.\nChildren under seven rode free."]
    compressor = Compressor(preset="fast")
    for budget in ({"target_ratio": 1.0}, {"target_tokens": 10_000}):
        result = compressor.compress(contexts=docs, question="When did it open?", **budget)
        assert [d.text for d in result.documents] == docs
        assert result.stats.compressed_tokens == result.stats.original_tokens
