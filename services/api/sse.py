"""Server-Sent Events of live transitions, as the shared reader (``live.py``) delivers them.

Each transition is one event: ``id`` = the Redis stream id, ``event: transition``, ``data`` = the
MemberTransition CloudEvents JSON. A client that reconnects sends ``Last-Event-ID`` (browsers do
it by themselves) and resumes exactly after the last event it saw, as far back as the capped
stream reaches. Without it the stream starts after the newest transition at connect time (fixed
before the response starts, so nothing published after the connect is missed). A comment line
every ``heartbeat`` seconds without transitions keeps proxies from closing the connection and
lets the server notice a gone client. A stream the server ends (Redis unavailable, or a client
too slow to read) gets a last ``event: error`` naming why; the client reconnects and resumes. A
client that disconnects cancels its generator (Starlette listens for ``http.disconnect``); its
slot is given back when the response ends, however it ends.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from invested.asgi import is_head
from services.api.live import StreamEnded, Subscription

RETRY_MS = 3000  # how long EventSource waits before reconnecting
OPENED = f"retry: {RETRY_MS}\n: connected\n\n".encode()
HEARTBEAT = b": heartbeat\n\n"


class EventStreamResponse(StreamingResponse):
    """A ``text/event-stream`` response that runs ``on_close`` when it ends, also when it never
    started streaming (a HEAD request, a client gone before the first byte)."""

    media_type = "text/event-stream"

    def __init__(
        self,
        content: Any,
        status_code: int = 200,  # FastAPI reads the default to document the route
        headers: Mapping[str, str] | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(content, status_code=status_code, headers=headers)
        self._on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            if is_head(scope):  # the headers of the stream, without opening it
                await send(
                    {
                        "type": "http.response.start",
                        "status": self.status_code,
                        "headers": self.raw_headers,
                    }
                )
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            await super().__call__(scope, receive, send)
        finally:
            if self._on_close is not None:
                self._on_close()


def format_event(event_id: str, event: str, data: str) -> bytes:
    # A data field may not contain a newline; a multi-line payload becomes several data lines.
    lines = [f"id: {event_id}", f"event: {event}"]
    lines += [f"data: {line}" for line in data.splitlines() or [""]]
    return ("\n".join(lines) + "\n\n").encode()


async def transition_events(
    subscription: Subscription, heartbeat_seconds: float
) -> AsyncIterator[bytes]:
    try:
        yield OPENED
        while True:
            try:
                data = await subscription.next(heartbeat_seconds)
            except StreamEnded as ended:
                error = json.dumps({"error": ended.reason}, separators=(",", ":"))
                yield format_event(subscription.last_id, "error", error)
                return
            yield HEARTBEAT if data is None else data
    finally:
        subscription.close()
