"""Classifier wiring: a Faust app consuming ``engagement.events`` in batches.

Per batch (``stream.take_events``), one Redis script call applies every event atomically (see
``store.lua``), while Faust gathers the next batch; transitions go to ``member.transitions`` keyed by community/member, and leave the
Redis outbox only once Kafka acknowledged them. Timers run the inactivity sweep, re-publish a
dead worker's outbox and refresh the segment-size gauges. Redis and Kafka failures are retried
and reported by ``resilience.py``; ``/metrics`` and ``/healthz`` (only those) are served by
``web.py`` on ``INVESTED_CLASSIFIER_METRICS_PORT``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import faust
import redis.asyncio as aioredis
from prometheus_client import generate_latest

from invested import state as keys
from invested.contracts import Segment
from invested.settings import ConfigError, Settings
from invested.topics import CLASSIFIER_DEADLETTER, ENGAGEMENT_EVENTS, MEMBER_TRANSITIONS
from services.classifier import metrics, web
from services.classifier.processor import Classifier
from services.classifier.resilience import GaveUp, Health, retry, run_once
from services.classifier.rules import load_rules
from services.classifier.store import Store

log = logging.getLogger(__name__)
OUTBOX_GRACE_MS = 10_000  # younger outbox entries belong to a live worker's in-flight batch
# Faust builds its worker consumer with fetch_max_wait_ms=1500 and has no setting for it. A broker
# that holds a fetch until that wait ends (the embedded Tansu broker does; Apache Kafka answers as
# soon as data arrives) delays every record by up to 1.5 s: p50 740 ms / p99 2.3 s at half load in
# `make bench`, 115 ms / 250 ms with 20 ms. An idle worker then polls 50 times a second: cheap.
FETCH_MAX_WAIT_MS = 20


def _shorten_fetch_wait() -> None:
    """Give Faust's worker consumer ``FETCH_MAX_WAIT_MS`` (once per process)."""
    from faust.transport.drivers import aiokafka as faust_aiokafka

    thread: Any = faust_aiokafka.AIOKafkaConsumerThread
    if getattr(thread, "_invested_fetch_wait", False):
        return
    create = thread._create_worker_consumer

    def create_worker_consumer(self: Any, transport: Any) -> Any:
        consumer = create(self, transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # aiokafka reads it when it starts
        return consumer

    thread._create_worker_consumer = create_worker_consumer
    thread._invested_fetch_wait = True


def kafka_publisher(app: faust.App) -> Callable[[str, list[tuple[str, bytes]]], Awaitable[None]]:
    """Produce (key, value) records with the app's producer; returns once all are acknowledged."""

    async def publish(topic: str, records: list[tuple[str, bytes]]) -> None:
        futures = [
            await app.producer.send(topic, key.encode(), value, None, None, None)
            for key, value in records
        ]
        await asyncio.gather(*futures)

    return publish


def add_metrics_page(app: faust.App) -> None:
    """Serve the process's Prometheus metrics at ``/metrics`` on Faust's own web server (the
    benchmark baselines; the classifier serves ``web.py`` instead)."""

    @app.page("/metrics")
    async def metrics_page(web: Any, request: Any) -> Any:
        # aiohttp refuses a charset inside content_type; Prometheus needs only the version.
        return web.bytes(generate_latest(), content_type="text/plain; version=0.0.4")


def now_ms(settings: Settings) -> int:
    return int((time.time() + settings.clock_offset_seconds) * 1000)


def create_app(settings: Settings) -> faust.App:
    try:
        rules = load_rules(settings.rules_file)
    except (OSError, ValueError) as exc:  # pydantic's ValidationError is a ValueError
        raise ConfigError(
            f"INVESTED_RULES_FILE={settings.rules_file}: unusable rules: {exc}"
        ) from None
    redis_client = aioredis.Redis.from_url(
        settings.redis_url,
        health_check_interval=10,
        # A frozen Redis must fail calls (then retried, and reported on /healthz), not hang them.
        socket_timeout=settings.classifier_redis_timeout_seconds,
        socket_connect_timeout=settings.classifier_redis_timeout_seconds,
    )
    store = Store(redis_client, rules, settings.history_limit)
    _shorten_fetch_wait()
    app = faust.App(
        settings.classifier_group,
        broker=[f"kafka://{server}" for server in settings.bootstrap_servers],
        store="memory://",
        datadir=str(settings.classifier_data_dir),
        web_enabled=True,
        web_port=settings.classifier_metrics_port,
        web_bind=settings.bind_host,
        web_host=settings.bind_host,
        topic_partitions=8,
        topic_allow_declare=False,  # topics are created by the stack/topic job, not by workers
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        # Tuned for a fast start: Faust's defaults wait ~30 s for the first rebalance.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=1.0,
        broker_rebalance_timeout=10.0,
        stream_recovery_delay=0.0,
        web_stats_enabled=False,
        web_tables_enabled=False,
        web_graph_enabled=False,
        logging_config=None,
    )
    events_topic = app.topic(ENGAGEMENT_EVENTS, key_serializer="raw", value_serializer="raw")

    classifier = Classifier(store, kafka_publisher(app), MEMBER_TRANSITIONS, CLASSIFIER_DEADLETTER)
    health = Health()
    app.classifier = classifier  # type: ignore[attr-defined]

    processed_upto: dict[Any, int] = {}  # last processed offset per partition
    # Consumer generation of the last batch left unprocessed by a stop or rebalance: later batches
    # of that generation are left too, so no member's events are applied out of order.
    abandoned: dict[str, int | None] = {"generation": None}

    def stopping() -> bool:
        return bool(app.should_stop or app.rebalancing)

    @app.agent(events_topic)
    async def classify(stream: Any) -> None:
        # Pipelined by one batch: batch N runs in Redis while Faust gathers batch N+1, and batch
        # N+1 starts only when N is done (per-member order holds). Each event holds an extra
        # reference until its batch is in Redis, so take_events' own ack cannot make its offset
        # committable earlier: Faust commits an offset only once every reference acked it.
        pending: asyncio.Task[None] | None = None
        try:
            async for batch in stream.take_events(
                settings.batch_size, within=settings.batch_timeout_seconds
            ):
                hold(batch)
                if pending is not None:
                    await pending
                pending = asyncio.create_task(classify_batch(stream, batch))
            if pending is not None:
                await pending
        finally:
            # Stopping or rebalancing: an unfinished batch stays unacked and is redelivered;
            # whatever of it reached Redis counts once (dedupe).
            if pending is not None and not pending.done():
                pending.cancel()

    def hold(batch: list[Any]) -> None:
        for event in batch:
            event.message.incref()

    def leave_for_redelivery(batch: list[Any]) -> None:
        # Faust's stop and rebalance wait until every message in flight is acknowledged, and an
        # acknowledgement would commit these offsets unprocessed. So they are marked done for
        # that wait only: their offsets stay uncommitted and the events are redelivered (Faust
        # seeks to the committed offsets after a rebalance; a restart starts there).
        for event in batch:
            event.message.acked = True

    async def classify_batch(stream: Any, batch: list[Any]) -> None:
        # Events fetched before a batch was left behind are left too (per-member order holds);
        # Faust fetches them again from the committed offset, in a new consumer generation.
        left = abandoned["generation"]
        stale = [e for e in batch if left is not None and e.message.generation_id == left]
        if stale:
            leave_for_redelivery(stale)
            batch = [e for e in batch if left is None or e.message.generation_id != left]
            if not batch:
                return
        values = [event.value for event in batch]
        try:
            await retry(partial(classifier.process_batch, values), "batch", health, stopping)
        except GaveUp:
            abandoned["generation"] = batch[-1].message.generation_id
            leave_for_redelivery(batch)
            log.info("left a batch of %d events for redelivery (stop or rebalance)", len(values))
            return
        for event in batch:
            processed_upto[event.message.tp] = event.message.offset
            await stream.ack(event)
        update_lag()

    def update_lag() -> None:
        """Records behind per assigned partition; also refreshed by the timer, so a stuck
        worker shows a growing lag, and partitions that moved away drop their series."""
        assigned = app.consumer.assignment() if app.consumer else set()
        for tp in list(processed_upto):
            if tp not in assigned:
                del processed_upto[tp]
                with contextlib.suppress(KeyError):
                    metrics.CONSUMER_LAG.remove(str(tp.partition))
        for tp, offset in processed_upto.items():  # partitions this worker has processed
            highwater = app.consumer.highwater(tp)
            if highwater is not None:
                metrics.CONSUMER_LAG.labels(str(tp.partition)).set(max(0, highwater - offset - 1))

    @app.task
    async def on_start() -> None:
        def stopped() -> bool:
            return bool(app.should_stop)

        try:
            await retry(store.publish_rules, "publish rules", health, stopped)
            flushed = await retry(classifier.flush_outbox, "outbox flush", health, stopped)
        except GaveUp:
            return
        if flushed:
            log.info("re-published %d transitions left in the outbox", flushed)

    @app.timer(interval=settings.sweep_interval_seconds)
    async def sweep() -> None:
        # A failed tick is reported; the next tick tries again (due members stay due).
        outcome = await run_once(partial(classifier.sweep, now_ms(settings)), "sweep", health)
        if outcome is not None and outcome.transitions:
            log.info("sweep: %d transitions", len(outcome.transitions))

    async def housekeep() -> None:
        await classifier.flush_outbox(older_than_ms=int(time.time() * 1000) - OUTBOX_GRACE_MS)
        await refresh_segment_gauges(redis_client)
        update_lag()

    @app.timer(interval=5.0)
    async def housekeeping() -> None:
        # Also how an idle worker notices a Redis that fails or freezes.
        await run_once(housekeep, "housekeeping", health)

    def health_view() -> tuple[int, dict[str, Any]]:
        assigned = bool(app.consumer.assignment()) if app.consumer else False
        if not health.ok:
            body = {"status": "degraded", "failing": health.failing, "assigned": assigned}
        else:
            body = {"status": "ok" if assigned else "starting", "assigned": assigned}
        return (200 if assigned and health.ok else 503), body

    web.serve(app, settings, health_view)
    return app


async def refresh_segment_gauges(client: aioredis.Redis, max_communities: int = 1000) -> None:
    # redis-py types its commands as sync|async; this client is async.
    communities = await client.srandmember(keys.COMMUNITIES, max_communities) or []  # type: ignore[misc]
    pipe = client.pipeline(transaction=False)
    names = [c.decode() if isinstance(c, bytes) else c for c in communities]
    for name in names:
        for segment in Segment:
            pipe.zcard(keys.segment_key(name, segment))
    counts = await pipe.execute()
    for i, name in enumerate(names):
        for j, segment in enumerate(Segment):
            metrics.SEGMENT_MEMBERS.labels(name, segment.value).set(counts[i * 3 + j])
