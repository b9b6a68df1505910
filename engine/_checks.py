"""Checks of request fields, one helper per kind; each raises InvalidRequestError naming the field.

Requests arrive from Python callers, JSON bodies and JSON lines alike, so no field is trusted to
have its annotated type: a wrong type must read as a clear error, never as an AttributeError
deep in the engine or, worse, as a silently different request.
"""

from __future__ import annotations

import re
import reprlib
from collections.abc import Iterable, Mapping
from typing import Any

from tersify.errors import InvalidRequestError

MAX_PATTERN_CHARS = 1_000
_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 40  # client input can be megabytes long


def shown(value: object) -> str:
    """A short repr of ``value`` for an error message."""
    return _REPR.repr(value)


def require(name: str, value: object, kind: type | tuple[type, ...], what: str) -> None:
    """``value`` is an instance of ``kind``, described to the caller as ``what``."""
    if not isinstance(value, kind):
        raise InvalidRequestError(f"{name} must be {what}, got {shown(value)}")


def require_name(name: str, value: object, *, optional: bool = False) -> None:
    """A non-empty string (or None when ``optional``): a registry lookup key."""
    if value is None and optional:
        return
    if not isinstance(value, str) or not value:
        what = "a non-empty string" + (" or None" if optional else "")
        raise InvalidRequestError(f"{name} must be {what}, got {shown(value)}")


def require_choice(name: str, value: object, choices: tuple[str, ...]) -> None:
    """One of ``choices`` (compared as a string only, never by another type's ``==``)."""
    if not isinstance(value, str) or value not in choices:
        raise InvalidRequestError(f"{name} must be one of {', '.join(choices)}, got {shown(value)}")


def require_count(name: str, value: object, *, positive: bool = False) -> None:
    """A non-negative (or ``positive``) integer; True and False are not counts."""
    if isinstance(value, bool) or not isinstance(value, int) or value < int(positive):
        what = "a positive integer" if positive else "a non-negative integer"
        raise InvalidRequestError(f"{name} must be {what}, got {shown(value)}")


def require_unicode(name: str, text: str) -> None:
    """Encodable as UTF-8: no lone surrogates (what ``errors='surrogateescape'`` leaves)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidRequestError(
            f"{name} is not valid Unicode (lone surrogate at position {exc.start}); "
            "decode bytes with errors='replace' first"
        ) from None


def entries(name: str, value: object, what: str) -> tuple[Any, ...]:
    """The entries of a list field; None is empty.

    One string is refused, not iterated: ``force_keep="ACME"`` would otherwise become four
    one-letter strings. A mapping would iterate its keys and bytes their integers, so both are
    refused too.
    """
    if value is None:
        return ()
    if isinstance(value, str):
        raise InvalidRequestError(
            f"{name} must be a list of {what}, not one string: wrap it in a list")
    if isinstance(value, (bytes, bytearray, memoryview, Mapping)) or not isinstance(
            value, Iterable):
        raise InvalidRequestError(f"{name} must be a list of {what}, got {shown(value)}")
    return tuple(value)


def strings(name: str, value: object) -> tuple[str, ...]:
    """A list of non-empty, valid Unicode strings."""
    items = entries(name, value, "strings")
    for i, item in enumerate(items):
        require_name(f"{name}[{i}]", item)
        require_unicode(f"{name}[{i}]", item)
    return items


def patterns(name: str, value: object) -> tuple[str, ...]:
    """A list of regular expressions that compile, each at most MAX_PATTERN_CHARS long."""
    items = strings(name, value)
    for i, pattern in enumerate(items):
        if len(pattern) > MAX_PATTERN_CHARS:
            raise InvalidRequestError(
                f"{name}[{i}] is {len(pattern)} characters long; at most {MAX_PATTERN_CHARS}")
        try:
            re.compile(pattern)
        # OverflowError: a repeat count like {4294967296}; RecursionError: deep nesting.
        except (re.error, OverflowError, RecursionError) as exc:
            raise InvalidRequestError(
                f"{name}[{i}]: invalid regular expression {shown(pattern)}: {exc}") from None
    return items


def require_metadata(name: str, value: object) -> None:
    """A mapping with string keys (it is echoed into JSON results)."""
    if not isinstance(value, Mapping) or not all(isinstance(key, str) for key in value):
        raise InvalidRequestError(f"{name} must be a mapping with string keys, got {shown(value)}")
