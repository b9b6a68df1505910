"""What running the engine in a worker process costs ``fast``: latency, throughput, memory.

    python benchmarks/pool_cost.py --requests 1200

The server can compress in threads of its own process (``engine_processes=0``) or in worker
processes (``engine_processes=N``), where a stuck compression can be killed. This measures the
price of the second on the request of ``benchmarks/load.py`` (question 0 of
../shared/eval/nq20.jsonl: 20 documents, about 2,400 cl100k tokens, target_ratio 0.25), with
the ``fast`` preset, in three set-ups:

* ``direct``: ``Compressor.compress`` called in a loop (no server machinery);
* ``threads``: the server's Batcher with ``engine_threads=1`` (micro-batching, a thread hop);
* ``process``: the server's Batcher with ``engine_processes=1`` (the same, plus a pipe to a
  worker process, the request and the result pickled in their wire form).

For each: p50 and p99 latency of one request sent alone (``--requests`` of them, back to back),
requests per second with 8 concurrent callers (twice as many requests), and the resident memory
of the process(es) doing the work. The set-ups take turns (16 requests alone, then 32 from the
concurrent callers), so that whatever else runs on the machine weighs on all three alike. The
batch wait is 0 here, so that only the hand-off is measured. The table goes to stdout and to
``benchmarks/results/pool_cost.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import math
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import machine, write_table_page  # noqa: E402

from tersify import Compressor  # noqa: E402
from tersify.integrations.server.batching import Batcher  # noqa: E402
from tersify.types import CompressionRequest  # noqa: E402


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--requests", type=int, default=1200, help="requests alone per set-up")
    p.add_argument("--concurrent", type=int, default=8, help="callers of the throughput run")
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "eval" / "nq20.jsonl"))
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "pool_cost.md"))
    return p.parse_args(argv)


def nq20_request(path: str) -> CompressionRequest:
    with open(path, encoding="utf-8") as fh:
        first = json.loads(fh.readline())
    return CompressionRequest(contexts=[f"{c['title']}\n{c['text']}" for c in first["contexts"]],
                              question=first["question"], target_ratio=0.25)


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


async def timed(call: Callable[[], Awaitable[object]], n: int) -> list[float]:
    """Milliseconds of ``n`` calls made one after another."""
    times = []
    for _ in range(n):
        started = time.perf_counter()
        await call()
        times.append((time.perf_counter() - started) * 1000)
    return times


async def throughput(call: Callable[[], Awaitable[object]], n: int, callers: int) -> float:
    """Seconds for ``callers`` concurrent callers to make ``n`` calls in all."""
    each = math.ceil(n / callers)

    async def caller() -> None:
        for _ in range(each):
            await call()

    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(callers)))
    return time.perf_counter() - started


SETUPS = ("direct", "threads", "process")
TURN = 16  # requests one at a time that each set-up makes before the next takes its turn
BUSY_TURN = 32  # and requests from the concurrent callers


async def measure(request: CompressionRequest, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Every set-up, measured in interleaved rounds (so that whatever else the machine does
    falls on all of them alike)."""
    factory = functools.partial(Compressor, preset="fast", linear_patterns=True)
    engine = factory()
    batchers = {name: Batcher(engine, max_wait_ms=0.0, threads=1, factory=factory,
                              processes=1 if name == "process" else 0)
                for name in SETUPS[1:]}
    for batcher in batchers.values():
        batcher.start()

    def caller(name: str) -> Callable[[], Awaitable[object]]:
        async def direct() -> object:
            return engine.compress(request)

        return direct if name == "direct" else functools.partial(batchers[name].compress,
                                                                 request)

    times: dict[str, list[float]] = {name: [] for name in SETUPS}
    busy: dict[str, float] = dict.fromkeys(SETUPS, 0.0)
    rounds = max(1, args.requests // TURN)
    try:
        for name in SETUPS:
            await timed(caller(name), 20)  # warm
        for _ in range(rounds):
            for name in SETUPS:
                times[name] += await timed(caller(name), TURN)
                busy[name] += await throughput(caller(name), BUSY_TURN, args.concurrent)
        pool = batchers["process"].pool
        pids = [os.getpid(), *(pool.pids() if pool else [])]
        memory = {"direct": rss_mb(os.getpid()), "threads": rss_mb(os.getpid()),
                  "process": sum(rss_mb(pid) for pid in pids)}
    finally:
        for batcher in batchers.values():
            batcher.close()
    rows = []
    for name in SETUPS:
        ordered = sorted(times[name])
        rows.append({"setup": name, "p50": statistics.median(ordered),
                     "p99": ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)],
                     "rps": rounds * BUSY_TURN / busy[name], "rss": memory[name]})
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    request = nq20_request(args.data)
    machine_line = machine()
    rows = [f"| set-up | p50 ms | p99 ms | req/s ({args.concurrent} callers) | RSS MB |",
            "|---|---|---|---|---|"]
    for r in asyncio.run(measure(request, args)):
        rows.append(f"| {r['setup']} | {r['p50']:.2f} | {r['p99']:.2f} | {r['rps']:.1f} | "
                    f"{r['rss']:.0f} |")
        print(rows[-1], flush=True)
    write_table_page(
        args.out, "What a worker process costs the fast preset", machine_line,
        f"nq20 question 0 (20 documents), target_ratio 0.25, preset fast; {args.requests} "
        "sequential requests per set-up, batch wait 0; RSS of the serving process plus its "
        "worker", rows)

if __name__ == "__main__":
    main()
