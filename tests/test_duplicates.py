"""Near-duplicate sentences are kept once (issue 13: a 1 MB input kept one sentence many times).

The properties read the result from outside: each document is segmented again, a unit counts as
kept when a kept span touches it, and kept units are compared pairwise by brute force (not by
the engine's prefix filter, which they check). Documents are drawn from a small pool of
sentences and copies of them with another case, punctuation or spacing, or one word changed,
so that most examples hold repeats.
"""

from __future__ import annotations

import math
import re
from itertools import combinations

from hypothesis import given
from hypothesis import strategies as st

from tersify import CompressionResult, Compressor
from tersify.duplicates import MIN_WORDS, NEGATIONS, THRESHOLD, near_pairs, words
from tersify.segment import segment

COMPRESSOR = Compressor(preset="fast")
REPEATED = "The Harbor Line tram opened on 14 May 1911 after years of debate in the council."
BASE = (
    REPEATED,
    "A ticket on the tram cost two pennies and a season pass cost a shilling.",
    "The lighthouse at the end of the pier was finished in 1887 by a local firm.",
    "Each autumn the town holds a lantern festival that draws visitors from afar.",
    "The council voted to extend the line to the northern suburbs in 1925.",
)


def _variants(sentence: str) -> list[str]:
    """The sentence, and copies that only its case, punctuation or spacing (or one word) tell
    apart."""
    loud = sentence.upper().replace(" ", "  ")
    marked = sentence.replace(" ", ", ", 1).rstrip(".") + "!"
    one_word = sentence.replace(" the ", " this ", 1)
    return [sentence, loud, marked, one_word]


POOL = [v for s in BASE for v in _variants(s)]
OTHERS = [f"Fact number {i} says the {w} is {c} and nothing else." for i, (w, c) in enumerate(
    [("river", "wide"), ("bridge", "old"), ("market", "busy"), ("school", "new")])]


def similar(a: list[str], b: list[str]) -> bool:
    """The definition, by brute force: equal words, or bigram Jaccard >= THRESHOLD with the
    same numbers."""
    if a == b:
        return True
    x, y = set(zip(a, a[1:])), set(zip(b, b[1:]))
    same_numbers = sorted(w for w in a if re.search(r"\d", w)) == \
        sorted(w for w in b if re.search(r"\d", w))
    return same_numbers and len(x & y) >= THRESHOLD * len(x | y)


def kept_units(contexts: list[str], result: CompressionResult) -> list[list[str]]:
    """The normalized words of every unit that a kept span touches, in all documents."""
    out = []
    for text, doc in zip(contexts, result.documents):
        seg = segment(text)
        for unit in seg.units:
            start, end = seg.word_starts[unit.first], seg.word_ends[unit.last - 1]
            if any(s.start < end and start < s.end for s in doc.spans):
                out.append(words(seg.unit_text(unit)))
    return out


def within_budget(result: CompressionResult) -> bool:
    """Within the target, or over it with the verbatim parts alone (no context kept)."""
    s = result.stats
    return s.compressed_tokens <= s.target_tokens or not any(d.spans for d in result.documents)


@st.composite
def repeating(draw: st.DrawFn) -> dict[str, object]:
    """A request over documents of pooled sentences (most of them repeats of one another)."""
    sentences = st.sampled_from(POOL + OTHERS)
    docs = draw(st.lists(st.lists(sentences, min_size=1, max_size=4).map(" ".join),
                         min_size=1, max_size=8))
    return {"contexts": docs, "question": draw(st.sampled_from(["When did the tram open?", ""])),
            "target_ratio": draw(st.floats(0.1, 0.9)),
            "granularity": draw(st.sampled_from([None, "word", "sentence"])),
            "policy": draw(st.sampled_from(["tersify", "summarization", "h2o"]))}


@given(repeating())
def test_no_two_kept_sentences_repeat_one_another(fields: dict[str, object]) -> None:
    result = COMPRESSOR.compress(**fields)
    contexts = fields["contexts"]
    assert isinstance(contexts, list)
    assert within_budget(result)
    for text, doc in zip(contexts, result.documents):  # only input spans, in input order
        at = 0
        for span in doc.spans:
            assert 0 <= span.start < span.end <= len(text)
            at = doc.text.index(text[span.start:span.end], at) + span.end - span.start
    if result.stats.original_tokens <= result.stats.target_tokens:
        return  # nothing to choose: everything is kept, repeats included
    kept = [u for u in kept_units(contexts, result) if len(u) >= MIN_WORDS]
    for a, b in combinations(kept, 2):
        assert not similar(a, b), (a, b)


@given(repeating())
def test_without_dedupe_repeats_stay_and_the_budget_holds(fields: dict[str, object]) -> None:
    assert within_budget(COMPRESSOR.compress(**fields, dedupe=False))


SEQUENCES = st.lists(st.lists(st.sampled_from("a b c d e f g 1 2".split()), min_size=3,
                              max_size=12).map(tuple), min_size=1, max_size=30, unique=True)


@given(SEQUENCES, st.sampled_from([0.5, THRESHOLD, 0.9]), st.sets(st.integers(0, 29)))
def test_prefix_filtering_finds_exactly_the_pairs_brute_force_finds(
        keys: list[tuple[str, ...]], threshold: float, exact: set[int]) -> None:
    found = {(c, d) for c, ds in enumerate(near_pairs(keys, threshold, exact)) for d in ds}
    expected = set()
    for c, d in combinations(range(len(keys)), 2):
        if c in exact or d in exact:
            continue
        a, b = keys[c], keys[d]
        x, y = set(zip(a, a[1:])), set(zip(b, b[1:]))
        numbers = claims(a) == claims(b)
        if numbers and len(x & y) >= threshold * len(x | y):
            expected |= {(c, d), (d, c)}
    assert found == expected


