"""Ingest HTTP service: ``POST /webhooks/<platform>`` → verified, normalized, deduped, on Kafka.

One request goes through these steps, each with its own answer (always JSON with a stable
``error`` code, never a 500 or a traceback):

1. platform secret unset → 503 ``not_configured`` (unsigned input is never accepted)
2. body over ``INVESTED_MAX_BODY_BYTES`` (checked while streaming) → 413 ``body_too_large``
3. signature (constant time) and signed timestamp → 401 ``missing_signature`` /
   ``invalid_signature`` / ``invalid_timestamp`` / ``stale_timestamp``; a Discourse instance
   header naming another instance than the secret's → 401 ``instance_mismatch``
4. JSON → 400 ``malformed_json``
5. answered directly: platform handshakes (GitHub/Discourse ping, Slack ``url_verification``,
   Discord PING) and Discord interactions → 200 with what the platform expects
6. mapping table → events; an event we do not count → 200 ``ignored`` (nothing produced);
   a mapped event that cannot be mapped → the raw payload with a reason on ``ingest.deadletter``
7. delivery id already seen (Redis) → 200 ``duplicate``
8. event times later than the receive time plus ``INVESTED_MAX_CLOCK_SKEW_SECONDS`` are set to
   the receive time; produce with acks=all and wait for every ack → 200 ``accepted`` (202
   ``deadlettered``); broker down → 503 ``broker_unavailable`` with ``Retry-After``
9. mark the delivery id as seen (only after the acks)
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import redis.asyncio as aioredis
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from invested.contracts import EngagementEvent, Platform, utcnow
from invested.settings import Settings
from services.ingest.adapters import ADAPTERS, Delivery, Ignored, Unmappable
from services.ingest.adapters.common import ADAPTER_ERROR, safe_text
from services.ingest.dedupe import Dedupe, dedupe_key
from services.ingest.metrics import (
    CLOCK_ADJUSTED,
    DEADLETTERED,
    DUPLICATES,
    SIGNATURE_FAILURES,
    events_published,
    ignored,
    produce_latency,
    webhooks_received,
)
from services.ingest.producer import BrokerUnavailable, EventProducer
from services.ingest.signatures import SignatureError
from services.ingest.verifiers import Verifier, build_verifiers
from services.ingest.wire import (
    BodyTooLarge,
    accepted,
    answer,
    deadletter_record,
    error,
    event_record,
    parse_json,
    read_body,
)

log = logging.getLogger(__name__)

REDIS_TIMEOUT_SECONDS = 1.0
MAX_DELIVERY_ID = 200


class Ingest:
    """The webhook pipeline; one instance per app, started and stopped by the lifespan."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.verifiers: dict[Platform, Verifier] = build_verifiers(settings)
        self.producer = EventProducer(settings)
        self.redis = aioredis.Redis.from_url(
            settings.redis_url,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        )
        self.dedupe = Dedupe(
            self.redis,
            settings.dedupe_ttl_seconds,
            timeout=REDIS_TIMEOUT_SECONDS,
            unwritten_limit=settings.dedupe_unwritten_limit,
        )
        self.max_clock_skew = timedelta(seconds=settings.max_clock_skew_seconds)

    async def start(self) -> None:
        await self.producer.start()
        log.info(
            "ingest ready: platforms configured: %s",
            ", ".join(sorted(p.value for p in self.verifiers)) or "none",
        )

    async def stop(self) -> None:
        await self.producer.stop()
        await self.dedupe.drain()
        await self.redis.aclose()

    async def handle(self, platform: Platform, request: Request) -> tuple[Response, str]:
        """The answer and the outcome label for one webhook request."""
        received_at = utcnow()
        source = platform.value  # once: an enum's .value is a slow property lookup
        verifier = self.verifiers.get(platform)
        if verifier is None:
            return error(503, "not_configured", platform=source), "not_configured"

        headers = {
            key.decode("latin-1").lower(): value.decode("latin-1")
            for key, value in request.scope["headers"]
        }
        try:
            body = await read_body(
                request, headers.get("content-length", ""), self.settings.max_body_bytes
            )
        except BodyTooLarge:
            return error(
                413, "body_too_large", limit_bytes=self.settings.max_body_bytes
            ), "too_large"
        except ClientDisconnect:
            return error(400, "client_disconnected"), "bad_request"

        try:
            bound_community = verifier.verify(headers, body, time.time())
        except SignatureError as exc:
            SIGNATURE_FAILURES.labels(source, exc.reason).inc()
            return error(401, exc.reason), "unauthorized"

        try:
            payload = parse_json(body)
        except (ValueError, RecursionError):
            return error(400, "malformed_json"), "bad_request"

        adapter = ADAPTERS[platform]
        handshake = adapter.handshake(headers, payload)
        if handshake is not None:
            if handshake.reason:
                ignored(source, handshake.reason).inc()
            if handshake.body is None:
                return Response(status_code=handshake.status), handshake.outcome
            return answer(handshake.body, handshake.status), handshake.outcome

        delivery = Delivery(platform, headers, payload, "", received_at, bound_community)
        delivery_id = safe_text(
            adapter.delivery_id(delivery) or ("sha256:" + hashlib.sha256(body).hexdigest())
        )
        if len(delivery_id) > MAX_DELIVERY_ID:  # hash, not truncate: no false duplicates
            delivery_id = "sha256:" + hashlib.sha256(delivery_id.encode()).hexdigest()
        delivery.delivery_id = delivery_id

        events: list[EngagementEvent] = []
        reason = ""
        try:
            events = adapter.adapt(delivery)
        except Ignored as exc:
            # Nothing to produce and nothing a retry could change: no Redis, no Kafka.
            ignored(source, exc.reason).inc()
            return answer(
                {
                    "status": "ignored",
                    "reason": exc.reason,
                    "event": safe_text(exc.event_key[:100]),
                    "delivery_id": delivery_id,
                }
            ), "ignored"
        except Unmappable as exc:
            reason, detail, event_key = exc.reason, exc.detail, exc.event_key
        except Exception as exc:  # a bug in an adapter must not lose an authentic payload
            log.exception("adapter %s failed; dead-lettering the payload", source)
            reason, detail, event_key = ADAPTER_ERROR, type(exc).__name__, ""
        if not events and not reason:
            reason, detail, event_key = "no_events", "the mapping produced no event", ""

        seen_key = dedupe_key(source, delivery_id)
        if await self.dedupe.seen(seen_key):
            DUPLICATES.labels(source).inc()
            return answer({"status": "duplicate", "delivery_id": delivery_id}), "duplicate"

        latest = received_at + self.max_clock_skew
        for index, event in enumerate(events):
            if event.occurred_at > latest:
                # No payload may move a member's clock into the future.
                events[index] = event.model_copy(update={"occurred_at": received_at})
                CLOCK_ADJUSTED.labels(source, "future").inc()

        if reason:
            records = [
                deadletter_record(
                    platform, reason, detail, headers, body, delivery_id, event_key, received_at
                )
            ]
        else:
            records = [event_record(event) for event in events]

        started = time.perf_counter()
        try:
            await self.producer.publish(records)
        except BrokerUnavailable as exc:
            log.warning("broker unavailable for %s delivery: %s", source, exc)
            return error(503, "broker_unavailable", retry=True), "broker_unavailable"
        produce_latency(source).observe(time.perf_counter() - started)
        self.dedupe.mark(seen_key)  # queued: the answer does not wait

        if reason:
            DEADLETTERED.labels(source, reason).inc()
            log.info("dead-lettered %s delivery (%s: %s)", source, reason, safe_text(detail))
            return answer(
                {"status": "deadlettered", "reason": reason, "delivery_id": delivery_id}, 202
            ), "deadlettered"
        for event in events:
            events_published(source, event.kind).inc()  # StrEnum: label is its value
        return accepted(delivery_id, [event.id for event in events]), "accepted"

    async def ready(self) -> dict[str, str]:
        """Kafka (a bootstrap server accepts a connection) and Redis (PING) are reachable."""
        checks = {"kafka": "unreachable", "redis": "unreachable"}
        for server in self.settings.bootstrap_servers:
            host, _, port = server.rpartition(":")
            try:
                _, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), 1.0)
            except (OSError, TimeoutError, ValueError):
                continue
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            checks["kafka"] = "ok"
            break
        try:
            if await asyncio.wait_for(self.redis.ping(), REDIS_TIMEOUT_SECONDS):
                checks["redis"] = "ok"
        except (OSError, TimeoutError, aioredis.RedisError):
            pass
        return checks


