"""Keys, usage and limits on real PostgreSQL and Redis servers, shared by two replicas."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from conftest import ADMIN_TOKEN, make_app, start_server, stop_server

from tersify.integrations.server.ratelimit import RedisLimiter
from tersify.integrations.server.store import KeyStore

pytestmark = pytest.mark.services
CONTEXT = "The tram opened in 1911. Tickets cost two pennies. The lighthouse is older."


def test_postgres_store_keeps_keys_and_usage(postgres_url: str) -> None:
    store = KeyStore(postgres_url)
    key, secret = store.create("pg", rate_limit=10)
    assert store.authenticate(secret) == key and secret not in repr(store.all())
    store.record(key.id, tokens_in=100, tokens_out=30)
    store.record(key.id, tokens_in=50, tokens_out=20)
    [day] = store.usage(key.id)
    assert (day.requests, day.tokens_in, day.tokens_out) == (2, 150, 50)
    assert store.revoke(key.id) and store.authenticate(secret) is None
    assert not store.revoke(key.id)
    store.close()


def test_redis_limiter_slides_its_window(redis_url: str) -> None:
    limiter = RedisLimiter(redis_url, prefix=f"test:{time.time()}:")
    decisions = [limiter.hit("k", 3, 1) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    time.sleep(1.1)
    assert limiter.hit("k", 3, 1).allowed


def test_two_replicas_share_keys_usage_and_limits(postgres_url: str, redis_url: str) -> None:
    replicas = [start_server(make_app(postgres_url, redis_url=redis_url)) for _ in range(2)]
    urls = [url for url, _, _ in replicas]
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    try:
        created = httpx.post(urls[0] + "/admin/keys", headers=admin,
                             json={"name": "shared", "rate_limit": 60, "rate_window_s": 300})
        key_id, secret = created.json()["key"]["id"], created.json()["secret"]

        async def burst() -> list[int]:
            async with httpx.AsyncClient(timeout=60) as client:
                calls = [client.post(urls[i % 2] + "/v1/compress", headers={"X-API-Key": secret},
                                     json={"context": CONTEXT, "query": f"q{i}"})
                         for i in range(70)]
                return [r.status_code for r in await asyncio.gather(*calls)]

        statuses = asyncio.run(burst())
        assert statuses.count(200) == 60 and statuses.count(429) == 10
        usage = httpx.get(urls[1] + f"/api/keys/{key_id}/usage", headers=admin)
        assert usage.json()["requests"] == 60
        limited = httpx.get(urls[1] + f"/api/keys/{key_id}/usage", headers={"X-API-Key": secret})
        assert limited.status_code == 429  # reading usage counts against the key's limit too
        assert httpx.delete(urls[1] + f"/admin/keys/{key_id}", headers=admin).status_code == 204
        after = httpx.post(urls[0] + "/v1/compress", headers={"X-API-Key": secret},
                           json={"context": CONTEXT})
        assert after.status_code == 401
    finally:
        for _, server, thread in replicas:
            stop_server(server, thread)


def test_usage_is_exact_under_concurrency_on_postgres(postgres_url: str) -> None:
    app = make_app(postgres_url)
    url, server, thread = start_server(app)
    try:
        key, secret = app.state.store.create("burst", rate_limit=1000)

        async def burst() -> list[int]:
            async with httpx.AsyncClient(timeout=60) as client:
                calls = [client.post(url + "/compress/raw/", headers={"x-api-key": secret},
                                     json={"context": CONTEXT, "prompt": f"q{i}",
                                           "scaledown": {"rate": 0.5}}) for i in range(50)]
                return [r.status_code for r in await asyncio.gather(*calls)]

        statuses = asyncio.run(burst())
        assert statuses.count(200) == 50
        assert sum(d.requests for d in app.state.store.usage(key.id)) == 50
    finally:
        stop_server(server, thread)
