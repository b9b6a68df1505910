"""The fit loop's exact counts stay few as documents and words grow (issue: 10,000 contexts).

Timing assertions are flaky, so these tests measure the work instead: the characters the
tokenizer is asked to count, over the length of the prompt. Every exact count of the fit loop
renders and tokenizes the whole prompt, so that multiple must not grow with the number of
documents or words (it did: one whole-prompt count per document taken back).
"""

from __future__ import annotations

import pytest

from tersify import CompressionResult, Compressor
from tersify.assemble import join_prompt
from tersify.tokens import TokenCounter, get_token_counter

MAX_PASSES = 40  # MAX_ROUNDS of growth and take-back, the final take-back steps, statistics


class CountingCounter:
    """A real tokenizer that remembers how many whole texts it counted."""

    def __init__(self, inner: TokenCounter) -> None:
        self.inner = inner
        self.name = inner.name
        self.counted_chars = 0

    def count(self, text: str) -> int:
        self.counted_chars += len(text)
        return self.inner.count(text)

    def token_starts(self, text: str) -> list[int]:
        return self.inner.token_starts(text)


def _compress(contexts: list[str], **fields: object) -> tuple[float, CompressionResult]:
    """The result, and how many passes over the whole prompt the tokenizer made."""
    counter = CountingCounter(get_token_counter("cl100k_base"))
    result = Compressor(preset="fast", tokenizer=counter).compress(
        contexts=contexts, question="q", **fields)
    prompt_chars = len(join_prompt("", contexts, "q"))
    return counter.counted_chars / prompt_chars, result


@pytest.mark.parametrize("n", [100, 1_000, 10_000])
def test_many_tiny_contexts_cost_a_bounded_number_of_passes(n: int) -> None:
    passes, result = _compress(["x"] * n, target_ratio=0.5)
    assert result.stats.budget_met
    assert result.stats.compressed_tokens >= 0.95 * result.stats.target_tokens
    assert passes <= MAX_PASSES, f"{passes:.0f} passes over the prompt for {n} documents"


@pytest.mark.parametrize("granularity", ["word", "sentence", "document"])
def test_long_documents_cost_a_bounded_number_of_passes(granularity: str) -> None:
    sentence = "The harbor line opened on 2 March 1961 after years of delay and debate."
    docs = [" ".join([sentence] * 200) for _ in range(20)]  # ~56,000 words in all
    passes, result = _compress(docs, target_ratio=0.2, granularity=granularity)
    assert result.stats.budget_met
    assert passes <= MAX_PASSES, f"{passes:.0f} passes over the prompt at {granularity}"