def create_app(settings: Settings) -> Starlette:
    """The ingest ASGI app; a malformed secret raises ConfigError here, before serving."""
    ingest = Ingest(settings)

    def webhook(platform: Platform) -> Callable[[Request], Awaitable[Response]]:
        label = platform.value

        async def endpoint(request: Request) -> Response:
            try:
                response, outcome = await ingest.handle(platform, request)
            except Exception:
                # Every expected path answers above; this is a bug. 503 (not 500) so the
                # platform retries the delivery once it is fixed: nothing authentic is lost.
                log.exception("unexpected error handling a %s webhook", label)
                response, outcome = error(503, "internal_error", retry=True), "internal_error"
            webhooks_received(label, outcome).inc()
            return response

        return endpoint

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "service": "ingest"})

    async def readyz(request: Request) -> JSONResponse:
        checks = await ingest.ready()
        if all(value == "ok" for value in checks.values()):
            return JSONResponse({"status": "ready", **checks})
        return JSONResponse({"error": "not_ready", **checks}, status_code=503)

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        codes = {404: "not_found", 405: "method_not_allowed"}
        return JSONResponse(
            {"error": codes.get(exc.status_code, "http_error")},
            status_code=exc.status_code,
            headers=exc.headers,
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await ingest.start()
        try:
            yield
        finally:
            await ingest.stop()

    routes = [
        Route(f"/webhooks/{platform.value}", webhook(platform), methods=["POST"])
        for platform in Platform
    ]
    routes += [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics),
    ]
    app = Starlette(
        routes=routes, lifespan=lifespan, exception_handlers={HTTPException: http_error}
    )
    app.state.ingest = ingest
    return app
