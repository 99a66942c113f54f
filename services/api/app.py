"""API service wiring: settings → Redis clients, auth, routes, error handlers, metrics, docs.

``create_app`` builds everything without connecting; Redis connections open on first use and
close at shutdown. Live streams share one Redis reader per process (``live.py``). ``/docs``
loads Swagger UI from this server (``docs.py``), never from a CDN. ``python -m services.api``
serves it (see ``__main__`` and ``server``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI

from invested import __version__
from invested.asgi import HeadAsGet
from invested.settings import Settings
from services.api import docs, errors, ops, routes
from services.api.auth import ApiKeys
from services.api.live import LiveTransitions, RedisStreamSource
from services.api.metrics import MetricsMiddleware
from services.api.sse import format_event
from services.api.store import Store, connect

log = logging.getLogger(__name__)

REQUEST_TIMEOUT_SECONDS = 3.0  # a stuck Redis becomes a 503, not a hung request
DEFAULT_HEARTBEAT_SECONDS = 15.0

DESCRIPTION = """\
Read API over the classifier's live state: who is **community** (invested: engages with others),
who is **audience** (interested), who is **dormant**, since when and why.

Every `/v1` route needs `Authorization: Bearer <key>` (a key of `INVESTED_API_KEYS`). Every error
is JSON `{"error": <stable code>, "detail": ...}`.
"""


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    sse_heartbeat_seconds: float = DEFAULT_HEARTBEAT_SECONDS,
) -> FastAPI:
    if store is None:
        store = Store(
            connect(settings.redis_url, socket_timeout=REQUEST_TIMEOUT_SECONDS),
            # Blocking XREADs wait up to one heartbeat; the socket must outlast them.
            connect(settings.redis_url, socket_timeout=sse_heartbeat_seconds + 10),
        )
    keys = ApiKeys(settings.api_keys)
    live = LiveTransitions(
        RedisStreamSource(settings.redis_url, store.client),
        partial(render_transition, store),
        settings.sse_max_streams,
        settings.sse_max_streams_per_key,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if keys:
            log.info("%d API key(s) configured", len(keys))  # the count only, never a key
        else:
            log.warning("INVESTED_API_KEYS is empty: every /v1 request is refused with 401")
        try:
            yield
        finally:
            await live.close()
            await store.close()

    app = FastAPI(
        title="Invested API",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served by docs.install, from local assets
        redoc_url=None,  # ReDoc is a CDN script as well; Swagger UI covers the same document
    )
    app.state.store = store
    app.state.live = live
    app.state.api_keys = keys
    app.state.sse_heartbeat_seconds = sse_heartbeat_seconds
    errors.install(app)
    docs.install(app)
    app.add_middleware(HeadAsGet)
    app.add_middleware(MetricsMiddleware)  # outside HeadAsGet: counts HEAD as HEAD
    app.include_router(routes.router)
    app.include_router(routes.stream_router)
    app.include_router(ops.router)
    return app


async def render_transition(
    store: Store, community: str, entry_id: str, fields: dict[str, str]
) -> bytes | None:
    """One live stream entry as its SSE event (rendered once for every subscriber)."""
    record, member = fields.get("t"), fields.get("m")
    if record is None or member is None:
        return None
    payload = await store.transition_text(community, member, record)
    return format_event(entry_id, "transition", payload)
