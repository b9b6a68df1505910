"""The playground page in headless Chromium (Debian's, driven by Playwright): paste, compress,
see the kept words highlighted and every policy side by side."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import make_app, start_server, stop_server

from tersify import available_policies

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Chromium on a machine without network: no background connections, no sandbox as root.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
CONTEXT = ("The Harbor Line tram opened to passengers on 14 May 1911.\n"
           "A single ticket cost two copper pennies.\n"
           "The lighthouse was finished in 1887 and automated in 1961.\n"
           "The fish market opens at four in the morning and closes at noon.\n"
           "Each autumn the town holds a lantern festival on the harbour.")


def test_playground_shows_kept_words_and_every_policy(tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, server, thread = start_server(make_app(tmp_path / "k.db"))
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
            page = browser.new_page()
            page.goto(url + "/")
            assert page.locator("#policy option").all_inner_texts() == list(available_policies())
            page.fill("#context", CONTEXT)
            page.fill("#question", "When did the Harbor Line tram open?")
            page.locator("#ratio").fill("0.4")
            page.select_option("#policy", "tersify")
            page.click("#run")
            expect(page.locator("#result")).to_be_visible(timeout=20_000)
            marks = page.locator("#highlighted mark").all_inner_texts()
            assert marks and all(m in CONTEXT for m in marks)
            assert "14 May 1911" in " ".join(marks)
            assert page.locator("#highlighted").inner_text().replace("\n", "") == \
                CONTEXT.replace("\n", "")
            policies = page.locator("#compare tbody tr").evaluate_all(
                "rows => rows.map(r => r.dataset.policy)")
            assert policies == list(available_policies())
            assert "tokens" in page.locator("#stats").inner_text()
            page.screenshot(path=str(tmp_path / "playground.png"))
            page.fill("#context", "")
            page.click("#run")
            expect(page.locator("#error")).not_to_be_empty(timeout=10_000)
            browser.close()
    finally:
        stop_server(server, thread)


def test_highlights_are_right_after_emoji(tmp_path: Path) -> None:
    import httpx
    from playwright.sync_api import expect, sync_playwright

    context = ("\U0001f68b\U0001f68b The Harbor Line tram \U0001f31f opened on 14 May 1911.\n"
               "\U0001f3e0 A single ticket cost two copper pennies.")
    question = "When did the Harbor Line tram open?"
    url, server, thread = start_server(make_app(tmp_path / "k.db"))
    try:
        spans = httpx.post(url + "/api/compress", json={
            "context": context, "query": question, "budget_ratio": 0.5}).json()["kept_spans"]
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
            page = browser.new_page()
            page.goto(url + "/")
            page.fill("#context", context)
            page.fill("#question", question)
            page.locator("#ratio").fill("0.5")
            page.select_option("#policy", "tersify")
            page.click("#run")
            expect(page.locator("#result")).to_be_visible(timeout=20_000)
            marks = page.locator("#highlighted mark").all_inner_texts()
            # The server's spans count code points (Python's): each mark is exactly its slice.
            assert marks == [context[start:end] for start, end in spans]
            browser.close()
    finally:
        stop_server(server, thread)
