"""Who is calling and may they: API keys, the admin token, rate limits and their headers."""

from __future__ import annotations

import hmac
from typing import Any

from tersify.integrations.server.errors import ApiError
from tersify.integrations.server.ratelimit import Decision, RateLimiter
from tersify.integrations.server.settings import ServerSettings
from tersify.integrations.server.store import KEY_PREFIX, ApiKey, KeyStore

__all__ = ["ADMIN_FAILURES", "ADMIN_FAILURE_WINDOW_S", "Gate", "bearer_token",
           "client_address", "presented_secret", "rate_headers"]

# Wrong admin tokens allowed per client address and window; beyond them every admin attempt
# from that address is a 429 until the window moves on, the right token included.
ADMIN_FAILURES = 10
ADMIN_FAILURE_WINDOW_S = 60


def bearer_token(headers: Any) -> str | None:
    """The token of ``Authorization: Bearer <token>`` (the scheme in any case)."""
    scheme, _, token = str(headers.get("authorization", "")).partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def presented_secret(headers: Any) -> str | None:
    """The key from ``X-API-Key`` (any case) or ``Authorization: Bearer``."""
    key = headers.get("x-api-key")
    if key:
        return str(key).strip()
    return bearer_token(headers)


def client_address(request: Any) -> str:
    """The peer's address (a proxy's forwarded one only where ``tersify serve`` trusts it)."""
    return request.client.host if request.client else "unknown"


def rate_headers(decision: Decision) -> dict[str, str]:
    headers = {"X-RateLimit-Limit": str(decision.limit),
               "X-RateLimit-Remaining": str(decision.remaining),
               "X-RateLimit-Reset": str(int(decision.reset_at))}
    if not decision.allowed:
        headers["Retry-After"] = str(decision.retry_after)
    return headers


class Gate:
    """Authenticates keys and the admin, and applies the sliding-window limits."""

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
        request.state.key_id = key.id  # for the access log
        self._count_key(request, key, 1)
        return key

    def charge(self, request: Any, key: ApiKey, items: int) -> None:
        """Count a batch's ``items`` against the key's limit: the call already counted one,
        the others count now, all or none; ApiError 429 when they do not fit."""
        if items > 1:
            self._count_key(request, key, items - 1,
                        f" (a batch of {items} items is {items} requests)")

    def _count_key(self, request: Any, key: ApiKey, requests: int, note: str = "") -> None:
        self._count(request, "key:" + key.id, key.rate_limit or self.settings.rate_limit,
                    key.rate_window_s or self.settings.rate_window_s, requests, note)

    def client(self, request: Any, requests: int = 1) -> None:
        """The playground's limit, per client address (``requests``: policies compared)."""
        note = f" (comparing {requests} policies is {requests} requests)" if requests > 1 else ""
        self._count(request, "ip:" + client_address(request), self.settings.playground_limit,
                    self.settings.rate_window_s, requests, note)

    def is_admin(self, request: Any) -> bool:
        """Whether ``Authorization: Bearer`` carries the admin token (``X-API-Key`` never does).

        Any other bearer token that is not shaped like an API key is a failed admin attempt,
        counted per client address; ApiError 429 once an address has ADMIN_FAILURES of them
        in the window. The check comes before the comparison, so a locked-out address cannot
        tell a right guess from a wrong one.
        """
        presented = bearer_token(request.headers)
        if presented is None or presented.startswith(KEY_PREFIX):
            return False  # a key holder, not an admin guess (admin tokens never have the prefix)
        bucket = "admin-failures:" + client_address(request)
        locked = self.limiter.hit(bucket, ADMIN_FAILURES, ADMIN_FAILURE_WINDOW_S, cost=0)
        if not locked.allowed:
            raise ApiError(429, "rate_limited", "too many failed admin attempts from this "
                           f"address ({ADMIN_FAILURES} per {ADMIN_FAILURE_WINDOW_S} s)",
                           headers={"Retry-After": str(locked.retry_after)})
        token = self.settings.admin_token
        if token and hmac.compare_digest(presented.encode(), token.encode()):
            return True
        self.limiter.hit(bucket, ADMIN_FAILURES, ADMIN_FAILURE_WINDOW_S)
        return False

    def admin(self, request: Any) -> None:
        """Admin endpoints: ApiError 401 without the admin token, 429 after too many tries."""
        if not self.is_admin(request):
            raise ApiError(401, "unauthorized",
                           "admin token required (Authorization: Bearer)")

    def _count(self, request: Any, bucket: str, limit: int, window_s: int, requests: int,
               note: str) -> None:
        """Count ``requests`` in ``bucket``, or ApiError 429 (its message ends with ``note``)."""
        decision = self.limiter.hit(bucket, limit, window_s, cost=requests)
        request.state.rate_headers = rate_headers(decision)
        if not decision.allowed:
            raise ApiError(429, "rate_limited",
                           f"rate limit of {limit} requests per {window_s} s exceeded{note}")
