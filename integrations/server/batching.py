"""In front of the engine: admission, micro-batching, deadlines, the scorer fallback.

Requests that arrive together are compressed in one engine call: the first request of a batch
waits ``max_wait_ms`` for company (or until ``max_batch`` are queued), the same semantics as
Ray Serve's ``@serve.batch``. The engine runs off the event loop, so the loop keeps answering
health checks and other requests meanwhile: in ``threads`` threads of this process, or with
``processes`` > 0 in worker processes (workers.py). Under Ray Serve a ``runner`` takes each
request instead, and the deployment's ``@serve.batch`` method gathers them (ray/serve.py).

Admission: at most ``max_queue`` requests wait or run at once; one more is refused at once (503
with Retry-After) rather than queued behind work it cannot overtake. Deadline: a request not
compressed within ``deadline_s`` of its admission gets a 504, and nothing is billed. A thread
cannot be stopped, so a late compression in a thread runs to its end (holding its thread) and
its result is dropped; a worker process is killed as soon as every request of its batch is
past its deadline, and replaced. Requests whose callers left before their batch ran are skipped.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from tersify.compressor import Compressor
from tersify.integrations.server.errors import ApiError, Outage
from tersify.integrations.server.fallback import Outcome, compress_each, fallback_of, warm_up
from tersify.integrations.server.workers import ProcessRunner
from tersify.types import CompressionRequest, CompressionResult

__all__ = ["Batcher", "Runner"]

# Compresses one request among others that a batching layer outside the Batcher gathers
# (Ray Serve's ``@serve.batch``); never raises: a failure is the outcome's error.
Runner = Callable[[CompressionRequest], Awaitable[Outcome]]

log = logging.getLogger("tersify.server")


@dataclass(frozen=True)
class _Item:
    request: CompressionRequest
    future: asyncio.Future[CompressionResult]
    deadline: float  # loop time


class Batcher:
    """Queue requests; compress them in batches; hand each caller its own result or error.

    Args:
        compressor: The engine (in processes: the serving process's copy, for counting tokens).
        factory: Builds the engine in each worker process; needed when ``processes`` > 0.
        scorers: The scorers requests may name, built by :meth:`start` with the engine.
        on_fallback: Called with a model scorer's name each time the lexical one stood in.
        on_batch: Called with the number of requests of each engine call.
        runner: Compresses each request in place of this Batcher's own batches (threads or
            processes): admission, deadlines and fallback notes stay here.
    """

    def __init__(self, compressor: Compressor, *, max_batch: int = 16,
                 max_wait_ms: float = 2.0, threads: int = 1, processes: int = 0,
                 factory: Callable[[], Compressor] | None = None, max_queue: int = 256,
                 deadline_s: float = 30.0, scorers: Sequence[str] = (),
                 on_fallback: Callable[[str], None] | None = None,
                 on_batch: Callable[[int], None] | None = None,
                 runner: Runner | None = None) -> None:
        if processes and factory is None:
            raise ValueError("engine processes need a picklable factory to build their engine")
        self.compressor = compressor
        self.max_batch, self.max_wait = max_batch, max_wait_ms / 1000
        self.max_queue, self.deadline_s = max_queue, deadline_s
        self.scorers = tuple(scorers)
        self.pool = ProcessRunner(factory, processes, scorers) if processes and factory else None
        self._slots = asyncio.Semaphore(processes or threads)
        self._queue: list[_Item] = []
        self._flush: asyncio.TimerHandle | None = None
        self._running: set[asyncio.Task[None]] = set()
        self._on_fallback, self._on_batch = on_fallback, on_batch
        self.runner = runner
        self._outages: dict[str, Outage] = {}
        self._start_lock = threading.Lock()
        self._started = False
        self.pending = 0  # admitted requests not yet answered
        self.batches = 0  # how many engine calls ran (for /metrics and tests)

    def start(self) -> None:
        """Build and warm the engine (blocking; once): every allowed scorer, then one small
        compression. Raises what building it raised: SettingsError naming a scorer that cannot
        be built here (its extra is missing), or any other error of the engine."""
        with self._start_lock:
            if self._started:
                return
            if self.pool is not None:
                self.pool.start()
            else:
                warm_up(self.compressor, self.scorers)
            self._started = True

    @property
    def ready(self) -> bool:
        """The engine is built and warm (in processes: at least one worker is)."""
        return self._started and (self.pool is None or bool(self.pool.pids()))

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
        self._started = False

    def fallback(self, request: CompressionRequest, result: CompressionResult) -> str | None:
        """``"embedding->lexical"`` when the lexical scorer served ``request`` in place of a
        failed model scorer, else None."""
        return fallback_of(request, result, self.compressor.default_scorer)

    async def compress(self, request: CompressionRequest) -> CompressionResult:
        """The result of ``request``, compressed together with its neighbours in time."""
        return (await self.compress_many([request]))[0]

    async def compress_many(self, requests: Sequence[CompressionRequest]
                            ) -> list[CompressionResult]:
        """The results of ``requests``, admitted together, with one deadline.

        Raises:
            ApiError: 503 when the queue has no room for them all, 504 past the deadline.
        """
        if self.pending + len(requests) > self.max_queue:
            raise ApiError(503, "overloaded", "the server is busy; retry in a second",
                           {"Retry-After": "1"})
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.deadline_s
        items = [_Item(r, loop.create_future(), deadline) for r in requests]
        self.pending += len(items)
        try:
            for item in items:
                self._enqueue(item, loop)
            async with asyncio.timeout_at(deadline):
                return [await item.future for item in items]
        except TimeoutError:
            raise ApiError(504, "timeout", "the compression did not finish within the server's "
                           f"deadline of {self.deadline_s:g} s") from None
        finally:
            self.pending -= len(items)
            for item in items:  # a queued one is skipped, a running one's result dropped
                item.future.cancel()

    def _enqueue(self, item: _Item, loop: asyncio.AbstractEventLoop) -> None:
        if self.runner is not None:  # it batches: each request goes to it at once
            self._track(loop.create_task(self._run_one(item, self.runner)))
            return
        self._queue.append(item)
        if len(self._queue) >= self.max_batch:
            self._start(loop)
        elif self._flush is None:
            self._flush = loop.call_later(self.max_wait, self._start, loop)

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        live = [item for item in self._queue if not item.future.done()]
        batch, self._queue = live[: self.max_batch], live[self.max_batch:]
        if batch:
            self._track(loop.create_task(self._run(batch)))
        if self._queue:
            self._flush = loop.call_later(self.max_wait, self._start, loop)

    def _track(self, task: asyncio.Task[None]) -> None:
        self._running.add(task)  # the loop keeps only a weak reference to a task
        task.add_done_callback(self._running.discard)

    async def _run_one(self, item: _Item, runner: Runner) -> None:
        started = time.monotonic()
        try:
            outcome = await runner(item.request)
        except Exception as exc:  # the runner's own failure: this caller's error
            outcome = Outcome(error=exc)
        self._settle(item, outcome, started)

    async def _run(self, batch: list[_Item]) -> None:
        async with self._slots:
            batch = [item for item in batch if not item.future.done()]  # callers that left
            if not batch:
                return
            self.batches += 1
            if self._on_batch is not None:
                self._on_batch(len(batch))
            started = time.monotonic()
            requests = [item.request for item in batch]
            try:
                if self.pool is not None:
                    last = max(item.deadline for item in batch)
                    outcomes = await self.pool.run(requests,
                                                   last - asyncio.get_running_loop().time())
                else:
                    outcomes = await asyncio.to_thread(compress_each, self.compressor, requests)
            except TimeoutError:
                return  # every caller of the batch has had its 504
            except Exception as exc:  # a worker died: each caller gets the error
                outcomes = [Outcome(error=exc)] * len(batch)
        for item, outcome in zip(batch, outcomes, strict=True):
            self._settle(item, outcome, started)

    def _settle(self, item: _Item, outcome: Outcome, started: float) -> None:
        """Hand ``item``'s caller its outcome, unless it left (its deadline passed)."""
        self._note(outcome, started)
        if item.future.done():
            return
        if outcome.result is not None:
            item.future.set_result(outcome.result)
        else:
            item.future.set_exception(outcome.error or RuntimeError("no outcome"))

    def _note(self, outcome: Outcome, started: float) -> None:
        """Count and log (once per outage) a model scorer's failures; note its recoveries."""
        if outcome.failed_scorer is not None:
            outage = self._outages.setdefault(outcome.failed_scorer,
                                              Outage(f"scorer {outcome.failed_scorer}"))
            outage.note_failure(f"{outcome.reason}; serving with the lexical scorer")
            if self._on_fallback is not None:
                self._on_fallback(outcome.failed_scorer)
        elif outcome.result is not None and outcome.result.scorer in self._outages:
            self._outages[outcome.result.scorer].ok(started)
