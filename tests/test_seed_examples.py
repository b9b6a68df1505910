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
        {"prompt": "", "context": "The tram opened in 1961.", "question": "When?"}))
    assert filled.status_code == 200 and "tram" in filled.json()["compressed_prompt"]
    both = _post(server, "/v1/prompt-compress", json.dumps(
        {"prompt": "A whole prompt.", "context": "A context."}))
    assert both.status_code == 400
    assert both.json()["error"]["message"] == "give either context or prompt, not both"
