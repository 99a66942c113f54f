"""uvicorn as every HTTP server of the project runs it: with the limits uvicorn itself lacks.

uvicorn closes idle keep-alive connections but has no deadline for a request's headers or body,
so a client that sends one byte every few seconds (slow loris) holds a connection, a task and a
file descriptor for as long as it likes; and with descriptors gone, ``accept()`` fails in a loop.
:class:`GuardedH11Protocol` adds, per connection:

* a **header deadline** (``INVESTED_HTTP_HEADER_TIMEOUT_SECONDS``): from the connection's start,
  or the end of the previous answer, to a complete request head;
* a **body deadline** (``INVESTED_HTTP_BODY_TIMEOUT_SECONDS``): from the head to the body's end;
* a **connection limit** (``INVESTED_HTTP_MAX_CONNECTIONS``, lowered to fit the descriptor
  limit): a new connection beyond it displaces the one that has waited longest for its headers
  (idle or slow clients), so a health probe still gets in during a flood of idle connections;
* a **JSON 400** (``{"error":"malformed_request"}``) instead of uvicorn's plain-text one.

Deadlines are totals, not inactivity timers, so trickling bytes does not extend them. Expired
connections get a JSON 408 (when they sent part of a request) and are closed; one timer per
server checks them, instead of a timer per request. Closes are counted in
``invested_<service>_http_connections_closed_total{reason}``. uvicorn's ``limit_concurrency`` is not used:
it answers 503 to every request, health probes included, once idle connections fill it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import h11
import uvicorn
from prometheus_client import Counter
from uvicorn.protocols.http.h11_impl import H11Protocol

from invested.logs import rate_limit_flood_logs
from invested.metric_defs import HTTP_CONNECTIONS_CLOSED
from invested.settings import Settings

log = logging.getLogger(__name__)

_CLOSED: dict[str, Counter] = {}


def closed_counter(service: str) -> Counter:
    """The service's count of connections it closed (each service exports only its own names)."""
    if service not in _CLOSED:
        _CLOSED[service] = Counter(
            HTTP_CONNECTIONS_CLOSED.format(service=service).removesuffix("_total"),
            "Connections the server closed: header_timeout, body_timeout, displaced (over the "
            "connection limit).",
            ["reason"],
        )
    return _CLOSED[service]


ACCEPT_BACKLOG = 256  # also how many connections asyncio accepts in one go
FD_RESERVE = 64  # descriptors kept for the process itself: Redis, Kafka, logs, imports
MAX_HEADER_BYTES = 16 * 1024  # one request head; h11's own default, stated


@dataclass(frozen=True)
class HttpLimits:
    service: str  # names the metric: ingest, api, classifier
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    keep_alive: float = 5.0
    max_connections: int = 1000

    @classmethod
    def from_settings(cls, settings: Settings, service: str) -> HttpLimits:
        return cls(
            service,
            settings.http_header_timeout_seconds,
            settings.http_body_timeout_seconds,
            settings.http_keep_alive_seconds,
            settings.http_max_connections,
        )


