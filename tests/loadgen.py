"""Load and a liveness watch for servers under fault: shared by the fault suite
(tests/test_faults.py) and the soak benchmark (benchmarks/soak.py).

:class:`Load` runs concurrent clients posting one body back to back from a thread of its own
and keeps every outcome; :class:`HealthWatch` polls ``/healthz`` with a 1 s timeout.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Mapping
from typing import Any

import httpx

__all__ = ["ANSWERED", "BODY", "HealthWatch", "Load", "error_shape"]

BODY = {"context": "The Harbor Line tram opened to passengers on 14 May 1911.\n"
                   "A single ticket cost two copper pennies.\n"
                   "The lighthouse was finished in 1887 and automated in 1961.",
        "query": "When did the tram open?"}
ANSWERED = {200, 503}  # served, or refused honestly while a back end is out


class Load:
    """``clients`` clients posting ``body`` to ``path`` back to back, from a thread of their
    own, until the block ends. Keeps every outcome (a status, or the name of a client-side
    error: a refused or dropped connection, a timeout) and the latency of each 200 in ms."""

    def __init__(self, url: str, secret: str, *, clients: int = 4, timeout: float = 30,
                 path: str = "/v1/compress", body: Mapping[str, Any] = BODY) -> None:
        self.url, self.secret, self.clients, self.timeout = url, secret, clients, timeout
        self.path, self.body = path, dict(body)
        self.outcomes: list[int | str] = []
        self.latencies_ms: list[float] = []
        self.off_shape: list[str] = []  # error answers outside the JSON shape
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def mark(self) -> int:
        return len(self.outcomes)

    def count(self, outcome: int | str, since: int = 0) -> int:
        return self.outcomes[since:].count(outcome)

    async def _run(self) -> None:
        limits = httpx.Limits(max_connections=self.clients + 4)
        async with httpx.AsyncClient(timeout=self.timeout, limits=limits) as client:
            await asyncio.gather(*(self._client(client) for _ in range(self.clients)))

    async def _client(self, client: httpx.AsyncClient) -> None:
        while not self._stop.is_set():
            started = time.perf_counter()
            try:
                r = await client.post(self.url + self.path, json=self.body,
                                      headers={"X-API-Key": self.secret})
            except httpx.HTTPError as exc:
                self.outcomes.append(type(exc).__name__)
                await asyncio.sleep(0.05)
                continue
            self.outcomes.append(r.status_code)
            if r.status_code == 200:
                self.latencies_ms.append((time.perf_counter() - started) * 1000)
            else:
                if not error_shape(r):
                    self.off_shape.append(r.text[:300])
                await asyncio.sleep(0.05)  # do not spin on fast refusals


def error_shape(r: httpx.Response) -> bool:
    """Whether an error answer has the JSON shape, no trace, and a 503 its Retry-After."""
    try:
        error = r.json()["error"]
    except (ValueError, KeyError, TypeError):
        return False
    fine = set(error) == {"type", "message", "request_id"} and "Traceback" not in r.text
    return fine and (r.status_code != 503 or r.headers.get("Retry-After", "").isdigit())


class HealthWatch:
    """Polls ``/healthz`` ten times a second with a 1 s timeout; keeps what went wrong and
    the slowest answer. Entering returns after the first poll, so a watch always saw one."""

    def __init__(self, url: str) -> None:
        self.url, self.polls, self.slowest_ms = url, 0, 0.0
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._first = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> HealthWatch:
        self._thread.start()
        self._first.wait(timeout=5)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        with httpx.Client(timeout=1.0) as client:
            while True:
                self._poll(client)
                self._first.set()
                if self._stop.wait(0.1):
                    return

    def _poll(self, client: httpx.Client) -> None:
        self.polls += 1
        started = time.perf_counter()
        try:
            r = client.get(self.url + "/healthz")
            if r.status_code != 200:
                self.failures.append(f"status {r.status_code}")
        except httpx.HTTPError as exc:
            self.failures.append(type(exc).__name__)
        self.slowest_ms = max(self.slowest_ms, (time.perf_counter() - started) * 1000)
