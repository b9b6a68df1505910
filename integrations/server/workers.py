"""Engine worker processes: compressions that can be abandoned.

With ``engine_processes`` > 0 the server compresses in that many worker processes, each with its
own engine built once by a picklable factory and warmed up (its models loaded) before the
server says it is ready. A batch goes to an idle worker over a pipe. A worker whose batch
outlives the deadlines of all its requests is killed and replaced, so a stuck compression costs
its own requests and one restart, never the serving process; and the serving process keeps
its GIL for the event loop while the engine works. Workers are spawned, not forked: the server
runs threads, and a fork copies whatever locks they hold.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import pickle
import signal
import traceback
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection

import anyio

from tersify.compressor import Compressor
from tersify.integrations.server.fallback import Outcome, compress_each, warm_up
from tersify.types import CompressionRequest
from tersify.wire import request_from_dict, request_to_dict, result_from_dict

__all__ = ["ProcessRunner", "WorkerDied"]

log = logging.getLogger("tersify.server")
_SPAWN = multiprocessing.get_context("spawn")
START_TIMEOUT_S = 600.0  # a model's first load may convert it (see tersify.models)


class WorkerDied(RuntimeError):
    """An engine process ended in the middle of a batch (killed, out of memory, crashed)."""


def _portable(exc: BaseException) -> BaseException:
    """``exc`` with its trace as a note, or a RuntimeError like it when it cannot cross
    processes (an exception whose constructor takes other arguments than its message)."""
    exc.add_note("".join(traceback.format_exception(exc)).rstrip())
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        plain = RuntimeError(f"{type(exc).__name__}: {exc}")
        plain.__notes__ = list(getattr(exc, "__notes__", []))
        return plain
    return exc


def _serve(conn: Connection, factory: Callable[[], Compressor], scorers: Sequence[str]) -> None:
    """A worker's life: build and warm the engine, then compress batches until the pipe
    closes (the serving process stopped or died). Signals are the serving process's to handle:
    it stops its workers once its requests are answered."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        compressor = factory()
        warm_up(compressor, scorers)
    except BaseException as exc:
        conn.send(_portable(exc))
        return
    conn.send(None)
    while True:
        try:
            requests = [request_from_dict(data) for data in conn.recv()]
        except (EOFError, OSError):
            return
        conn.send([(o.result.to_dict() if o.result is not None else None,
                    _portable(o.error) if o.error is not None else None,
                    o.failed_scorer, o.reason) for o in compress_each(compressor, requests)])


class _Worker:
    """One engine process and the parent's end of its pipe."""

    def __init__(self, factory: Callable[[], Compressor], scorers: Sequence[str]) -> None:
        self._conn, child = _SPAWN.Pipe()
        self.process = _SPAWN.Process(target=_serve, args=(child, factory, tuple(scorers)),
                                      daemon=True, name="tersify-engine")
        self.process.start()
        child.close()

    def wait_ready(self) -> None:
        """Block until the engine is built and warm. Raises what building it raised."""
        try:
            if not self._conn.poll(START_TIMEOUT_S):
                raise WorkerDied(f"the engine process did not start in {START_TIMEOUT_S:.0f} s")
            error = self._conn.recv()
        except (EOFError, OSError) as exc:
            raise WorkerDied("the engine process ended while starting") from exc
        if error is not None:
            raise error

    def call(self, requests: list[CompressionRequest]) -> list[Outcome]:
        """The outcomes of ``requests`` (blocking). Raises WorkerDied."""
        try:  # requests and results cross in their wire form (tersify.wire): plain data
            self._conn.send([request_to_dict(r) for r in requests])
            replies = self._conn.recv()
        except (EOFError, OSError) as exc:
            raise WorkerDied("the engine process ended during a batch") from exc
        return [Outcome(result=result_from_dict(data) if data is not None else None,
                        error=error, failed_scorer=failed, reason=reason)
                for data, error, failed, reason in replies]

    def kill(self) -> None:
        # The pipe is left to the garbage collector: a thread abandoned in call() may still be
        # reading it, and sees the end of the file once the process is gone.
        self.process.kill()
        self.process.join(timeout=10)


class ProcessRunner:
    """``processes`` workers; a batch runs on an idle one, within a time limit."""

    def __init__(self, factory: Callable[[], Compressor], processes: int,
                 scorers: Sequence[str] = ()) -> None:
        self.factory, self.processes, self.scorers = factory, processes, tuple(scorers)
        self._idle: list[_Worker] = []
        self._live: list[_Worker] = []  # idle or busy
        self._returned: asyncio.Condition | None = None  # made in the loop that uses it
        self._restarting: set[asyncio.Task[None]] = set()
        self._closed = False
        self.restarts = 0  # workers killed and replaced (for tests and the log)

    def start(self) -> None:
        """Start every worker and wait until all are warm (blocking). Raises what building the
        engine raised, with no worker left behind."""
        workers = [_Worker(self.factory, self.scorers) for _ in range(self.processes)]
        try:
            for worker in workers:
                worker.wait_ready()
        except BaseException:
            for worker in workers:
                worker.kill()
            raise
        self._idle, self._live = list(workers), list(workers)

    def pids(self) -> list[int]:
        """The process ids of the live workers."""
        return [w.process.pid for w in self._live if w.process.pid is not None]

    def close(self) -> None:
        self._closed = True
        for task in list(self._restarting):
            task.cancel()
        for worker in self._live:
            worker.kill()
        self._idle, self._live = [], []

    async def run(self, requests: list[CompressionRequest], timeout: float) -> list[Outcome]:
        """Outcomes of ``requests`` on an idle worker, waiting for one if need be. Past
        ``timeout`` seconds TimeoutError is raised, and a worker busy with the batch is killed
        (a fresh one takes its place once warm); a worker that dies raises WorkerDied."""
        if self._returned is None:
            self._returned = asyncio.Condition()
        with anyio.fail_after(max(timeout, 0.0)):
            async with self._returned:
                await self._returned.wait_for(lambda: bool(self._idle))
                worker = self._idle.pop()
            try:
                outcomes: list[Outcome] = await anyio.to_thread.run_sync(
                    worker.call, requests, abandon_on_cancel=True)
            except BaseException:
                self._retire(worker)
                raise
        await self._give_back(worker)
        return outcomes

    async def _give_back(self, worker: _Worker) -> None:
        assert self._returned is not None
        async with self._returned:
            self._idle.append(worker)
            self._returned.notify()

    def _retire(self, worker: _Worker) -> None:
        worker.kill()
        if worker not in self._live:  # closed meanwhile: the server is stopping
            return
        self._live.remove(worker)
        self.restarts += 1
        task = asyncio.get_running_loop().create_task(self._restart())
        self._restarting.add(task)
        task.add_done_callback(self._restarting.discard)

    async def _restart(self) -> None:
        """A fresh worker for a killed one, idle once it is warm."""
        while not self._closed:
            fresh = _Worker(self.factory, self.scorers)
            try:
                await anyio.to_thread.run_sync(fresh.wait_ready, abandon_on_cancel=True)
            except Exception:
                fresh.kill()
                log.exception("an engine process failed to start; trying again in 5 s")
                await asyncio.sleep(5)
                continue
            except BaseException:  # cancelled: the server is stopping
                fresh.kill()
                raise
            if self._closed:
                fresh.kill()
            else:
                self._live.append(fresh)
                await self._give_back(fresh)
            return
