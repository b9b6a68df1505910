"""Readiness: what ``/readyz`` checks, each within a bound.

``/healthz`` says the process is up. ``/readyz`` says whether a request can be served now: the
engine is built and warm (its models loaded), the database answers (SQLite: and takes a write,
as recording usage needs), and Redis answers PING when the limits live there. The checks run at
once, in threads abandoned after ``READY_TIMEOUT_S``, so a back end that hangs makes /readyz
say 503 in about that time, never hang it. Nothing reads the key table.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio

__all__ = ["READY_TIMEOUT_S", "unready"]

READY_TIMEOUT_S = 2.0


async def unready(state: Any) -> list[str]:
    """The parts that are not ready (empty when all are), in a fixed order."""
    failing: set[str] = set() if state.batcher.ready else {"engine"}

    async def check(name: str, probe: Callable[[], None]) -> None:
        try:
            with anyio.fail_after(READY_TIMEOUT_S):
                await anyio.to_thread.run_sync(probe, abandon_on_cancel=True)
        except Exception:
            failing.add(name)

    async with anyio.create_task_group() as group:
        group.start_soon(check, "database", state.store.ping)
        group.start_soon(check, "redis", state.gate.limiter.ping)
    return [name for name in ("engine", "database", "redis") if name in failing]
