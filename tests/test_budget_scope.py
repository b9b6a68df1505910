"""What the budget counts (``budget_scope``), ``min_documents``, and an honest ``budget_met``."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tersify import Compressor
from tersify.assemble import join_prompt

COMPRESSOR = Compressor(preset="fast")
DOCS = ["The lighthouse on the cape was finished in 1887 by the harbour board.",
        "A tram line opened in 1911 and closed in 1958 after a fire.",
        "The museum keeps the old lantern and a model of the keeper's house."]
QUESTION = "When was the lighthouse finished?"
INSTRUCTION = "Answer in one line using only the documents."

SENTENCES = st.lists(st.sampled_from([
    "The lighthouse was finished in 1887.", "Trams ran until 1958.", "A keeper lived there.",
    "The lantern is kept in the museum.", "Storms closed the harbour twice.", "Ferries left hourly."]),
    min_size=1, max_size=4).map(" ".join)


def fixed_tokens() -> int:
    return COMPRESSOR.tokens.count(join_prompt(INSTRUCTION, [], QUESTION))


def test_a_contexts_budget_puts_the_verbatim_parts_on_top() -> None:
    result = COMPRESSOR.compress(contexts=DOCS, instruction=INSTRUCTION, question=QUESTION,
                                 target_tokens=20, budget_scope="contexts")
    assert result.stats.target_tokens == fixed_tokens() + 20
    assert result.stats.budget_met and "1887" in result.compressed_prompt


def test_a_contexts_ratio_is_a_share_of_what_the_prompt_holds_beyond_the_verbatim_parts() -> None:
    whole = COMPRESSOR.compress(contexts=DOCS, instruction=INSTRUCTION, question=QUESTION,
                                target_ratio=0.3)
    ours = COMPRESSOR.compress(contexts=DOCS, instruction=INSTRUCTION, question=QUESTION,
                               target_ratio=0.3, budget_scope="contexts")
    original, fixed = ours.stats.original_tokens, fixed_tokens()
    assert ours.stats.target_tokens == fixed + int(0.3 * (original - fixed))
    assert whole.stats.target_tokens == int(0.3 * original) < ours.stats.target_tokens


def test_budget_met_is_false_when_no_context_survives() -> None:
    # the question fits in a fifth of the prompt; no whole sentence fits beside it
    result = COMPRESSOR.compress(contexts=DOCS, question=QUESTION, target_ratio=0.2)
    assert not any(d.spans for d in result.documents)
    assert result.stats.compressed_tokens <= result.stats.target_tokens
    assert result.stats.budget_met is False


def test_min_documents_keeps_the_best_document_and_says_the_budget_was_not_met() -> None:
    result = COMPRESSOR.compress(contexts=DOCS, instruction=INSTRUCTION, question=QUESTION,
                                 target_ratio=0.1, min_documents=1)
    kept = [d for d in result.documents if d.spans]
    assert [d.index for d in kept] == [0] and "1887" in kept[0].text
    assert result.stats.budget_met is False


@given(texts=st.lists(SENTENCES, min_size=1, max_size=5), minimum=st.integers(0, 6),
       ratio=st.floats(0.05, 1.0), scope=st.sampled_from(["prompt", "contexts"]))
def test_the_most_relevant_min_documents_keep_something(texts: list[str], minimum: int,
                                                        ratio: float, scope: str) -> None:
    result = COMPRESSOR.compress(contexts=texts, question=QUESTION, target_ratio=ratio,
                                 min_documents=minimum, budget_scope=scope)
    ranked = sorted(result.documents, key=lambda d: -d.relevance)  # ties: input order
    assert all(d.spans for d in ranked[:minimum])
    s = result.stats
    assert s.budget_met == (s.compressed_tokens <= s.target_tokens
                            and any(d.spans for d in result.documents))
