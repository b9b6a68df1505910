"""The embedding scorer and the presets that use it, with the real packaged MiniLM."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tersify import Compressor, InvalidRequestError
from tersify.models import resolve
from tersify.scorers import get_scorer
from tersify.scorers.embedding import EmbeddingScorer
from tersify.segment import segment

pytestmark = pytest.mark.models

DOCS = [
    "Lyon is a city in France. It sits where two rivers meet.",
    "The Amazon carries more water than any other river. It crosses Brazil.",
    "Mount Everest is 8,849 metres tall. It lies between Nepal and China.",
    "",
]


@pytest.fixture(scope="module")
def scorer() -> EmbeddingScorer:
    built = get_scorer("embedding")
    assert isinstance(built, EmbeddingScorer)
    return built


def test_packaged_model_resolves_to_local_files() -> None:
    path = resolve("all-minilm-l6-v2")
    assert path.endswith("model")
    assert "site-packages" in path or "dist-packages" in path


def test_embeddings_are_unit_vectors_in_input_order(scorer: EmbeddingScorer) -> None:
    texts = ["a long sentence about mountains and their heights", "short", "rivers"]
    vectors = scorer.embed(texts)
    assert tuple(vectors.shape) == (3, 384)
    assert all(abs(float((v @ v) ** 0.5) - 1.0) < 1e-4 for v in vectors)
    again = scorer.embed([texts[2], texts[0]])
    assert (again == vectors[[2, 0]]).all()


def test_the_int8_runtime_agrees_with_the_fp32_weights(scorer: EmbeddingScorer) -> None:
    torch_scorer = EmbeddingScorer(runtime="torch")
    texts = [*DOCS[:3], "How tall is Mount Everest?", "Which river crosses Brazil?"]
    fast, exact = scorer.embed(texts), torch_scorer.embed(texts)
    assert min(float(a @ b) for a, b in zip(fast, exact, strict=True)) > 0.97
    question = [segment(t) for t in DOCS]
    for built in (scorer, torch_scorer):
        ranked = built.score("How tall is Mount Everest?", question).documents
        assert max(range(4), key=lambda i: ranked[i]) == 2


def test_scoring_together_gives_each_set_its_own_scores(scorer: EmbeddingScorer) -> None:
    sets = [("Which river has the largest discharge?", [segment(t) for t in DOCS]),
            ("How tall is Mount Everest?", [segment(t) for t in DOCS[1:3]]),
            ("", [segment(DOCS[0])]),
            ("Where is Lyon?", [])]
    together = scorer.score_many(sets)
    assert [len(s.documents) for s in together] == [4, 2, 1, 0]
    # One text per forward pass: a text's vector never depends on what it was batched with.
    assert together == [scorer.score(q, docs) for q, docs in sets]


def test_pooled_document_vectors_rank_like_encoded_ones() -> None:
    pooled = EmbeddingScorer(document_vectors="units")
    docs = [segment(t) for t in DOCS]
    ranked = pooled.score("Which river has the largest discharge?", docs).documents
    assert max(range(4), key=lambda i: ranked[i]) == 1


@pytest.mark.parametrize(("options", "message"), [
    ({"runtime": "tensorrt"}, "valid choices: onnx, torch"),
    ({"model": "no/such-model"}, "model.onnx and tokenizer.json"),
])
def test_bad_runtime_options_are_refused(options: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        EmbeddingScorer(**options)  # type: ignore[arg-type]


def test_scores_have_the_segmentation_shape_and_rank_the_answer_first(
    scorer: EmbeddingScorer,
) -> None:
    docs = [segment(t) for t in DOCS]
    scores = scorer.score("Which river has the largest discharge?", docs)
    assert len(scores.documents) == 4
    assert [len(u) for u in scores.units] == [len(d.units) for d in docs]
    assert [len(w) for w in scores.words] == [len(d.word_starts) for d in docs]
    assert max(range(4), key=lambda i: scores.documents[i]) == 1
    assert scorer.score("Which river has the largest discharge?", docs) == scores


def test_empty_question_falls_back_to_question_agnostic_scores(scorer: EmbeddingScorer) -> None:
    scores = scorer.score("", [segment(t) for t in DOCS])
    assert len(set(scores.documents)) == 1


@pytest.mark.parametrize("preset", ["balanced", "accurate"])
def test_presets_compress_within_budget_and_keep_the_answer(preset: str) -> None:
    result = Compressor(preset=preset).compress(
        contexts=DOCS, question="How tall is Mount Everest?", target_ratio=0.4)
    assert result.scorer == "embedding"
    assert result.stats.compressed_tokens <= result.stats.target_tokens
    assert "8,849 metres" in result.compressed_prompt


def test_loading_a_model_draws_no_progress_bar() -> None:
    code = ("import transformers.utils.logging as bars; from tersify.models import load_encoder; "
            "load_encoder(); print(bars.is_progress_bar_enabled())")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=300)
    assert "Loading" not in done.stderr and "it/s" not in done.stderr, done.stderr
    assert done.stdout.strip() == "True"  # the process's own setting, given back
