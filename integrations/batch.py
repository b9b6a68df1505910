"""``tersify batch``: compress a corpus of requests, in one process or on Ray Data.

The corpus is JSON Lines (one native request per line, see :mod:`tersify.wire`, plus an
optional ``id``) or Parquet with the same columns; the output, JSON Lines or Parquet by its
extension, has one result per good row: ``{"id", "line", **CompressionResult.to_dict()}``.

- Bad rows (unreadable, invalid, a duplicate id, or failing to compress) are reported on
  standard error with their line (or Parquet row) number and written to
  ``<OUT stem>.errors.jsonl`` (rewritten by every run); ``skip`` goes on, ``stop`` ends the run
  (exit status 2) before anything more is written.
- A re-run skips the rows whose id is already in the output (rows without an id are named
  ``line-N``), so a killed or stopped run resumes where it was.
- In one process the output keeps the input's order. With Ray, the driver checks every row
  first (a bad row with ``stop`` ends the run before Ray starts), actors compress batches in
  parallel and the results are written as they arrive: in any order (match them by id).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO

from tersify.compressor import Compressor
from tersify.errors import TersifyError
from tersify.integrations._corpus import BadRow, Outcome, Row, compress_row, read_corpus
from tersify.integrations._outfile import ResultFile, errors_path
from tersify.presets import available_presets
from tersify.scorers import available_scorers

__all__ = ["BatchOptions", "BatchReport", "add_command", "compress_corpus", "run_command"]


@dataclass(frozen=True, kw_only=True)
class BatchOptions:
    """How a corpus is compressed.

    Attributes:
        preset: Engine preset, loaded once per process (or once per Ray actor).
        tokenizer: Target tokenizer of the budgets.
        defaults: Request fields for rows that do not set them (e.g. ``{"target_ratio": 0.25}``).
        on_error: ``skip`` reports a bad row and goes on; ``stop`` ends the run at it.
        use_ray: Compress on Ray Data (extra ``ray``); otherwise in this process.
        workers: Ray actors, each holding one compressor (``use_ray`` only).
        batch_size: Rows per Ray batch (``use_ray`` only).
        progress: A progress counter on standard error (when it is a terminal) or Ray's bars.
    """

    preset: str = "fast"
    tokenizer: str = "cl100k_base"
    defaults: Mapping[str, Any] = field(default_factory=dict)
    on_error: Literal["skip", "stop"] = "skip"
    use_ray: bool = False
    workers: int = 2
    batch_size: int = 16
    progress: bool = True

    def __post_init__(self) -> None:
        if self.on_error not in ("skip", "stop"):
            raise ValueError(f"on_error must be 'skip' or 'stop', got {self.on_error!r}")
        if self.workers < 1 or self.batch_size < 1:
            raise ValueError("workers and batch_size must be at least 1")


@dataclass(frozen=True, kw_only=True)
class BatchReport:
    """What a run did: rows written, bad and skipped as already done; ``stopped``: a bad row
    ended it (``on_error="stop"``); peak resident memory (MB) per process that compressed."""

    written: int
    bad: int
    skipped: int
    stopped: bool
    seconds: float
    peak_rss_mb: Mapping[str, float]

    @property
    def rows_per_s(self) -> float:
        """Rows written per second of the whole run (start-up and model loading included)."""
        return self.written / self.seconds if self.seconds > 0 else 0.0


class _Tally:
    """Counts a run's rows and writes them: results to the output, bad rows to the log."""

    def __init__(self, out: TextIO, errors: TextIO, log: TextIO | None, source: Path) -> None:
        self.out, self.errors, self.log, self.where = out, errors, log, str(source)
        self.unit = "row" if source.suffix == ".parquet" else "line"
        self.written = self.bad = self.skipped = 0
        self.peaks: dict[str, float] = {}

    def report_bad(self, row: BadRow) -> None:
        self.bad += 1
        self.errors.write(json.dumps({"line": row.line, "id": row.id, "error": row.error},
                                     ensure_ascii=False) + "\n")
        self.errors.flush()
        if self.log is not None:  # through tqdm, which keeps its counter below the message
            from tqdm import tqdm

            message = " ".join(row.error.split())
            tqdm.write(f"tersify: {self.where}, {self.unit} {row.line}: {message}", file=self.log)

    def take(self, outcome: Outcome) -> bool:
        """Write ``outcome``; False when it is bad."""
        if outcome.record is None:
            self.report_bad(BadRow(line=outcome.line, id=outcome.id, error=outcome.error or "?"))
            return False
        self.out.write(outcome.record + "\n")
        self.out.flush()
        self.written += 1
        return True


