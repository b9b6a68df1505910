"""The engine: ``Compressor.compress(request) -> CompressionResult``.

segment -> score -> plan (policy) -> select (estimated costs) -> fit (exact count) -> assemble.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from tersify import fit
from tersify.job import Job
from tersify.policies import Tuning, get_policy
from tersify.presets import get_preset
from tersify.scorers import Scorer, Scores, get_scorer
from tersify.segment import Segmented, segment
from tersify.tokens import TokenCounter, get_token_counter
from tersify.types import CompressionRequest, CompressionResult

__all__ = ["Compressor"]

Progress = Callable[[int, int], None]


class Compressor:
    """Question-aware prompt compressor.

    Args:
        preset: ``fast`` (default, no torch), ``balanced`` or ``accurate``; see
            :func:`tersify.available_presets`.
        scorer: A scorer name or instance that replaces the preset's scorer.
        scorer_options: Constructor options for a scorer given by name.
        tokenizer: Tokenizer the budget is counted in: a tiktoken encoding name
            (``cl100k_base``, ``o200k_base``), a Hugging Face tokenizer, or a TokenCounter.
        tuning: Replaces the preset's tuning of the ``tersify`` policy.
        score_cache_size: Keep the scores of this many recent document sets, so compressing
            the same documents and question again (another budget, another policy) skips the
            scorer. 0 (default) disables the cache.
        linear_patterns: Run ``force_keep_patterns`` on RE2, in time linear in the text (the
            ``re2`` extra). Set it when patterns come from callers you do not trust (the HTTP
            server does): Python's ``re``, the default, can take exponential time on a hostile
            pattern such as ``(a+)+$``, so by default patterns are trusted input.

    Example:
        >>> from tersify import Compressor
        >>> result = Compressor().compress(contexts=["Paris is in France.", "Rome is in Italy."],
        ...                                question="Where is Paris?", target_ratio=0.7)
        >>> result.stats.compressed_tokens <= result.stats.target_tokens
        True
    """

    def __init__(
        self,
        *,
        preset: str = "fast",
        scorer: str | Scorer | None = None,
        scorer_options: Mapping[str, Any] | None = None,
        tokenizer: str | TokenCounter = "cl100k_base",
        tuning: Tuning | None = None,
        score_cache_size: int = 0,
        linear_patterns: bool = False,
    ) -> None:
        chosen = get_preset(preset)
        self.preset = chosen.name
        self.tuning = tuning or chosen.tuning
        self._scorers: dict[str, Scorer] = {}
        self._options: dict[str, Mapping[str, Any]] = {chosen.scorer: chosen.scorer_options}
        if isinstance(scorer, str):
            self._options[scorer] = scorer_options or {}
        elif scorer is not None:
            self._scorers[scorer.name] = scorer
        self.default_scorer = scorer if isinstance(scorer, str) else (
            scorer.name if scorer is not None else chosen.scorer)
        self.tokens = get_token_counter(tokenizer) if isinstance(tokenizer, str) else tokenizer
        self._cache = ScoreCache(score_cache_size)
        self.linear_patterns = linear_patterns

    def scorer(self, name: str | None = None) -> Scorer:
        """The scorer instance for ``name`` (default: this compressor's), built once."""
        key = name or self.default_scorer
        if key not in self._scorers:
            self._scorers[key] = get_scorer(key, **self._options.get(key, {}))
        return self._scorers[key]

    def compress(
        self, request: CompressionRequest | None = None, /, **fields: Any
    ) -> CompressionResult:
        """Compress one request, given as a :class:`CompressionRequest` or its fields.

        Raises:
            InvalidRequestError: The request is invalid (bad field, range or combination).
        """
        started = time.perf_counter()
        if request is not None and fields:
            raise TypeError("pass a CompressionRequest or keyword fields, not both")
        req = request if request is not None else CompressionRequest(**fields)
        policy = get_policy(req.policy)
        docs = [segment(d.text) for d in req.documents]
        job = Job.build(req, docs, self.tokens, linear_patterns=self.linear_patterns)
        scorer_name = None
        scores: Scores | None = None
        if policy.uses_scorer:
            scorer = self.scorer(req.scorer)
            scorer_name = scorer.name
            question = req.question if policy.question_aware else ""
            scores = self._cache.get_or_score(scorer, question, docs)
        keep = min(1.0, job.context_budget_estimate() / max(1, sum(job.costs)))
        plan = policy.plan(docs, scores, self.tuning, keep)
        kept, compressed_tokens = fit.run(job, plan)
        return job.result(plan, kept, compressed_tokens, policy=policy.name, scorer=scorer_name,
                          started=started)

    def compress_many(
        self, requests: Iterable[CompressionRequest], *, progress: Progress | None = None
    ) -> list[CompressionResult]:
        """Compress several requests in order; ``progress(done, total)`` after each."""
        todo = list(requests)
        results = []
        for i, req in enumerate(todo):
            results.append(self.compress(req))
            if progress is not None:
                progress(i + 1, len(todo))
        return results

    def __repr__(self) -> str:
        return (f"Compressor(preset={self.preset!r}, scorer={self.default_scorer!r}, "
                f"tokenizer={self.tokens.name!r})")


class ScoreCache:
    """A small thread-safe LRU of scores by (scorer, question, document texts)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, str, tuple[str, ...]], Scores] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_score(self, scorer: Scorer, question: str, docs: list[Segmented]) -> Scores:
        """Cached scores, or the scorer's (then cached)."""
        if self.size <= 0:
            return scorer.score(question, docs)
        key = (scorer.name, question, tuple(d.text for d in docs))
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        scores = scorer.score(question, docs)
        with self._lock:
            self._items[key] = scores
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return scores
