"""Micro-batching: requests that arrive together are compressed in one engine call.

The first request of a batch waits ``max_wait_ms`` for company (or until ``max_batch`` are
queued), then the batch runs off the event loop in a thread pool bounded by ``threads``, so the
loop keeps answering health checks and other requests meanwhile. Same semantics as Ray Serve's
``@serve.batch``; the engine scores each request on its own, so batching saves hand-offs, not
model calls.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from tersify.compressor import Compressor
from tersify.types import CompressionRequest, CompressionResult

__all__ = ["Batcher"]


class Batcher:
    """Queue requests; compress them in batches; hand each caller its own result or error."""

    def __init__(self, compressor: Compressor, *, max_batch: int = 16, max_wait_ms: float = 2.0,
                 threads: int = 1) -> None:
        self.compressor = compressor
        self.max_batch, self.max_wait = max_batch, max_wait_ms / 1000
        self._slots = asyncio.Semaphore(threads)
        self._queue: list[tuple[CompressionRequest, asyncio.Future[Any]]] = []
        self._flush: asyncio.TimerHandle | None = None
        self.batches = 0  # how many engine calls ran (for /metrics and tests)

    async def compress(self, request: CompressionRequest) -> CompressionResult:
        """The result of ``request``, compressed together with its neighbours in time."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.append((request, future))
        if len(self._queue) >= self.max_batch:
            self._start(loop)
        elif self._flush is None:
            self._flush = loop.call_later(self.max_wait, self._start, loop)
        return await future  # type: ignore[no-any-return]

    async def compress_many(self, requests: Sequence[CompressionRequest]) -> list[Any]:
        return list(await asyncio.gather(*(self.compress(r) for r in requests)))

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch:]
        if batch:
            loop.create_task(self._run(batch))
        if self._queue:
            self._flush = loop.call_later(self.max_wait, self._start, loop)

    async def _run(self, batch: list[tuple[CompressionRequest, asyncio.Future[Any]]]) -> None:
        async with self._slots:
            self.batches += 1
            outcomes = await asyncio.to_thread(self._compress_each, [r for r, _ in batch])
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if future.done():  # the caller went away
                continue
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    def _compress_each(self, requests: list[CompressionRequest]) -> list[Any]:
        # One bad request must not fail its neighbours: each gets its own outcome.
        outcomes: list[Any] = []
        for request in requests:
            try:
                outcomes.append(self.compressor.compress(request))
            except Exception as exc:
                outcomes.append(exc)
        return outcomes
