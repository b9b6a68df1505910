"""The API routes: authenticate, translate, compress (batched, off the loop), record usage."""

# No ``from __future__ import annotations``: FastAPI reads route annotations at run time.
import time
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from tersify.integrations.server import schemas as s
from tersify.integrations.server import translate
from tersify.integrations.server.errors import ERROR_RESPONSES, ApiError
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
    result: CompressionResult = await request.app.state.batcher.compress(req)
    return result


async def _record(request: Request, key: ApiKey, results: list[CompressionResult]) -> None:
    """Usage after success only: one request, its tokens in and out."""
    tokens_in = sum(r.stats.original_tokens for r in results)
    tokens_out = sum(r.stats.compressed_tokens for r in results)
    await anyio.to_thread.run_sync(
        lambda: request.app.state.store.record(key.id, tokens_in=tokens_in,
                                               tokens_out=tokens_out))
    request.app.state.metrics.count_tokens(tokens_in, tokens_out)


@router.post("/v1/prompt-compress", response_model=s.CompressoResponse, tags=["Compresso"],
             responses=ERROR_RESPONSES, summary="Compress a prompt (Compresso dialect)")
async def compresso(request: Request, key: Key, body: s.CompressoRequest) -> s.CompressoResponse:
    result = await _compress(request, translate.compresso_request(body))
    await _record(request, key, [result])
    return translate.compresso_response(body, result, request.state.request_id,
                                        _count(request))


@router.post("/v1/compress", response_model=s.SuperResponse, tags=["SuperCompress"],
             responses=ERROR_RESPONSES, response_model_exclude_none=True,
             summary="Compress a context for a query (SuperCompress dialect)")
async def supercompress(request: Request, key: Key, body: s.SuperRequest) -> s.SuperResponse:
    result = await _compress(request, translate.super_request(body, _count(request)))
    await _record(request, key, [result])
    return translate.super_response(body, result)


@router.get("/api/keys/{key_id}/usage", response_model=s.UsageResponse, tags=["SuperCompress"],
            responses={**ERROR_RESPONSES, 404: {**ERROR_RESPONSES[400],
                                                "description": "No such key (admin only)"}},
            summary="Usage of a key, by day (the key or admin)")
async def usage(request: Request, key_id: str) -> s.UsageResponse:
    state = request.app.state
    if not state.gate.is_admin(request):
        caller = await _key(request)
        if caller.id != key_id:
            raise ApiError(401, "unauthorized", "a key may read only its own usage")
    elif await anyio.to_thread.run_sync(state.store.get, key_id) is None:
        raise ApiError(404, "not_found", f"no key {key_id!r}")
    days = await anyio.to_thread.run_sync(state.store.usage, key_id)
    return s.UsageResponse(
        key_id=key_id, requests=sum(d.requests for d in days),
        tokens_in=sum(d.tokens_in for d in days), tokens_out=sum(d.tokens_out for d in days),
        days=[s.UsageDayBody(**d.__dict__) for d in days])


@router.post("/compress/raw/", response_model=s.ScaleDownResponse, tags=["ScaleDown"],
             responses=ERROR_RESPONSES, summary="Compress context and prompt (ScaleDown dialect)")
async def scaledown(request: Request, key: Key, body: s.ScaleDownRequest) -> s.ScaleDownResponse:
    started = time.perf_counter()
    result = await _compress(request, translate.scaledown_request(body))
    await _record(request, key, [result])
    return translate.scaledown_response(body, result, (time.perf_counter() - started) * 1000)


NATIVE_DOC = ("A CompressionRequest as JSON (fields of tersify.CompressionRequest; contexts "
              "are strings or {text, id, metadata}), or {\"requests\": [...]} for a batch of "
              "up to 64. Answers CompressionResult.to_dict(), or {\"results\": [...]}.")


@router.post("/v1/tersify", tags=["Native"], responses=ERROR_RESPONSES,
             summary="The full engine request (or a batch)", description=NATIVE_DOC)
async def native(request: Request, key: Key,
                 body: s.NativeRequest | s.NativeBatch) -> dict[str, Any]:
    items = body.requests if isinstance(body, s.NativeBatch) else [body]
    reqs = [request_from_dict(item.model_dump(exclude_unset=True)) for item in items]
    results = list(await request.app.state.batcher.compress_many(reqs))
    await _record(request, key, results)
    dicts = [r.to_dict() for r in results]
    return {"results": dicts} if isinstance(body, s.NativeBatch) else dicts[0]


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


@router.get("/readyz", tags=["Operations"], summary="The engine and the store answer",
            responses={503: {"description": "Not ready"}})
async def readyz(request: Request) -> Response:
    try:
        await anyio.to_thread.run_sync(request.app.state.store.all)
    except Exception:
        return Response('{"status": "not ready"}', status_code=503,
                        media_type="application/json")
    return Response('{"status": "ready"}', media_type="application/json")


@router.get("/metrics", tags=["Operations"], summary="Prometheus metrics",
            response_class=PlainTextResponse)
async def metrics(request: Request) -> Response:
    body, content_type = request.app.state.metrics.render()
    return Response(body, media_type=content_type)
