"""Real PostgreSQL and Redis servers for the tests, started on free local ports.

``scripts/dev.py test`` installs Debian's ``postgresql`` and ``redis-server`` when they are
missing; these helpers start a throw-away instance of each (PostgreSQL in a fresh cluster under
a temporary folder, run as the ``postgres`` user when the tests run as root) and stop it after.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["postgres_server", "redis_server"]


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


@contextmanager
def redis_server(folder: Path) -> Iterator[str]:
    """A Redis server without persistence; yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (scripts/dev.py test installs it)")
    port = _free_port()
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--dir", str(folder)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_port(port)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _pg_bin(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                                                   reverse=True)), None)
    if found is None:
        raise RuntimeError("PostgreSQL is not installed (scripts/dev.py test installs it)")
    return found


@contextmanager
def postgres_server() -> Iterator[str]:
    """A fresh PostgreSQL cluster (trust auth, loopback only); yields a SQLAlchemy URL."""
    # Its own folder under /tmp: pytest's temporary folders are private to root, and the
    # server runs as the postgres user.
    folder = Path(tempfile.mkdtemp(prefix="tersify-pg-"))
    data = folder / "pgdata"
    data.mkdir()
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        shutil.chown(folder, "postgres")
        shutil.chown(data, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    subprocess.run([*as_user, _pg_bin("initdb"), "-D", str(data), "-A", "trust", "-U", "tersify",
                    "--no-sync"], check=True, capture_output=True)
    options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off"
    pg_ctl = _pg_bin("pg_ctl")
    subprocess.run([*as_user, pg_ctl, "-D", str(data), "-o", options, "-w", "-l",
                    str(data / "log"), "start"], check=True, capture_output=True)
    try:
        _wait_for_port(port)
        yield f"postgresql+psycopg://tersify@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "stop"],
                       check=False, capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)
