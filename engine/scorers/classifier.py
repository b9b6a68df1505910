"""The ``classifier`` scorer: token keep-probabilities of a token-classification model.

After LLMLingua-2 (Pan et al. 2024, arXiv 2403.12968): an encoder trained to label each token
keep or drop reads the text, and a token's keep-probability is the softmax over the labels at
the keep label. Any Hugging Face ``AutoModelForTokenClassification`` works, by name or path.

* word importance: the mean keep-probability of the word's tokens;
* unit relevance: the mean importance of the unit's words;
* document relevance: the mean importance of the document's words.

Like LLMLingua-2 it is question-agnostic: the question is ignored. Texts longer than the model's
window are cut at word boundaries into chunks of at most ``max_length`` model tokens, and all
chunks of a document set run in padded batches of ``batch_size``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tersify._optional import require
from tersify.errors import InvalidRequestError
from tersify.models import load_token_classifier
from tersify.scorers import Scores
from tersify.scorers.align import pool_words, token_words, unit_means
from tersify.segment import Segmented

__all__ = ["ClassifierScorer"]


class ClassifierScorer:
    """Token-classification scorer (the ``classifier`` entry of the registry).

    Args:
        model: Token-classification model name or path, e.g.
            ``microsoft/llmlingua-2-xlm-roberta-large-meetingbank``.
        keep_label: Index of the "keep" label among the model's outputs.
        max_length: Model tokens per chunk, special tokens included.
        batch_size: Chunks per forward pass.

    Raises:
        InvalidRequestError: ``keep_label`` is not one of the model's labels, or
            ``max_length`` leaves no room for text.
    """

    name = "classifier"

    def __init__(self, *, model: str, keep_label: int = 1, max_length: int = 512,
                 batch_size: int = 16) -> None:
        self._torch = require("torch", extra="models")
        self._loaded = load_token_classifier(model)
        labels = int(self._loaded.model.config.num_labels)
        if not 0 <= keep_label < labels:
            raise InvalidRequestError(f"keep_label {keep_label} is not in 0..{labels - 1}")
        self._room = max_length - int(self._loaded.tokenizer.num_special_tokens_to_add())
        if self._room < 1 or batch_size < 1:
            raise InvalidRequestError("max_length leaves no room for text, or batch_size < 1")
        self.model_name = model
        self.keep_label = keep_label
        self.max_length = max_length
        self.batch_size = batch_size

    def score(self, question: str, documents: Sequence[Segmented]) -> Scores:
        """Score words by keep-probability, units and documents by mean (question ignored)."""
        chunks = [(d, span) for d, doc in enumerate(documents) for span in self._chunks(doc)]
        per_doc: list[list[tuple[Any, Any]]] = [[] for _ in documents]
        for (d, _), (offsets, probs) in zip(chunks, self._keep_probabilities(documents, chunks)):
            per_doc[d].append((token_words(documents[d], offsets), probs))
        torch = self._torch
        words = []
        for doc, parts in zip(documents, per_doc):
            index = torch.cat([w for w, _ in parts]) if parts else torch.zeros(0, dtype=torch.long)
            values = torch.cat([p for _, p in parts]) if parts else torch.zeros(0)
            words.append(pool_words(doc, index, values, mean=True))
        units = [unit_means(doc, w) for doc, w in zip(documents, words)]
        docs = [sum(w) / len(w) if w else 0.0 for w in words]
        return Scores(documents=docs, units=units, words=words)

    def _chunks(self, doc: Segmented) -> list[tuple[int, int]]:
        """Character spans of runs of whole words of at most ``self._room`` model tokens."""
        n = len(doc.word_starts)
        if not n:
            return []
        torch = self._torch
        offsets = self._loaded.tokenizer(doc.text, add_special_tokens=False,
                                         return_offsets_mapping=True)["offset_mapping"]
        words = token_words(doc, offsets)
        reach = torch.cumsum(torch.bincount(words[words >= 0], minlength=n), 0)
        spans, first, used = [], 0, 0
        while first < n:
            # The longest run of words whose tokens fit; a single oversized word goes alone and
            # is truncated by the tokenizer (its tail then gets a neutral score).
            last = int(torch.searchsorted(reach, used + self._room, right=True))
            last = max(last, first + 1)
            spans.append((doc.word_starts[first], doc.word_ends[last - 1]))
            used, first = int(reach[last - 1]), last
        return spans

    def _keep_probabilities(self, documents: Sequence[Segmented],
                            chunks: list[tuple[int, tuple[int, int]]]) -> list[tuple[Any, Any]]:
        """Per chunk: token offsets into its document and the tokens' keep-probabilities."""
        torch = self._torch
        out = []
        with torch.inference_mode():
            for first in range(0, len(chunks), self.batch_size):
                batch = chunks[first : first + self.batch_size]
                texts = [documents[d].text[start:end] for d, (start, end) in batch]
                enc = self._loaded.tokenizer(texts, padding=True, truncation=True,
                                             max_length=self.max_length,
                                             return_offsets_mapping=True, return_tensors="pt")
                offsets = enc.pop("offset_mapping")
                logits = self._loaded.model(**enc).logits.float()
                keep = torch.softmax(logits, dim=-1)[..., self.keep_label]
                for row, (_, (start, _)) in enumerate(batch):
                    # Shift to document offsets; empty spans (special tokens) stay empty.
                    out.append((offsets[row] + start, keep[row]))
        return out
