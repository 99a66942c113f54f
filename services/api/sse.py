"""Server-Sent Events of live transitions, read from the Redis stream ``inv:transitions:{c}``.

Each transition is one event: ``id`` = the Redis stream id, ``event: transition``, ``data`` = the
MemberTransition CloudEvents JSON. A client that reconnects sends ``Last-Event-ID`` (browsers do
it by themselves) and resumes exactly after the last event it saw, as far back as the capped
stream reaches. Without it the stream starts after the newest transition at connect time (fixed
before the response starts, so nothing published after the connect is missed). ``XREAD BLOCK``
doubles as the heartbeat timer: a comment line every ``heartbeat`` seconds without transitions
keeps proxies from closing the connection and lets the server notice a gone client. A client
that disconnects cancels its generator (Starlette listens for ``http.disconnect``); the gauge of
open streams is decremented in ``finally``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import redis.exceptions
from starlette.responses import StreamingResponse

from services.api.metrics import SSE_CLIENTS
from services.api.store import Store

log = logging.getLogger(__name__)

RETRY_MS = 3000  # how long EventSource waits before reconnecting
OPENED = f"retry: {RETRY_MS}\n: connected\n\n".encode()
HEARTBEAT = b": heartbeat\n\n"


class EventStreamResponse(StreamingResponse):
    media_type = "text/event-stream"


def format_event(event_id: str, event: str, data: str) -> bytes:
    # A data field may not contain a newline; a multi-line payload becomes several data lines.
    lines = [f"id: {event_id}", f"event: {event}"]
    lines += [f"data: {line}" for line in data.splitlines() or [""]]
    return ("\n".join(lines) + "\n\n").encode()


async def transition_events(
    store: Store, community: str, after: str, heartbeat_seconds: float
) -> AsyncIterator[bytes]:
    SSE_CLIENTS.inc()
    try:
        yield OPENED
        block_ms = max(1, int(heartbeat_seconds * 1000))
        while True:
            try:
                entries = await store.read_stream(community, after, block_ms)
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
                # Tell the client why and end; it reconnects with Last-Event-ID and resumes.
                log.warning("transition stream of %s ended: redis unavailable (%s)", community, exc)
                yield format_event(after, "error", '{"error":"redis_unavailable"}')
                return
            if not entries:
                yield HEARTBEAT
                continue
            for entry_id, fields in entries:
                after = entry_id
                record, member = fields.get("t"), fields.get("m")
                if record is not None and member is not None:
                    payload = await store.transition_text(community, member, record)
                    yield format_event(entry_id, "transition", payload)
    finally:
        SSE_CLIENTS.dec()
