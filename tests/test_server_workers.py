"""``tersify serve --workers N``: several processes on one port that share keys, usage and
rate limits (a SQLite file, no Redis), and the SQLite limiter they share it through."""

from __future__ import annotations

import asyncio
import io
import signal
import subprocess
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import ADMIN_TOKEN
from test_server_process import BODY, CLI, serve

from tersify.integrations.server.cli import _with_workers
from tersify.integrations.server.multiworker import machine_cores
from tersify.integrations.server.ratelimit import MemoryLimiter
from tersify.integrations.server.settings import ServerSettings, SettingsError
from tersify.integrations.server.sqlitelimits import SqliteLimiter

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def _burst(url: str, secret: str, calls: int) -> list[httpx.Response]:
    """``calls`` concurrent requests, each on a connection of its own (the kernel picks the
    worker of each new connection)."""
    async def one(i: int) -> httpx.Response:
        async with httpx.AsyncClient(timeout=60) as client:
            return await client.post(url + "/v1/tersify", headers={"X-API-Key": secret},
                                     json={**BODY, "question": f"When did the tram open? {i}"})
    return list(await asyncio.gather(*(one(i) for i in range(calls))))


def test_two_workers_serve_and_share_one_limit_and_exact_usage(tmp_path: Path) -> None:
    env = {"TERSIFY_ADMIN_TOKEN": ADMIN_TOKEN,
           "TERSIFY_DATABASE_URL": f"sqlite:///{tmp_path / 'keys.db'}"}
    with serve(tmp_path, env, "--workers", "2") as (process, url):
        created = httpx.post(url + "/admin/keys", headers=ADMIN,
                             json={"name": "w", "rate_limit": 50, "rate_window_s": 3600})
        key_id, secret = created.json()["key"]["id"], created.json()["secret"]
        answers = asyncio.run(_burst(url, secret, 70))
        statuses = Counter(r.status_code for r in answers)
        assert statuses == {200: 50, 429: 20}  # one limit, not one per worker
        workers = Counter(r.headers["X-Tersify-Worker"] for r in answers)
        assert len(workers) == 2, workers  # both served (70 connections, spread by the kernel)
        served = [r.json()["stats"] for r in answers if r.status_code == 200]
        usage = httpx.get(url + f"/api/keys/{key_id}/usage", headers=ADMIN).json()
        assert (usage["requests"], usage["tokens_in"], usage["tokens_out"]) == (
            50, sum(s["original_tokens"] for s in served),
            sum(s["compressed_tokens"] for s in served))
        assert httpx.get(url + "/readyz").json() == {"status": "ready"}
        page = httpx.get(url + "/")
        assert page.status_code == 200 and "X-Tersify-Worker" in page.headers
        played = httpx.post(url + "/api/compress", json={"context": BODY["contexts"][0],
                                                         "query": "tram?"})
        assert played.status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    err = (tmp_path / "err.txt").read_text()
    assert "Traceback" not in err and "2 worker processes" in (tmp_path / "out.txt").read_text()


def test_one_worker_names_no_worker(tmp_path: Path) -> None:
    env = {"TERSIFY_DATABASE_URL": f"sqlite:///{tmp_path / 'keys.db'}"}
    with serve(tmp_path, env, "--workers", "1") as (_, url):
        answer = httpx.get(url + "/healthz")
        assert answer.json() == {"status": "ok"} and "X-Tersify-Worker" not in answer.headers
    out = (tmp_path / "out.txt").read_text()
    assert "worker processes" not in out and "tersify serving on" in out


