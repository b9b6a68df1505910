"""The API routes: authenticate, translate, compress (batched, off the loop), record usage.

Usage is recorded last: once the response body has been serialized (a body that cannot be
written is a 500, not a bill) and only while the client is still there to receive it. A client
that hangs up is noticed at once: its compression is abandoned and nothing is billed.
"""

# No ``from __future__ import annotations``: FastAPI reads route annotations at run time.
import asyncio
import time
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from tersify.integrations.server import schemas as s
from tersify.integrations.server import translate
from tersify.integrations.server.errors import ERROR_RESPONSES, ApiError
from tersify.integrations.server.health import unready
from tersify.integrations.server.limits import LIMITS_DOC, MAX_BATCH
from tersify.integrations.server.native import NativeBatch, NativeBody
from tersify.integrations.server.store import ApiKey
from tersify.types import CompressionRequest, CompressionResult
from tersify.wire import request_from_dict

router = APIRouter()


async def _key(request: Request) -> ApiKey:
    key: ApiKey = await anyio.to_thread.run_sync(request.app.state.gate.key, request)
    return key


async def _admin(request: Request) -> None:
    await anyio.to_thread.run_sync(request.app.state.gate.admin, request)


# Dependencies run before the body is validated: a bad body from a good key still counts
# against its limit and carries the X-RateLimit-* headers; a bad body without a key is a 401.
Key = Annotated[ApiKey, Depends(_key)]
Admin = Depends(_admin)


def _count(request: Request) -> Any:
    return request.app.state.batcher.compressor.tokens.count


async def _compress(request: Request, req: CompressionRequest) -> CompressionResult:
    return (await _compress_many(request, [req]))[0]


