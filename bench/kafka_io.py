"""Loading ``engagement.events``: a bulk preload and a paced producer (latency at a set rate).

Both use kafka-python's producer (the one ingest uses; it works with Tansu) with the default
partitioner, so a record's partition is the one ingest would pick for its ``community/member``
key. The preload uses big batches and a long linger; the paced producer a short linger, so its
records reach the broker within milliseconds of their ``received_at``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from kafka import KafkaProducer

from invested.topics import ENGAGEMENT_EVENTS


def preload(
    bootstrap: str,
    records: Iterable[tuple[bytes, bytes]],
    on_sent: Callable[[int], None] | None = None,
    topic: str = ENGAGEMENT_EVENTS,
) -> int:
    """Produce every record (acks=1, big batches); returns the count once all are acked."""
    producer = KafkaProducer(
        bootstrap_servers=bootstrap.split(","),
        acks=1,
        linger_ms=50,
        batch_size=512 * 1024,
        buffer_memory=256 * 1024 * 1024,
        max_request_size=8 * 1024 * 1024,
        max_in_flight_requests_per_connection=5,
        request_timeout_ms=60_000,
        client_id="bench-preload",
    )
    sent = 0
    pending = 0
    try:
        for key, value in records:
            producer.send(topic, key=key, value=value)
            sent += 1
            pending += 1
            if pending >= 5000:
                if on_sent:
                    on_sent(pending)
                pending = 0
        producer.flush(timeout=600)
        if on_sent and pending:
            on_sent(pending)
    finally:
        producer.close(timeout=30)
    return sent


def paced(
    bootstrap: str,
    make_records: Callable[[int], list[tuple[bytes, bytes]]],
    rate: float,
    duration: float,
    on_sent: Callable[[int], None] | None = None,
    topic: str = ENGAGEMENT_EVENTS,
    ack_seconds: list[float] | None = None,
) -> int:
    """Produce ``rate`` records/s for ``duration`` s in 10 ms ticks. ``make_records(n)`` builds
    the next ``n`` records *at send time* (they carry ``received_at`` = now). acks=all like
    ingest. Returns how many were sent (all acknowledged); ``ack_seconds`` collects each
    record's send → broker ack time (the producer's share of the end-to-end latency)."""
    producer = KafkaProducer(
        bootstrap_servers=bootstrap.split(","),
        acks="all",
        linger_ms=2,
        client_id="bench-paced",
    )
    tick = 0.01
    sent = 0
    started = time.perf_counter()
    try:
        while True:
            elapsed = time.perf_counter() - started
            if elapsed >= duration:
                break
            due = int(min(elapsed + tick, duration) * rate) - sent
            if due > 0:
                for key, value in make_records(due):
                    future = producer.send(topic, key=key, value=value)
                    if ack_seconds is not None:
                        sent_at = time.perf_counter()
                        future.add_callback(
                            lambda _md, t=sent_at: ack_seconds.append(time.perf_counter() - t)
                        )
                sent += due
                if on_sent:
                    on_sent(due)
            next_tick = started + (int(elapsed / tick) + 1) * tick
            time.sleep(max(0.0, next_tick - time.perf_counter()))
        producer.flush(timeout=60)
    finally:
        producer.close(timeout=30)
    return sent
