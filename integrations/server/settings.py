"""Server settings: defaults that run with no configuration, overridable by ``TERSIFY_*``.

Every value is checked when the settings are made (directly or by :meth:`from_env`), so a bad
configuration stops the server at start with one line naming the setting, not at its first
request.
"""

from __future__ import annotations

import ipaddress
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from urllib.parse import urlsplit

from tersify.errors import TersifyError
from tersify.presets import available_presets, get_preset
from tersify.scorers import available_scorers

__all__ = ["ServerSettings", "SettingsError", "default_database_url", "read_token_file"]

_COUNTS = ("rate_limit", "rate_window_s", "playground_limit", "max_body_bytes",
           "engine_threads", "max_batch", "max_queue", "limit_concurrency",
           "shutdown_timeout_s")
_OPTIONAL = ("redis_url", "admin_token", "forwarded_allow_ips",
             "allowed_scorers", "engine_processes", "workers")  # empty variable: unset
_RANGES = {"engine_processes": (0, 64), "workers": (1, 256)}  # optional whole numbers
_FLAGS = ("metrics_public", "dashboard", "playground")
_FLAG_WORDS = {"1": True, "true": True, "yes": True, "on": True,
               "0": False, "false": False, "no": False, "off": False}
ADMIN_TOKEN_MIN = 32
_REDIS_SCHEMES = ("redis", "rediss", "unix")
_SECRET = ("database_url", "redis_url", "admin_token")  # may hold passwords: never echoed


class SettingsError(TersifyError, ValueError):
    """A setting has a value the server cannot run with."""


def default_database_url() -> str:
    """``tersify.db`` in the user's data directory (``~/.local/share/tersify`` on Linux, or
    ``$XDG_DATA_HOME/tersify``; platformdirs' choice elsewhere): ``tersify keys`` and
    ``tersify serve`` find the same keys from any working directory. The directory is made
    when missing, readable by the user alone (the file holds API key hashes); a URL given
    explicitly is used as it is."""
    from platformdirs import user_data_path

    folder = user_data_path("tersify", appauthor=False)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'tersify.db'}"


