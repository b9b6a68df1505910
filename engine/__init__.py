"""tersify: question-aware prompt compression for RAG under an exact token budget.

>>> from tersify import Compressor
>>> compressor = Compressor(preset="fast")
>>> result = compressor.compress(contexts=docs, question=q, target_ratio=0.25)  # doctest: +SKIP
>>> print(result.compressed_prompt)  # doctest: +SKIP
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from tersify.compressor import Compressor
from tersify.errors import InvalidRequestError, MissingDependencyError, TersifyError
from tersify.job import auto_ratio
from tersify.policies import Tuning, available_policies
from tersify.presets import available_presets
from tersify.scorers import Scorer, Scores, available_scorers, get_scorer
from tersify.tokens import TokenCounter, get_token_counter
from tersify.types import (
    CompressionRequest,
    CompressionResult,
    CompressionStats,
    Document,
    DocumentResult,
    Span,
)

try:
    __version__ = version("tersify")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

__all__ = [
    "CompressionRequest",
    "CompressionResult",
    "CompressionStats",
    "Compressor",
    "Document",
    "DocumentResult",
    "InvalidRequestError",
    "MissingDependencyError",
    "Scorer",
    "Scores",
    "Span",
    "TersifyError",
    "TokenCounter",
    "Tuning",
    "__version__",
    "auto_ratio",
    "available_policies",
    "available_presets",
    "available_scorers",
    "get_scorer",
    "get_token_counter",
]
