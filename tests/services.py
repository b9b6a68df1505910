"""Real PostgreSQL and Redis servers for the tests, started on free local ports.

``scripts/dev.py test`` installs Debian's ``postgresql`` and ``redis-server`` when they are
missing; these helpers start a throw-away instance of each (PostgreSQL in a fresh cluster under
a temporary folder, run as the ``postgres`` user when the tests run as root) and stop it after.
The fault tests also stop, freeze and restart them mid-load (:class:`RedisProcess`,
:class:`PostgresCluster`): a restarted server listens on the port it had.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["PostgresCluster", "RedisProcess", "postgres_server", "redis_server"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port} after {seconds} s")


class RedisProcess:
    """A Redis server without persistence on a fixed local port, started and stopped at will."""

    def __init__(self, folder: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (scripts/dev.py test installs it)")
        self.binary, self.folder, self.port = binary, folder, _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for_port(self.port)

    def stop(self) -> None:
        """Stop it (its data goes with it: it keeps none)."""
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def freeze(self) -> None:
        """Stop it answering without closing anything (SIGSTOP): a hung Redis."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)


@contextmanager
def redis_server(folder: Path) -> Iterator[str]:
    """A Redis server without persistence; yields its URL."""
    redis = RedisProcess(folder)
    redis.start()
    try:
        yield redis.url
    finally:
        redis.stop()


def _pg_bin(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                                                   reverse=True)), None)
    if found is None:
        raise RuntimeError("PostgreSQL is not installed (scripts/dev.py test installs it)")
    return found


class PostgresCluster:
    """A fresh PostgreSQL cluster (trust auth, loopback only) in a temporary folder, on a fixed
    local port; :meth:`stop` and :meth:`start` take it down and up again with its data."""

    def __init__(self) -> None:
        # Its own folder under /tmp: pytest's temporary folders are private to root, and the
        # server runs as the postgres user.
        self.folder = Path(tempfile.mkdtemp(prefix="tersify-pg-"))
        self.data = self.folder / "pgdata"
        self.data.mkdir()
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            shutil.chown(self.folder, "postgres")
            shutil.chown(self.data, "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.port = _free_port()
        self.url = f"postgresql+psycopg://tersify@127.0.0.1:{self.port}/postgres"
        subprocess.run([*self.as_user, _pg_bin("initdb"), "-D", str(self.data), "-A", "trust",
                        "-U", "tersify", "--no-sync"], check=True, capture_output=True)

    def _ctl(self, *args: str, check: bool = True) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run([*self.as_user, _pg_bin("pg_ctl"), "-D", str(self.data), "-o", options,
                        "-l", str(self.data / "log"), *args], check=check, capture_output=True)

    def start(self) -> None:
        self._ctl("-w", "start")
        _wait_for_port(self.port)

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: ``fast`` ends every session (as a restart does), ``immediate``
        aborts like a crash."""
        self._ctl("-m", mode, "-w", "stop", check=False)

    def remove(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)


@contextmanager
def postgres_server() -> Iterator[str]:
    """A fresh PostgreSQL cluster (trust auth, loopback only); yields a SQLAlchemy URL."""
    cluster = PostgresCluster()
    try:
        cluster.start()
        yield cluster.url
    finally:
        cluster.remove()
