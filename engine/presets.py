"""Presets: a scorer, its options and the ``tersify`` policy's tuning, chosen by the benchmark.

=============  ==============================================================================
``fast``       ``lexical`` scorer (BM25 + IDF), no torch; milliseconds per request
``balanced``   ``embedding`` scorer (int8 MiniLM, ONNX Runtime) on documents, BM25 on sentences
``accurate``   ``embedding`` scorer on documents and sentences fused with BM25
=============  ==============================================================================

Documents are ranked by the learned fusion (:mod:`tersify.scorers.fusion`) in every preset.
The knobs were chosen by ``python benchmarks/tune.py`` on training and tuning splits of every
kind of data (single-hop, multi-hop, Chinese search results), never on the benchmark's
questions: ``benchmarks/results/tuning.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from tersify.errors import InvalidRequestError
from tersify.policies import Tuning

__all__ = ["Preset", "available_presets", "get_preset"]


@dataclass(frozen=True, kw_only=True)
class Preset:
    """A named configuration of the engine."""

    name: str
    scorer: str
    scorer_options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    tuning: Tuning = Tuning()


_PRESETS = {
    p.name: p
    for p in (
        Preset(name="fast", scorer="lexical", tuning=Tuning(doc_weight=0.5)),
        Preset(name="balanced", scorer="embedding",
               scorer_options=MappingProxyType({"unit_mode": "lexical", "lexical_weight": 0.3}),
               tuning=Tuning(doc_weight=0.75)),
        Preset(name="accurate", scorer="embedding",
               scorer_options=MappingProxyType({"unit_mode": "embedding", "lexical_weight": 1.0}),
               tuning=Tuning(doc_weight=0.7)),
    )
}


def available_presets() -> tuple[str, ...]:
    """Names accepted by :func:`get_preset`."""
    return tuple(_PRESETS)


def get_preset(name: str) -> Preset:
    """The preset registered under exactly ``name``.

    Raises:
        InvalidRequestError: ``name`` is not registered.
    """
    try:
        return _PRESETS[name]
    except KeyError:
        raise InvalidRequestError(
            f"unknown preset {name!r}; valid choices: {', '.join(available_presets())}"
        ) from None
