"""The embedding scorer and the presets that use it, with the real packaged MiniLM."""

from __future__ import annotations

import pytest

from tersify import Compressor
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
    assert all(abs(float(v.norm()) - 1.0) < 1e-4 for v in vectors)
    again = scorer.embed([texts[2], texts[0]])
    assert float((again[0] - vectors[2]).abs().max()) < 1e-4
    assert float((again[1] - vectors[0]).abs().max()) < 1e-4


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
