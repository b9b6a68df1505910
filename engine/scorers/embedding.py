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

from tersify._optional import require
from tersify.models import DEFAULT_EMBEDDING, load_encoder
from tersify.normalize import zscores
from tersify.scorers import Scores
from tersify.scorers.lexical import LexicalScorer
from tersify.segment import Segmented

__all__ = ["EmbeddingScorer"]


class EmbeddingScorer:
    """Sentence-encoder relevance fused with BM25 (the ``embedding`` entry of the registry).

    Args:
        model: Encoder name or path; the packaged MiniLM by default.
        unit_mode: ``embedding`` embeds every unit; ``lexical`` scores units with BM25 only
            (faster: one encoder pass over the documents).
        lexical_weight: Weight of the BM25 standard score added to the dense one.
        max_length: Encoder tokens per text (longer texts are truncated).
        batch_size: Texts per forward pass.
    """

    name = "embedding"

    def __init__(self, *, model: str = DEFAULT_EMBEDDING,
                 unit_mode: Literal["embedding", "lexical"] = "embedding",
                 lexical_weight: float = 0.5, max_length: int = 256, batch_size: int = 16) -> None:
        self._torch = require("torch", extra="models")
        self._loaded = load_encoder(model)
        self.model_name = model
        self.unit_mode = unit_mode
        self.lexical_weight = lexical_weight
        self.max_length = max_length
        self.batch_size = batch_size
        self._lexical = LexicalScorer()

    def embed(self, texts: Sequence[str]) -> Any:
        """L2-normalised mean-pooled embeddings, one row per text."""
        torch = self._torch
        if not texts:
            return torch.zeros((0, 1))
        # Batches of similar length waste little compute on padding.
        order = sorted(range(len(texts)), key=lambda i: (len(texts[i]), i))
        rows = []
        with torch.inference_mode():
            for i in range(0, len(order), self.batch_size):
                chunk = [texts[j] for j in order[i : i + self.batch_size]]
                # Padding to a multiple of 16 bounds the number of distinct input shapes: with
                # every length its own shape, torch's per-shape CPU caches grew the process by
                # ~370 MB over 100 questions; this way it stays flat (~5% more compute).
                batch = self._loaded.tokenizer(chunk, padding=True, truncation=True,
                                               pad_to_multiple_of=16,
                                               max_length=self.max_length, return_tensors="pt")
                hidden = self._loaded.model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                rows.append(torch.nn.functional.normalize(pooled, dim=-1))
        vectors = torch.cat(rows)
        return vectors[torch.tensor(order).argsort()]

    def score(self, question: str, documents: Sequence[Segmented]) -> Scores:
        """Dense + BM25 scores for documents and units; lexical word importances."""
        lexical = self._lexical.score(question, documents)
        if not question.strip() or not documents:
            return lexical
        doc_dense = self._similarities(question, [d.text for d in documents])
        docs = self._fuse(doc_dense, lexical.documents)
        flat_lex = [s for per_doc in lexical.units for s in per_doc]
        if self.unit_mode == "embedding":
            texts = [d.unit_text(u) for d in documents for u in d.units]
            flat = self._fuse(self._similarities(question, texts), flat_lex)
        else:
            flat = flat_lex
        units, start = [], 0
        for d in documents:
            units.append(flat[start : start + len(d.units)])
            start += len(d.units)
        return Scores(documents=docs, units=units, words=lexical.words)

    def _similarities(self, question: str, texts: list[str]) -> list[float]:
        if not texts:
            return []
        vectors = self.embed([question, *texts])
        # Rounded: float32 sums change in their last bits with torch's thread count, and
        # standard scores would blow that noise up between near-identical documents.
        return [round(float(x), 4) for x in vectors[1:] @ vectors[0]]

    def _fuse(self, dense: list[float], lexical: Sequence[float]) -> list[float]:
        w = self.lexical_weight
        return [a + w * b for a, b in zip(zscores(dense), zscores(lexical))]
