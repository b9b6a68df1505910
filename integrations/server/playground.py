"""The playground: a page at ``/`` and its keyless endpoint ``POST /api/compress``.

``/api/compress`` takes SuperCompress's fields plus ``policy`` and ``compare``; it is limited per
client address (settings.playground_limit per window) and records no usage.
"""

# No ``from __future__ import annotations``: FastAPI reads route annotations at run time.
from importlib.resources import files

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from tersify.integrations.server import schemas as s
from tersify.integrations.server import translate
from tersify.integrations.server.errors import ERROR_RESPONSES

router = APIRouter()
POLICIES = ("tersify", "fifo", "truncation", "summarization", "h2o")


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def page() -> HTMLResponse:
    html = files("tersify.integrations.server").joinpath("static/playground.html")
    return HTMLResponse(html.read_text(encoding="utf-8"))


@router.post("/api/compress", response_model=s.PlaygroundResponse, tags=["SuperCompress"],
             responses=ERROR_RESPONSES, response_model_exclude_none=True,
             summary="Keyless playground compression; compare: true runs every policy")
async def playground(request: Request, body: s.PlaygroundRequest) -> s.PlaygroundResponse:
    await anyio.to_thread.run_sync(request.app.state.gate.client, request)
    batcher = request.app.state.batcher
    policies = POLICIES if body.compare else (body.policy,)
    count = batcher.compressor.tokens.count
    results = await batcher.compress_many([translate.super_request(body, count, p)
                                           for p in policies])
    by_policy = {p: translate.super_response(body, r, with_spans=True)
                 for p, r in zip(policies, results, strict=True)}
    main = by_policy[body.policy] if body.policy in by_policy else by_policy[policies[0]]
    return s.PlaygroundResponse(**main.model_dump(),
                                compare=by_policy if body.compare else None)
