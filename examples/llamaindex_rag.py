"""LlamaIndex RAG with tersify, offline: a vector index, a query engine, a compressed prompt.

    python examples/llamaindex_rag.py

Needs ``pip install 'tersify[llamaindex,onnx]'`` (the README's commands install everything).
Embeddings come from the packaged MiniLM; the LLM is a stand-in that records its prompt
(llamaindex_models.RecordingLLM), so nothing is downloaded and no API key is needed.
"""

from __future__ import annotations

import json
from pathlib import Path

from llama_index.core import VectorStoreIndex
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.schema import TextNode
from llamaindex_models import MiniLMEmbedding, RecordingLLM

import tersify
from tersify.integrations.llamaindex import TersifyPostprocessor

CORPUS = json.loads((Path(__file__).parent / "data" / "corpus.json").read_text("utf-8"))


def main() -> None:
    nodes = [TextNode(text=d["text"], id_=d["id"],
                      metadata={"title": d["title"], "source": d["source"]})
             for d in CORPUS["documents"]]
    index = VectorStoreIndex(nodes, embed_model=MiniLMEmbedding())
    llm = RecordingLLM()
    retriever = index.as_retriever(similarity_top_k=6)
    engine = RetrieverQueryEngine.from_args(
        retriever, llm=llm,
        node_postprocessors=[TersifyPostprocessor(preset="fast", target_ratio=0.3)])
    question = CORPUS["question"]
    counter = tersify.get_token_counter("cl100k_base")
    retrieved = retriever.retrieve(question)
    before = sum(counter.count(n.node.get_content()) for n in retrieved)
    response = engine.query(question)
    kept = response.source_nodes
    after = sum(n.node.metadata["tersify"]["compressed_tokens"] for n in kept)
    print(f"retrieved {len(retrieved)} nodes, {before} tokens; kept {len(kept)}, {after} tokens "
          f"({before - after} saved, {before / max(after, 1):.1f}x smaller); the whole prompt "
          f"is {counter.count(llm.prompts[-1])} tokens")
    print("\nprompt the LLM received:\n")
    print(llm.prompts[-1])
    print(f"\nanswer: {response}")


if __name__ == "__main__":
    main()
