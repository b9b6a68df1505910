"""The output of ``tersify batch``: result lines appended as they come, resumable after a kill.

Results are appended to a JSON Lines file one complete line at a time, flushed after each, so a
killed run leaves at most one half-written last line; the next run cuts that line off and skips
every id already there. Parquet cannot be appended to, so a Parquet output collects its new
results in ``OUT.partial.jsonl`` (the same resumable journal) and is rewritten from its old rows
plus the journal when the run ends, through a temporary file and a rename: a reader never sees
a half-written Parquet file. In Parquet each row's ``documents`` is one JSON text column, as
document metadata is free-form (Parquet has no column type for a struct without fields).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from tersify._optional import require
from tersify.errors import TersifyError

__all__ = ["ResultFile", "errors_path"]


def errors_path(out: Path) -> Path:
    """Where the bad rows of a run writing ``out`` go: ``results.jsonl`` ->
    ``results.errors.jsonl``."""
    return out.with_name(f"{out.stem}.errors.jsonl")


class ResultFile:
    """The results of one corpus: the ids already done, appending, and the final Parquet."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.parquet = path.suffix == ".parquet"
        self.journal = path.with_name(f"{path.name}.partial.jsonl") if self.parquet else path

    def done_ids(self) -> set[str]:
        """The ids already written (a half-written last line is cut off first).

        Raises:
            TersifyError: A complete line of the output that is not a result.
        """
        ids = set(self._parquet_ids()) if self.parquet and self.path.exists() else set()
        if not self.journal.exists():
            return ids
        with self.journal.open("rb+") as lines:
            _cut_partial_line(lines)
            for n, line in enumerate(lines, 1):
                try:
                    ids.add(str(json.loads(line)["id"]))
                except (ValueError, KeyError, TypeError):
                    raise TersifyError(f"{self.journal}, line {n} is not a result line: "
                                       "remove it (or the file) and run again") from None
        return ids

    @contextmanager
    def appending(self) -> Iterator[TextIO]:
        """The journal, opened to append; write whole lines (the caller flushes each)."""
        self.journal.parent.mkdir(parents=True, exist_ok=True)
        with self.journal.open("a", encoding="utf-8") as out:
            yield out

    def finish(self) -> None:
        """Parquet: rewrite the output from its old rows plus the journal, then drop the
        journal. JSON Lines: nothing to do."""
        if not self.parquet or not self.journal.exists():
            return
        pa = require("pyarrow", extra="ray")
        parquet = require("pyarrow.parquet", extra="ray")
        rows = parquet.read_table(self.path).to_pylist() if self.path.exists() else []
        with self.journal.open(encoding="utf-8") as lines:
            rows.extend(_flat(json.loads(line)) for line in lines if line.strip())
        temporary = self.path.with_name(f".{self.path.name}.tmp")
        parquet.write_table(pa.Table.from_pylist(rows), temporary)
        os.replace(temporary, self.path)
        self.journal.unlink()

    def _parquet_ids(self) -> list[str]:
        parquet = require("pyarrow.parquet", extra="ray")
        return [str(i) for i in parquet.read_table(self.path, columns=["id"])["id"].to_pylist()]


def _flat(record: dict[str, Any]) -> dict[str, Any]:
    return {**record, "documents": json.dumps(record["documents"], ensure_ascii=False)}


def _cut_partial_line(file: BinaryIO) -> None:
    """Truncate ``file`` after its last newline (a line a killed run left half-written), and
    leave it positioned at its start."""
    end = file.seek(0, os.SEEK_END)
    keep = end
    while keep > 0:
        step = min(keep, 1 << 16)
        file.seek(keep - step)
        chunk = file.read(step)
        newline = chunk.rfind(b"\n")
        if newline >= 0:
            keep = keep - step + newline + 1
            break
        keep -= step
    if keep != end:
        file.truncate(keep)
    file.seek(0)
