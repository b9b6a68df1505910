"""The server's hardening (issue 10, items 7 and 10) over real HTTP and real processes: client
addresses, limiter memory, the admin token, /metrics, headers, batch accounting, audit lines."""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from conftest import (
    ADMIN_TOKEN,
    Server,
    assert_inline_code_hashed,
    make_app,
    start_server,
    stop_server,
)
from test_server_process import CLI, free_port, serve

from tersify.integrations.server import ratelimit
from tersify.integrations.server.auth import ADMIN_FAILURES
from tersify.integrations.server.ratelimit import MemoryLimiter, RedisLimiter
from tersify.integrations.server.settings import ServerSettings, SettingsError

CONTEXT = ("The Harbor Line tram opened to passengers on 14 May 1911.\n"
           "The lighthouse was finished in 1887 and automated in 1961.")
DOCS = CONTEXT.split("\n")
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
WRONG = {"Authorization": "Bearer " + "w" * 40}


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Server]:
    """A fresh server of its own (limits per client address must not leak between tests)."""
    app = make_app(tmp_path / "k.db", playground_limit=6)
    _, secret = app.state.store.create("own")
    url, uv, thread = start_server(app)
    yield Server(url=url, key=secret, app=app)
    stop_server(uv, thread)


def new_key(server: Server, **limits: int) -> tuple[str, str]:
    made = httpx.post(server.url + "/admin/keys", json={"name": "t", **limits}, headers=ADMIN)
    assert made.status_code == 201
    return made.json()["key"]["id"], made.json()["secret"]


# --- settings ----------------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["x" * 31, "tsk_live_" + "x" * 32, "x" * 20 + " " + "x" * 20,
                                   "é" * 40])
def test_an_admin_token_must_be_long_printable_and_unlike_a_key(token: str) -> None:
    with pytest.raises(SettingsError, match="^admin_token must"):
        ServerSettings(admin_token=token)
    with pytest.raises(SettingsError, match="^TERSIFY_ADMIN_TOKEN must") as info:
        ServerSettings.from_env({"TERSIFY_ADMIN_TOKEN": token})
    assert token not in str(info.value)  # a secret is never echoed


def test_the_admin_token_can_come_from_a_file(tmp_path: Path) -> None:
    token = secrets.token_hex(24)
    (tmp_path / "token").write_text(token + "\n")
    env = {"TERSIFY_ADMIN_TOKEN_FILE": str(tmp_path / "token")}
    assert ServerSettings.from_env(env).admin_token == token
    with pytest.raises(SettingsError, match="not both"):
        ServerSettings.from_env({**env, "TERSIFY_ADMIN_TOKEN": token})
    with pytest.raises(SettingsError, match="cannot be read"):
        ServerSettings.from_env({"TERSIFY_ADMIN_TOKEN_FILE": str(tmp_path / "missing")})
    (tmp_path / "token").write_text("short-secret\n")
    with pytest.raises(SettingsError, match="at least 32 characters") as info:
        ServerSettings.from_env(env)
    assert "short-secret" not in str(info.value)


def test_metrics_public_and_forwarded_allow_ips_settings() -> None:
    read = ServerSettings.from_env
    assert read({}).metrics_public is False and read({}).forwarded_allow_ips is None
    assert read({"TERSIFY_METRICS_PUBLIC": " True "}).metrics_public is True
    assert read({"TERSIFY_METRICS_PUBLIC": "0"}).metrics_public is False
    allowed = "127.0.0.1, 10.0.0.0/8,::1"
    assert read({"TERSIFY_FORWARDED_ALLOW_IPS": allowed}).forwarded_allow_ips == allowed
    for variable, bad in [("TERSIFY_METRICS_PUBLIC", "maybe"),
                          ("TERSIFY_FORWARDED_ALLOW_IPS", "proxy.local"),
                          ("TERSIFY_FORWARDED_ALLOW_IPS", "10.0.0.1/8"),  # host bits: uvicorn
                          ("TERSIFY_FORWARDED_ALLOW_IPS", "*,10.0.0.1")]:  # would never match
        with pytest.raises(SettingsError, match=f"^{variable} must"):
            read({variable: bad})


