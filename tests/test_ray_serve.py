"""The server on Ray Serve: two replicas on a local Ray instance, sharing keys and usage in
PostgreSQL and rate limits in Redis; and ``tersify serve --ray`` from start to SIGTERM.

Bounded for 2 cores: Ray gets 2 CPUs, a 100 MB object store and no dashboard, each replica
half a CPU. About a minute in all, most of it Ray starting (twice).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import ADMIN_TOKEN
from test_server_process import BODY, CLI

pytest.importorskip("ray.serve")
from ray import serve as ray_serve  # noqa: E402

from tersify.integrations.ray.serve import ReplicaOptions, build  # noqa: E402
from tersify.integrations.server.settings import ServerSettings  # noqa: E402

pytestmark = [pytest.mark.ray, pytest.mark.services]
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
CONTEXT = "\n".join(BODY["contexts"])  # type: ignore[arg-type]
# One body per dialect (and the native API), each answering 200 with a valid key.
DIALECTS: dict[str, dict[str, Any]] = {
    "/v1/prompt-compress": {"context": BODY["contexts"], "question": "When did the tram open?",
                            "target_ratio": 0.5},
    "/v1/compress": {"context": CONTEXT, "query": "When did the tram open?"},
    "/compress/raw/": {"context": CONTEXT, "prompt": "When did the tram open?",
                       "scaledown": {"rate": 0.5}},
    "/v1/tersify": BODY,
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_ray_starts_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    env = {**os.environ, "TERSIFY_ADMIN_TOKEN": ADMIN_TOKEN,
           "TERSIFY_DATABASE_URL": f"sqlite:///{tmp_path / 'keys.db'}",
           "TERSIFY_RAY_REPLICA_CPUS": "0.5", "RAY_USAGE_STATS_ENABLED": "0"}
    env.pop("RAY_ADDRESS", None)  # a local instance, never a cluster the environment names
    port = _free_port()
    with open(tmp_path / "out.txt", "w") as out, open(tmp_path / "err.txt", "w") as err:
        process = subprocess.Popen([*CLI, "serve", "--ray", "--replicas", "1", "--port",
                                    str(port)], env=env, cwd=tmp_path, stdout=out, stderr=err)
    try:
        _wait_for_line(process, tmp_path / "out.txt", "tersify serving on")
        url = f"http://127.0.0.1:{port}"
        created = httpx.post(url + "/admin/keys", headers=ADMIN, json={"name": "cli"})
        secret = created.json()["secret"]
        answer = httpx.post(url + "/v1/tersify", headers={"X-API-Key": secret}, json=BODY)
        assert answer.status_code == 200 and "X-Tersify-Worker" in answer.headers
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    out_text = (tmp_path / "out.txt").read_text()
    assert "1 replica on a local Ray instance" in out_text, out_text
    assert "Traceback" not in (tmp_path / "err.txt").read_text()


def _wait_for_line(process: subprocess.Popen[bytes], path: Path, text: str) -> None:
    """Wait until ``path`` holds ``text``: Serve's proxy answers (404) before the app is up."""
    deadline = time.monotonic() + 120
    while text not in path.read_text():
        assert process.poll() is None, path.with_name("err.txt").read_text()[-2000:]
        assert time.monotonic() < deadline, f"no {text!r} in 120 s"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def ray_url() -> Iterator[str]:
    """Serve's proxy on a free port of a local Ray instance, shut down after the module."""
    import ray

    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=100 * 2**20,
             logging_level=logging.WARNING)
    port = _free_port()
    try:
        ray_serve.start(http_options={"host": "127.0.0.1", "port": port})
        yield f"http://127.0.0.1:{port}"
    finally:
        ray_serve.shutdown()
        ray.shutdown()


@pytest.fixture(scope="module")
def url(ray_url: str, postgres_url: str, redis_url: str) -> str:
    """Two replicas of the app, sharing PostgreSQL and Redis."""
    settings = ServerSettings(database_url=postgres_url, redis_url=redis_url,
                              admin_token=ADMIN_TOKEN)
    app = build(settings, ReplicaOptions(replicas=2, replica_cpus=0.5, max_ongoing_requests=32))
    ray_serve.run(app, name="tersify", route_prefix="/")
    return ray_url


