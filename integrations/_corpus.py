"""A corpus of requests for ``tersify batch``: its rows read, checked and compressed one by one.

A row is one native request (the JSON form of :func:`tersify.wire.request_from_dict`) plus an
optional ``id``, on one line of a JSON Lines file or in one row of a Parquet file with the same
columns. Rows are numbered from 1 (the line, or the Parquet row), and every bad row becomes a
:class:`BadRow` naming that number instead of an exception, so a corpus never stops halfway
with its bad rows unreported.

A row's ``id`` (a string, or an integer written as its decimal string) names it in the output
and lets a re-run skip it. A row without one is named ``line-N`` after its number, which stays
stable while the file only grows at its end. Two rows with the same id: the second is bad.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tersify._checks import shown
from tersify._optional import require
from tersify.compressor import Compressor
from tersify.errors import InvalidRequestError, TersifyError
from tersify.policies import get_policy
from tersify.scorers import available_scorers
from tersify.types import CompressionRequest
from tersify.wire import request_from_dict

__all__ = ["BadRow", "Outcome", "Row", "compress_row", "json_object", "read_corpus"]


@dataclass(frozen=True, kw_only=True)
class Row:
    """One checked request: ``fields`` is its JSON form (defaults merged, ``id`` left out)."""

    line: int
    id: str
    fields: Mapping[str, Any]
    request: CompressionRequest


@dataclass(frozen=True, kw_only=True)
class BadRow:
    """A row that cannot run, and why; ``id`` is None when the row had no readable one."""

    line: int
    id: str | None
    error: str


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """A compressed row: ``record`` is its output line (JSON, no newline), or ``error`` says why
    it failed; ``worker`` names the process that ran it and ``peak_rss_mb`` its peak memory."""

    line: int
    id: str
    record: str | None = None
    error: str | None = None
    worker: str = "main"
    peak_rss_mb: float = 0.0


def json_object(line: str) -> dict[str, Any]:
    """The JSON object on one line of a JSON-lines file.

    Raises:
        InvalidRequestError: Not JSON, or JSON that is not an object.
    """
    try:
        data = json.loads(line)
    # ValueError also covers an integer of over 4,300 digits; RecursionError deep nesting.
    except (ValueError, RecursionError) as exc:
        raise InvalidRequestError(f"not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidRequestError(f"a request must be a JSON object, got {shown(data)}")
    return data


def read_corpus(path: Path, defaults: Mapping[str, Any]) -> Iterator[Row | BadRow]:
    """Every row of ``path`` (``.parquet``: Parquet, anything else: JSON Lines), checked, in
    order; blank lines are skipped. ``defaults`` are request fields each row can override."""
    seen: dict[str, int] = {}
    raw = _parquet_rows(path) if path.suffix == ".parquet" else _jsonl_rows(path)
    for line, data in raw:
        if isinstance(data, str):
            yield BadRow(line=line, id=None, error=data)
            continue
        try:
            row_id = _row_id(data.pop("id", None), line)
        except InvalidRequestError as exc:
            yield BadRow(line=line, id=None, error=str(exc))
            continue
        if row_id in seen:
            yield BadRow(line=line, id=row_id,
                         error=f"duplicate id {row_id!r} (first on line {seen[row_id]})")
            continue
        seen[row_id] = line
        yield _checked(line, row_id, {**defaults, **data})


def _checked(line: int, row_id: str, fields: dict[str, Any]) -> Row | BadRow:
    try:
        request = request_from_dict(fields)
        if get_policy(request.policy).uses_scorer and request.scorer is not None \
                and request.scorer not in available_scorers():
            raise InvalidRequestError(f"unknown scorer {request.scorer!r}; valid choices: "
                                      f"{', '.join(available_scorers())}")
    except TersifyError as exc:
        return BadRow(line=line, id=row_id, error=str(exc))
    return Row(line=line, id=row_id, fields=fields, request=request)


def _row_id(value: Any, line: int) -> str:
    if value is None:
        return f"line-{line}"
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise InvalidRequestError(f"id must be a non-empty string or an integer, got {shown(value)}")


def _jsonl_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line number, object) per non-blank line, or (line number, why it is unreadable)."""
    with path.open("rb") as lines:
        for n, raw in enumerate(lines, 1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield n, f"not UTF-8 text ({exc.reason} at byte {exc.start})"
                continue
            if not text.strip():
                continue
            try:
                yield n, json_object(text)
            except InvalidRequestError as exc:
                yield n, str(exc)


def _parquet_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(row number, object) per row; a null column value counts as absent, so rows that lack
    a column the others have take the request's default."""
    parquet = require("pyarrow.parquet", extra="ray")
    n = 0
    for batch in parquet.ParquetFile(path).iter_batches(batch_size=1024):
        for data in batch.to_pylist():
            n += 1
            yield n, {name: value for name, value in data.items() if value is not None}


def compress_row(compressor: Compressor, row: Row) -> Outcome:
    """Compress ``row``: its output line is ``{"id", "line", **result.to_dict()}``."""
    try:
        result = compressor.compress(row.request)
    except TersifyError as exc:
        return Outcome(line=row.line, id=row.id, error=str(exc))
    record = {"id": row.id, "line": row.line, **result.to_dict()}
    return Outcome(line=row.line, id=row.id, record=json.dumps(record, ensure_ascii=False))
