"""Sliding-window rate limits in a SQLite file, shared by the worker processes of one machine.

``tersify serve --workers N`` with no Redis keeps its limits here, in the database file that
already holds the keys: limits kept in each process's memory would let a key through N times
its limit. The window is the in-memory limiter's, exactly (ratelimit.py): a request is allowed
when fewer than ``limit`` requests were allowed in the last ``window_s`` seconds. Each hit is one
``BEGIN IMMEDIATE`` transaction (SQLite's write lock, so the processes take turns), and costs
O(log n) in the hits a bucket holds: a counter per bucket is kept beside one row per allowed
hit (its time and its cost), and a hit deletes the rows that left the window and subtracts
them. Buckets whose last hit has left their window are swept every ``SWEEP_EVERY`` hits.
The processes share one clock (one machine), so their windows agree.
"""

from __future__ import annotations

import sqlite3
import threading
import time

from tersify.integrations.server.errors import Outage
from tersify.integrations.server.ratelimit import Decision

__all__ = ["SqliteLimiter"]

WAIT_S = 5  # SQLite's busy timeout: how long the write lock is waited for
SWEEP_EVERY = 1024  # hits of one process between two sweeps of stale buckets

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tersify_rate_buckets (
    bucket TEXT PRIMARY KEY, count INTEGER NOT NULL, expires REAL NOT NULL);
CREATE INDEX IF NOT EXISTS tersify_rate_buckets_expires ON tersify_rate_buckets (expires);
CREATE TABLE IF NOT EXISTS tersify_rate_hits (
    bucket TEXT NOT NULL, at REAL NOT NULL, cost INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS tersify_rate_hits_bucket_at ON tersify_rate_hits (bucket, at);
"""


class SqliteLimiter:
    """Limits in the SQLite file at ``path``, shared by every process that opens it.

    A file that stays write-locked past the busy timeout, or cannot be written, is a
    :class:`BackendUnavailable` (503 with Retry-After), as with Redis.
    """

    def __init__(self, path: str) -> None:
        # One connection, used by one thread at a time (the routes call from a thread pool).
        self._db = sqlite3.connect(path, timeout=WAIT_S, isolation_level=None,
                                   check_same_thread=False)
        self._lock = threading.Lock()
        self._hits = 0
        self.outage = Outage("database")  # the same file as the keys
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # as the key store: see store.py
            self._db.executescript(_SCHEMA)

    def hit(self, bucket: str, limit: int, window_s: int, cost: int = 1) -> Decision:
        started = time.monotonic()
        try:
            with self._lock:
                decision = self._hit(bucket, limit, window_s, cost)
        except sqlite3.Error as exc:
            raise self.outage.failed(exc) from exc
        self.outage.ok(started)
        return decision

    def _hit(self, bucket: str, limit: int, window_s: int, cost: int) -> Decision:
        db, now = self._db, time.time()
        db.execute("BEGIN IMMEDIATE")
        try:
            left = db.execute("DELETE FROM tersify_rate_hits WHERE bucket = ? AND at <= ? "
                              "RETURNING cost", (bucket, now - window_s)).fetchall()
            row = db.execute("SELECT count FROM tersify_rate_buckets WHERE bucket = ?",
                             (bucket,)).fetchone()
            count = (row[0] if row else 0) - sum(c for (c,) in left)
            allowed = count + max(cost, 1) <= limit
            if allowed and cost:
                db.execute("INSERT INTO tersify_rate_hits VALUES (?, ?, ?)", (bucket, now, cost))
                count += cost
            if row is not None or (allowed and cost):
                db.execute("INSERT OR REPLACE INTO tersify_rate_buckets VALUES (?, ?, ?)",
                           (bucket, count, self._newest(bucket, now) + window_s))
            oldest = db.execute("SELECT min(at) FROM tersify_rate_hits WHERE bucket = ?",
                                (bucket,)).fetchone()[0]
            self._hits += 1
            if self._hits % SWEEP_EVERY == 0:
                self._sweep(now)
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        return Decision(allowed=allowed, limit=limit, remaining=max(0, limit - count),
                        reset_at=(oldest if oldest is not None else now) + window_s)

    def _newest(self, bucket: str, now: float) -> float:
        newest = self._db.execute("SELECT max(at) FROM tersify_rate_hits WHERE bucket = ?",
                                  (bucket,)).fetchone()[0]
        return newest if newest is not None else now

    def _sweep(self, now: float) -> None:
        """Drop the buckets (and their hits) whose newest hit has left the window."""
        stale = "SELECT bucket FROM tersify_rate_buckets WHERE expires <= ?"
        self._db.execute(f"DELETE FROM tersify_rate_hits WHERE bucket IN ({stale})", (now,))
        self._db.execute("DELETE FROM tersify_rate_buckets WHERE expires <= ?", (now,))

    def ping(self) -> None:
        """Return once the file takes a write lock (within half a second); BackendUnavailable
        if it does not."""
        started = time.monotonic()
        try:
            with self._lock:
                self._db.execute("PRAGMA busy_timeout=500")
                try:
                    self._db.execute("BEGIN IMMEDIATE")
                    self._db.execute("ROLLBACK")
                finally:
                    self._db.execute(f"PRAGMA busy_timeout={WAIT_S * 1000}")
        except sqlite3.Error as exc:
            raise self.outage.failed(exc) from exc
        self.outage.ok(started)

    def close(self) -> None:
        with self._lock:
            self._db.close()