def _key(url: str, name: str, rate_limit: int) -> tuple[str, str]:
    created = httpx.post(url + "/admin/keys", headers=ADMIN, json={
        "name": name, "rate_limit": rate_limit, "rate_window_s": 3600})
    assert created.status_code == 201, created.text
    return created.json()["key"]["id"], created.json()["secret"]


async def _burst(url: str, secret: str, calls: int, clients: int) -> list[httpx.Response]:
    """``calls`` requests over every dialect, ``clients`` at a time."""
    slots = asyncio.Semaphore(clients)
    paths = list(DIALECTS)

    async def one(client: httpx.AsyncClient, i: int) -> httpx.Response:
        async with slots:
            path = paths[i % len(paths)]
            return await client.post(url + path, headers={"X-API-Key": secret},
                                     json=DIALECTS[path])

    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        return list(await asyncio.gather(*(one(client, i) for i in range(calls))))


@pytest.mark.parametrize("path", list(DIALECTS))
def test_every_dialect_answers_a_key_and_refuses_a_bad_one(url: str, path: str) -> None:
    _, secret = _key(url, f"dialect {path}", 100)
    answer = httpx.post(url + path, headers={"X-API-Key": secret}, json=DIALECTS[path])
    assert answer.status_code == 200, answer.text
    refused = httpx.post(url + path, headers={"X-API-Key": "tsk_live_nope"}, json=DIALECTS[path])
    assert refused.status_code == 401
    assert refused.json()["error"]["type"] == "unauthorized"


def test_usage_is_exact_under_50_concurrent_clients_and_both_replicas_serve(url: str) -> None:
    key_id, secret = _key(url, "burst", 10_000)
    calls_before, compressed_before = _engine_calls(url)
    answers = asyncio.run(_burst(url, secret, 200, clients=50))
    assert Counter(r.status_code for r in answers) == {200: 200}
    replicas = Counter(r.headers["X-Tersify-Worker"] for r in answers)
    assert len(replicas) == 2, replicas
    usage = httpx.get(url + f"/api/keys/{key_id}/usage", headers=ADMIN).json()
    assert usage["requests"] == 200
    calls, compressed = _engine_calls(url)
    assert compressed - compressed_before == 200
    assert calls - calls_before < 200  # @serve.batch had requests share engine calls


def _engine_calls(url: str, replicas: int = 2) -> tuple[float, float]:
    """Engine calls and the requests they compressed, summed over the replicas (each answers
    /metrics for itself; asked together, as Serve's router sends idle traffic to one)."""
    async def ask() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=30) as client:
            return list(await asyncio.gather(*(client.get(url + "/metrics", headers=ADMIN)
                                               for _ in range(16))))

    seen: dict[str, tuple[float, float]] = {}
    for _ in range(20):
        for answer in asyncio.run(ask()):
            lines = dict(line.rsplit(" ", 1) for line in answer.text.splitlines()
                         if line.startswith("tersify_engine_batch_requests_"))
            seen[answer.headers["X-Tersify-Worker"]] = (
                float(lines["tersify_engine_batch_requests_count"]),
                float(lines["tersify_engine_batch_requests_sum"]))
        if len(seen) == replicas:
            break
    assert len(seen) == replicas, seen
    return sum(c for c, _ in seen.values()), sum(s for _, s in seen.values())


def test_a_rate_limit_is_shared_by_the_replicas(url: str) -> None:
    key_id, secret = _key(url, "limited", 30)
    answers = asyncio.run(_burst(url, secret, 45, clients=45))
    assert Counter(r.status_code for r in answers) == {200: 30, 429: 15}
    assert len({r.headers["X-Tersify-Worker"] for r in answers}) == 2
    usage = httpx.get(url + f"/api/keys/{key_id}/usage", headers=ADMIN).json()
    assert usage["requests"] == 30
