"""The packaged MiniLM as a plain embedding function, shared by the RAG examples' offline
stand-ins (``langchain_models.py``, ``llamaindex_models.py``), so each example needs only its own
framework. It wraps tersify's own encoder, so the examples retrieve with a real model and
download nothing."""

from __future__ import annotations

from tersify.scorers.embedding import EmbeddingScorer

_ENCODER: list[EmbeddingScorer] = []


def embed(texts: list[str]) -> list[list[float]]:
    """One L2-normalised all-MiniLM-L6-v2 vector per text."""
    if not _ENCODER:
        _ENCODER.append(EmbeddingScorer())
    return [[float(x) for x in row] for row in _ENCODER[0].embed(texts)]
