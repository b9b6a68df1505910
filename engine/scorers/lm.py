"""The ``lm`` scorer: causal-LM self-information and question contrast (LLMLingua family).

After LLMLingua (Jiang et al. 2023, arXiv 2310.05736) and LongLLMLingua (Jiang et al. 2023,
arXiv 2310.06839), with a small causal LM (the packaged SmolLM2-135M by default):

* word importance: without a question, the self-information ``-log p(token | preceding text)``
  of the word's tokens, summed; with a question, LongLLMLingua's contrast (``condition_compare``)
  ``loss(token | document) - loss(token | question, document)``, summed: how much knowing the
  question makes the word predictable, so question-related words score high;
* document relevance: LongLLMLingua's coarse ranking, the negative mean loss of the question
  followed by "We can get the answer to this question in the given documents." read after the
  document (0 for every document without a question);
* unit relevance: the mean importance of the unit's words.

Each document is read twice, ``document + question`` (self-information and relevance) and
``question + document`` (conditioned loss): one padded set of sequences, run in mini-batches of
``batch_size``. Tokens are mapped to words through the tokenizer's offsets by the helpers of
:mod:`tersify.scorers.align`, shared with the ``classifier`` scorer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from tersify._optional import require
from tersify.errors import InvalidRequestError
from tersify.models import DEFAULT_LM, load_causal_lm
from tersify.scorers import Scores
from tersify.scorers.align import pool_words, token_words, unit_means
from tersify.segment import Segmented

__all__ = ["LMScorer"]

RANK_SUFFIX = " We can get the answer to this question in the given documents."
_SEPARATOR = "\n\n"
_IGNORE = -100  # cross_entropy's ignore_index


class LMScorer:
    """Causal-LM scorer (the ``lm`` entry of the registry).

    Args:
        model: Causal LM name or path; the packaged SmolLM2-135M by default.
        max_doc_tokens: Model tokens read per document (and per question); words past the
            cut get a neutral score (their document's mean).
        batch_size: Sequences per forward pass. Small batches are faster on a CPU: the
            logits (tokens x vocabulary floats) of a large batch outgrow the caches (on nq20,
            4 took 14 s, 8 took 18 s, 20 took 25 s per question on 2 cores).

    Raises:
        InvalidRequestError: ``max_doc_tokens`` or ``batch_size`` is below 1.
    """

    name = "lm"

    def __init__(self, *, model: str = DEFAULT_LM, max_doc_tokens: int = 512,
                 batch_size: int = 4) -> None:
        if max_doc_tokens < 1 or batch_size < 1:
            raise InvalidRequestError("max_doc_tokens and batch_size must be at least 1")
        self._torch = require("torch", extra="models")
        self._loaded = load_causal_lm(model)
        self.model_name = model
        self.max_doc_tokens = max_doc_tokens
        self.batch_size = batch_size
        tokenizer = self._loaded.tokenizer
        # A start token gives the first real token a context, hence a loss; models without a
        # BOS token fall back to EOS (the document separator of most pre-training corpora).
        start = next((t for t in (tokenizer.bos_token_id, tokenizer.eos_token_id)
                      if t is not None), None)
        self._start: list[int] = [] if start is None else [int(start)]
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else start
        self._pad = int(pad or 0)  # masked out: any valid id will do
        self._separator = self._ids(_SEPARATOR)
        self._suffix = self._ids(RANK_SUFFIX)

    def score(self, question: str, documents: Sequence[Segmented]) -> Scores:
        """Score documents, units and words (see the module docstring)."""
        if not documents:
            return Scores(documents=[], units=[], words=[])
        encoded = self._encode([d.text for d in documents])
        if question.strip():
            token_scores, doc_scores = self._contrast(question, [ids for ids, _ in encoded])
        else:
            token_scores = self._self_information([ids for ids, _ in encoded])
            doc_scores = [0.0] * len(documents)
        words = [pool_words(doc, token_words(doc, offsets), values, mean=False)
                 for doc, (_, offsets), values in zip(documents, encoded, token_scores)]
        units = [unit_means(doc, w) for doc, w in zip(documents, words)]
        return Scores(documents=doc_scores, units=units, words=words)

    def _self_information(self, docs: list[list[int]]) -> list[Any]:
        skip = len(self._start)
        return [loss[skip:] for loss in self._token_losses([self._start + ids for ids in docs])]

    def _contrast(self, question: str, docs: list[list[int]]) -> tuple[list[Any], list[float]]:
        """Per-token contrast for each document and each document's coarse-rank score."""
        asked = self._ids(question)[: self.max_doc_tokens]
        ranked = asked + self._suffix
        plain_seqs = [self._start + ids + self._separator + ranked for ids in docs]
        cond_seqs = [self._start + asked + self._separator + ids for ids in docs]
        losses = self._token_losses(plain_seqs + cond_seqs)
        skip, n = len(self._start), len(docs)
        tokens, relevance = [], []
        for ids, plain, cond in zip(docs, losses[:n], losses[n:]):
            k = len(ids)
            tokens.append(plain[skip : skip + k] - cond[len(cond) - k :])
            relevance.append(-float(plain[len(plain) - len(ranked) :].mean()))
        return tokens, relevance

    def _ids(self, text: str) -> list[int]:
        ids: list[int] = self._loaded.tokenizer(text, add_special_tokens=False)["input_ids"]
        return ids

    def _encode(self, texts: list[str]) -> list[tuple[list[int], list[tuple[int, int]]]]:
        """Token ids and character offsets of each text, cut to ``max_doc_tokens``."""
        enc = self._loaded.tokenizer(texts, add_special_tokens=False,
                                     return_offsets_mapping=True)
        cut = self.max_doc_tokens
        return [(list(ids[:cut]), [tuple(o) for o in offsets[:cut]])
                for ids, offsets in zip(enc["input_ids"], enc["offset_mapping"])]

    def _token_losses(self, sequences: list[list[int]]) -> list[Any]:
        """``-log p(token_i | tokens_<i)`` per token of each sequence; NaN at position 0."""
        torch = self._torch
        out = [torch.full((len(s),), math.nan) for s in sequences]
        # Similar lengths share a mini-batch, so little is spent on padding.
        order = sorted((i for i, s in enumerate(sequences) if len(s) > 1),
                       key=lambda i: len(sequences[i]))
        with torch.inference_mode():
            for first in range(0, len(order), self.batch_size):
                rows = order[first : first + self.batch_size]
                batch = [sequences[i] for i in rows]
                for i, loss in zip(rows, self._batch_losses(batch)):
                    out[i] = loss
        return out

    def _batch_losses(self, batch: list[list[int]]) -> list[Any]:
        torch = self._torch
        width = max(len(s) for s in batch)
        ids = torch.full((len(batch), width), self._pad, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for row, seq in enumerate(batch):
            ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
            mask[row, : len(seq)] = 1
        # Right padding keeps the default positions of real tokens correct.
        logits = self._loaded.model(input_ids=ids, attention_mask=mask, use_cache=False).logits
        targets = torch.full_like(ids, _IGNORE)
        targets[:, :-1] = ids[:, 1:].masked_fill(mask[:, 1:] == 0, _IGNORE)
        loss = torch.nn.functional.cross_entropy(
            logits.flatten(0, 1).float(), targets.flatten(), reduction="none",
            ignore_index=_IGNORE).view(len(batch), width)
        nan = torch.full((1,), math.nan)
        return [torch.cat([nan, loss[row, : len(seq) - 1]]) for row, seq in enumerate(batch)]
