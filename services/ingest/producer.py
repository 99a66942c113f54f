"""kafka-python's KafkaProducer (acks=all), bridged to asyncio without blocking the event loop.

``send()`` can block (metadata fetch, full buffer), so it runs on a small thread pool; each
record's future reports back through ``loop.call_soon_threadsafe``. A request is acknowledged only
when *every* one of its records is acked. The producer's ``delivery_timeout_ms`` equals the
produce timeout, so a record that could not be delivered has *expired* (and will never be written
later) by the time ingest answers 503: the platform's retry is then the only copy, which keeps a
broker outage from turning into duplicates.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError

from invested.settings import Settings

log = logging.getLogger(__name__)

LINGER_MS = 2  # small batches across concurrent requests, at ~no latency cost
MAX_BLOCK_MS = 1500  # a dead broker must fail a request fast, not hold a worker thread
MAX_REQUEST_BYTES = 4 * 1024 * 1024  # dead letters carry raw bodies (up to max_body_bytes)


class BrokerUnavailable(Exception):
    """The broker did not acknowledge in time; answer 503 so the platform retries."""


@dataclass(frozen=True)
class Record:
    topic: str
    key: bytes | None
    value: bytes


def producer_config(settings: Settings) -> dict[str, Any]:
    delivery_ms = max(int(settings.produce_timeout_seconds * 1000), 100)
    config: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "client_id": "invested-ingest",
        "acks": "all",
        "linger_ms": LINGER_MS,
        "delivery_timeout_ms": delivery_ms,
        # kafka-python requires delivery_timeout >= linger + request_timeout.
        "request_timeout_ms": delivery_ms - LINGER_MS,
        "max_block_ms": min(MAX_BLOCK_MS, delivery_ms),
        "retry_backoff_ms": 100,
        "reconnect_backoff_max_ms": 1000,
        "max_request_size": MAX_REQUEST_BYTES,
    }
    if settings.kafka_idempotent_producer:
        config["enable_idempotence"] = True
    return config


class EventProducer:
    """Async facade over one shared KafkaProducer (thread-safe)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._producer: KafkaProducer | None = None
        # send() blocks at most MAX_BLOCK_MS; a few threads keep many requests moving.
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="ingest-produce")
        self.timeout = settings.produce_timeout_seconds

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        config = producer_config(self._settings)
        self._producer = await loop.run_in_executor(self._pool, lambda: KafkaProducer(**config))

    async def stop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._pool, lambda: producer.close(timeout=5))
        self._pool.shutdown(wait=False)

    async def publish(self, records: Sequence[Record]) -> None:
        """Return once the broker acked every record; else raise :class:`BrokerUnavailable`."""
        producer = self._producer
        if producer is None:
            raise BrokerUnavailable("producer not started")
        loop = asyncio.get_running_loop()
        waiters: list[asyncio.Future[None]] = [loop.create_future() for _ in records]
        for waiter in waiters:
            # Whatever happens to the request, nobody is left with an unretrieved exception.
            waiter.add_done_callback(_consume)

        def resolve(waiter: asyncio.Future[None], error: BaseException | None) -> None:
            if waiter.done():
                return
            if error is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(error)

        def send_all() -> None:  # runs on the pool: send() may block up to max_block_ms
            for record, waiter in zip(records, waiters, strict=True):
                future = producer.send(record.topic, key=record.key, value=record.value)
                future.add_callback(
                    lambda _md, w=waiter: loop.call_soon_threadsafe(resolve, w, None)
                )
                future.add_errback(lambda exc, w=waiter: loop.call_soon_threadsafe(resolve, w, exc))

        try:
            await loop.run_in_executor(self._pool, send_all)
            # The producer's own delivery timeout fires first; this margin only guards bugs.
            await asyncio.wait_for(asyncio.gather(*waiters), self.timeout + 2.0)
        except (KafkaError, TimeoutError) as exc:
            raise BrokerUnavailable(f"{type(exc).__name__}: {exc}") from None


def _consume(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()