@dataclass(frozen=True, kw_only=True)
class ServerSettings:
    """Everything the app factory needs.

    Args:
        database_url: SQLAlchemy URL of the keys and usage store (``postgresql+psycopg://...``
            for PostgreSQL); by default a SQLite file in the user's data directory (see
            :func:`default_database_url`).
        redis_url: Redis for rate limits shared by replicas; in memory when None.
        admin_token: The admin's token, accepted only as ``Authorization: Bearer``, for
            ``/admin``, ``/metrics`` (unless public) and any key's usage; at least 32
            characters. From ``TERSIFY_ADMIN_TOKEN`` or the file ``TERSIFY_ADMIN_TOKEN_FILE``
            names, never a command line. The admin endpoints answer 401 when None.
        preset: The engine preset that serves requests.
        rate_limit: Requests per key and window, unless the key has its own.
        rate_window_s: The window, in seconds.
        playground_limit: Requests per client address and window on ``/api/compress``.
        max_body_bytes: Larger bodies get 413.
        engine_threads: Compressions running at once (each may batch several requests).
        max_batch: Requests compressed together at most.
        batch_wait_ms: How long the first request of a batch waits for company.
        metrics_public: ``/metrics`` without the admin token (for a scraper on a private
            network); by default it needs the token.
        playground: Serve the playground: its page at ``/`` and its keyless endpoint
            ``POST /api/compress`` (limited per client address, billed to no one). A server
            exposed to the internet may not want keyless compute: ``TERSIFY_PLAYGROUND=false``
            turns both off (404).
        dashboard: Serve the usage dashboard page at ``/dashboard``, where a key holder pastes
            their key and sees their requests and tokens by day (``TERSIFY_DASHBOARD=false``
            turns the page off: it is then a 404). The page holds no secret and shows only
            what ``GET /v1/usage/daily`` answers the key, which stays served either way.
        forwarded_allow_ips: Proxies (comma-separated IP addresses or networks, or ``*``)
            whose ``X-Forwarded-For`` and ``X-Forwarded-Proto`` name the client; None trusts
            no one, so a client cannot pick its own address (``tersify serve`` passes this
            to uvicorn).
        engine_processes: Worker processes that run the engine, each with its own copy
            (and models); 0 runs it in ``engine_threads`` threads of the serving process.
            None (default): one, unless the app is given a Compressor instance (which stays
            in its process). In a process a stuck compression is killed at its deadline (and
            the worker replaced), and the serving process keeps its GIL for the event loop;
            a thread cannot be stopped and runs on. One worker costs ``fast`` about 80 MB and
            no throughput (``benchmarks/pool_cost.py``).
        max_queue: Requests waiting for or in the engine at most; more get 503 at once.
        deadline_s: Seconds a request may wait for and spend in the engine; later it gets
            504, unbilled.
        limit_concurrency: Requests in the server at once (``/healthz`` aside); more get 503
            with ``Retry-After`` in the JSON shape. ``tersify serve`` also has uvicorn refuse
            connections beyond twice as many (plus 16), in plain text.
        shutdown_timeout_s: Seconds a stopping server (SIGTERM) waits for the requests in
            flight before it cancels them (``tersify serve``).
        allowed_scorers: The scorers a request may name (``TERSIFY_ALLOWED_SCORERS``, comma-
            separated); None allows the preset's scorer only. A model scorer costs memory and
            seconds per request, so callers never pick one the operator did not allow.
        workers: Processes serving the app on one port (``tersify serve --workers``, whose
            default is the machine's cores; an app made by ``create_app`` alone is one). With
            more than one, every process must see the same keys, usage and limits: keys and
            usage are in the database, and the limits in Redis, else in the SQLite database
            file; so more than one needs Redis or a SQLite file (not ``sqlite://`` in memory).

    Raises:
        SettingsError: A value is out of range, of the wrong type, or names no known preset,
            database or Redis URL.
    """

    database_url: str = field(default_factory=lambda: default_database_url())
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
    metrics_public: bool = False
    playground: bool = True
    dashboard: bool = True
    forwarded_allow_ips: str | None = None
    allowed_scorers: tuple[str, ...] | None = None
    engine_processes: int | None = None
    max_queue: int = 256
    deadline_s: float = 30.0
    limit_concurrency: int = 1000
    shutdown_timeout_s: int = 30
    workers: int | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            problem = _problem(f.name, getattr(self, f.name))
            if problem:
                raise SettingsError(f"{f.name} {problem}{_shown(f.name, getattr(self, f.name))}")
        preset_scorer = get_preset(self.preset).scorer
        if preset_scorer not in self.scorers:  # it serves every request that names none
            raise SettingsError(f"allowed_scorers must include {preset_scorer!r}, the scorer of "
                                f"preset {self.preset!r}, got {self.allowed_scorers!r}")
        if (self.workers or 1) > 1 and not self.limits_shareable:
            raise SettingsError(f"workers {self.workers} need limits shared by every worker: "
                                "set a Redis URL (TERSIFY_REDIS_URL) or use a SQLite file as "
                                "the database, or serve with one worker")

    @property
    def sqlite_file(self) -> str | None:
        """The path of the database when it is a SQLite file (not one in memory), else None."""
        from sqlalchemy.engine import make_url

        url = make_url(self.database_url)
        path = url.database
        if url.get_backend_name() != "sqlite" or not path or path == ":memory:":
            return None
        return path

    @property
    def limits_shareable(self) -> bool:
        """Whether several processes can share the rate limits: in Redis or the SQLite file."""
        return self.redis_url is not None or self.sqlite_file is not None

    @property
    def scorers(self) -> tuple[str, ...]:
        """The scorers a request may name: ``allowed_scorers``, else the preset's scorer."""
        return self.allowed_scorers or (get_preset(self.preset).scorer,)

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
        token_file = env.get("TERSIFY_ADMIN_TOKEN_FILE")
        if token_file:
            if "admin_token" in values:
                raise SettingsError("set TERSIFY_ADMIN_TOKEN or TERSIFY_ADMIN_TOKEN_FILE, "
                                    "not both")
            values["admin_token"] = read_token_file(token_file, "TERSIFY_ADMIN_TOKEN_FILE")
        return cls(**values)  # type: ignore[arg-type]


