"""Rescaling score lists so that scores of different scales can be compared and mixed."""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["minmax", "zscores"]


def zscores(values: Sequence[float]) -> list[float]:
    """Standard scores; all zeros when the values do not vary."""
    if not values:
        return []
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    return [(v - mean) / std if std > 1e-12 else 0.0 for v in values]


def minmax(values: Sequence[float]) -> list[float]:
    """Scale to [0, 1]; all ones when the values do not vary."""
    lo, hi = (min(values), max(values)) if values else (0.0, 0.0)
    return [(v - lo) / (hi - lo) if hi > lo else 1.0 for v in values]
