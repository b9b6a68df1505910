"""HTTP client for a tersify server, with the engine's ``compress`` shape (sync and async).

>>> from tersify.integrations.client import TersifyClient
>>> client = TersifyClient("http://127.0.0.1:8000", api_key="tsk_live_...")  # doctest: +SKIP
>>> result = client.compress(contexts=docs, question=q, target_ratio=0.25)  # doctest: +SKIP

``result`` is the same :class:`tersify.CompressionResult` a local ``Compressor`` returns. The
client talks to the native endpoint ``POST /v1/tersify``. Errors: a request the server rejects
raises :class:`InvalidRequestError` (400, 413, 422), :class:`AuthenticationError` (401, 403)
or :class:`RateLimitError` (429, with ``retry_after`` in seconds, from ``Retry-After``); a
server that cannot be reached or answers 5xx raises :class:`ServerUnavailableError`. The client
never retries on its own. Needs ``httpx`` (extra ``client``).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import math
from collections.abc import Sequence
from typing import Any

from tersify._optional import require
from tersify.errors import InvalidRequestError, TersifyError
from tersify.types import CompressionRequest, CompressionResult
from tersify.wire import request_to_dict, result_from_dict

__all__ = ["AuthenticationError", "RateLimitError", "ServerUnavailableError", "TersifyClient"]

ENDPOINT = "/v1/tersify"


class ServerUnavailableError(TersifyError):
    """The server could not be reached, timed out or failed (5xx)."""


class AuthenticationError(TersifyError):
    """The server refused the API key (missing, unknown or revoked)."""


class RateLimitError(TersifyError):
    """Too many requests for this key; ``retry_after`` seconds until the window frees up."""

    def __init__(self, message: str, retry_after: float | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TersifyClient:
    """A tersify server as a compressor.

    Args:
        base_url: The server, e.g. ``http://127.0.0.1:8000``.
        api_key: Sent as ``X-API-Key`` when given.
        timeout: Seconds per request (connect, read and write).
    """

    def __init__(self, base_url: str = "http://127.0.0.1:8000", *, api_key: str | None = None,
                 timeout: float = 60.0) -> None:
        self._httpx = require("httpx", extra="client")
        self.base_url = base_url.rstrip("/")
        self._headers = {"X-API-Key": api_key} if api_key else {}
        self.timeout = timeout
        self._http: Any = None  # one connection pool for the sync calls, made on first use

    @property
    def _sync(self) -> Any:
        if self._http is None:
            self._http = self._httpx.Client(timeout=self.timeout, headers=self._headers)
        return self._http

    def close(self) -> None:
        """Close the sync connection pool (the client also works as a context manager)."""
        if self._http is not None:
            self._http.close()
            self._http = None

    def __enter__(self) -> TersifyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def compress(self, request: CompressionRequest | None = None, /,
                 **fields: Any) -> CompressionResult:
        """Compress one request on the server (same arguments as ``Compressor.compress``)."""
        payload = request_to_dict(_request(request, fields))
        return result_from_dict(self._send(payload))

    def compress_many(self, requests: Sequence[CompressionRequest]) -> list[CompressionResult]:
        """Compress several requests in one call."""
        payload = {"requests": [request_to_dict(r) for r in requests]}
        return [result_from_dict(r) for r in self._send(payload)["results"]]

    async def acompress(self, request: CompressionRequest | None = None, /,
                        **fields: Any) -> CompressionResult:
        """:meth:`compress` without blocking the event loop."""
        payload = request_to_dict(_request(request, fields))
        async with self._httpx.AsyncClient(timeout=self.timeout) as http:
            try:
                response = await http.post(self._url, json=payload, headers=self._headers)
            except self._httpx.HTTPError as exc:
                raise ServerUnavailableError(f"{self.base_url} unreachable: {exc}") from exc
        return result_from_dict(_checked(response))

    @property
    def _url(self) -> str:
        return self.base_url + ENDPOINT

    def _send(self, payload: Any) -> Any:
        try:
            response = self._sync.post(self._url, json=payload)
        except self._httpx.HTTPError as exc:
            raise ServerUnavailableError(f"{self.base_url} unreachable: {exc}") from exc
        return _checked(response)

    def __repr__(self) -> str:
        return f"TersifyClient({self.base_url!r})"


def _request(request: CompressionRequest | None, fields: dict[str, Any]) -> CompressionRequest:
    if request is not None and fields:
        raise InvalidRequestError("give a CompressionRequest or its fields, not both")
    return request if request is not None else CompressionRequest(**fields)


def _checked(response: Any) -> Any:
    """The JSON body of a 2xx response, or the matching error."""
    if response.status_code < 400:
        return response.json()
    message = _message(response)
    status = response.status_code
    if status in (401, 403):
        raise AuthenticationError(message)
    if status == 429:
        raise RateLimitError(message, _retry_after(response.headers.get("Retry-After")))
    if status >= 500:
        raise ServerUnavailableError(f"server error {status}: {message}")
    raise InvalidRequestError(message)


def _retry_after(value: str | None) -> float | None:
    """Seconds from ``Retry-After``: a number, or an HTTP date (a proxy's); None if neither."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        when = when if when.tzinfo else when.replace(tzinfo=dt.UTC)
        seconds = (when - dt.datetime.now(dt.UTC)).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _message(response: Any) -> str:
    """The error's message: tersify's JSON shape, else what a proxy in between answered."""
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    if isinstance(error, str) and error:
        return error
    return str(response.text or response.reason_phrase)[:500]
