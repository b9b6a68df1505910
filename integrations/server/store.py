"""API keys and usage in SQL: a SQLite file by default, PostgreSQL when the URL names it.

A key is ``tsk_live_`` plus 32 random bytes (URL-safe base64). Only its SHA-256 is stored (the
secret is high-entropy, so a slow hash adds nothing) and it is shown once, at creation. Usage is
one row per key and day, incremented by a single atomic upsert after a request succeeded, so
concurrent requests and several server replicas never lose a count.

Every wait is bounded, so that a database that is down, restarting or write-locked costs a
request seconds, not minutes: connecting (PostgreSQL), a statement (PostgreSQL), a lock
(SQLite's busy timeout) and a free pooled connection each give up after a few seconds. A
failure to reach the database is a :class:`BackendUnavailable` (a 503 with Retry-After),
logged once per outage.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from tersify._optional import require
from tersify.errors import TersifyError
from tersify.integrations.server.errors import Outage

__all__ = ["KEY_PREFIX", "ApiKey", "KeyStore", "StoreError", "UsageDay", "hash_secret"]

KEY_PREFIX = "tsk_live_"
WAIT_S = 5  # the longest a statement, a lock or a pooled connection is waited for
CONNECT_TIMEOUT_S = 2
PING_WAIT_MS = 500  # readiness: how long SQLite's write lock is waited for

# One JSON line per key created or revoked (never a secret), whether by the API or the CLI.
audit_log = logging.getLogger("tersify.server.audit")


@dataclass(frozen=True, kw_only=True)
class ApiKey:
    """One API key (never its secret)."""

    id: str
    name: str
    hint: str  # the secret's first characters, to recognise it
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    rate_limit: int | None  # requests per window; None: the server default
    rate_window_s: int | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True, kw_only=True)
class UsageDay:
    """Successful requests and tokens of one key on one UTC day."""

    day: str
    requests: int
    tokens_in: int
    tokens_out: int


def hash_secret(secret: str) -> str:
    """The stored form of a key's secret."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class StoreError(TersifyError):
    """The database cannot be opened (unreachable, refused, or a path that cannot exist)."""


