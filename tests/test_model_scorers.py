"""The torch scorers (``lm``, ``classifier``) with real models: shapes, ranges, edge cases."""

from __future__ import annotations

import math

import pytest

from tersify import Compressor, Scores
from tersify.segment import Segmented, segment

pytestmark = pytest.mark.models

QUESTION = "Who received the first Nobel Prize in Physics?"
ANSWER_DOC = ("The first Nobel Prize in Physics was awarded in 1901 to Wilhelm Conrad Röntgen, "
              "of Germany, for his discovery of X-rays. He received 150,782 SEK.")
OTHER_DOCS = [
    "The Amazon river flows through Brazil. It carries more water than any other river on "
    "Earth, and its basin covers seven million square kilometres.",
    "Bananas grow in tropical regions. They are rich in potassium, and most exported bananas "
    "belong to the Cavendish group.",
    "The 2014 FIFA World Cup was held in Brazil. Germany beat Argentina 1-0 in the final at "
    "the Maracanã stadium in Rio de Janeiro.",
]
DOCS = [OTHER_DOCS[0], ANSWER_DOC, *OTHER_DOCS[1:]]


def assert_shapes(scores: Scores, docs: list[Segmented]) -> None:
    assert len(scores.documents) == len(docs)
    assert [len(u) for u in scores.units] == [len(d.units) for d in docs]
    assert [len(w) for w in scores.words] == [len(d.word_starts) for d in docs]
    values = [*scores.documents, *(x for u in scores.units for x in u),
              *(x for w in scores.words for x in w)]
    assert all(math.isfinite(x) for x in values)


# -- lm -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lm_compressor() -> Compressor:
    return Compressor(scorer="lm")  # the model loads once, on first use, through the registry


@pytest.fixture(scope="module")
def lm_scores(lm_compressor: Compressor) -> Scores:
    return lm_compressor.scorer().score(QUESTION, [segment(t) for t in DOCS])


def test_lm_shapes(lm_compressor: Compressor, lm_scores: Scores) -> None:
    assert lm_compressor.scorer().name == "lm"
    assert_shapes(lm_scores, [segment(t) for t in DOCS])


def test_lm_is_deterministic(lm_compressor: Compressor, lm_scores: Scores) -> None:
    assert lm_compressor.scorer().score(QUESTION, [segment(t) for t in DOCS]) == lm_scores


def test_lm_ranks_the_answering_document_first(lm_scores: Scores) -> None:
    answer = DOCS.index(ANSWER_DOC)
    assert all(lm_scores.documents[answer] > s
               for i, s in enumerate(lm_scores.documents) if i != answer)


def test_lm_question_words_outscore_the_rest(lm_scores: Scores) -> None:
    # The question makes its own terms predictable, so they gain the most from the contrast.
    doc = segment(ANSWER_DOC)
    scores = lm_scores.words[DOCS.index(ANSWER_DOC)]
    asked = {"first", "Nobel", "Prize", "Physics"}
    inside = [s for i, s in enumerate(scores) if doc.word(i) in asked]
    outside = [s for i, s in enumerate(scores) if doc.word(i) not in asked]
    assert len(inside) == 4
    assert sum(inside) / len(inside) > sum(outside) / len(outside) + 1.0


def test_lm_empty_question_is_plain_self_information(lm_compressor: Compressor) -> None:
    docs = [segment(t) for t in DOCS[:2]]
    scores = lm_compressor.scorer().score("  ", docs)
    assert_shapes(scores, docs)
    assert list(scores.documents) == [0.0, 0.0]
    assert all(x >= 0 for w in scores.words for x in w)  # sums of -log p


def test_lm_empty_documents(lm_compressor: Compressor) -> None:
    scorer = lm_compressor.scorer()
    docs = [segment(""), segment(ANSWER_DOC), segment(" \n ")]
    for question in (QUESTION, ""):
        scores = scorer.score(question, docs)
        assert_shapes(scores, docs)
        assert scores.words[0] == [] and scores.units[2] == []
    assert scorer.score(QUESTION, []) == Scores(documents=[], units=[], words=[])


