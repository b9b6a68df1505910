"""Lost answers are attributed by one rule for every method, whatever the shape of its output.

Engine-shaped outputs say what each document kept; LLMLingua-shaped outputs are one string,
reordered and pruned, that the benchmark maps back to documents (benchmarks/align.py).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from align import split_by_document  # noqa: E402
from methods import Outcome, assemble  # noqa: E402
from metrics import document_kept  # noqa: E402
from run import documents_of, evaluate  # noqa: E402

CONTEXTS = [
    ("Marie Curie", "Marie Curie was a physicist. She won the Nobel Prize in Physics in 1903. "
                    "She was born in Warsaw."),
    ("Pierre Curie", "Pierre Curie was a French physicist. He was born in Paris and taught at "
                     "the Sorbonne."),
    ("Warsaw", "Warsaw is the capital of Poland. It was rebuilt after the war."),
    ("Nobel Prize", "The Nobel Prize is awarded in Stockholm. It was first given in 1901."),
]
EXAMPLE: dict[str, Any] = {
    "id": "q", "question": "When did Marie Curie win the Nobel Prize in Physics?",
    "answers": ["1903"], "gold": [0],
    "contexts": [{"title": t, "text": x} for t, x in CONTEXTS],
}
DOCS = documents_of(EXAMPLE)
# What LongLLMLingua makes of such input: documents sorted by its rank, words and separators
# pruned. The first one drops the gold document, the second keeps it but not the answer.
LINGUA_WITHOUT_GOLD = ("Nobel Prize Nobel Prize awarded Stockholm first given 1901 Pierre Curie "
                       "French physicist born Paris taught Sorbonne Warsaw capital Poland rebuilt")
LINGUA_WITHOUT_SENTENCE = ("Marie Curie Marie Curie was a physicist. She was born in Warsaw. "
                           "Pierre Curie French physicist born Paris")


def _method(outcome: Outcome) -> Any:
    def run(docs: Any, question: str, ratio: float, index: int) -> Outcome:
        return outcome

    return run


def _engine_shaped(texts: list[str]) -> Outcome:
    prompt = assemble(texts, EXAMPLE["question"])
    return Outcome(context="\n\n".join(t for t in texts if t), doc_texts=texts, prompt=prompt,
                   target=100, achieved=50, ms=1.0)


def _lingua_shaped(context: str) -> Outcome:
    return Outcome(context=context, doc_texts=None, prompt=f"{context}\n\n{EXAMPLE['question']}",
                   target=100, achieved=50, ms=1.0)


@pytest.mark.parametrize("outcome", [
    _engine_shaped(["", DOCS[1], DOCS[2], DOCS[3]]),
    _lingua_shaped(LINGUA_WITHOUT_GOLD),
], ids=["engine", "lingua"])
def test_an_output_without_the_gold_document_is_document_dropped(outcome: Outcome) -> None:
    record = evaluate(_method(outcome), EXAMPLE, 0, 0.1)
    assert not record["answer_kept"]
    assert record["stage"] == "document dropped"
    assert record["gold_kept"] == [False] and record["support_kept"] == 0.0


@pytest.mark.parametrize("outcome", [
    _engine_shaped(["Marie Curie\nMarie Curie was a physicist. She was born in Warsaw.", DOCS[1],
                    "", ""]),
    _lingua_shaped(LINGUA_WITHOUT_SENTENCE),
], ids=["engine", "lingua"])
def test_a_kept_gold_document_without_the_answer_sentence_is_sentence_dropped(
        outcome: Outcome) -> None:
    record = evaluate(_method(outcome), EXAMPLE, 0, 0.1)
    assert record["stage"] == "sentence dropped"
    assert record["gold_kept"] == [True]


def test_split_by_document_follows_reordered_pruned_runs() -> None:
    texts = split_by_document(LINGUA_WITHOUT_GOLD, DOCS)
    assert texts[0] == ""  # the gold document contributed nothing
    assert texts[1] == "pierre curie french physicist born paris taught sorbonne"
    assert texts[2] == "warsaw capital poland rebuilt"
    assert texts[3].startswith("nobel prize nobel prize awarded stockholm")


def test_split_by_document_agrees_with_per_document_output() -> None:
    """On an engine's concatenated output the mapping makes the same keep decisions."""
    kept = ["", DOCS[1], "Warsaw\nWarsaw is the capital.", DOCS[3]]
    mapped = split_by_document("\n\n".join(t for t in kept if t), DOCS)
    assert [document_kept(d, t) for d, t in zip(DOCS, mapped)] == [
        document_kept(d, t) for d, t in zip(DOCS, kept)]
    assert split_by_document("", DOCS) == ["", "", "", ""]


def test_split_by_document_does_not_open_a_run_for_a_stray_word() -> None:
    """A lone common word matches no document on its own (it would cost more than it gains)."""
    assert split_by_document("capital", DOCS) == ["", "", "", ""]


def test_split_by_document_reads_glued_words_as_two() -> None:
    """Pruned separators glue words ("physicistShe"); both halves still count."""
    texts = split_by_document("Marie Curie was a physicistShe won the Nobel PrizeShe was born",
                              DOCS)
    assert texts[0] == "marie curie was physicist she won nobel prize she was born"
