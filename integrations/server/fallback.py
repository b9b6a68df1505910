"""Graceful fallback: a request whose model scorer fails is served by the lexical scorer.

A model scorer (``embedding``, ``lm``, ``classifier``) can fail at run time where the lexical
one cannot: its extra is missing, its weights do not load, it crashes inside (out of memory, a
bug). The request is then compressed again with ``scorer="lexical"`` and the result says so:
its ``scorer`` is ``lexical``, the routes add ``X-Tersify-Fallback: embedding->lexical`` (and
SuperCompress's ``policy_name`` is ``H2O-fallback``), and ``/metrics`` counts it. A request
that fails with the lexical scorer too gets that failure, which was not the model's (a bad
pattern is still a 400). Other scorers, lexical and any instance an operator built, fail as
they fail: there is nothing lighter to fall back on.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from tersify.compressor import Compressor
from tersify.errors import TersifyError
from tersify.integrations.server.settings import SettingsError
from tersify.policies import get_policy
from tersify.scorers import available_scorers
from tersify.types import CompressionRequest, CompressionResult

__all__ = ["FALLBACK_SCORER", "MODEL_SCORERS", "Outcome", "compress_each", "fallback_of",
           "intended_scorer", "warm_up"]

FALLBACK_SCORER = "lexical"
MODEL_SCORERS = frozenset(available_scorers()) - {FALLBACK_SCORER}
# What the engine compresses at start, so that its scorer (and model) is built before the
# server says it is ready.
WARM_UP = CompressionRequest(contexts=["The engine warms up: it builds its scorer once."],
                             question="What does the engine build?", target_ratio=0.5)


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """One request's share of an engine call: a result, or the error to answer with.

    ``failed_scorer`` names the model scorer that failed when the result is the fallback's,
    and ``reason`` says how (one line, for the server's log).
    """

    result: CompressionResult | None = None
    error: BaseException | None = None
    failed_scorer: str | None = None
    reason: str = ""


def intended_scorer(request: CompressionRequest, default: str) -> str | None:
    """The scorer ``request`` asks for (``default`` when it names none); None for a policy
    that uses no scorer or a policy the engine does not know."""
    try:
        uses = get_policy(request.policy).uses_scorer
    except TersifyError:
        return None
    return (request.scorer or default) if uses else None


def fallback_of(request: CompressionRequest, result: CompressionResult,
                default: str) -> str | None:
    """``"embedding->lexical"`` when ``result`` is the fallback's, else None: a model scorer
    reports its own name, so ``lexical`` in its place means the model failed."""
    wanted = intended_scorer(request, default)
    if wanted in MODEL_SCORERS and result.scorer == FALLBACK_SCORER:
        return f"{wanted}->{FALLBACK_SCORER}"
    return None


def compress_each(compressor: Compressor, requests: list[CompressionRequest]) -> list[Outcome]:
    """Each request's outcome: one failing request never fails its neighbours. The requests
    share their scorer's model passes (``Compressor.compress_together``)."""
    together = compressor.compress_together(requests)
    return [Outcome(result=r) if isinstance(r, CompressionResult) else
            _fall_back(compressor, request, r)
            for request, r in zip(requests, together, strict=True)]


def _fall_back(compressor: Compressor, request: CompressionRequest,
               failed: Exception) -> Outcome:
    wanted = intended_scorer(request, compressor.default_scorer)
    if wanted not in MODEL_SCORERS:
        return Outcome(error=failed)
    try:
        result = compressor.compress(replace(request, scorer=FALLBACK_SCORER))
    except Exception as exc:
        return Outcome(error=exc)
    reason = f"{type(failed).__name__}: {str(failed).strip()[:300]}".splitlines()[0]
    return Outcome(result=result, failed_scorer=wanted, reason=reason)


def warm_up(compressor: Compressor, scorers: Sequence[str] = ()) -> float:
    """Build ``scorers`` (the ones requests may name) and run one small compression with the
    default one, without fallback: an engine that cannot serve this cannot serve anything.
    The seconds it took.

    Raises:
        SettingsError: A scorer cannot be built here (e.g. its extra is missing), naming it.
        Exception: Whatever else building or running a scorer raised.
    """
    started = time.perf_counter()
    for name in scorers:
        try:
            compressor.scorer(name)
        except TersifyError as exc:  # the operator's choice cannot run: say which, in a line
            raise SettingsError(f"allowed scorer {name!r} cannot run here: {exc}") from None
    compressor.compress(WARM_UP)
    return time.perf_counter() - started
