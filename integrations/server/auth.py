"""Who is calling and may they: API keys, the admin token, rate limits and their headers."""

from __future__ import annotations

import hmac
from typing import Any

from tersify.integrations.server.errors import ApiError
from tersify.integrations.server.ratelimit import Decision, RateLimiter
from tersify.integrations.server.settings import ServerSettings
from tersify.integrations.server.store import ApiKey, KeyStore

__all__ = ["Gate", "presented_secret", "rate_headers"]


def presented_secret(headers: Any) -> str | None:
    """The key from ``X-API-Key`` (any case) or ``Authorization: Bearer``."""
    key = headers.get("x-api-key")
    if key:
        return str(key).strip()
    scheme, _, token = str(headers.get("authorization", "")).partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def rate_headers(decision: Decision) -> dict[str, str]:
    headers = {"X-RateLimit-Limit": str(decision.limit),
               "X-RateLimit-Remaining": str(decision.remaining),
               "X-RateLimit-Reset": str(int(decision.reset_at))}
    if not decision.allowed:
        headers["Retry-After"] = str(decision.retry_after)
    return headers


class Gate:
    """Authenticates keys and applies the sliding-window limits."""

    def __init__(self, store: KeyStore, limiter: RateLimiter, settings: ServerSettings) -> None:
        self.store, self.limiter, self.settings = store, limiter, settings

    def key(self, request: Any) -> ApiKey:
        """The caller's active key, counted against its limit; ApiError 401 or 429."""
        secret = presented_secret(request.headers)
        if not secret:
            raise ApiError(401, "unauthorized",
                           "missing API key: send X-API-Key or Authorization: Bearer")
        key = self.store.authenticate(secret)
        if key is None:
            raise ApiError(401, "unauthorized", "unknown or revoked API key")
        self._limit(request, "key:" + key.id, key.rate_limit or self.settings.rate_limit,
                    key.rate_window_s or self.settings.rate_window_s)
        return key

    def client(self, request: Any) -> None:
        """The playground's limit, per client address."""
        address = request.client.host if request.client else "unknown"
        self._limit(request, "ip:" + address, self.settings.playground_limit,
                    self.settings.rate_window_s)

    def is_admin(self, request: Any) -> bool:
        """Whether the request carries the configured admin token."""
        token = self.settings.admin_token
        presented = presented_secret(request.headers) or ""
        return bool(token) and hmac.compare_digest(presented.encode(), str(token).encode())

    def admin(self, request: Any) -> None:
        """Admin endpoints: the bearer token must equal the configured admin token."""
        if not self.is_admin(request):
            raise ApiError(401, "unauthorized", "admin token required")

    def _limit(self, request: Any, bucket: str, limit: int, window_s: int) -> None:
        decision = self.limiter.hit(bucket, limit, window_s)
        request.state.rate_headers = rate_headers(decision)
        if not decision.allowed:
            raise ApiError(429, "rate_limited",
                           f"rate limit of {limit} requests per {window_s} s exceeded")
