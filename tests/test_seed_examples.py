"""Every request example of the three seed documents (../shared/seeds/), replayed verbatim
against a real server: a user who copies one from the dialect's own docs gets an answer
(issue 13, bug 2). Only the host and the placeholder key are replaced."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import Server

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"
# A curl command: its URL, then its body in single quotes after --data or -d.
_CURL = re.compile(r"curl .*?(https?://\S+?)[\s\\]+.*?(?:--data|-d) '(.*?)'", re.DOTALL)
# The API reference's schema placeholder, not a request anyone sends: "rate": {} is refused.
PLACEHOLDER = '"rate": {}'


def examples() -> list[tuple[str, str, str]]:
    """(seed file, path, body) of every curl example with a body."""
    found = []
    for seed in sorted(SEEDS.glob("*.txt")):
        text = seed.read_text(encoding="utf-8")
        url_first = text.replace("curl --request POST \\\n  --url ", "curl ")
        for url, body in _CURL.findall(url_first):
            found.append((seed.name, "/" + url.split("/", 3)[3], body))
    return found


def _post(server: Server, path: str, body: str) -> httpx.Response:
    return httpx.post(server.url + path, content=body.encode(), timeout=60,
                      headers={"X-API-Key": server.key, "Content-Type": "application/json"})


def test_every_seed_document_has_examples() -> None:
    counts: dict[str, int] = {}
    for seed, _, _ in examples():
        counts[seed] = counts.get(seed, 0) + 1
    assert counts == {"compresso.txt": 1, "scaledown.txt": 3, "supercompress.txt": 2}


@pytest.mark.parametrize(("seed", "path", "body"), examples(),
                         ids=[f"{s}:{i}" for i, (s, _, _) in enumerate(examples())])
def test_a_documented_example_is_answered(server: Server, seed: str, path: str,
                                          body: str) -> None:
    response = _post(server, path, body)
    data: dict[str, Any] = response.json()
    if PLACEHOLDER in body:
        assert response.status_code == 400
        assert "rate" in data["error"]["message"]
        return
    assert response.status_code == 200, response.text
    assert json.loads(body)  # the body really was the seed's JSON, sent as is
    assert any(key in data for key in ("compressed_prompt", "compressed_text"))


def test_compresso_empty_strings_count_as_absent(server: Server) -> None:
    filled = _post(server, "/v1/prompt-compress", json.dumps(
        {"prompt": "", "context": "The tram opened in 1961. It ran along the harbour.",
         "question": "When?"}))
    # The context was used: at the default ratio one of its sentences survives whole (a
    # document keeps a whole sentence or nothing, issue 12).
    assert filled.status_code == 200
    assert filled.json()["compressed_prompt"] == "It ran along the harbour.\n\nWhen?"
    both = _post(server, "/v1/prompt-compress", json.dumps(
        {"prompt": "A whole prompt.", "context": "A context."}))
    assert both.status_code == 400
    assert both.json()["error"]["message"] == "give either context or prompt, not both"


@pytest.mark.parametrize("path", ["/compress/raw/", "/compress/raw"])
def test_scaledown_is_served_with_and_without_the_slash(server: Server, path: str) -> None:
    body = {"context": "The tram opened in 1961.", "prompt": "When?", "scaledown": {"rate": 0.5}}
    response = _post(server, path, json.dumps(body))
    assert response.status_code == 200 and response.json()["successful"] is True


def test_compresso_timestamps_are_utc_with_a_z(server: Server) -> None:
    response = _post(server, "/v1/prompt-compress", json.dumps({"context": "A context."}))
    stamp = response.json()["analytics"]["timestamp"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", stamp), stamp


@pytest.mark.parametrize(("rate", "shown"), [("0.4", "'0.4' (a string)"), ({}, "an object"),
                                             (2, "2"), (True, "True")])
def test_a_wrong_scaledown_rate_gets_one_clear_message(server: Server, rate: Any,
                                                       shown: str) -> None:
    body = {"context": "A context.", "prompt": "What?", "scaledown": {"rate": rate}}
    response = _post(server, "/compress/raw/", json.dumps(body))
    assert response.status_code == 400
    assert response.json()["error"]["message"] == (
        f'scaledown.rate: must be "auto" or a number in (0, 1], e.g. 0.4; got {shown}')


@pytest.mark.parametrize("rate", [1, 0.25, "auto"])
def test_a_right_scaledown_rate_is_accepted(server: Server, rate: Any) -> None:
    body = {"context": "A context.", "prompt": "What?", "scaledown": {"rate": rate}}
    assert _post(server, "/compress/raw", json.dumps(body)).status_code == 200
