"""The engine: ``Compressor.compress(request) -> CompressionResult``.

segment -> score -> plan (policy) -> select (estimated costs) -> fit (exact count) -> assemble.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tersify import fit
from tersify.job import Job
from tersify.policies import Policy, Tuning, get_policy
from tersify.presets import get_preset
from tersify.scorers import Scorer, Scores, get_scorer, score_many
from tersify.segment import Segmented, segment
from tersify.tokens import TokenCounter, get_token_counter
from tersify.types import CompressionRequest, CompressionResult, DocumentKind

__all__ = ["Compressor"]

Progress = Callable[[int, int], None]
# Document.kind -> segment(code=): cut as code, as text, or as the text's lines say.
_KIND_CODE: dict[DocumentKind, bool | None] = {"auto": None, "text": False, "code": True}


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
        pending = self._prepare(request if request is not None else CompressionRequest(**fields))
        scores = (self._cache.get_or_score(pending.scorer, pending.question, pending.docs)
                  if pending.scorer is not None else None)
        return self._finish(pending, scores, started)

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

    def compress_together(
        self, requests: Sequence[CompressionRequest]
    ) -> list[CompressionResult | Exception]:
        """Compress requests that arrived together: each one's result, or what it raised.

        Requests with the same scorer are scored in one call (a model scorer embeds each of
        their distinct texts once, see ``score_many``); one failing request never fails
        its neighbours: when the shared call raises, each is scored on its own.
        """
        started = time.perf_counter()
        pending: list[_Pending | Exception] = []
        for req in requests:
            try:
                pending.append(self._prepare(req))
            except Exception as exc:  # noqa: BLE001 - handed back to this request's caller
                pending.append(exc)
        scores = self._score_together([p for p in pending if isinstance(p, _Pending)])
        out: list[CompressionResult | Exception] = []
        for p in pending:
            try:
                out.append(p if isinstance(p, Exception) else
                           self._finish(p, scores[id(p)], started))
            except Exception as exc:  # noqa: BLE001 - handed back to this request's caller
                out.append(exc)
        return out

    def _prepare(self, req: CompressionRequest) -> _Pending:
        policy = get_policy(req.policy)
        docs = [segment(d.text, code=_KIND_CODE[d.kind]) for d in req.documents]
        job = Job.build(req, docs, self.tokens, linear_patterns=self.linear_patterns)
        scorer = self.scorer(req.scorer) if policy.uses_scorer else None
        question = req.question if policy.question_aware else ""
        return _Pending(policy=policy, docs=docs, job=job, scorer=scorer, question=question)

    def _score_together(self, pending: list[_Pending]) -> dict[int, Scores | Exception | None]:
        scores: dict[int, Scores | Exception | None] = {id(p): None for p in pending}
        groups: dict[str, list[_Pending]] = {}
        for p in pending:
            if p.scorer is not None:
                groups.setdefault(p.scorer.name, []).append(p)
        for group in groups.values():
            scorer = group[0].scorer
            assert scorer is not None
            items = [(p.question, p.docs) for p in group]
            try:
                found: list[Scores | Exception] = list(self._cache.get_or_score_many(scorer, items))
            except Exception:  # noqa: BLE001 - scored one by one below, errors kept apart
                found = [_score_alone(self._cache, scorer, item) for item in items]
            scores.update((id(p), s) for p, s in zip(group, found, strict=True))
        return scores

    def _finish(self, pending: _Pending, scores: Scores | Exception | None,
                started: float) -> CompressionResult:
        if isinstance(scores, Exception):
            raise scores
        job, policy = pending.job, pending.policy
        if scores is not None and scores.evidence is not None:
            job = job.read_auto_budget(scores.evidence, self.tuning.auto_mass)
        keep = min(1.0, job.context_budget_estimate() / max(1, sum(job.costs)))
        plan = policy.plan(pending.docs, scores, self.tuning, keep)
        kept, compressed_tokens = fit.run(job, plan)
        return job.result(plan, kept, compressed_tokens, policy=policy.name,
                          scorer=pending.scorer.name if pending.scorer else None, started=started)

    def __repr__(self) -> str:
        return (f"Compressor(preset={self.preset!r}, scorer={self.default_scorer!r}, "
                f"tokenizer={self.tokens.name!r})")


@dataclass(frozen=True, kw_only=True)
class _Pending:
    """A request segmented and costed, its scorer chosen, waiting for its scores."""

    policy: Policy
    docs: list[Segmented]
    job: Job
    scorer: Scorer | None
    question: str


def _score_alone(cache: ScoreCache, scorer: Scorer,
                 item: tuple[str, list[Segmented]]) -> Scores | Exception:
    try:
        return cache.get_or_score(scorer, *item)
    except Exception as exc:  # noqa: BLE001 - handed back to this request's caller
        return exc


class ScoreCache:
    """A small thread-safe LRU of scores by (scorer, question, document texts)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, str, tuple[str, ...]], Scores] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_score(self, scorer: Scorer, question: str, docs: list[Segmented]) -> Scores:
        """Cached scores, or the scorer's (then cached)."""
        return self.get_or_score_many(scorer, [(question, docs)])[0]

    def get_or_score_many(self, scorer: Scorer,
                          items: Sequence[tuple[str, list[Segmented]]]) -> list[Scores]:
        """Scores for each (question, documents) pair: the cached ones, the rest in one call."""
        if self.size <= 0:
            return score_many(scorer, items)
        keys = [(scorer.name, q, tuple(d.text for d in docs)) for q, docs in items]
        found: dict[int, Scores] = {}
        with self._lock:
            for i, key in enumerate(keys):
                if key in self._items:
                    self._items.move_to_end(key)
                    found[i] = self._items[key]
        missing = [i for i in range(len(items)) if i not in found]
        found.update(zip(missing, score_many(scorer, [items[i] for i in missing]), strict=True))
        with self._lock:
            for i in missing:
                self._items[keys[i]] = found[i]
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return [found[i] for i in range(len(items))]