def read_token_file(path: str, source: str) -> str:
    """The admin token kept in the file at ``path`` (surrounding whitespace dropped);
    ``source`` (a variable or an option) names the path's origin in errors.

    Raises:
        SettingsError: The file cannot be read or its token is not a valid admin token.
    """
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise SettingsError(f"{source} {path!r} cannot be read: {reason}") from None
    problem = _problem("admin_token", token)
    if problem:
        raise SettingsError(f"the admin token in {source} {problem}")
    return token


def _shown(name: str, value: object) -> str:
    return "" if name in _SECRET else f", got {value!r}"


def _parse(name: str, raw: str) -> tuple[object, str | None]:
    """The value of setting ``name`` written as ``raw``, and what is wrong with it if anything."""
    value: object = raw
    try:
        if name in _COUNTS:
            value = int(raw.strip())
        elif name in _FLAGS:
            value = _FLAG_WORDS.get(raw.strip().lower(), raw)
        elif name in _RANGES:
            value = int(raw.strip())
        elif name in ("batch_wait_ms", "deadline_s"):
            value = float(raw.strip())
        elif name == "allowed_scorers":
            value = tuple(part.strip() for part in raw.split(","))
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
    if name in _RANGES:
        low, high = _RANGES[name]
        fine = value is None or (type(value) is int and low <= value <= high)
        return None if fine else f"must be a whole number from {low} to {high}"
    if name == "deadline_s":
        fine = (isinstance(value, int | float) and not isinstance(value, bool)
                and math.isfinite(value) and 0 < value <= 3600)
        return None if fine else "must be a number of seconds above 0, at most 3600"
    if name in _FLAGS:
        return None if type(value) is bool else "must be true or false"
    if name == "forwarded_allow_ips":
        return _addresses_problem(value)
    if name == "admin_token":
        return _token_problem(value)
    if name == "allowed_scorers":
        fine = value is None or (type(value) is tuple and len(value) > 0
                                 and all(v in available_scorers() for v in value))
        names = ", ".join(available_scorers())
        return None if fine else f"must be a comma-separated list of scorers from {names}"
    if name == "preset":
        fine = value in available_presets()
        return None if fine else f"must be one of {', '.join(available_presets())}"
    if name == "database_url":
        return _database_problem(value)
    if name == "redis_url":
        fine = value is None or (isinstance(value, str) and _scheme(value) in _REDIS_SCHEMES)
        return None if fine else "must be a redis://, rediss:// or unix:// URL"
    return None


def _token_problem(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) < ADMIN_TOKEN_MIN:
        return (f"must be at least {ADMIN_TOKEN_MIN} characters "
                "(e.g. the output of `openssl rand -hex 32`)")
    if not (value.isascii() and value.isprintable()) or " " in value:
        return "must be printable ASCII without spaces"
    from tersify.integrations.server.store import KEY_PREFIX

    if value.startswith(KEY_PREFIX):  # so that a bearer API key is never an admin guess
        return f"must not start with {KEY_PREFIX} (the prefix of API keys)"
    return None


def _addresses_problem(value: object) -> str | None:
    """None, ``*``, or IP addresses and networks as uvicorn reads them (which would take a
    malformed one as a literal name that never matches, silently)."""
    if value is None or value == "*":
        return None
    problem = "must be * or comma-separated IP addresses or networks (e.g. 127.0.0.1,10.0.0.0/8)"
    if not isinstance(value, str):
        return problem
    for item in value.split(","):
        try:
            if "/" in item:
                ipaddress.ip_network(item.strip())
            else:
                ipaddress.ip_address(item.strip())
        except ValueError:
            return problem
    return None


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
