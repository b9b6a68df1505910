"""The ``embedding`` scorer: dense similarity to the question, fused with BM25.

Documents (and, with ``unit_mode="embedding"``, units) are embedded with a sentence encoder
(all-MiniLM-L6-v2 by default: mean pooling, L2 normalisation, as in Reimers & Gurevych 2019)
and scored by cosine similarity to the question. Dense and BM25 scores are fused as standard
scores, since each misses what the other catches (names and numbers for dense, paraphrase for
BM25). Word importances are the lexical scorer's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from tersify._checks import require_choice
from tersify.encoders import Runtime, build_encoder
from tersify.models import DEFAULT_EMBEDDING
from tersify.normalize import zscores
from tersify.scorers import Scores
from tersify.scorers.fusion import Evidence, features, load_model, probabilities
from tersify.scorers.lexical import LexicalScorer
from tersify.segment import Segmented

__all__ = ["EmbeddingScorer"]

# Rows of the shared embedding matrix: the question's (one), the documents', the units'.
_Rows = tuple[list[int], list[int], list[int]]


class EmbeddingScorer:
    """Sentence-encoder relevance fused with BM25 (the ``embedding`` entry of the registry).

    Args:
        model: Encoder name or path; the packaged MiniLM by default.
        runtime: ``onnx`` runs the packaged int8 MiniLM on ONNX Runtime (no torch; the ``onnx``
            extra); ``torch`` runs any Hugging Face encoder in fp32 (the ``models`` extra).
        unit_mode: ``embedding`` embeds every unit; ``lexical`` scores units with BM25 only
            (faster: one encoder pass over the documents).
        lexical_weight: Weight of the BM25 standard score added to the dense one.
        max_length: Encoder tokens per text (longer texts are truncated).
        batch_size: Texts per forward pass (None: the runtime's fastest, see ``encoders``).
        fusion: ``learned`` ranks documents by the packaged logistic model over the dense,
            BM25, title, bridge, position and length signals (:mod:`tersify.scorers.fusion`);
            ``linear`` by dense plus ``lexical_weight`` times BM25 (as standard scores).
        document_vectors: ``encode`` embeds each whole document; ``units`` (with
            ``unit_mode="embedding"``) pools its units' vectors instead: half the encoder's
            work, at a cost in answer recall (200 musique20 questions at ratio 0.25: 0.545
            against 0.59; nq20 unchanged), so no preset uses it.
    """

    name = "embedding"

    def __init__(self, *, model: str = DEFAULT_EMBEDDING, runtime: Runtime = "onnx",
                 unit_mode: Literal["embedding", "lexical"] = "embedding",
                 lexical_weight: float = 0.5, max_length: int = 256, batch_size: int | None = None,
                 document_vectors: Literal["encode", "units"] = "encode",
                 fusion: Literal["learned", "linear"] = "learned") -> None:
        require_choice("fusion", fusion, ("learned", "linear"))
        self._encoder = build_encoder(model, runtime, max_length=max_length,
                                      batch_size=batch_size)
        self.model_name, self.runtime = model, runtime
        self.unit_mode = unit_mode
        self.document_vectors = document_vectors
        self.lexical_weight = lexical_weight
        self.fusion = fusion
        self._lexical = LexicalScorer(fusion="bm25")

    def embed(self, texts: Sequence[str]) -> Any:
        """L2-normalised mean-pooled embeddings, one row per text (a float32 numpy array)."""
        return self._encoder.embed(texts)

    def score(self, question: str, documents: Sequence[Segmented]) -> Scores:
        """Dense + BM25 scores for documents and units; lexical word importances."""
        return self.score_many([(question, documents)])[0]

    def score_many(self, items: Sequence[tuple[str, Sequence[Segmented]]]) -> list[Scores]:
        """:meth:`score` for several (question, documents) pairs in one encoder call: the
        distinct texts of all of them are embedded once (a document retrieved for several
        requests, or a repeated question, costs one pass), in the encoder's batches."""
        rows: dict[str, int] = {}
        plans: list[_Rows | None] = []
        for question, documents in items:
            if not question.strip() or not documents:
                plans.append(None)
                continue
            units = ([d.unit_text(u) for d in documents for u in d.units]
                     if self.unit_mode == "embedding" else [])
            pooled = bool(units) and self.document_vectors == "units"
            whole = [] if pooled else [d.text for d in documents]
            question_row, doc_rows, unit_rows = ([rows.setdefault(t, len(rows)) for t in texts]
                                                 for texts in ([question], whole, units))
            plans.append((question_row, doc_rows, unit_rows))
        vectors = self.embed(list(rows))
        out = []
        for (question, documents), plan in zip(items, plans, strict=True):
            lexical, evidence = self._lexical.evidence(question, documents)
            out.append(lexical if plan is None else
                       self._dense(lexical, evidence, documents, vectors, plan))
        return out

    def _dense(self, lexical: Scores, evidence: Evidence, documents: Sequence[Segmented],
               vectors: Any, plan: _Rows) -> Scores:
        question_row, doc_rows, unit_rows = plan
        # Rounded: float32 sums change in their last bits with the runtime's thread count and
        # batch shapes, and standard scores would blow that noise up between near-identical texts.
        similarity = (vectors @ vectors[question_row[0]]).round(4)
        dense = ([float(similarity[r]) for r in doc_rows] if doc_rows else
                 _pooled_similarities(vectors, unit_rows, documents, vectors[question_row[0]]))
        learned = self.fusion == "learned"
        docs = (load_model("dense").logits(features(evidence, dense)) if learned
                else self._fuse(dense, lexical.documents))
        flat_lex = [s for per_doc in lexical.units for s in per_doc]
        flat = (self._fuse([float(similarity[r]) for r in unit_rows], flat_lex)
                if unit_rows else flat_lex)
        units, start = [], 0
        for d in documents:
            units.append(flat[start : start + len(d.units)])
            start += len(d.units)
        return Scores(documents=docs, units=units, words=lexical.words,
                      evidence=probabilities(docs) if learned else None)

    def _fuse(self, dense: list[float], lexical: Sequence[float]) -> list[float]:
        w = self.lexical_weight
        return [a + w * b for a, b in zip(zscores(dense), zscores(lexical))]


def _pooled_similarities(vectors: Any, unit_rows: list[int], documents: Sequence[Segmented],
                         question: Any) -> list[float]:
    """Each document's similarity as the mean of its units' vectors (no pass of its own)."""
    out, start = [], 0
    for d in documents:
        pooled = vectors[unit_rows[start : start + len(d.units)]].sum(0)
        start += len(d.units)
        norm = float((pooled @ pooled) ** 0.5)
        out.append(round(float(pooled @ question) / norm, 4) if norm > 0 else 0.0)
    return out