def test_lm_truncated_words_get_a_neutral_score(lm_compressor: Compressor) -> None:
    scorer = lm_compressor.scorer()
    doc = segment(ANSWER_DOC)
    saved, scorer.max_doc_tokens = scorer.max_doc_tokens, 8
    try:
        scores = scorer.score(QUESTION, [doc]).words[0]
    finally:
        scorer.max_doc_tokens = saved
    read = next(i for i in range(len(scores)) if len(set(scores[i:])) == 1)
    assert 0 < read < 9 < len(scores)  # at most 8 tokens were read, fewer words
    assert scores[-1] == pytest.approx(sum(scores[:read]) / read)


def test_lm_in_the_compressor(lm_compressor: Compressor) -> None:
    result = lm_compressor.compress(contexts=DOCS, question=QUESTION, target_ratio=0.5)
    assert result.scorer == "lm"
    assert result.stats.compressed_tokens <= result.stats.target_tokens
    assert "Röntgen" in result.compressed_prompt


# -- classifier -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_classifier(tmp_path_factory: pytest.TempPathFactory) -> str:
    from transformers import AutoTokenizer, BertConfig, BertForTokenClassification

    from tersify.models import resolve

    path = tmp_path_factory.mktemp("tiny-bert")
    tokenizer = AutoTokenizer.from_pretrained(resolve("all-minilm-l6-v2"))
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, num_labels=2)
    BertForTokenClassification(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


@pytest.fixture(scope="module")
def classifier_compressor(tiny_classifier: str) -> Compressor:
    return Compressor(scorer="classifier", scorer_options={"model": tiny_classifier})


def test_classifier_shapes_and_range(classifier_compressor: Compressor) -> None:
    scorer = classifier_compressor.scorer()
    assert scorer.name == "classifier"
    docs = [segment(t) for t in [*DOCS, "", "# Title\n- item one\n- item two"]]
    scores = scorer.score(QUESTION, docs)
    assert_shapes(scores, docs)
    values = [*scores.documents, *(x for u in scores.units for x in u),
              *(x for w in scores.words for x in w)]
    assert all(0.0 <= x <= 1.0 for x in values)
    assert scorer.score("", docs) == scores  # question-agnostic


def test_classifier_chunks_long_documents(classifier_compressor: Compressor) -> None:
    scorer = classifier_compressor.scorer()
    text = " ".join(f"word{i} is number {i}." for i in range(250))  # well over 512 tokens
    doc = segment(text)
    tokenizer = scorer._loaded.tokenizer
    assert len(tokenizer(text)["input_ids"]) > 512
    spans = scorer._chunks(doc)
    assert len(spans) >= 2
    assert all(len(tokenizer(text[a:b])["input_ids"]) <= 512 for a, b in spans)
    assert spans[0][0] == 0 and spans[-1][1] == len(text)
    words = scorer.score("", [doc]).words[0]
    assert len(words) == len(doc.word_starts)
    # Words in the last chunk were read by the model, not filled with the neutral value.
    assert len(set(words[-40:])) > 1


def test_classifier_in_the_compressor(classifier_compressor: Compressor) -> None:
    result = classifier_compressor.compress(contexts=DOCS, question=QUESTION, target_ratio=0.5)
    assert result.scorer == "classifier"
    assert result.stats.compressed_tokens <= result.stats.target_tokens


def test_classifier_rejects_a_bad_keep_label(tiny_classifier: str) -> None:
    from tersify import InvalidRequestError
    from tersify.scorers.classifier import ClassifierScorer

    with pytest.raises(InvalidRequestError):
        ClassifierScorer(model=tiny_classifier, keep_label=2)


def test_token_words_map_offsets_to_words() -> None:
    import torch

    from tersify.scorers.align import pool_words, token_words, unit_means

    doc = segment("Hello world. Bye now")
    # " world" carries its leading space (byte-level BPE); (0, 0) is a special token.
    words = token_words(doc, [(0, 0), (0, 5), (5, 11), (11, 12), (12, 16), (16, 20)])
    assert words.tolist() == [-1, 0, 1, 1, 2, 3]
    values = torch.tensor([9.0, 1.0, 2.0, 3.0, 4.0, math.nan])
    assert pool_words(doc, words, values, mean=False) == [1.0, 5.0, 4.0, 10 / 3]
    assert unit_means(doc, [1.0, 5.0, 4.0, 2.0]) == [3.0, 3.0]