# --- the limiters ------------------------------------------------------------------------------


def test_the_memory_limiter_forgets_buckets_whose_window_passed() -> None:
    limiter = MemoryLimiter()
    for n in range(3000):
        assert limiter.hit(f"ip:old-{n}", 5, 1).allowed
    time.sleep(1.1)  # every old bucket's window (1 s) has passed
    for n in range(7000):  # more than twice as many: a sweep must have run among them
        limiter.hit(f"ip:new-{n}", 5, 1)
    assert len(limiter) <= 7000  # the 3,000 expired buckets are gone


@pytest.mark.parametrize("kind", ["memory", pytest.param("redis", marks=pytest.mark.services)])
def test_a_batch_counts_all_or_none_and_cost_0_only_asks(kind: str,
                                                         request: pytest.FixtureRequest) -> None:
    limiter = (RedisLimiter(request.getfixturevalue("redis_url"), prefix=f"t:{uuid.uuid4()}:")
               if kind == "redis" else MemoryLimiter())
    assert limiter.hit("b", 5, 60, cost=0).allowed  # asking holds nothing
    first = limiter.hit("b", 5, 60, cost=3)
    assert (first.allowed, first.remaining) == (True, 2)
    too_many = limiter.hit("b", 5, 60, cost=3)
    assert (too_many.allowed, too_many.remaining) == (False, 2)  # none of the three counted
    assert limiter.hit("b", 5, 60, cost=2).allowed
    assert not limiter.hit("b", 5, 60, cost=0).allowed


