"""Requests that arrive together share their scorer's call (issue 11, item 5): in the engine
(``Compressor.compress_together``) and in the server's micro-batches. One failing request never
fails its neighbours."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import httpx
from misbehaving import CRASH, running

from tersify import CompressionRequest, CompressionResult, Compressor, InvalidRequestError
from tersify.scorers import BatchScorer, Scores, get_scorer
from tersify.segment import Segmented

DOCS = ["The tram opened on 2 March 1961. It ran along the harbour.",
        "The museum opened in 1994 and shows old trams.",
        "Tickets cost two euros; children ride free."]


class CountingBatchScorer:
    """The lexical scorer behind ``score_many``, counting its calls (a batching model's shape);
    it crashes on a question containing CRASH, as a model out of memory would."""

    name = "counting"

    def __init__(self) -> None:
        self._lexical = get_scorer("lexical")
        self.calls: list[int] = []  # how many document sets each call scored
        self._lock = threading.Lock()

    def score(self, question: str, documents: Sequence[Segmented]) -> Scores:
        return self.score_many([(question, documents)])[0]

    def score_many(self, items: Sequence[tuple[str, Sequence[Segmented]]]) -> list[Scores]:
        with self._lock:
            self.calls.append(len(items))
        if any(CRASH in question for question, _ in items):
            raise RuntimeError("out of memory (a stand-in for any crash inside a model)")
        return [self._lexical.score(q, docs) for q, docs in items]


def _requests() -> list[CompressionRequest]:
    return [CompressionRequest(contexts=DOCS, question=q, target_ratio=r)
            for q, r in [("When did the tram open?", 0.5), ("What do tickets cost?", 0.3),
                         ("When did the museum open?", 0.7)]]


def test_together_gives_what_one_by_one_gives_in_one_scorer_call() -> None:
    scorer = CountingBatchScorer()
    assert isinstance(scorer, BatchScorer)
    compressor = Compressor(scorer=scorer)
    requests = _requests()
    together = compressor.compress_together(requests)
    assert scorer.calls == [3]
    alone = [compressor.compress(r) for r in requests]
    for a, b in zip(together, alone, strict=True):
        assert isinstance(a, CompressionResult)
        assert a.compressed_prompt == b.compressed_prompt
        assert a.stats.compressed_tokens == b.stats.compressed_tokens


def test_a_bad_request_gets_its_error_and_its_neighbours_their_results() -> None:
    requests = _requests()
    requests.insert(1, replace(requests[0], policy="no-such-policy"))
    requests.append(replace(requests[0], scorer="no-such-scorer"))
    out = Compressor().compress_together(requests)
    assert [type(r).__name__ for r in out] == ["CompressionResult", "InvalidRequestError",
                                               "CompressionResult", "CompressionResult",
                                               "InvalidRequestError"]
    assert "valid choices" in str(out[1])


def test_a_crash_in_the_shared_call_is_scored_again_one_by_one() -> None:
    scorer = CountingBatchScorer()
    requests = _requests()
    requests[1] = replace(requests[1], question=f"{CRASH}: what do tickets cost?")
    out = Compressor(scorer=scorer).compress_together(requests)
    assert isinstance(out[0], CompressionResult) and isinstance(out[2], CompressionResult)
    assert isinstance(out[1], RuntimeError) and not isinstance(out[1], InvalidRequestError)
    assert scorer.calls == [3, 1, 1, 1]


def test_policies_without_a_scorer_are_not_scored() -> None:
    scorer = CountingBatchScorer()
    requests = [replace(r, policy="truncation") for r in _requests()]
    out = Compressor(scorer=scorer).compress_together(requests)
    assert all(isinstance(r, CompressionResult) for r in out)
    assert scorer.calls == []


def test_the_servers_micro_batches_share_one_scorer_call(tmp_path: Path) -> None:
    scorer = CountingBatchScorer()
    with running(tmp_path / "t.db", Compressor(scorer=scorer, linear_patterns=True),
                 batch_wait_ms=50.0) as server:
        async def burst() -> list[int]:
            async with httpx.AsyncClient(timeout=60) as client:
                calls = [client.post(server.url + "/v1/tersify", headers={"X-API-Key": server.key},
                                     json={"contexts": DOCS, "question": f"When? {i}",
                                           "target_ratio": 0.5})
                         for i in range(24)]
                return [r.status_code for r in await asyncio.gather(*calls)]

        assert asyncio.run(burst()) == [200] * 24
    assert sum(scorer.calls) >= 24
    assert max(scorer.calls) > 1  # several requests were scored in one call
