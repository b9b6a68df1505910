"""Ray Data compression of checked corpus rows (extra ``ray``), for ``tersify batch --ray``.

The rows go to Ray as JSON text (a request's documents and metadata vary from row to row,
which Arrow columns cannot hold), through ``map_batches`` over a pool of actors: each actor
builds one :class:`~tersify.Compressor` when it starts, so a model is loaded once per actor, not
once per batch. Results come back as they are done, in no particular order.

Ray is started here (locally, or on the cluster ``RAY_ADDRESS`` names) unless the caller has
already called ``ray.init``; it is shut down again only when started here.
"""

from __future__ import annotations

import json
import os
import resource
from collections.abc import Generator, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from tersify._optional import require
from tersify.compressor import Compressor
from tersify.integrations._corpus import Outcome, Row, compress_row
from tersify.wire import request_from_dict

__all__ = ["CompressBatch", "compress_on_ray"]


class CompressBatch:
    """The Ray Data callable class: one compressor per actor, a batch of rows per call."""

    def __init__(self, preset: str, tokenizer: str) -> None:
        self._compressor = Compressor(preset=preset, tokenizer=tokenizer)
        self._worker = f"pid {os.getpid()}"

    def __call__(self, batch: Any) -> Any:
        """Compress a ``pyarrow.Table`` of ``line``, ``id``, ``fields`` (JSON) columns into one
        of ``line``, ``id``, ``record``, ``error``, ``worker``, ``peak_rss_mb``."""
        pa = require("pyarrow", extra="ray")
        outcomes = [compress_row(self._compressor, _row(item)) for item in batch.to_pylist()]
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
        return pa.table({
            "line": [o.line for o in outcomes], "id": [o.id for o in outcomes],
            "record": pa.array([o.record for o in outcomes], pa.string()),
            "error": pa.array([o.error for o in outcomes], pa.string()),
            "worker": [self._worker] * len(outcomes),
            "peak_rss_mb": pa.array([peak] * len(outcomes), pa.float64()),
        })


def _row(item: dict[str, Any]) -> Row:
    fields = json.loads(item["fields"])
    return Row(line=item["line"], id=item["id"], fields=fields, request=request_from_dict(fields))


def compress_on_ray(rows: Sequence[Row], *, preset: str, tokenizer: str, workers: int,
                    batch_size: int, progress: bool = True) -> Generator[Outcome, None, None]:
    """Compress ``rows`` on Ray Data with ``workers`` actors of one CPU each, ``batch_size``
    rows per call, Ray's progress bars when ``progress``.

    Raises:
        MissingDependencyError: Ray is not installed (extra ``ray``).
    """
    ray = require("ray", extra="ray")
    require("pyarrow", extra="ray")
    with _ray_started(ray):
        ray.data.DataContext.get_current().enable_progress_bars = progress
        items = [{"line": r.line, "id": r.id, "fields": json.dumps(dict(r.fields))}
                 for r in rows]
        # About one block per batch: Ray hands whole blocks to actors, so one big block would
        # leave every actor but one idle.
        blocks = min(len(items), max(workers, -(-len(items) // batch_size)))
        dataset = ray.data.from_items(items, override_num_blocks=blocks).map_batches(
            CompressBatch, batch_format="pyarrow", batch_size=batch_size,
            fn_constructor_kwargs={"preset": preset, "tokenizer": tokenizer},
            compute=ray.data.ActorPoolStrategy(size=workers), num_cpus=1)
        for item in dataset.iter_rows():
            yield Outcome(line=item["line"], id=item["id"], record=item["record"],
                          error=item["error"], worker=item["worker"],
                          peak_rss_mb=item["peak_rss_mb"])


@contextmanager
def _ray_started(ray: Any) -> Iterator[None]:
    if ray.is_initialized():
        yield
        return
    ray.init(include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()