@pytest.mark.services
def test_the_redis_limiter_keeps_time_by_the_redis_clock(redis_url: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # A replica whose clock runs ten minutes slow (the one thing here that cannot be real: this
    # machine has one clock). Its requests must still count in everyone's window.
    limiter = RedisLimiter(redis_url, prefix=f"t:{uuid.uuid4()}:")
    real = time.time
    slow = SimpleNamespace(**{name: getattr(time, name) for name in dir(time)
                              if not name.startswith("_")})
    slow.time = lambda: real() - 600  # the wall clock only; monotonic time is not a date
    monkeypatch.setattr(ratelimit, "time", slow)
    assert [limiter.hit("k", 2, 60).allowed for _ in range(2)] == [True, True]
    monkeypatch.undo()
    late = limiter.hit("k", 2, 60)  # a replica with the right time
    assert not late.allowed and late.remaining == 0
    assert abs(late.reset_at - (real() + 60)) < 5  # the window runs on Redis's (true) clock


# --- the admin token and /metrics --------------------------------------------------------------


def test_the_admin_token_counts_only_as_a_bearer_token(live: Server) -> None:
    assert httpx.get(live.url + "/admin/keys", headers={"X-API-Key": ADMIN_TOKEN}).status_code \
        == 401
    assert httpx.get(live.url + "/admin/keys", headers=ADMIN).status_code == 200


def test_failed_admin_attempts_are_limited_per_client_address(live: Server) -> None:
    key_id = live.app.state.store.all()[0].id
    for _ in range(ADMIN_FAILURES):
        assert httpx.get(live.url + "/admin/keys", headers=WRONG).status_code == 401
    refused = httpx.get(live.url + "/admin/keys", headers=WRONG)
    assert refused.status_code == 429 and 0 < int(refused.headers["Retry-After"]) <= 60
    assert refused.json()["error"]["type"] == "rate_limited"
    # Locked out: the right token gets the same answer, so further guesses learn nothing.
    for path in ("/admin/keys", "/metrics", f"/api/keys/{key_id}/usage"):
        assert httpx.get(live.url + path, headers=ADMIN).status_code == 429, path
    # A key holder at that address is no admin guess, and another address is not locked out.
    own = httpx.get(live.url + f"/api/keys/{key_id}/usage",
                    headers={"Authorization": f"Bearer {live.key}"})
    assert own.status_code == 200
    with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2")) as elsewhere:
        assert elsewhere.get(live.url + "/admin/keys", headers=ADMIN).status_code == 200


def test_metrics_need_the_admin_token_unless_public(live: Server, tmp_path: Path) -> None:
    assert httpx.get(live.url + "/metrics").status_code == 401
    assert httpx.get(live.url + "/metrics", headers={"X-API-Key": live.key}).status_code == 401
    scraped = httpx.get(live.url + "/metrics", headers=ADMIN)
    assert scraped.status_code == 200 and "tersify_requests_total" in scraped.text
    public = make_app(tmp_path / "public.db", metrics_public=True)
    url, uv, thread = start_server(public)
    try:
        assert httpx.get(url + "/metrics").status_code == 200
    finally:
        stop_server(uv, thread)


def test_invented_http_methods_share_one_metrics_label(live: Server) -> None:
    for n in range(30):
        assert httpx.request(f"BREW{n}", live.url + "/v1/compress").status_code == 405
    text = httpx.get(live.url + "/metrics", headers=ADMIN).text
    assert "BREW" not in text
    other = re.findall(r'tersify_requests_total\{method="other",[^}]*\} (\S+)', text)
    assert sum(float(v) for v in other) == 30


# --- headers, usage, batches, logs -------------------------------------------------------------


def test_the_page_has_a_content_security_policy_for_its_own_code_only(live: Server) -> None:
    page = httpx.get(live.url + "/")
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert_inline_code_hashed(page)
    usage = httpx.get(live.url + f"/api/keys/{live.app.state.store.all()[0].id}/usage",
                      headers={"X-API-Key": live.key})
    for response in (page, usage):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"


def test_a_key_reading_another_keys_usage_is_forbidden(live: Server) -> None:
    other_id, _ = new_key(live)
    r = httpx.get(live.url + f"/api/keys/{other_id}/usage", headers={"X-API-Key": live.key})
    assert r.status_code == 403 and r.json()["error"]["type"] == "forbidden"


def test_batch_items_count_against_the_limit_and_in_usage(live: Server) -> None:
    key_id, secret = new_key(live, rate_limit=5, rate_window_s=60)
    one = {"contexts": DOCS, "question": "When did the tram open?", "target_ratio": 0.5}

    def native(body: object) -> httpx.Response:
        return httpx.post(live.url + "/v1/tersify", json=body, timeout=60,
                          headers={"X-API-Key": secret})

    batch = native({"requests": [one] * 3})
    assert batch.status_code == 200 and batch.headers["X-RateLimit-Remaining"] == "2"
    # The call itself counts (as every call does, even a bad one); its other two do not fit.
    refused = native({"requests": [one] * 3})
    assert refused.status_code == 429 and refused.json()["error"]["message"].endswith(
        "(a batch of 3 items is 3 requests)")
    assert native(one).status_code == 200
    assert native(one).status_code == 429
    usage = httpx.get(live.url + f"/api/keys/{key_id}/usage", headers=ADMIN).json()
    assert usage["requests"] == 4  # three batch items and one single request
    assert usage["tokens_in"] == 4 * batch.json()["results"][0]["stats"]["original_tokens"]


def test_compare_counts_every_policy_against_the_playground_limit(live: Server) -> None:
    body = {"context": CONTEXT, "query": "When did the tram open?"}  # playground_limit 6
    assert httpx.post(live.url + "/api/compress", json={**body, "compare": True}).status_code \
        == 200  # five policies: five requests
    assert httpx.post(live.url + "/api/compress", json={**body, "compare": True}).status_code \
        == 429
    assert httpx.post(live.url + "/api/compress", json=body).status_code == 200
    assert httpx.post(live.url + "/api/compress", json=body).status_code == 429


def test_key_changes_are_audited_and_access_lines_name_the_key(
        live: Server, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO"):
        key_id, secret = new_key(live, rate_limit=7)
        httpx.post(live.url + "/v1/compress", json={"context": CONTEXT},
                   headers={"X-API-Key": secret, "X-Request-ID": "audited-call"})
        assert httpx.delete(live.url + f"/admin/keys/{key_id}", headers=ADMIN).status_code == 204
    audit = [json.loads(r.getMessage()) for r in caplog.records
             if r.name == "tersify.server.audit"]
    assert {"event": "key_created", "key_id": key_id, "name": "t", "rate_limit": 7,
            "rate_window_s": None} in audit
    assert {"event": "key_revoked", "key_id": key_id} in audit
    access = {line["request_id"]: line for line in (
        json.loads(r.getMessage()) for r in caplog.records if r.name == "tersify.server.access")}
    assert access["audited-call"]["key_id"] == key_id
    assert secret not in caplog.text and ADMIN_TOKEN not in caplog.text


# --- tersify serve -----------------------------------------------------------------------------


@pytest.mark.parametrize("trusted", [False, True])
def test_serve_trusts_x_forwarded_for_only_from_named_proxies(tmp_path: Path,
                                                              trusted: bool) -> None:
    options = ["--forwarded-allow-ips", "127.0.0.1"] if trusted else []
    env = {"TERSIFY_DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}",
           "TERSIFY_PLAYGROUND_LIMIT": "1"}
    body = {"context": CONTEXT, "query": "When did the tram open?"}
    with serve(tmp_path, env, *options) as (_, url):
        assert httpx.post(url + "/api/compress", json=body, timeout=30).status_code == 200
        forwarded = {"X-Forwarded-For": "203.0.113.7"}
        again = httpx.post(url + "/api/compress", json=body, headers=forwarded, timeout=30)
        # Untrusted, the header is ignored: the same client, its one request spent. Trusted
        # (the proxy on loopback names its client), it is another client with its own bucket.
        assert again.status_code == (200 if trusted else 429)
        if trusted:
            third = httpx.post(url + "/api/compress", json=body, headers=forwarded, timeout=30)
            assert third.status_code == 429


def test_serve_reads_the_admin_token_from_a_file_never_the_command_line(tmp_path: Path) -> None:
    token = secrets.token_urlsafe(32)
    # one "=" word: a token may start with "-", which argparse would read as an option
    refused = subprocess.run([*CLI, "serve", "--port", str(free_port()), f"--admin-token={token}"],
                             cwd=tmp_path, capture_output=True, text=True, timeout=60,
                             check=False)
    assert refused.returncode == 2 and token not in refused.stderr
    assert refused.stderr.startswith("tersify: error: --admin-token is not accepted")
    (tmp_path / "admin-token").write_text(token + "\n")
    env = {"TERSIFY_DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}"}
    with serve(tmp_path, env, "--admin-token-file", str(tmp_path / "admin-token")) as (_, url):
        bearer = {"Authorization": f"Bearer {token}"}
        assert httpx.post(url + "/admin/keys", json={"name": "f"}, headers=bearer).status_code \
            == 201
        assert httpx.get(url + "/metrics").status_code == 401
        assert httpx.get(url + "/metrics", headers=bearer).status_code == 200


@pytest.mark.services
def test_the_serve_banner_hides_the_database_password(tmp_path: Path, postgres_url: str) -> None:
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    name = "banner_" + secrets.token_hex(4)  # an empty database: the banner names it
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    admin.dispose()
    # The test cluster trusts local connections, so any password opens it.
    url = make_url(postgres_url).set(password="hunter2-secret", database=name)
    with serve(tmp_path, {"TERSIFY_DATABASE_URL": url.render_as_string(hide_password=False)}):
        pass
    out = (tmp_path / "out.txt").read_text()
    assert "No API keys yet" in out and f"tersify:***@{url.host}:{url.port}/{name}" in out
    assert "hunter2" not in out + (tmp_path / "err.txt").read_text()
