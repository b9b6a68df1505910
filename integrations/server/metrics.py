"""Prometheus metrics of one app (its own registry, so several apps never collide)."""

from __future__ import annotations

from tersify._optional import require

__all__ = ["METHODS", "Metrics"]

# The usual HTTP methods; any other (clients may invent them) counts as "other", so that a
# client cannot add label series without end.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class Metrics:
    """Request counts and latencies by route and status; compressed tokens."""

    def __init__(self) -> None:
        prom = require("prometheus_client", extra="server")
        self._prom = prom
        self.registry = prom.CollectorRegistry()
        self.requests = prom.Counter("tersify_requests_total", "HTTP requests",
                                     ["method", "route", "status"], registry=self.registry)
        self.latency = prom.Histogram("tersify_request_seconds", "HTTP request latency",
                                      ["route"], registry=self.registry)
        self.tokens = prom.Counter("tersify_tokens_total", "Tokens in and out of compressions",
                                   ["direction"], registry=self.registry)
        # Label values come from the registry's model scorers only (batching.py), never a client.
        self.fallbacks = prom.Counter("tersify_scorer_fallbacks_total",
                                      "Requests served by the lexical scorer for a failed model "
                                      "scorer", ["scorer"], registry=self.registry)
        # How well requests share engine calls: tunes max_batch and batch_wait_ms.
        self.batches = prom.Histogram("tersify_engine_batch_requests",
                                      "Requests compressed together in one engine call",
                                      buckets=(1, 2, 4, 8, 16, 32, 64, 128),
                                      registry=self.registry)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one response; ``route`` must be a route's template (or "unmatched")."""
        method = method if method in METHODS else "other"
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def count_tokens(self, tokens_in: int, tokens_out: int) -> None:
        self.tokens.labels("in").inc(tokens_in)
        self.tokens.labels("out").inc(tokens_out)

    def count_batch(self, requests: int) -> None:
        self.batches.observe(requests)

    def count_fallback(self, scorer: str) -> None:
        self.fallbacks.labels(scorer).inc()

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        return self._prom.generate_latest(self.registry), self._prom.CONTENT_TYPE_LATEST
