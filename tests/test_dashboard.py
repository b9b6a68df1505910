"""Usage by day (issue 13) over real HTTP: ``GET /v1/usage/daily`` after real compressions on a
SQLite file (and PostgreSQL, marked services), its bounds and its 4xx, the ``/dashboard`` page's
headers and its off switch. The page itself runs in Chromium in test_dashboard_browser.py."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import ADMIN_TOKEN, Server, assert_inline_code_hashed, make_app, serving
from hypothesis import given
from hypothesis import strategies as st

from tersify.integrations.server.dashboard import MAX_DAYS, daily_series
from tersify.integrations.server.settings import ServerSettings, SettingsError
from tersify.integrations.server.store import KeyStore, UsageDay

DOCS = ["The Harbor Line tram opened to passengers on 14 May 1911. A ticket cost two pennies.",
        "The lighthouse was finished in 1887 and automated in 1961. The market opens at four."]
QUESTION = "When did the Harbor Line tram open?"


def utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Server]:
    with serving(make_app(tmp_path / "k.db"), "dashboard") as server:
        yield server


def daily(server: Server, secret: str, query: str = "") -> httpx.Response:
    return httpx.get(f"{server.url}/v1/usage/daily{query}", headers={"X-API-Key": secret},
                     timeout=30)


def compress(server: Server, secret: str, body: dict[str, Any]) -> dict[str, Any]:
    r = httpx.post(server.url + "/v1/tersify", json=body, headers={"X-API-Key": secret},
                   timeout=30)
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    return answer


def key_id(server: Server, secret: str) -> str:
    key = server.app.state.store.authenticate(secret)
    assert key is not None
    return str(key.id)


def test_daily_usage_counts_real_compressions_of_the_caller_only(live: Server) -> None:
    _, other = live.app.state.store.create("other")
    first_day = utc_today()
    single = [compress(live, live.key, {"contexts": DOCS, "question": q, "target_ratio": r})
              for q, r in ((QUESTION, 0.5), ("When was the lighthouse finished?", 0.3))]
    batch = compress(live, live.key, {"requests": [
        {"contexts": DOCS, "question": QUESTION, "target_ratio": 0.4}] * 3})["results"]
    refused = httpx.post(live.url + "/v1/tersify", json={"contexts": DOCS, "target_ratio": 7},
                         headers={"X-API-Key": live.key})
    assert refused.status_code == 400  # not billed
    theirs = httpx.post(live.url + "/v1/compress", json={"context": DOCS[1], "query": "When?"},
                        headers={"X-API-Key": other})
    assert theirs.status_code == 200
    served_days = {first_day, utc_today()}  # two if the calls crossed midnight (UTC)

    stats = [r["stats"] for r in single + batch]
    mine = daily(live, live.key, "?days=7")
    assert mine.status_code == 200, mine.text
    assert mine.headers["Cache-Control"] == "no-store"
    assert "X-RateLimit-Remaining" in mine.headers  # a keyed call like any other
    body = mine.json()
    days = body["days"]
    assert [d["day"] for d in days] == [(utc_today() - dt.timedelta(days=6 - i)).isoformat()
                                        for i in range(7)]
    assert (body["first"], body["last"]) == (days[0]["day"], days[-1]["day"])
    assert {d["day"] for d in days if d["requests"]} <= {d.isoformat() for d in served_days}
    assert body["key_id"] == key_id(live, live.key) and body["key_name"] == "dashboard"
    assert body["totals"] == {
        "requests": 5, "tokens_in": sum(s["original_tokens"] for s in stats),
        "tokens_out": sum(s["compressed_tokens"] for s in stats),
        "tokens_saved": sum(s["original_tokens"] - s["compressed_tokens"] for s in stats)}
    assert body["totals"] == {name: sum(d[name] for d in days) for name in body["totals"]}

    other_body = daily(live, other, "?days=7").json()
    assert other_body["key_id"] != body["key_id"] and other_body["totals"]["requests"] == 1
    all_time = httpx.get(f"{live.url}/api/keys/{other_body['key_id']}/usage",
                         headers={"X-API-Key": other}).json()
    assert other_body["totals"]["tokens_in"] == all_time["tokens_in"]
    # Reading usage is not usage.
    assert daily(live, live.key, "?days=7").json()["totals"] == body["totals"]


def test_a_range_holds_its_days_only_and_zeros_for_the_empty_ones(live: Server) -> None:
    store, key = live.app.state.store, key_id(live, live.key)
    for day, tokens in (("2026-01-31", 100), ("2026-02-01", 40), ("2026-02-28", 7),
                        ("2026-03-01", 1000)):
        store.record(key, tokens_in=tokens, tokens_out=tokens // 4, day=day)
    store.record(key, tokens_in=60, tokens_out=15, requests=3, day="2026-02-01")
    body = daily(live, live.key, "?days=28&last=2026-02-28").json()
    assert (body["first"], body["last"]) == ("2026-02-01", "2026-02-28")
    assert len(body["days"]) == 28
    used = {d["day"]: (d["requests"], d["tokens_in"], d["tokens_out"], d["tokens_saved"])
            for d in body["days"] if d["requests"]}
    assert used == {"2026-02-01": (4, 100, 25, 75), "2026-02-28": (1, 7, 1, 6)}
    assert body["totals"]["requests"] == 5
    leap = daily(live, live.key, f"?days={MAX_DAYS}&last=2024-12-31").json()
    assert leap["first"] == "2024-01-01" and len(leap["days"]) == MAX_DAYS
    earliest = daily(live, live.key, "?days=5&last=0001-01-02").json()
    assert [d["day"] for d in earliest["days"]] == ["0001-01-01", "0001-01-02"]


@pytest.mark.parametrize("query", [
    "?days=0", f"?days={MAX_DAYS + 1}", "?days=-3", "?days=x", "?days=1.5", "?days=",
    "?last=2026-02-30", "?last=2026-2-3", "?last=yesterday", "?last=0", "?last=1700000000",
    "?last=2026-12-04T00:00:00", "?last=12/04/2026"])
def test_bad_parameters_are_a_400_in_the_error_shape(live: Server, query: str) -> None:
    r = daily(live, live.key, query)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["type"] == "invalid_request"
    assert ("days" in error["message"]) != ("last" in error["message"])


def test_only_a_key_may_read_it(live: Server) -> None:
    assert httpx.get(live.url + "/v1/usage/daily").status_code == 401
    assert daily(live, "tsk_live_" + "x" * 43).status_code == 401
    admin = httpx.get(live.url + "/v1/usage/daily",
                      headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert admin.status_code == 401  # the admin reads a key's usage at /api/keys/{id}/usage
    live.app.state.store.revoke(key_id(live, live.key))
    revoked = daily(live, live.key)
    assert revoked.status_code == 401 and revoked.json()["error"]["type"] == "unauthorized"


def test_the_page_runs_its_own_code_only_and_holds_no_secret(live: Server) -> None:
    page = httpx.get(live.url + "/dashboard")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy
    assert_inline_code_hashed(page)
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["X-Frame-Options"] == "DENY"
    assert not re.search(r"tsk_live_\w", page.text) and ADMIN_TOKEN not in page.text
    # Nothing from elsewhere: the one absolute URL is SVG's namespace, which is never fetched.
    assert re.findall(r"https?://[^\s\"'`]+", page.text) == ["http://www.w3.org/2000/svg"]


def test_the_page_can_be_turned_off_and_the_route_stays(tmp_path: Path) -> None:
    with serving(make_app(tmp_path / "k.db", dashboard=False), "off") as server:
        assert httpx.get(server.url + "/dashboard").status_code == 404
        assert daily(server, server.key).status_code == 200
    assert ServerSettings.from_env({"TERSIFY_DASHBOARD": "off"}).dashboard is False
    assert ServerSettings.from_env({}).dashboard is True
    with pytest.raises(SettingsError, match="^TERSIFY_DASHBOARD must be true or false"):
        ServerSettings.from_env({"TERSIFY_DASHBOARD": "maybe"})


@given(first=st.dates(dt.date(2025, 12, 1), dt.date(2026, 2, 1)),
       length=st.integers(1, 60),
       used=st.dictionaries(st.dates(dt.date(2025, 11, 1), dt.date(2026, 4, 1)),
                            st.tuples(st.integers(1, 50), st.integers(0, 10**6),
                                      st.integers(0, 10**6)), max_size=40))
def test_a_series_has_every_day_once_and_the_rows_of_its_range(
        first: dt.date, length: int, used: dict[dt.date, tuple[int, int, int]]) -> None:
    last = first + dt.timedelta(days=length - 1)
    rows = [UsageDay(day=d.isoformat(), requests=r, tokens_in=i, tokens_out=o)
            for d, (r, i, o) in sorted(used.items())]
    series = daily_series(rows, first, last)
    assert [s.day for s in series] == [(first + dt.timedelta(days=n)).isoformat()
                                       for n in range(length)]
    inside = {d.isoformat(): v for d, v in used.items() if first <= d <= last}
    assert {s.day: (s.requests, s.tokens_in, s.tokens_out) for s in series if s.requests} == inside
    assert all(s.tokens_saved == s.tokens_in - s.tokens_out for s in series)


@pytest.mark.services
def test_postgres_reads_a_range_as_sqlite_does(postgres_url: str, tmp_path: Path) -> None:
    stores = [KeyStore(postgres_url), KeyStore(f"sqlite:///{tmp_path / 'same.db'}")]
    found = []
    for store in stores:
        key, _ = store.create("range")
        for day in ("2026-02-27", "2026-02-28", "2026-03-01", "2026-03-02", "2027-03-01"):
            store.record(key.id, tokens_in=len(day), tokens_out=1, day=day)
        found.append([d.day for d in store.usage(key.id, first="2026-02-28", last="2026-03-01")])
        store.close()
    assert found[0] == found[1] == ["2026-02-28", "2026-03-01"]


@pytest.mark.services
def test_daily_usage_on_postgres_after_real_compressions(postgres_url: str) -> None:
    with serving(make_app(postgres_url), "pg-dashboard") as server:
        stats = [compress(server, server.key, {"contexts": DOCS, "question": QUESTION,
                                               "target_ratio": 0.5})["stats"] for _ in range(3)]
        body = daily(server, server.key, "?days=2").json()
        assert len(body["days"]) == 2 and body["totals"]["requests"] == 3
        assert body["totals"]["tokens_in"] == sum(s["original_tokens"] for s in stats)
        assert body["totals"]["tokens_out"] == sum(s["compressed_tokens"] for s in stats)


def test_the_playground_can_be_turned_off(tmp_path: Path) -> None:
    # keyless compute is the playground's whole point, and what an exposed server may not want
    body = {"context": "The tram opened in 1911.", "query": "When?", "budget_ratio": 0.9}
    with serving(make_app(tmp_path / "on.db"), "on") as server:
        assert httpx.get(server.url + "/").status_code == 200
        assert httpx.post(server.url + "/api/compress", json=body).status_code == 200
    with serving(make_app(tmp_path / "off.db", playground=False), "off") as server:
        assert httpx.get(server.url + "/").status_code == 404
        assert httpx.post(server.url + "/api/compress", json=body).status_code == 404
        assert "/api/compress" not in httpx.get(server.url + "/openapi.json").json()["paths"]
        keyed = httpx.post(server.url + "/v1/tersify", headers={"X-API-Key": server.key},
                           json={"contexts": ["The tram opened in 1911."], "target_ratio": 0.9})
        assert keyed.status_code == 200
    assert ServerSettings.from_env({"TERSIFY_PLAYGROUND": "false"}).playground is False
    assert ServerSettings.from_env({}).playground is True
