"""The limits of every request body, in one place, and the checks that a schema cannot state.

Every byte from a client is hostile: each field, each list and each body as a whole is bounded,
so that one request costs a bounded amount of engine time and memory (the engine is linear in
the characters and documents it gets: a 1,000,000-character request takes a few seconds on
the ``fast`` preset). The schemas (schemas.py) read these numbers, so the OpenAPI states them.

Ids and metadata are echoed into the response: what cannot be written back as JSON (a lone
surrogate, a NaN) or would take unbounded work to write (metadata nested hundreds deep) is
refused up front, before any compression runs or any usage is recorded.
"""

from __future__ import annotations

import json
import math
from typing import Any

from pydantic_core import PydanticCustomError

MAX_CONTEXT_CHARS = 120_000  # per context or prompt (SuperCompress's documented limit)
MAX_QUERY_CHARS = 2_000  # question, query and instruction of the three dialects
MAX_NATIVE_TEXT_CHARS = 10_000  # the native instruction and question (kept verbatim)
MAX_CONTEXTS = 1_000  # contexts in one request
MAX_BATCH = 64  # requests in one native batch
MAX_BATCH_CONTEXTS = 10_000  # contexts in one native batch, all its requests together
MAX_TOTAL_CHARS = 1_000_000  # every string of a body together, ids and metadata included
MAX_KEEP_CHARS = 1_000  # one force_keep string or pattern (the engine's pattern limit)
MAX_ID_CHARS = 256
MAX_METADATA_BYTES = 16_384  # one document's metadata, as compact UTF-8 JSON
MAX_METADATA_DEPTH = 8  # the metadata object itself is level 1

LIMITS_DOC = (
    f"Limits: each context or prompt at most {MAX_CONTEXT_CHARS:,} characters; at most "
    f"{MAX_CONTEXTS:,} contexts per request; a batch holds at most {MAX_BATCH} requests and "
    f"{MAX_BATCH_CONTEXTS:,} contexts; a body at most {MAX_TOTAL_CHARS:,} characters in all "
    f"(every text, id and metadata together); an id at most {MAX_ID_CHARS} characters; "
    f"metadata at most {MAX_METADATA_BYTES:,} bytes as JSON and {MAX_METADATA_DEPTH} levels "
    "deep, valid Unicode (no lone surrogates) and finite numbers only.")


def too_large(what: str, size: int, limit: int, unit: str = "characters") -> PydanticCustomError:
    """The validation error of a body or batch over one of the limits above."""
    return PydanticCustomError("too_large", "{what} holds {size} {unit}; at most {limit}",
                               {"what": what, "size": f"{size:,}", "limit": f"{limit:,}",
                                "unit": unit})


def text_chars(values: list[str | None]) -> int:
    return sum(len(v) for v in values if v is not None)


def checked_id(value: str) -> str:
    """An id that can be written back as JSON."""
    _check_unicode(value, "id")
    return value


def checked_metadata(value: dict[str, Any]) -> dict[str, Any]:
    """Metadata that can be written back as JSON, within the depth and size limits.

    The walk visits at most as many values as the size limit has bytes (each value takes at
    least one byte of JSON), so a huge array costs no more than a small one to refuse.
    """
    budget = [MAX_METADATA_BYTES]
    _check_value(value, 1, budget, "metadata")
    size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())
    if size > MAX_METADATA_BYTES:
        raise _metadata_too_large()
    return value


def metadata_chars(value: dict[str, Any]) -> int:
    """What metadata counts towards the body's character limit: its length as compact JSON."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":"))) if value else 0


def _check_value(value: Any, depth: int, budget: list[int], where: str) -> None:
    budget[0] -= 1
    if budget[0] < 0:
        raise _metadata_too_large()
    if isinstance(value, str):
        _check_unicode(value, where)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise PydanticCustomError("json_value", "{where} holds {value}, which JSON cannot "
                                      "carry", {"where": where, "value": repr(value)})
    elif isinstance(value, dict | list):
        if depth > MAX_METADATA_DEPTH:
            raise PydanticCustomError("too_deep", "metadata is nested deeper than {limit} levels",
                                      {"limit": MAX_METADATA_DEPTH})
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            if isinstance(key, str):
                _check_unicode(key, f"{where} key")
            _check_value(item, depth + 1, budget, where)
    elif value is not None and not isinstance(value, bool | int):
        raise PydanticCustomError("json_value", "{where} holds a {kind}, which JSON cannot carry",
                                  {"where": where, "kind": type(value).__name__})


def _check_unicode(text: str, where: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise PydanticCustomError(
            "unicode", "{where} is not valid Unicode (lone surrogate at position {position})",
            {"where": where, "position": exc.start}) from None


def _metadata_too_large() -> PydanticCustomError:
    return PydanticCustomError("too_large", "metadata is over {limit} bytes as JSON",
                               {"limit": f"{MAX_METADATA_BYTES:,}"})