def compress_corpus(source: str | Path, out: str | Path, options: BatchOptions | None = None,
                    *, log: TextIO | None = sys.stderr) -> BatchReport:
    """Compress every request of ``source`` into ``out`` (see the module's docstring).

    Args:
        source: JSON Lines or ``.parquet`` corpus.
        out: JSON Lines or ``.parquet`` results; rows whose id it already holds are skipped.
        options: How to compress; :class:`BatchOptions` defaults when None.
        log: Where bad rows are reported (None: only the errors file).

    Raises:
        OSError: ``source`` cannot be read or ``out`` written.
        MissingDependencyError: Ray (``use_ray``) or pyarrow (Parquet) is not installed.
        TersifyError: ``out`` holds a line that is not a result.
    """
    options = options or BatchOptions()
    source, results = Path(source), ResultFile(Path(out))
    started = time.perf_counter()
    done = results.done_ids()
    rows = read_corpus(source, options.defaults)
    with results.appending() as written, \
            errors_path(results.path).open("w", encoding="utf-8") as errors:
        tally = _Tally(written, errors, log, source)
        run = _on_ray if options.use_ray else _in_process
        stopped = run(rows, done, options, tally)
    results.finish()
    return BatchReport(written=tally.written, bad=tally.bad, skipped=tally.skipped,
                       stopped=stopped, seconds=time.perf_counter() - started,
                       peak_rss_mb=tally.peaks)


def _in_process(rows: Iterable[Row | BadRow], done: set[str], options: BatchOptions,
                tally: _Tally) -> bool:
    """Compress row after row, in input order; True when a bad row stopped the run."""
    from tqdm import tqdm

    compressor = Compressor(preset=options.preset, tokenizer=options.tokenizer)
    try:
        with tqdm(unit="row", file=sys.stderr, disable=None if options.progress else True) as bar:
            for row in _pending(rows, done, tally):
                if isinstance(row, BadRow):
                    tally.report_bad(row)
                    good = False
                else:
                    good = tally.take(compress_row(compressor, row))
                bar.update()
                if not good and options.on_error == "stop":
                    return True
    finally:
        tally.peaks["main"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return False


def _on_ray(rows: Iterable[Row | BadRow], done: set[str], options: BatchOptions,
            tally: _Tally) -> bool:
    """Check every row here, then compress the good ones on Ray; True when a bad row stopped
    the run."""
    from tersify.integrations.ray.data import compress_on_ray

    pending: list[Row] = []
    for row in _pending(rows, done, tally):
        if isinstance(row, BadRow):
            tally.report_bad(row)
            if options.on_error == "stop":
                return True
        else:
            pending.append(row)
    if not pending:
        return False
    outcomes = compress_on_ray(pending, preset=options.preset, tokenizer=options.tokenizer,
                               workers=options.workers, batch_size=options.batch_size,
                               progress=options.progress)
    with closing(outcomes):  # stopping early shuts down the Ray it started
        for outcome in outcomes:
            tally.peaks[outcome.worker] = max(tally.peaks.get(outcome.worker, 0.0),
                                              outcome.peak_rss_mb)
            if not tally.take(outcome) and options.on_error == "stop":
                return True
    return False


def _pending(rows: Iterable[Row | BadRow], done: set[str],
             tally: _Tally) -> Iterator[Row | BadRow]:
    """The rows still to do: bad rows always (they are never in the output), good rows
    whose id is not in it."""
    for row in rows:
        if isinstance(row, Row) and row.id in done:
            tally.skipped += 1
        else:
            yield row


def add_command(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``tersify batch`` on the ``tersify`` command's subparsers."""
    p = sub.add_parser("batch", help="compress a corpus of requests (JSON Lines or Parquet)",
                       description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("input", type=Path, help="requests: .jsonl (one per line) or .parquet")
    p.add_argument("--out", type=Path, required=True,
                   help="results: .jsonl or .parquet; a re-run skips the ids already there")
    p.add_argument("--ray", action="store_true", help="compress on Ray Data (extra 'ray')")
    p.add_argument("--workers", type=int, default=2, help="Ray actors (default: 2)")
    p.add_argument("--batch-size", type=int, default=16, help="rows per Ray batch (default: 16)")
    p.add_argument("--on-error", choices=("skip", "stop"), default="skip",
                   help="a bad row is reported, then skipped or ends the run (default: skip)")
    p.add_argument("--preset", default="fast", choices=available_presets(),
                   help="engine preset (default: fast)")
    p.add_argument("--scorer", choices=available_scorers(), help="default scorer of the rows")
    p.add_argument("--ratio", type=float, help="default target_ratio of the rows")
    p.add_argument("--tokenizer", default="cl100k_base",
                   help="cl100k_base, o200k_base or a Hugging Face tokenizer")


def run_command(args: argparse.Namespace) -> int:
    """Run ``tersify batch``: 0 when it went through (bad rows skipped included), 2 on bad
    input or when ``--on-error stop`` stopped it."""
    defaults = {"scorer": args.scorer, "target_ratio": args.ratio}
    try:
        options = BatchOptions(
            preset=args.preset, tokenizer=args.tokenizer, on_error=args.on_error,
            use_ray=args.ray, workers=args.workers, batch_size=args.batch_size,
            defaults={k: v for k, v in defaults.items() if v is not None})
        report = compress_corpus(args.input, args.out, options)
    except (TersifyError, OSError, ValueError) as exc:
        sys.stderr.write(f"tersify: error: {' '.join(str(exc).split())}\n")
        return 2
    peak = max(report.peak_rss_mb.values(), default=0.0)
    sys.stderr.write(f"tersify: batch: {report.written} written, {report.bad} bad, "
                     f"{report.skipped} already done, {report.rows_per_s:.1f} rows/s, "
                     f"peak {peak:.0f} MB per worker\n")
    return 2 if report.stopped else 0
