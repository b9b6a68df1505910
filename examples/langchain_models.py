"""LangChain embeddings from the packaged all-MiniLM-L6-v2, for the LangChain example."""

from __future__ import annotations

from langchain_core.embeddings import Embeddings
from minilm import embed


class MiniLMEmbeddings(Embeddings):
    """LangChain embeddings from the packaged all-MiniLM-L6-v2."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return embed(texts)

    def embed_query(self, text: str) -> list[float]:
        return embed([text])[0]