class KeyStore:
    """Keys and usage behind a SQLAlchemy URL (``sqlite:///path`` or ``postgresql+psycopg://``)."""

    def __init__(self, url: str) -> None:
        sa = require("sqlalchemy", extra="server")
        self._sa = sa
        self.url = url
        postgres = sa.engine.make_url(url).get_backend_name() == "postgresql"
        connect_args: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT_S,
                                        "options": f"-c statement_timeout={WAIT_S * 1000}"}
        # A pooled PostgreSQL connection may have been closed by the server (a restart): each
        # is pinged when taken. A SQLite connection is a file handle, and a ping a query.
        self._engine = sa.create_engine(url, pool_pre_ping=postgres, pool_timeout=WAIT_S,
                                        connect_args=connect_args if postgres else {})
        self.outage = Outage("database")
        if self._engine.dialect.name == "sqlite":
            sa.event.listen(self._engine, "connect", _sqlite_pragmas)
        meta = sa.MetaData()
        self._keys = sa.Table(
            "tersify_keys", meta,
            sa.Column("id", sa.String(32), primary_key=True),
            sa.Column("hash", sa.String(64), nullable=False, unique=True),
            sa.Column("hint", sa.String(16), nullable=False),
            sa.Column("name", sa.String(200), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("rate_limit", sa.Integer, nullable=True),
            sa.Column("rate_window_s", sa.Integer, nullable=True))
        self._usage = sa.Table(
            "tersify_usage", meta,
            sa.Column("key_id", sa.String(32), sa.ForeignKey("tersify_keys.id"), primary_key=True),
            sa.Column("day", sa.String(10), primary_key=True),
            sa.Column("requests", sa.BigInteger, nullable=False),
            sa.Column("tokens_in", sa.BigInteger, nullable=False),
            sa.Column("tokens_out", sa.BigInteger, nullable=False))
        try:
            meta.create_all(self._engine)
        except sa.exc.SQLAlchemyError as exc:  # one line, without the SQL and the trace
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise StoreError(f"cannot open the database: {reason}") from exc
        # The dialect's INSERT (SQLite and PostgreSQL both have ON CONFLICT DO UPDATE).
        dialect = self._engine.dialect.name
        insert = require(f"sqlalchemy.dialects.{dialect}", extra="server").insert
        self._add_usage = _usage_upsert(insert, self._usage)

    def create(self, name: str, *, rate_limit: int | None = None,
               rate_window_s: int | None = None) -> tuple[ApiKey, str]:
        """A new key and its secret (the only time the secret is available)."""
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        row = {"id": "key_" + secrets.token_hex(8), "hash": hash_secret(secret),
               "hint": secret[: len(KEY_PREFIX) + 4], "name": name,
               "created_at": dt.datetime.now(dt.UTC), "revoked_at": None,
               "rate_limit": rate_limit, "rate_window_s": rate_window_s}
        with self._connection(write=True) as conn:
            conn.execute(self._keys.insert().values(**row))
        audit_log.info(json.dumps({"event": "key_created", "key_id": row["id"], "name": name,
                                   "rate_limit": rate_limit, "rate_window_s": rate_window_s}))
        return _key(row), secret

    def all(self) -> list[ApiKey]:
        """Every key, oldest first."""
        with self._connection() as conn:
            rows = conn.execute(self._keys.select().order_by(self._keys.c.created_at)).mappings()
            return [_key(r) for r in rows]

    def get(self, key_id: str) -> ApiKey | None:
        with self._connection() as conn:
            row = conn.execute(self._keys.select().where(self._keys.c.id == key_id)).mappings()
            found = row.first()
        return _key(found) if found else None

    def revoke(self, key_id: str) -> bool:
        """Revoke a key at once; False when no active key has this id."""
        keys = self._keys
        with self._connection(write=True) as conn:
            active = keys.c.revoked_at.is_(None)
            done = conn.execute(keys.update().where(keys.c.id == key_id, active)
                                .values(revoked_at=dt.datetime.now(dt.UTC)))
        if done.rowcount:
            audit_log.info(json.dumps({"event": "key_revoked", "key_id": key_id}))
        return bool(done.rowcount)

    def authenticate(self, secret: str) -> ApiKey | None:
        """The active key with this secret, or None."""
        if not secret.startswith(KEY_PREFIX):
            return None
        keys = self._keys
        with self._connection() as conn:
            row = conn.execute(keys.select().where(keys.c.hash == hash_secret(secret))).mappings()
            found = row.first()
        key = _key(found) if found else None
        return key if key and key.active else None

    def record(self, key_id: str, *, tokens_in: int, tokens_out: int, requests: int = 1,
               day: str | None = None) -> None:
        """Add successful requests (one call, or a batch's items) to today's usage row,
        atomically."""
        values = {"key_id": key_id, "day": day or dt.datetime.now(dt.UTC).date().isoformat(),
                  "requests": requests, "tokens_in": tokens_in, "tokens_out": tokens_out}
        with self._connection(write=True) as conn:
            conn.execute(self._add_usage, values)

    def usage(self, key_id: str, *, first: str | None = None,
              last: str | None = None) -> list[UsageDay]:
        """Usage by day, oldest first: the days from ``first`` to ``last`` (ISO dates, both
        included) that have any, or every such day when they are None.

        Days are stored as fixed-width ISO dates, so they sort as strings in either database
        (and in any collation: digits and hyphens at the same places), and a range is a scan of
        the key's part of the primary key."""
        usage = self._usage
        where = [usage.c.key_id == key_id]
        if first is not None:
            where.append(usage.c.day >= first)
        if last is not None:
            where.append(usage.c.day <= last)
        with self._connection() as conn:
            rows = conn.execute(usage.select().where(*where).order_by(usage.c.day)).mappings()
            return [UsageDay(day=r["day"], requests=int(r["requests"]),
                             tokens_in=int(r["tokens_in"]), tokens_out=int(r["tokens_out"]))
                    for r in rows]

    def ping(self) -> None:
        """Return once the database answers (SQLite: and takes a write, as recording usage
        needs; a write-locked file is not ready), within a few seconds.

        Raises:
            BackendUnavailable: It does not.
        """
        with self._connection() as conn:
            if self._engine.dialect.name != "sqlite":
                conn.exec_driver_sql("SELECT 1")
                return
            conn.exec_driver_sql(f"PRAGMA busy_timeout={PING_WAIT_MS}")
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock, released at once
                conn.exec_driver_sql("ROLLBACK")
            finally:
                conn.exec_driver_sql(f"PRAGMA busy_timeout={WAIT_S * 1000}")

    def close(self) -> None:
        self._engine.dispose()

    @contextmanager
    def _connection(self, *, write: bool = False) -> Iterator[Any]:
        """A connection (in a transaction when ``write``). Failing to reach the database, or
        to get its lock or a pooled connection in time, raises BackendUnavailable."""
        exc_types = self._sa.exc
        started = time.monotonic()
        try:
            with (self._engine.begin() if write else self._engine.connect()) as conn:
                yield conn
        except (exc_types.OperationalError, exc_types.InterfaceError,
                exc_types.TimeoutError) as exc:
            raise self.outage.failed(exc) from exc
        except exc_types.DBAPIError as exc:  # e.g. the server closed the connection
            if not exc.connection_invalidated:
                raise
            raise self.outage.failed(exc) from exc
        self.outage.ok(started)


def _usage_upsert(insert: Any, usage: Any) -> Any:
    """The statement that adds to a key's usage row of a day, or makes it: built once, its
    values bound per call (the dialect's INSERT ... ON CONFLICT DO UPDATE, atomic)."""
    stmt = insert(usage)
    added = stmt.excluded
    return stmt.on_conflict_do_update(
        index_elements=[usage.c.key_id, usage.c.day],
        set_={name: usage.c[name] + added[name]
              for name in ("requests", "tokens_in", "tokens_out")})


def _sqlite_pragmas(connection: Any, record: Any) -> None:
    # WAL lets readers run beside the writer; the busy timeout makes concurrent writers wait
    # for each other instead of failing with "database is locked" (but not for minutes: a
    # file locked longer than that is an outage, answered 503). synchronous=NORMAL: in WAL
    # a commit is then not flushed to the disk (the usage write, mostly its fsync, was a
    # quarter of the server's time per request); the file stays consistent, and a commit is
    # lost only with the machine (power, kernel), never with the process.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={WAIT_S * 1000}")
    cursor.close()


def _key(row: Any) -> ApiKey:
    return ApiKey(id=row["id"], name=row["name"], hint=row["hint"],
                  created_at=_utc(row["created_at"]), revoked_at=_utc(row["revoked_at"]),
                  rate_limit=row["rate_limit"], rate_window_s=row["rate_window_s"])


def _utc(value: dt.datetime | None) -> Any:
    # SQLite hands back naive datetimes; every stored time is UTC.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)