def claims(key: tuple[str, ...]) -> list[str]:
    return sorted(w for w in key if w.isdigit() or w in NEGATIONS)


def _twenty() -> list[str]:
    return [f"Document {i} is about topic number {i} in some detail. {REPEATED} "
            f"It adds fact {i * 7} of its own." for i in range(20)]


def test_twenty_documents_repeating_one_sentence_keep_it_once() -> None:
    docs = _twenty()
    question = "When did the Harbor Line tram open?"
    result = COMPRESSOR.compress(contexts=docs, question=question, target_ratio=0.3)
    assert result.compressed_prompt.count(REPEATED) == 1
    holders = [d for d in result.documents if REPEATED in d.text]
    assert len(holders) == 1  # the first of the equally relevant copies keeps it
    for doc in result.documents:  # per-document counts stay those of its own text
        assert doc.compressed_tokens == (COMPRESSOR.tokens.count(doc.text) if doc.text else 0)
    s = result.stats
    assert 0.95 * s.target_tokens <= s.compressed_tokens <= s.target_tokens  # budget reused
    every = COMPRESSOR.compress(contexts=docs, question=question, target_ratio=0.3,
                                dedupe=False)
    assert every.compressed_prompt.count(REPEATED) > 1


def test_case_punctuation_and_spacing_do_not_make_a_sentence_new() -> None:
    docs = [f"{v} Then item {i} follows with more words." for i, v in enumerate(
        _variants(REPEATED)[:3] * 3)]
    result = COMPRESSOR.compress(contexts=docs, question="When did the tram open?",
                                 target_ratio=0.5)
    assert sum("tram opened" in d.text.casefold() for d in result.documents) == 1


def test_a_sentence_with_another_number_is_not_a_repeat() -> None:
    docs = [REPEATED, REPEATED.replace("1911", "1912")]
    result = COMPRESSOR.compress(contexts=[*docs, "Unrelated filler text goes here. " * 20],
                                 question="When did the Harbor Line tram open?",
                                 target_ratio=0.4)
    assert [REPEATED in result.text_for(0), "1912" in result.text_for(1)] == [True, True]


def test_a_sentence_with_a_negation_more_is_not_a_repeat() -> None:
    said = ("The harbour board agreed after a long debate that the old lighthouse on the southern "
            "quay would be restored with money from the town")
    denied = said.replace("would be", "would not be")
    result = COMPRESSOR.compress(contexts=[said + ".", denied + ".",
                                           "Unrelated filler text goes here. " * 30],
                                 question="Would the lighthouse be restored?", target_ratio=0.4)
    assert "would be" in result.text_for(0) and "would not be" in result.text_for(1)
    reworded = said.replace("long", "lengthy")
    keys = [tuple(words(t)) for t in (said, denied, reworded)]
    assert near_pairs(keys, THRESHOLD) == [[2], [], [0]]  # other words, same claim: a repeat


def test_forced_sentences_are_kept_even_when_repeated() -> None:
    docs = _twenty()
    forced = COMPRESSOR.compress(contexts=docs, question="topic", target_ratio=0.5,
                                 force_keep=["Harbor Line"])
    assert forced.compressed_prompt.count("Harbor Line") == 20
    first = [f"{REPEATED} Document {i} goes on about topic {i} at length." for i in range(5)]
    preserved = COMPRESSOR.compress(contexts=first, question="topic", target_ratio=0.6,
                                    preserve_first=1)
    assert all(d.text.startswith(REPEATED) for d in preserved.documents)


def test_a_megabyte_of_repeats_keeps_each_sentence_once() -> None:
    """Bounded work: prefix filtering with capped lists (measured: see the report)."""
    boiler = "Subscribe to our newsletter for weekly updates on new articles and events."
    docs = [f"Article {i} reports that the {i % 97}th survey counted {i * 13} birds near "
            f"lake {i % 31}.\n{boiler}\nThe weather on day {i} was mild." for i in range(7_000)]
    assert sum(map(len, docs)) > 1_000_000
    result = COMPRESSOR.compress(contexts=docs, question="How do I get weekly updates?",
                                 target_ratio=0.2)
    assert sum("newsletter" in d.text for d in result.documents) <= 1
    assert result.stats.budget_met
    assert math.isclose(result.stats.compressed_tokens, result.stats.target_tokens, rel_tol=0.05)


def test_a_document_given_twice_is_kept_once_at_document_granularity() -> None:
    twin = " ".join(BASE[:3])
    other = " ".join(BASE[3:])
    result = COMPRESSOR.compress(contexts=[twin, twin.upper(), other], question="tram",
                                 target_ratio=0.7, granularity="document")
    kept = [d.kept for d in result.documents]
    assert kept[0] != kept[1] and kept[2]  # the best copy of the twins, and the other


def test_code_blocks_are_twins_of_their_exact_repeats_only() -> None:
    block = ("```python\ndef area(width, height):\n"
             '    """Area of a rectangle in square metres, rounded to two places."""\n'
             "    total = width * height\n    if total < 0:\n"
             '        raise ValueError("negative area")\n    return round(total, 2)\n```\n')
    near = block.replace("negative area", "negative size")  # another error: another block
    assert similar(words(block), words(near))  # near repeats, were they sentences
    docs = [f"The helper below computes areas.\n{block}", f"Same helper again.\n{block}",
            f"A variant for volumes.\n{near}"]
    result = COMPRESSOR.compress(contexts=docs, question="How is the area computed?",
                                 target_ratio=0.9, granularity="sentence")
    prompt = result.compressed_prompt
    assert prompt.count("negative area") == 1
    assert "negative size" in prompt
