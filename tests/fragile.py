"""A real server whose engine fails at run time on demand: the way to a genuine 500.

The engine runs the real lexical scorer behind a wrapper that raises when the question contains
``TRIGGER``, as a broken model or a bug in a scorer would. The app is built through the app
factory's public ``compressor`` parameter and served by uvicorn over HTTP: nothing is patched,
the server meets a real exception from inside ``Compressor.compress``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from conftest import ADMIN_TOKEN, Server, serving

import tersify
from tersify.scorers import Scores, get_scorer
from tersify.segment import Segmented

TRIGGER = "detonate"
SECRET = "scorer internals at /srv/weights.bin offset 0x2a"  # must never reach a client


class FragileScorer:
    """The lexical scorer, failing on a question that contains ``TRIGGER``."""

    name = "fragile"

    def __init__(self) -> None:
        self._lexical = get_scorer("lexical")

    def score(self, question: str, documents: Sequence[Segmented]) -> Scores:
        if TRIGGER in question:
            raise RuntimeError(SECRET)
        return self._lexical.score(question, documents)


def fragile_compressor() -> tersify.Compressor:
    return tersify.Compressor(scorer=FragileScorer())


@contextmanager
def fragile_server(database: Path, **settings: Any) -> Iterator[Server]:
    """A running server with the fragile engine, the test admin token and one key."""
    from tersify.integrations.server import ServerSettings, create_app

    config = ServerSettings(database_url=f"sqlite:///{database}", admin_token=ADMIN_TOKEN,
                            **settings)
    app = create_app(config, compressor=fragile_compressor())
    with serving(app, "fragile") as server:
        yield server