def descriptor_budget(requested: int) -> tuple[int, int]:
    """``(max connections, accept backlog)`` that fit this process's file-descriptor limit.

    The soft limit is raised to the hard one first. Each accept round takes up to ``backlog``
    descriptors before any connection is seen, so the budget keeps room for it and for the
    process's own connections: then ``accept()`` never runs out of descriptors."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = 1 << 20 if hard == resource.RLIM_INFINITY else hard
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    backlog = max(16, min(ACCEPT_BACKLOG, (soft - FD_RESERVE) // 4))
    fitting = max(1, soft - FD_RESERVE - backlog)
    if fitting < requested:
        log.warning(
            "INVESTED_HTTP_MAX_CONNECTIONS=%d lowered to %d to fit the file-descriptor limit %d",
            requested,
            fitting,
            soft,
        )
    return min(requested, fitting), backlog


def _raw_answer(status: int, reason: str, code: str) -> bytes:
    body = json.dumps({"error": code}, separators=(",", ":")).encode()
    return (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    ).encode() + body


REQUEST_TIMEOUT = _raw_answer(408, "Request Timeout", "request_timeout")
MALFORMED_BODY = json.dumps(
    {"error": "malformed_request", "detail": "invalid HTTP request"}, separators=(",", ":")
).encode()

_HEAD, _BODY, _APP = 0, 1, 2  # what a connection waits for: request head, request body, the app


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with deadlines, a connection limit and a JSON 400 (module doc)."""

    # Set by protocol_with(): uvicorn builds the protocol from a class, not an instance.
    limits: ClassVar[HttpLimits]
    closed: ClassVar[Counter]

    _phase = _HEAD
    _deadline = 0.0
    _waiting_since = 0.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._enter(_HEAD)
        _Reaper.of(self).watch()
        if len(self.connections) > self.limits.max_connections:
            self._displace()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._follow()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._follow()

    def send_400_response(self, msg: str) -> None:
        headers = [(b"content-type", b"application/json"), (b"connection", b"close")]
        for event in (
            h11.Response(status_code=400, headers=headers, reason=b"Bad Request"),
            h11.Data(data=MALFORMED_BODY),
            h11.EndOfMessage(),
        ):
            self.transport.write(self.conn.send(event))
        self.transport.close()

    # --- deadlines ------------------------------------------------------------------------------

    def _enter(self, phase: int) -> None:
        now = self.loop.time()
        self._phase = phase
        if phase == _HEAD:
            self._waiting_since = now
            self._deadline = now + self.limits.header_timeout
        elif phase == _BODY:
            self._deadline = now + self.limits.body_timeout

    def _follow(self) -> None:
        """Move to the phase h11's state of the client's side says the connection is in."""
        state = self.conn.their_state
        phase = _HEAD if state is h11.IDLE else _BODY if state is h11.SEND_BODY else _APP
        if phase != self._phase:
            self._enter(phase)

    def _expired(self, now: float) -> str | None:
        if self._phase == _APP or now < self._deadline or self.transport.is_closing():
            return None
        return "header_timeout" if self._phase == _HEAD else "body_timeout"

    def _close(self, reason: str) -> None:
        self.closed.labels(reason).inc()
        if self.transport.is_closing():
            return
        started = self.cycle is not None and self.cycle.response_started
        partial = self._phase == _BODY or bool(self.conn.trailing_data[0])
        if partial and not started:
            self.transport.write(REQUEST_TIMEOUT)
        if self.cycle is not None:
            self.cycle.keep_alive = False
        self.transport.close()

    def _displace(self) -> None:
        """Over the limit: close the connection waiting longest for its headers, else this one."""
        waiting = [
            c
            for c in self.connections
            if isinstance(c, GuardedH11Protocol) and c._phase == _HEAD and c is not self
        ]
        victim = min(waiting, key=lambda c: c._waiting_since) if waiting else self
        victim._close("displaced")


class _Reaper:
    """One timer per server that closes the connections whose deadline passed."""

    def __init__(self, protocol: GuardedH11Protocol) -> None:
        self.state = protocol.server_state
        self.loop = protocol.loop
        limits = protocol.limits
        self.interval = min(1.0, max(0.05, min(limits.header_timeout, limits.body_timeout) / 4))
        self.handle: asyncio.TimerHandle | None = None

    @classmethod
    def of(cls, protocol: GuardedH11Protocol) -> _Reaper:
        reaper: _Reaper | None = getattr(protocol.server_state, "_invested_reaper", None)
        if reaper is None:
            reaper = cls(protocol)
            protocol.server_state._invested_reaper = reaper  # type: ignore[attr-defined]
        return reaper

    def watch(self) -> None:
        if self.handle is None:
            self.handle = self.loop.call_later(self.interval, self.tick)

    def tick(self) -> None:
        self.handle = None
        now = self.loop.time()
        for connection in list(self.state.connections):
            if isinstance(connection, GuardedH11Protocol):
                reason = connection._expired(now)
                if reason is not None:
                    connection._close(reason)
        if self.state.connections:  # idle servers keep no timer
            self.watch()


def protocol_with(limits: HttpLimits) -> type[GuardedH11Protocol]:
    attributes = {"limits": limits, "closed": closed_counter(limits.service)}
    return type("GuardedH11Protocol", (GuardedH11Protocol,), attributes)


def uvicorn_options(limits: HttpLimits) -> dict[str, Any]:
    """The keyword arguments of :class:`uvicorn.Config` that apply ``limits``."""
    max_connections, backlog = descriptor_budget(limits.max_connections)
    rate_limit_flood_logs()
    return {
        "http": protocol_with(replace(limits, max_connections=max_connections)),
        "timeout_keep_alive": limits.keep_alive,  # seconds; uvicorn hands it to call_later
        "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
        "backlog": backlog,
        "server_header": False,  # no version banner for scanners
        "access_log": False,
    }


def server(
    app: object,
    host: str,
    port: int,
    limits: HttpLimits,
    log_level: str = "info",
    graceful_shutdown_seconds: float | None = None,
) -> uvicorn.Server:
    """A uvicorn server for ``app`` with ``limits`` (run it with ``.run()``)."""
    config = uvicorn.Config(
        app,  # type: ignore[arg-type]
        host=host,
        port=port,
        log_level=log_level.lower(),
        lifespan="on",
        timeout_graceful_shutdown=graceful_shutdown_seconds,  # type: ignore[arg-type]
        **uvicorn_options(limits),
    )
    return uvicorn.Server(config)
