"""The playground: a page at ``/`` and its keyless endpoint ``POST /api/compress``.

``/api/compress`` takes SuperCompress's fields plus ``policy`` and ``compare``; it is limited per
client address (settings.playground_limit per window, each policy run counting as one request)
and records no usage. The page is served with a Content-Security-Policy that allows only its
own inline script and style (by hash), requests to this origin, and no framing (pages.py). Its
policy choices are the engine's (names.py), written into the page when it is first served.
"""

# No ``from __future__ import annotations``: FastAPI reads route annotations at run time.
import functools
import html

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from tersify.integrations.server import schemas as s
from tersify.integrations.server import translate
from tersify.integrations.server.errors import ERROR_RESPONSES
from tersify.integrations.server.names import DEFAULT_POLICY, POLICIES
from tersify.integrations.server.pages import secured_page

router = APIRouter()
POLICY_SLOT = "<!-- policy options -->"


def policy_options() -> str:
    """The ``<option>`` elements of the page's policy choice, the engine's default selected."""
    return "".join(f"<option{' selected' if name == DEFAULT_POLICY else ''}>"
                   f"{html.escape(name)}</option>" for name in POLICIES)


@functools.cache
def _page() -> tuple[str, dict[str, str]]:
    """The page, its policy choices written in, and its headers (pages.py)."""
    return secured_page("playground.html", {POLICY_SLOT: policy_options()})


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def page() -> HTMLResponse:
    text, headers = _page()
    return HTMLResponse(text, headers=headers)


@router.post("/api/compress", response_model=s.PlaygroundResponse, tags=["SuperCompress"],
             responses=ERROR_RESPONSES, response_model_exclude_none=True,
             summary="Keyless playground compression; compare: true runs every policy")
async def playground(request: Request, body: s.PlaygroundRequest) -> s.PlaygroundResponse:
    policies = POLICIES if body.compare else (body.policy,)
    await anyio.to_thread.run_sync(request.app.state.gate.client, request, len(policies))
    batcher = request.app.state.batcher
    count = batcher.compressor.tokens.count
    results = await batcher.compress_many([translate.super_request(body, count, p)
                                           for p in policies])
    by_policy = {p: translate.super_response(body, r, with_spans=True)
                 for p, r in zip(policies, results, strict=True)}
    main = by_policy[body.policy] if body.policy in by_policy else by_policy[policies[0]]
    return s.PlaygroundResponse(**main.model_dump(),
                                compare=by_policy if body.compare else None)
