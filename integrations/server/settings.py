"""Server settings: defaults that run with no configuration, overridable by ``TERSIFY_*``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields

__all__ = ["ServerSettings"]


@dataclass(frozen=True, kw_only=True)
class ServerSettings:
    """Everything the app factory needs.

    Args:
        database_url: SQLAlchemy URL of the keys and usage store (``postgresql+psycopg://...``
            for PostgreSQL); a SQLite file in the working directory by default.
        redis_url: Redis for rate limits shared by replicas; in memory when None.
        admin_token: Bearer token of the ``/admin`` endpoints; they answer 401 when None.
        preset: The engine preset that serves requests.
        rate_limit: Requests per key and window, unless the key has its own.
        rate_window_s: The window, in seconds.
        playground_limit: Requests per client address and window on ``/api/compress``.
        max_body_bytes: Larger bodies get 413.
        engine_threads: Compressions running at once (each may batch several requests).
        max_batch: Requests compressed together at most.
        batch_wait_ms: How long the first request of a batch waits for company.
    """

    database_url: str = "sqlite:///tersify.db"
    redis_url: str | None = None
    admin_token: str | None = None
    preset: str = "fast"
    rate_limit: int = 300
    rate_window_s: int = 300
    playground_limit: int = 60
    max_body_bytes: int = 2_000_000
    engine_threads: int = 1
    max_batch: int = 16
    batch_wait_ms: float = 2.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServerSettings:
        """Settings from ``TERSIFY_<FIELD>`` variables (e.g. ``TERSIFY_DATABASE_URL``)."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get("TERSIFY_" + f.name.upper())
            if raw is None:
                continue
            kind = type(f.default) if f.default is not None else str
            values[f.name] = kind(raw) if kind in (int, float) else raw
        return cls(**values)  # type: ignore[arg-type]
