"""Prometheus metrics of one app (its own registry, so several apps never collide)."""

from __future__ import annotations

from tersify._optional import require

__all__ = ["Metrics"]


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

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def count_tokens(self, tokens_in: int, tokens_out: int) -> None:
        self.tokens.labels("in").inc(tokens_in)
        self.tokens.labels("out").inc(tokens_out)

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        return self._prom.generate_latest(self.registry), self._prom.CONTENT_TYPE_LATEST
