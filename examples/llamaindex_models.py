"""Offline stand-ins for the LlamaIndex example: the packaged MiniLM as an embedding model, and
a tiny LLM that records its prompt. The LLM answers with the sentence of its prompt that shares
the most words with the query (the prompt's last ``Query:`` line), and keeps every prompt it
received so a caller can print it.
"""

from __future__ import annotations

import re
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.llms import (
    CompletionResponse,
    CompletionResponseGen,
    CustomLLM,
    LLMMetadata,
)
from minilm import embed


class MiniLMEmbedding(BaseEmbedding):
    """LlamaIndex embeddings from the packaged all-MiniLM-L6-v2."""

    def _get_query_embedding(self, query: str) -> list[float]:
        return embed([query])[0]

    def _get_text_embedding(self, text: str) -> list[float]:
        return embed([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return embed(texts)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) > 3}


class RecordingLLM(CustomLLM):
    """Answers from its context without a model; ``prompts`` holds every prompt it got."""

    _prompts: list[str] = PrivateAttr(default_factory=list)

    @property
    def prompts(self) -> list[str]:
        return self._prompts

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name="recording-llm")

    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        self._prompts.append(prompt)
        context, _, query = prompt.rpartition("Query:")
        wanted = _words(query.split("\n", 1)[0])
        sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n+", context) if s.strip()]
        best = max(sentences, key=lambda s: len(_words(s) & wanted), default="")
        return CompletionResponse(text=best if _words(best) & wanted else "I do not know.")

    def stream_complete(self, prompt: str, formatted: bool = False,
                        **kwargs: Any) -> CompletionResponseGen:
        response = self.complete(prompt)

        def gen() -> CompletionResponseGen:
            yield response

        return gen()
