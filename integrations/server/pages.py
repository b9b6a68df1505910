"""The server's own pages (the playground, the usage dashboard): one HTML file each in static/,
with its script and style inline, served with a Content-Security-Policy that allows only that
script and style (named by their hashes), requests to this origin, and no framing. A page so
served cannot load code from elsewhere, nor run code injected into it.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from importlib.resources import files

__all__ = ["secured_page"]


def secured_page(name: str, fill: Mapping[str, str] | None = None) -> tuple[str, dict[str, str]]:
    """The page ``static/<name>`` (each key of ``fill`` replaced by its value) and the headers
    to serve it with."""
    source = files("tersify.integrations.server").joinpath(f"static/{name}")
    text = source.read_text(encoding="utf-8")
    for slot, value in (fill or {}).items():
        text = text.replace(slot, value)

    def hashes(tag: str) -> str:  # our own file, not client input
        blocks = re.findall(f"<{tag}>(.*?)</{tag}>", text, flags=re.DOTALL)
        return " ".join("'sha256-" + base64.b64encode(hashlib.sha256(b.encode()).digest())
                        .decode() + "'" for b in blocks)

    policy = (f"default-src 'none'; script-src {hashes('script')}; style-src "
              f"{hashes('style')}; connect-src 'self'; img-src 'self'; base-uri 'none'; "
              "form-action 'none'; frame-ancestors 'none'")
    # nosniff and X-Frame-Options come with every response (observe.SECURITY_HEADERS).
    return text, {"Content-Security-Policy": policy, "Referrer-Policy": "no-referrer"}
