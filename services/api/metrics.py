"""Prometheus metrics of the API (names from ``invested.metric_defs``) and the ASGI middleware.

Requests are labelled by route *template* (``/v1/communities/{community}/members/{member}``),
never the raw path, so label cardinality stays bounded whatever ids clients send. Duration is
measured to the start of the response: for the SSE stream that is the time to open it, not the
lifetime of the connection.
"""

from __future__ import annotations

import time

from prometheus_client import Counter, Gauge, Histogram
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from invested.metric_defs import (
    API_REQUEST_DURATION,
    API_REQUESTS,
    API_SSE_CLIENTS,
    API_SSE_DROPPED,
    API_SSE_REJECTED,
    LATENCY_BUCKETS,
)

REQUESTS = Counter(
    API_REQUESTS,
    "API requests by route template, method and status.",
    ["route", "method", "status"],
)
REQUEST_DURATION = Histogram(
    API_REQUEST_DURATION,
    "API request duration to the start of the response, by route template.",
    ["route"],
    buckets=LATENCY_BUCKETS,
)
SSE_CLIENTS = Gauge(API_SSE_CLIENTS, "Open Server-Sent Events transition streams.")
SSE_REJECTED = Counter(
    API_SSE_REJECTED.removesuffix("_total"),
    "Streams refused over the caps (INVESTED_SSE_MAX_STREAMS[_PER_KEY]), by which cap.",
    ["reason"],
)
SSE_DROPPED = Counter(
    API_SSE_DROPPED.removesuffix("_total"),
    "Open streams ended by the server: too_slow (client not reading), redis_unavailable.",
    ["reason"],
)

UNMATCHED = "unmatched"


def route_template(scope: Scope) -> str:
    """The template of the route that served this request, or ``unmatched``."""
    route = scope.get("route")  # set by FastAPI's APIRoute on a match
    if route is not None:
        return str(getattr(route, "path", UNMATCHED))
    app = scope.get("app")
    router = getattr(app, "router", None)
    for candidate in getattr(router, "routes", ()):  # plain Starlette routes (/docs, ...)
        match, _ = candidate.matches(scope)
        if match is Match.FULL:
            return str(getattr(candidate, "path", UNMATCHED))
    return UNMATCHED


class MetricsMiddleware:
    """Pure ASGI (not BaseHTTPMiddleware): it must not buffer or break streaming responses."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        recorded = False

        def record(status: int) -> None:
            nonlocal recorded
            recorded = True
            route = route_template(scope)
            REQUESTS.labels(route, scope["method"], str(status)).inc()
            REQUEST_DURATION.labels(route).observe(time.perf_counter() - started)

        async def send_recording(message: Message) -> None:
            if message["type"] == "http.response.start" and not recorded:
                record(int(message["status"]))
            await send(message)

        try:
            await self.app(scope, receive, send_recording)
        except Exception:
            if not recorded:  # the outer error middleware answers 500
                record(500)
            raise
