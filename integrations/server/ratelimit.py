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
    def hit(self, bucket: str, limit: int, window_s: int) -> Decision: ...


class MemoryLimiter:
    """One process's limits (a deque of timestamps per bucket)."""

    def __init__(self) -> None:
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, bucket: str, limit: int, window_s: int) -> Decision:
        now = time.time()
        with self._lock:
            hits = self._hits.setdefault(bucket, deque())
            while hits and hits[0] <= now - window_s:
                hits.popleft()
            allowed = len(hits) < limit
            if allowed:
                hits.append(now)
            reset = (hits[0] if hits else now) + window_s
            return Decision(allowed=allowed, limit=limit, remaining=max(0, limit - len(hits)),
                            reset_at=reset)


# KEYS[1] bucket; ARGV: now (ms), window (ms), limit, member. Returns {allowed, count, oldest}.
_SCRIPT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1] - ARGV[2])
local count = redis.call('ZCARD', KEYS[1])
local allowed = 0
if count < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
  count = count + 1
  allowed = 1
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2] or ARGV[1]
return {allowed, count, oldest}
"""


class RedisLimiter:
    """Limits shared by every replica that uses the same Redis (``redis://host:port/db``)."""

    def __init__(self, url: str, prefix: str = "tersify:rl:") -> None:
        redis = require("redis", extra="server")
        self._client: Any = redis.Redis.from_url(url)
        self._script = self._client.register_script(_SCRIPT)
        self._prefix = prefix

    def hit(self, bucket: str, limit: int, window_s: int) -> Decision:
        now_ms = int(time.time() * 1000)
        allowed, count, oldest = self._script(
            keys=[self._prefix + bucket],
            args=[now_ms, window_s * 1000, limit, f"{now_ms}-{uuid.uuid4().hex}"])
        return Decision(allowed=bool(allowed), limit=limit, remaining=max(0, limit - int(count)),
                        reset_at=float(oldest) / 1000 + window_s)


def make_limiter(url: str | None) -> RateLimiter:
    """Redis when ``url`` names it, else in memory."""
    return RedisLimiter(url) if url else MemoryLimiter()
