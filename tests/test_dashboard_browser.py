"""The usage dashboard in headless Chromium (Debian's, driven by Playwright, as the playground's
test does): paste a key, see its days in the table and as the chart's bars, the key never in a
URL, and nothing the page's Content-Security-Policy had to block."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import make_app, start_server, stop_server
from test_playground_browser import CHROMIUM, FLAGS

pytestmark = pytest.mark.browser
DOCS = ["The Harbor Line tram opened to passengers on 14 May 1911. A ticket cost two pennies.",
        "The lighthouse was finished in 1887 and automated in 1961. The market opens at four."]
PLOT_HEIGHT = 200  # the chart's plot area, in the SVG's units (dashboard.html)


def usage_of(url: str, secret: str) -> dict[str, Any]:
    """What the page should show: the API's answer for its default range."""
    body: dict[str, Any] = httpx.get(url + "/v1/usage/daily?days=7",
                                     headers={"X-API-Key": secret}).json()
    return body


def seed(app: Any, url: str) -> tuple[str, str]:
    """A key with real compressions today and older days recorded, and another key with some."""
    store = app.state.store
    key, secret = store.create("browser")
    other, other_secret = store.create("not yours")
    today = dt.datetime.now(dt.UTC).date()
    for back, tokens in ((2, 900), (5, 300)):
        store.record(key.id, tokens_in=tokens, tokens_out=tokens // 3, requests=back,
                     day=(today - dt.timedelta(days=back)).isoformat())
    store.record(other.id, tokens_in=10**6, tokens_out=1, day=today.isoformat())
    for ratio in (0.3, 0.6):
        r = httpx.post(url + "/v1/tersify", headers={"X-API-Key": secret}, timeout=30,
                       json={"contexts": DOCS, "question": "When did the tram open?",
                             "target_ratio": ratio})
        assert r.status_code == 200
    return secret, other_secret


def numbers(cells: list[str]) -> list[int]:
    return [int(c.replace(",", "")) for c in cells]


def test_the_dashboard_shows_a_keys_days_in_its_table_and_chart(tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    app = make_app(tmp_path / "k.db")
    url, server, thread = start_server(app)
    try:
        secret, other = seed(app, url)
        expected = usage_of(url, secret)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
            page = browser.new_page()
            # Script errors, and what the policy refused (a console error naming it); the
            # favicon's 404 and the wrong key's 401 are console errors too, and expected.
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error"
                    and not m.text.startswith("Failed to load resource") else None)
            requested: list[str] = []
            page.on("request", lambda r: requested.append(r.url))
            page.goto(url + "/dashboard")
            page.select_option("#days", "7")
            page.fill("#key", secret)
            page.click("#show")
            expect(page.locator("#result")).to_be_visible(timeout=20_000)
            assert_table(page, expected)
            assert_chart(page, expected)
            assert expected["key_id"] in page.locator("#title").inner_text()
            assert not any(secret in u for u in [*requested, page.url])
            assert page.evaluate("sessionStorage.getItem('tersify.dashboard.key')") == secret
            page.screenshot(path=str(tmp_path / "dashboard.png"))

            page.reload()  # the key stays for the tab: the page loads it again
            expect(page.locator("#usage tbody tr")).to_have_count(3, timeout=20_000)
            page.click("#forget")
            expect(page.locator("#result")).to_be_hidden()
            assert page.evaluate("sessionStorage.length") == 0
            assert page.input_value("#key") == ""

            page.fill("#key", "tsk_live_" + "x" * 43)
            page.click("#show")
            expect(page.locator("#error")).to_contain_text("unknown or revoked", timeout=10_000)
            expect(page.locator("#result")).to_be_hidden()
            page.fill("#key", other)
            page.click("#show")
            expect(page.locator("#totals")).to_contain_text("1,000,000 original", timeout=10_000)
            browser.close()
        assert errors == []  # no script error, nothing refused by the policy
    finally:
        stop_server(server, thread)


def assert_table(page: Any, expected: dict[str, Any]) -> None:
    """One row per day with requests, newest first, its numbers the API's; the totals below."""
    used = [d for d in reversed(expected["days"]) if d["requests"]]
    rows = page.locator("#usage tbody tr")
    assert rows.evaluate_all("rows => rows.map(r => r.dataset.day)") == [d["day"] for d in used]
    assert len(used) == 3  # today's compressions and the two older days
    for row, day in zip(rows.all(), used):
        cells = row.locator("td").all_inner_texts()
        assert numbers(cells[1:5]) == [day[n] for n in ("requests", "tokens_in", "tokens_out",
                                                         "tokens_saved")]
        assert float(cells[5]) == pytest.approx(100 * day["tokens_saved"] / day["tokens_in"],
                                                abs=0.05)
    totals = page.locator("#usage tfoot td").all_inner_texts()
    assert totals[0] == "total"
    assert numbers(totals[1:5]) == [expected["totals"][n] for n in ("requests", "tokens_in",
                                                                    "tokens_out", "tokens_saved")]


def assert_chart(page: Any, expected: dict[str, Any]) -> None:
    """A bar a day, oldest on the left; each bar's parts as tall as its tokens, to scale."""
    bars = page.locator("#chart g.bar").evaluate_all("""bars => bars.map(b => ({
        day: b.dataset.day, tokens_in: Number(b.dataset.tokensIn),
        x: Number(b.querySelector('.sent').getAttribute('x')),
        sent: Number(b.querySelector('.sent').getAttribute('height')),
        saved: Number(b.querySelector('.saved').getAttribute('height'))}))""")
    days = expected["days"]
    assert [b["day"] for b in bars] == [d["day"] for d in days]
    assert [b["tokens_in"] for b in bars] == [d["tokens_in"] for d in days]
    assert [b["x"] for b in bars] == sorted(b["x"] for b in bars)
    most = max(d["tokens_in"] for d in days)
    for bar, day in zip(bars, days):
        scale = PLOT_HEIGHT / most
        assert bar["sent"] == pytest.approx(day["tokens_out"] * scale, abs=0.01)
        assert bar["saved"] == pytest.approx(day["tokens_saved"] * scale, abs=0.01)
    assert max(b["sent"] + b["saved"] for b in bars) == pytest.approx(PLOT_HEIGHT)
