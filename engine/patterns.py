"""Matching ``force_keep`` strings and ``force_keep_patterns``: Python's ``re`` or RE2.

Python's ``re`` backtracks: a pattern such as ``(a+)+$`` takes time exponential in the text and
holds the GIL all the while, so one request can freeze a whole server. That is fine for
patterns a program writes itself (the default), not for patterns from an HTTP client. With
``linear=True`` patterns run on RE2 (``google-re2``, the ``re2`` extra), whose time is linear
in the text; RE2 refuses the constructs that need backtracking (backreferences, lookaround),
and such a pattern is an :class:`~tersify.InvalidRequestError` instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from tersify._optional import require
from tersify.errors import InvalidRequestError

__all__ = ["Matcher", "compile_matchers"]


class Matcher(Protocol):
    """A compiled pattern: ``finditer(text)`` yields matches with ``start()`` and ``end()``."""

    def finditer(self, text: str) -> Iterator[Any]: ...


def compile_matchers(literals: Sequence[str], patterns: Sequence[str], *,
                     linear: bool) -> list[Matcher]:
    """One matcher per literal string and per pattern.

    Raises:
        InvalidRequestError: With ``linear``, a pattern that RE2 cannot run.
        MissingDependencyError: ``linear`` without the ``re2`` extra installed.
    """
    escaped = [re.escape(s) for s in literals]
    if not linear:
        return [re.compile(p) for p in (*escaped, *patterns)]
    re2 = require("re2", extra="re2")
    options = re2.Options()
    options.log_errors = False  # a refused pattern is the caller's error, not a log line
    matchers: list[Matcher] = [re2.compile(p, options) for p in escaped]
    for i, pattern in enumerate(patterns):
        try:
            matchers.append(re2.compile(pattern, options))
        except re2.error as exc:
            reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
            raise InvalidRequestError(
                f"force_keep_patterns[{i}]: this server runs patterns in linear time (RE2), "
                f"which cannot run {pattern[:40]!r}: {reason}") from None
    return matchers
