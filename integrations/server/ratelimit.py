"""Sliding-window rate limits per key: in memory by default, in Redis for many replicas.

A window of ``limit`` requests per ``window_s`` seconds: a request is allowed when fewer than
``limit`` requests were allowed in the last ``window_s`` seconds. Both back ends keep the
timestamps of the allowed requests (Redis: a sorted set per key, updated by one Lua script, so
replicas sharing the server agree exactly) and report what the ``X-RateLimit-*`` headers need.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol

from tersify._optional import require
from tersify.integrations.server.errors import Outage

__all__ = ["Decision", "MemoryLimiter", "RateLimiter", "RedisLimiter", "make_limiter"]


@dataclass(frozen=True, kw_only=True)
class Decision:
    """The outcome of one hit."""

    allowed: bool
    limit: int
    remaining: int
    reset_at: float  # epoch seconds when the oldest counted request leaves the window

    @property
    def retry_after(self) -> int:
        """Whole seconds to wait before a retry can succeed."""
        return max(1, math.ceil(self.reset_at - time.time()))


class RateLimiter(Protocol):
    def hit(self, bucket: str, limit: int, window_s: int, cost: int = 1) -> Decision:
        """Count ``cost`` requests at once, all or none (a batch of items); ``cost`` 0 only
        asks whether one more request would pass, counting nothing."""

    def ping(self) -> None:
        """Return once the back end answers (readiness); raise BackendUnavailable if not."""


class _Bucket:
    __slots__ = ("times", "window_s")

    def __init__(self, window_s: int) -> None:
        self.window_s = window_s
        self.times: deque[float] = deque()


class MemoryLimiter:
    """One process's limits (a deque of timestamps per bucket).

    Buckets whose newest request has left its window are dropped by a sweep that runs whenever
    the number of buckets has doubled since the last one (and is at least ``sweep_from``): a
    sweep of n buckets follows at least n/2 new ones, so eviction costs O(1) per hit amortized
    and memory follows the clients of the last window, not every client ever seen.
    """

    def __init__(self, *, sweep_from: int = 1024) -> None:
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()
        self._sweep_from = self._sweep_at = sweep_from

    def __len__(self) -> int:
        """How many buckets are held."""
        return len(self._buckets)

    def ping(self) -> None:
        """Always ready: nothing to reach."""

    def hit(self, bucket: str, limit: int, window_s: int, cost: int = 1) -> Decision:
        now = time.time()
        with self._lock:
            held = self._buckets.get(bucket)
            if held is None:
                if cost == 0:  # a question only: hold nothing for it
                    return Decision(allowed=limit >= 1, limit=limit, remaining=limit,
                                    reset_at=now + window_s)
                if len(self._buckets) >= self._sweep_at:
                    self._sweep(now)
                held = self._buckets[bucket] = _Bucket(window_s)
            held.window_s = window_s
            hits = held.times
            while hits and hits[0] <= now - window_s:
                hits.popleft()
            allowed = len(hits) + max(cost, 1) <= limit
            if allowed:
                hits.extend([now] * cost)
            reset = (hits[0] if hits else now) + window_s
            return Decision(allowed=allowed, limit=limit, remaining=max(0, limit - len(hits)),
                            reset_at=reset)

    def _sweep(self, now: float) -> None:
        """Keep the buckets with a request inside their window (a new dict: dicts never shrink)."""
        self._buckets = {name: b for name, b in self._buckets.items()
                         if b.times and b.times[-1] > now - b.window_s}
        self._sweep_at = max(self._sweep_from, 2 * len(self._buckets))


# KEYS[1] bucket; ARGV: window (ms), limit, cost, member prefix. Returns {allowed, count,
# oldest (ms)}. The clock is Redis's own TIME, not the caller's: replicas whose clocks differ
# still share one window (Redis 5+ replicates a script's effects, so TIME may precede writes).
_SCRIPT = """
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local window, limit, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
local allowed = 0
if count + math.max(cost, 1) <= limit then
  for i = 1, cost do
    redis.call('ZADD', KEYS[1], now, ARGV[4] .. '-' .. i)
  end
  count = count + cost
  allowed = 1
end
redis.call('PEXPIRE', KEYS[1], window)
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2] or now
return {allowed, count, tostring(oldest)}
"""


REDIS_TIMEOUT_S = 1.0


class RedisLimiter:
    """Limits shared by every replica that uses the same Redis (``redis://host:port/db``).

    Every call is bounded: connecting and each reply wait at most ``REDIS_TIMEOUT_S``, with one
    retry on a fresh connection (a restarted Redis leaves the pool's connections dead). A Redis
    that is down or stuck is a :class:`BackendUnavailable` (503 with Retry-After), logged once
    per outage, never a hang or a 500.
    """

    def __init__(self, url: str, prefix: str = "tersify:rl:") -> None:
        redis = require("redis", extra="server")
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self._client: Any = redis.Redis.from_url(
            url, socket_connect_timeout=REDIS_TIMEOUT_S, socket_timeout=REDIS_TIMEOUT_S,
            retry=Retry(NoBackoff(), 1))
        self._script = self._client.register_script(_SCRIPT)
        self._prefix = prefix
        self._errors: type[Exception] = redis.RedisError
        self.outage = Outage("Redis")

    def hit(self, bucket: str, limit: int, window_s: int, cost: int = 1) -> Decision:
        started = time.monotonic()
        try:
            allowed, count, oldest = self._script(
                keys=[self._prefix + bucket],
                args=[window_s * 1000, limit, cost, uuid.uuid4().hex])
        except self._errors as exc:
            raise self.outage.failed(exc) from exc
        self.outage.ok(started)
        return Decision(allowed=bool(allowed), limit=limit, remaining=max(0, limit - int(count)),
                        reset_at=float(oldest) / 1000 + window_s)

    def ping(self) -> None:
        """Return once Redis answers PING; BackendUnavailable if it does not in time."""
        started = time.monotonic()
        try:
            self._client.ping()
        except self._errors as exc:
            raise self.outage.failed(exc) from exc
        self.outage.ok(started)


def make_limiter(url: str | None) -> RateLimiter:
    """Redis when ``url`` names it, else in memory."""
    return RedisLimiter(url) if url else MemoryLimiter()
