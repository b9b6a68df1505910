"""Engines that misbehave on demand: a compression that hangs, a model scorer that crashes.

Like fragile.py, each wraps the real lexical scorer and lets the question decide, and reaches
the server through the app factory's public parameters (``compressor=`` for threads,
``compressor_factory=`` for worker processes: a module-level function, so that a spawned worker
can build it). Nothing is patched: the server meets a real hang or a real exception from inside
``Compressor.compress``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from conftest import ADMIN_TOKEN, Server, serving

import tersify
from tersify.scorers import Scores, get_scorer
from tersify.segment import Segmented

HOLD = "hold the engine"  # in a question: the compression waits (see HoldingScorer)
DIE = "end the engine process"  # in a question: a worker process ends (see HoldingScorer)
CRASH = "crash the model"  # in a question: the model scorer raises (see CrashingModel)
DOCS = ["The Harbor Line tram opened to passengers on 14 May 1911. A ticket cost two pennies.",
        "The lighthouse was finished in 1887 and automated in 1961.",
        "The fish market opens at four in the morning and closes at noon."]


class HoldingScorer:
    """The lexical scorer, holding a question that contains ``HOLD``: until ``release`` is set,
    or for good when there is none (only a worker process can be rid of that). Without a
    ``release`` (the worker processes' variant) a question containing ``DIE`` ends the process
    at once, as the kernel's out-of-memory killer would."""

    name = "holding"

    def __init__(self, release: threading.Event | None = None) -> None:
        self._lexical = get_scorer("lexical")
        self.release = release

    def score(self, question: str, documents: Sequence[Segmented]) -> Scores:
        if DIE in question and self.release is None:
            os._exit(137)
        if HOLD in question:
            if self.release is None:
                while True:
                    time.sleep(3600)
            self.release.wait()
        return self._lexical.score(question, documents)


def stuck_compressor() -> tersify.Compressor:
    """An engine whose ``HOLD`` compressions never end (built in each worker process)."""
    return tersify.Compressor(scorer=HoldingScorer(), linear_patterns=True)


class CrashingModel:
    """A model scorer (it serves as the registry's ``embedding``, as a preset's model does) that
    crashes inside on a question containing ``CRASH``, as a model out of memory or a bug in a
    scorer would; the lexical scorer's scores otherwise."""

    name = "embedding"

    def __init__(self) -> None:
        self._lexical = get_scorer("lexical")

    def score(self, question: str, documents: Sequence[Segmented]) -> Scores:
        if CRASH in question:
            raise RuntimeError("CUDA out of memory (a stand-in for any crash inside a model)")
        return self._lexical.score(question, documents)


def crashing_model_compressor() -> tersify.Compressor:
    return tersify.Compressor(scorer=CrashingModel(), linear_patterns=True)


@contextmanager
def running(database: Path, compressor: tersify.Compressor | None = None,
            **settings: Any) -> Iterator[Server]:
    """A server (test admin token, one key with room for every test request) around
    ``compressor``, or around ``compressor_factory`` given in ``settings``."""
    from tersify.integrations.server import ServerSettings, create_app

    engine = {name: value for name, value in [("compressor", compressor), (
        "compressor_factory", settings.pop("compressor_factory", None))] if value is not None}
    config = ServerSettings(database_url=f"sqlite:///{database}", admin_token=ADMIN_TOKEN,
                            rate_limit=10_000, **settings)
    app = create_app(config, **engine)
    with serving(app, "misbehaving") as server:
        yield server


def usage_requests(server: Server) -> int:
    key_id = server.app.state.store.all()[0].id
    return sum(day.requests for day in server.app.state.store.usage(key_id))