async def _compress_many(request: Request,
                         reqs: list[CompressionRequest]) -> list[CompressionResult]:
    """The results of ``reqs``, or a 499 (and the work abandoned) as soon as the client hangs
    up. The watch for a hang-up goes on until the answer is billed (:func:`_deliver`)."""
    hangup = asyncio.ensure_future(_hangup(request))
    work = asyncio.ensure_future(request.app.state.batcher.compress_many(reqs))
    try:
        await asyncio.wait({hangup, work}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        left = not work.done()  # the client left (or this request was cancelled)
        if left:
            work.cancel()
            hangup.cancel()
    if left:
        raise _gone()
    if work.cancelled() or work.exception() is not None:
        hangup.cancel()
    request.state.hangup = hangup
    results: list[CompressionResult] = list(work.result())
    _say_fallback(request, reqs, results)
    return results


async def _hangup(request: Request) -> None:
    """Returns once the client has hung up (its body is read: nothing else can arrive)."""
    try:
        while (await request.receive())["type"] != "http.disconnect":
            pass
    except Exception:  # the connection cannot tell: take the client to be there
        await asyncio.Event().wait()


def _gone() -> ApiError:
    return ApiError(499, "client_closed", "the client closed the connection; not billed")


def _say_fallback(request: Request, reqs: list[CompressionRequest],
                  results: list[CompressionResult]) -> None:
    """``X-Tersify-Fallback: embedding->lexical`` when a model scorer failed and the lexical
    one served (the result's ``scorer`` says ``lexical`` too)."""
    batcher = request.app.state.batcher
    fallbacks = sorted({f for q, r in zip(reqs, results) if (f := batcher.fallback(q, r))})
    if fallbacks:
        request.state.response_headers["X-Tersify-Fallback"] = ", ".join(fallbacks)


async def _deliver(request: Request, key: ApiKey, results: list[CompressionResult],
                   content: Any) -> Response:
    """``content`` as the JSON response, billed: serialized first, then billed unless the client
    has hung up meanwhile, then sent as it was serialized."""
    hangup: asyncio.Future[None] = request.state.hangup
    try:
        response = JSONResponse(content)  # renders now: what cannot be written fails, unbilled
        if hangup.done() and not hangup.cancelled():
            raise _gone()
        await _record(request, key, results)
    finally:
        hangup.cancel()
    return response


async def _record(request: Request, key: ApiKey, results: list[CompressionResult]) -> None:
    """Usage after success only: one request per result (a batch's items), tokens in and out."""
    tokens_in = sum(r.stats.original_tokens for r in results)
    tokens_out = sum(r.stats.compressed_tokens for r in results)
    await anyio.to_thread.run_sync(
        lambda: request.app.state.store.record(key.id, tokens_in=tokens_in,
                                               tokens_out=tokens_out, requests=len(results)))
    request.app.state.metrics.count_tokens(tokens_in, tokens_out)


@router.post("/v1/prompt-compress", response_model=s.CompressoResponse, tags=["Compresso"],
             responses=ERROR_RESPONSES, summary="Compress a prompt (Compresso dialect)")
async def compresso(request: Request, key: Key, body: s.CompressoRequest) -> Response:
    result = await _compress(request, translate.compresso_request(body))
    answer = translate.compresso_response(body, result, request.state.request_id,
                                          _count(request))
    return await _deliver(request, key, [result], answer.model_dump(mode="json"))


@router.post("/v1/compress", response_model=s.SuperResponse, tags=["SuperCompress"],
             responses=ERROR_RESPONSES, response_model_exclude_none=True,
             summary="Compress a context for a query (SuperCompress dialect)")
async def supercompress(request: Request, key: Key, body: s.SuperRequest) -> Response:
    req = translate.super_request(body, _count(request))
    result = await _compress(request, req)
    fallback = request.app.state.batcher.fallback(req, result) is not None
    answer = translate.super_response(body, result, fallback=fallback)
    return await _deliver(request, key, [result], answer.model_dump(mode="json",
                                                                   exclude_none=True))


@router.get("/api/keys/{key_id}/usage", response_model=s.UsageResponse, tags=["SuperCompress"],
            responses={**ERROR_RESPONSES, 403: {**ERROR_RESPONSES[400],
                                                "description": "Another key's usage"},
                       404: {**ERROR_RESPONSES[400], "description": "No such key (admin only)"}},
            summary="Usage of a key, by day (the key or admin)")
async def usage(request: Request, key_id: str) -> s.UsageResponse:
    state = request.app.state
    if not state.gate.is_admin(request):
        caller = await _key(request)
        if caller.id != key_id:
            raise ApiError(403, "forbidden", "a key may read only its own usage")
    elif await anyio.to_thread.run_sync(state.store.get, key_id) is None:
        raise ApiError(404, "not_found", f"no key {key_id!r}")
    days = await anyio.to_thread.run_sync(state.store.usage, key_id)
    return s.UsageResponse(
        key_id=key_id, requests=sum(d.requests for d in days),
        tokens_in=sum(d.tokens_in for d in days), tokens_out=sum(d.tokens_out for d in days),
        days=[s.UsageDayBody(**d.__dict__) for d in days])


@router.post("/compress/raw/", response_model=s.ScaleDownResponse, tags=["ScaleDown"],
             responses=ERROR_RESPONSES, summary="Compress context and prompt (ScaleDown dialect)")
# ScaleDown's docs spell the path with the slash, clients often without: both are served
# (a redirect would make a client resend its body, and many do not follow a POST's 307).
@router.post("/compress/raw", response_model=s.ScaleDownResponse, include_in_schema=False)
async def scaledown(request: Request, key: Key, body: s.ScaleDownRequest) -> Response:
    started = time.perf_counter()
    result = await _compress(request, translate.scaledown_request(body))
    answer = translate.scaledown_response(body, result, (time.perf_counter() - started) * 1000)
    return await _deliver(request, key, [result], answer.model_dump(mode="json"))


NATIVE_DOC = (
    "A CompressionRequest as JSON (fields of tersify.CompressionRequest; contexts are strings or "
    f"{{text, id, metadata}}), or {{\"requests\": [...]}} for a batch of up to {MAX_BATCH}. "
    "Answers CompressionResult.to_dict(), or {\"results\": [...]}. force_keep_patterns run in "
    "RE2 syntax, in time linear in the text: a pattern RE2 cannot run (a backreference, "
    "lookaround) is a 400. scorer must be one this server allows (its preset's unless "
    "configured; a 400 names them). " + LIMITS_DOC)


@router.post("/v1/tersify", tags=["Native"], responses=ERROR_RESPONSES,
             summary="The full engine request (or a batch)", description=NATIVE_DOC)
async def native(request: Request, key: Key, body: NativeBody) -> Response:
    batch = isinstance(body, NativeBatch)
    items = body.requests if isinstance(body, NativeBatch) else [body]
    for i, item in enumerate(items):
        _check_scorer(request, item.scorer, f"requests.{i}.scorer" if batch else "scorer")
    await anyio.to_thread.run_sync(request.app.state.gate.charge, request, key, len(items))
    reqs = [request_from_dict(item.model_dump(exclude_unset=True)) for item in items]
    results = await _compress_many(request, reqs)
    dicts = [r.to_dict() for r in results]
    return await _deliver(request, key, results, {"results": dicts} if batch else dicts[0])


def _check_scorer(request: Request, name: str | None, where: str) -> None:
    """Callers may name only the scorers the settings allow (a model scorer costs the whole
    server memory and seconds per request, or fails where its extra is missing)."""
    allowed = request.app.state.settings.scorers
    if name is not None and name not in allowed:
        raise ApiError(400, "invalid_request", f"{where}: scorer {name!r} is not allowed on "
                       f"this server; allowed: {', '.join(allowed)}")


# --- admin: keys ------------------------------------------------------------------------------


class NewKey(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    name: str = Field(min_length=1, max_length=200)
    # The bounds before the validator, so that the schema states them (3.0 is taken as 3).
    rate_limit: Annotated[int, Field(ge=1, le=1_000_000), BeforeValidator(s.integral)] | None = None
    rate_window_s: Annotated[int, Field(ge=1, le=86_400), BeforeValidator(s.integral)] | None = None


def _key_body(key: ApiKey) -> dict[str, Any]:
    return {"id": key.id, "name": key.name, "hint": key.hint, "active": key.active,
            "created_at": key.created_at.isoformat(),
            "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
            "rate_limit": key.rate_limit, "rate_window_s": key.rate_window_s}


@router.post("/admin/keys", tags=["Admin"], responses=ERROR_RESPONSES, status_code=201,
             summary="Create a key (the secret is shown once)", dependencies=[Admin])
async def create_key(request: Request, body: NewKey) -> dict[str, Any]:
    state = request.app.state
    key, secret = await anyio.to_thread.run_sync(
        lambda: state.store.create(body.name, rate_limit=body.rate_limit,
                                   rate_window_s=body.rate_window_s))
    return {"key": _key_body(key), "secret": secret}


@router.get("/admin/keys", tags=["Admin"], responses=ERROR_RESPONSES, summary="List keys",
            dependencies=[Admin])
async def list_keys(request: Request) -> dict[str, Any]:
    state = request.app.state
    keys = await anyio.to_thread.run_sync(state.store.all)
    return {"keys": [_key_body(k) for k in keys]}


@router.delete("/admin/keys/{key_id}", tags=["Admin"], status_code=204,
               responses={**ERROR_RESPONSES, 404: {**ERROR_RESPONSES[400],
                                                   "description": "No active key with this id"}},
               summary="Revoke a key (401 for it at once)", dependencies=[Admin])
async def revoke_key(request: Request, key_id: str) -> Response:
    state = request.app.state
    if not await anyio.to_thread.run_sync(state.store.revoke, key_id):
        raise ApiError(404, "not_found", f"no active key {key_id!r}")
    return Response(status_code=204)


# --- health and metrics -----------------------------------------------------------------------


@router.get("/healthz", tags=["Operations"], summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", tags=["Operations"],
            summary="The engine is warm, the database and Redis answer (within 2 s)",
            responses={503: {"description": "Not ready: the parts that are not"}})
async def readyz(request: Request) -> Response:
    failing = await unready(request.app.state)
    if failing:
        return JSONResponse({"status": "not ready", "failing": failing}, status_code=503)
    return JSONResponse({"status": "ready"})


# The errors are JSON: documented apart from the text exposition (a response_class would
# document them as text too).
@router.get("/metrics", tags=["Operations"], response_class=Response,
            summary="Prometheus metrics (the admin token unless metrics_public)",
            responses={200: {"description": "The Prometheus text exposition",
                             "content": {"text/plain": {"schema": {"type": "string"}}}},
                       **{code: ERROR_RESPONSES[code] for code in (401, 429)}})
async def metrics(request: Request) -> Response:
    if not request.app.state.settings.metrics_public:
        await _admin(request)
    body, content_type = request.app.state.metrics.render()
    return Response(body, media_type=content_type)
