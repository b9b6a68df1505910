"""The learned document fusion: its signals, the packaged models and the training splits."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tersify import InvalidRequestError
from tersify.scorers.fusion import DENSE_FEATURES, LEXICAL_FEATURES, Evidence, features, load_model
from tersify.scorers.lexical import LexicalScorer
from tersify.segment import segment

QUESTION = "Who is the spouse of the performer of Green?"
FIRST_HOP = "Green (album)\nGreen is an album by the guitarist Steve Hillage, released in 1978."
SECOND_HOP = "Steve Hillage\nHillage has worked with his partner Miquette Giraudy since 1975."
UNNAMED = "Peter Hammill\nHammill has worked with his partner Sarah Jones since 1975."
FILLERS = [f"Topic {i}\nA paragraph about shipping lanes and cargo number {i}." for i in range(6)]


def _script(name: str):  # type: ignore[no-untyped-def]
    path = Path(__file__).resolve().parents[1] / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    return spec, module


def test_the_document_the_first_hop_names_outranks_its_twin() -> None:
    docs = [segment(t) for t in (UNNAMED, *FILLERS, SECOND_HOP, FIRST_HOP)]
    bm25 = LexicalScorer(fusion="bm25").score(QUESTION, docs).documents
    learned = LexicalScorer().score(QUESTION, docs)
    assert bm25[0] == pytest.approx(bm25[-2])  # BM25 cannot tell the twins apart
    assert learned.documents[-2] > learned.documents[0]
    assert learned.evidence is not None
    assert max(learned.evidence) == learned.evidence[-1]  # the first hop, named by the question


def test_unknown_fusion_is_refused_with_the_choices() -> None:
    with pytest.raises(InvalidRequestError, match="learned, bm25"):
        LexicalScorer(fusion="magic")  # type: ignore[arg-type]


def test_the_packaged_models_read_the_signals_the_code_computes() -> None:
    assert load_model("lexical").features == LEXICAL_FEATURES
    assert load_model("dense").features == DENSE_FEATURES


@given(st.lists(st.tuples(st.floats(0, 30), st.integers(0, 400),
                          st.sets(st.sampled_from("abcdef"), max_size=4)), min_size=1, max_size=12),
       st.sets(st.sampled_from("abcdefgh"), max_size=5))
def test_signals_are_bounded_and_independent_of_the_set_scale(
        docs: list[tuple[float, int, set[str]]], query: set[str]) -> None:
    evidence = Evidence(query=frozenset(query), terms=[t for _, _, t in docs],
                        titles=[frozenset(t) for _, _, t in docs],
                        lengths=[n for _, n, _ in docs], bm25=[b for b, _, _ in docs], unspaced=0.0)
    rows = features(evidence, dense=[b / 30 for b, _, _ in docs])
    scaled = features(Evidence(**{**evidence.__dict__, "bm25": [2 * b for b, _, _ in docs]}),
                      dense=[b / 30 for b, _, _ in docs])
    for row, other in zip(rows, scaled, strict=True):
        assert set(row) == set(DENSE_FEATURES)
        assert all(0.0 <= row[f] <= 1.0 for f in ("coverage", "title", "bridge_in",
                                                   "bridge_out", "position"))
        assert row["bm25"] == pytest.approx(other["bm25"])


def test_training_reads_only_training_splits() -> None:
    spec, module = _script("train_fusion")
    try:
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    except ModuleNotFoundError as exc:  # numpy comes with the models extra
        pytest.skip(str(exc))
    for name, first, count in module.SPLITS:
        assert name.split(".")[0] not in ("musique20", "cmrc_zh", "xquad11")
        if name.startswith("nq20"):
            rows = set(range(first, first + count))
            assert rows.isdisjoint(range(200)) and rows.isdisjoint(range(1000, 1150))