@pytest.mark.parametrize("database", ["postgresql+psycopg://u@localhost/keys", "sqlite://"])
def test_several_workers_need_limits_they_can_share(tmp_path: Path, database: str) -> None:
    done = subprocess.run([*CLI, "serve", "--workers", "2", "--database-url", database],
                          capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith("tersify: error: workers 2 need limits shared by every "
                                  "worker: set a Redis URL")
    assert ServerSettings(database_url=database, redis_url="redis://cache:6379",
                          workers=4).workers == 4  # with Redis they share the limits there
    with pytest.raises(SettingsError, match="^workers 3 need"):
        ServerSettings(database_url=database, workers=3)


def test_serve_has_as_many_workers_as_cores_unless_limits_cannot_be_shared(
        tmp_path: Path) -> None:
    said = io.StringIO()
    on_file = ServerSettings(database_url=f"sqlite:///{tmp_path / 'keys.db'}")
    assert _with_workers(on_file, said).workers == machine_cores() >= 1
    on_postgres = ServerSettings(database_url="postgresql+psycopg://u@localhost/keys")
    assert _with_workers(on_postgres, said).workers == 1
    assert said.getvalue().startswith("serving with one worker: several need shared rate")
    assert _with_workers(replace(on_file, workers=3), said).workers == 3


def test_workers_come_from_the_environment() -> None:
    assert ServerSettings.from_env({"TERSIFY_WORKERS": "3"}).workers == 3
    assert ServerSettings.from_env({"TERSIFY_WORKERS": ""}).workers is None
    with pytest.raises(SettingsError, match="^TERSIFY_WORKERS must be a whole number from 1"):
        ServerSettings.from_env({"TERSIFY_WORKERS": "0"})


# --- the SQLite limiter ----------------------------------------------------------------------

HITS: list[tuple[str, int, int]] = [  # bucket, limit, cost
    ("a", 3, 1), ("a", 3, 1), ("b", 2, 0), ("a", 3, 2), ("a", 3, 1), ("b", 2, 2), ("b", 2, 1),
    ("a", 3, 0), ("c", 5, 4), ("c", 5, 2), ("c", 5, 1), ("c", 5, 0), ("d", 1, 0), ("d", 1, 1)]


def _seen(decision: Any) -> tuple[bool, int, int]:
    return decision.allowed, decision.limit, decision.remaining


def test_sqlite_limiter_decides_as_the_memory_one_and_is_shared(tmp_path: Path) -> None:
    # Two limiters on one file stand for two workers: each hit goes to one of them in turn.
    path = str(tmp_path / "limits.db")
    shared, memory = [SqliteLimiter(path), SqliteLimiter(path)], MemoryLimiter()
    for i, (bucket, limit, cost) in enumerate(HITS):
        expected = memory.hit(bucket, limit, 3600, cost)
        got = shared[i % 2].hit(bucket, limit, 3600, cost)
        assert _seen(got) == _seen(expected), (i, bucket, limit, cost)
        assert expected.reset_at - 1 <= got.reset_at <= expected.reset_at + 1


def test_sqlite_limiter_slides_its_window(tmp_path: Path) -> None:
    limiter = SqliteLimiter(str(tmp_path / "limits.db"))
    decisions = [limiter.hit("k", 3, 1) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    import time

    time.sleep(1.1)
    assert limiter.hit("k", 3, 1).allowed  # the three left the window together
    limiter.ping()


def test_workers_stop_when_their_supervisor_is_killed(tmp_path: Path) -> None:
    # SIGKILL (or the OOM killer) leaves the supervisor no chance to stop its workers: they
    # must notice on their own, or they serve on, holding the port, with no one to stop them.
    env = {"TERSIFY_DATABASE_URL": f"sqlite:///{tmp_path / 'keys.db'}"}
    with serve(tmp_path, env, "--workers", "2") as (process, url):
        children = subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True,
                                  text=True, check=False).stdout.split()
        assert len(children) >= 2, children
        process.kill()
        process.wait(timeout=10)
        deadline = time.monotonic() + 60
        while any(map(_running, children)):
            assert time.monotonic() < deadline, "workers outlived their supervisor by 60 s"
            time.sleep(0.2)
        with pytest.raises(httpx.TransportError):
            httpx.get(url + "/healthz", timeout=2)


def _running(pid: str) -> bool:
    """Whether a process runs (a zombie that no init reaps has stopped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
