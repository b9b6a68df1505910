"""Server settings: defaults that run with no configuration, overridable by ``TERSIFY_*``.

Every value is checked when the settings are made (directly or by :meth:`from_env`), so a bad
configuration stops the server at start with one line naming the setting, not at its first
request.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from urllib.parse import urlsplit

from tersify.errors import TersifyError
from tersify.presets import available_presets

__all__ = ["ServerSettings", "SettingsError"]

_COUNTS = ("rate_limit", "rate_window_s", "playground_limit", "max_body_bytes",
           "engine_threads", "max_batch")
_OPTIONAL = ("redis_url", "admin_token")  # an empty variable leaves these unset
_REDIS_SCHEMES = ("redis", "rediss", "unix")
_SECRET = ("database_url", "redis_url", "admin_token")  # may hold passwords: never echoed


class SettingsError(TersifyError, ValueError):
    """A setting has a value the server cannot run with."""


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

    Raises:
        SettingsError: A value is out of range, of the wrong type, or names no known preset,
            database or Redis URL.
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

    def __post_init__(self) -> None:
        for f in fields(self):
            problem = _problem(f.name, getattr(self, f.name))
            if problem:
                raise SettingsError(f"{f.name} {problem}{_shown(f.name, getattr(self, f.name))}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServerSettings:
        """Settings from ``TERSIFY_<FIELD>`` variables (e.g. ``TERSIFY_DATABASE_URL``).

        Raises:
            SettingsError: A variable's value is not a valid setting (the message names it).
        """
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            variable = "TERSIFY_" + f.name.upper()
            raw = env.get(variable)
            if raw is None or (raw == "" and f.name in _OPTIONAL):
                continue
            value, problem = _parse(f.name, raw)
            if problem:
                raise SettingsError(f"{variable} {problem}{_shown(f.name, raw)}")
            values[f.name] = value
        return cls(**values)  # type: ignore[arg-type]


def _shown(name: str, value: object) -> str:
    return "" if name in _SECRET else f", got {value!r}"


def _parse(name: str, raw: str) -> tuple[object, str | None]:
    """The value of setting ``name`` written as ``raw``, and what is wrong with it if anything."""
    value: object = raw
    try:
        if name in _COUNTS:
            value = int(raw.strip())
        elif name == "batch_wait_ms":
            value = float(raw.strip())
    except ValueError:
        pass  # left a string: _problem says what it should be
    return value, _problem(name, value)


def _problem(name: str, value: object) -> str | None:
    """Why ``value`` cannot be setting ``name``; None when it can."""
    if name in _COUNTS:
        fine = type(value) is int and value >= 1
        return None if fine else "must be a whole number of at least 1"
    if name == "batch_wait_ms":
        fine = (isinstance(value, int | float) and not isinstance(value, bool)
                and math.isfinite(value) and 0 <= value <= 60_000)
        return None if fine else "must be a number of milliseconds from 0 to 60000"
    if name == "preset":
        fine = value in available_presets()
        return None if fine else f"must be one of {', '.join(available_presets())}"
    if name == "database_url":
        return _database_problem(value)
    if name == "redis_url":
        fine = value is None or (isinstance(value, str) and _scheme(value) in _REDIS_SCHEMES)
        return None if fine else "must be a redis://, rediss:// or unix:// URL"
    fine = value is None or (isinstance(value, str) and value != "")  # admin_token
    return None if fine else "must be a non-empty string"


def _scheme(url: str) -> str:
    try:
        return urlsplit(url).scheme.lower()
    except ValueError:
        return ""


def _database_problem(value: object) -> str | None:
    """A URL that SQLAlchemy parses and whose dialect it knows (the driver loads later)."""
    if not isinstance(value, str) or "://" not in value:
        return "must be a SQLAlchemy URL such as sqlite:///tersify.db"
    try:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError
    except ImportError:
        return None  # the store names the missing extra when it starts
    try:
        make_url(value).get_dialect()
    except (ArgumentError, NoSuchModuleError, ValueError):
        return "must be a SQLAlchemy URL of a known database (sqlite, postgresql+psycopg)"
    return None
