"""Rebuild classifier state from ``engagement.events``, from the earliest offset.

For "we changed the rules, recompute everyone": point ``INVESTED_RULES_FILE`` at the new rules
(new ``rules_version``), stop the classifier workers, run

    python -m services.classifier.replay [--community acme] [--publish] [--yes]

and start the workers again with the same rules file (they resume from their committed
offsets; events the replay already applied are recognised by id and count once).

What it does: deletes the state of the community (or of every community), re-applies every
event of that community through the same atomic Lua step as live processing, partitions merged
in broker-timestamp order (the order live processing saw), then evaluates inactivity up to now.
By default it is *quiet*: members' state and history are recomputed, but nothing is published to
``member.transitions`` and nothing reaches the API's live stream — downstream sees no storm of
re-computed transitions. ``--publish`` publishes the recomputed transitions (new
``rules_version`` → new ids) for consumers that want to re-sync.
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from tqdm import tqdm

from invested import state as keys
from invested.connections import wait_for_kafka, wait_for_redis
from invested.settings import ConfigError, Settings, load_settings
from invested.topics import CLASSIFIER_DEADLETTER, ENGAGEMENT_EVENTS, MEMBER_TRANSITIONS
from services.classifier.processor import BatchOutcome, Classifier
from services.classifier.rules import Rules, load_rules
from services.classifier.store import DUE, OUTBOX, Step, Store

IDLE_SECONDS = 2.0  # the log is read to its end: no new record for this long, and past end offsets


@dataclass
class ReplaySummary:
    records: int = 0
    events: int = 0
    transitions: int = 0
    members: int = 0
    seconds: float = 0.0


async def read_log(bootstrap: str) -> AsyncIterator[tuple[bytes | None, bytes | None]]:
    """Every record of engagement.events as (key, value), partitions merged by timestamp."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [
            TopicPartition(ENGAGEMENT_EVENTS, p)
            for p in sorted(consumer.partitions_for_topic(ENGAGEMENT_EVENTS) or [])
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        buffered: list[tuple[int, int, int, bytes | None, bytes | None]] = []
        idle_since = time.monotonic()
        while True:
            batches = await consumer.getmany(timeout_ms=200, max_records=5000)
            for tp, records in batches.items():
                for r in records:
                    buffered.append((r.timestamp, tp.partition, r.offset, r.key, r.value))
            if batches:
                idle_since = time.monotonic()
                continue
            at_end = all([await consumer.position(tp) >= ends[tp] for tp in partitions])
            # End offsets can be under-reported by some brokers: also require a quiet log.
            if at_end and time.monotonic() - idle_since >= IDLE_SECONDS:
                break
        heapq.heapify(buffered)
        while buffered:
            _, _, _, key, value = heapq.heappop(buffered)
            yield key, value
    finally:
        await consumer.stop()


async def delete_state(client: aioredis.Redis, community: str | None) -> int:
    """Remove the classifier's keys of one community (or all); returns members removed."""
    communities = (
        [community]
        if community is not None
        else [
            c.decode() if isinstance(c, bytes) else c
            for c in await client.smembers(keys.COMMUNITIES)  # type: ignore[misc]  # redis-py types commands sync|async
        ]
    )
    removed = 0
    for name in communities:
        members = [
            m.decode() if isinstance(m, bytes) else m
            for m in await client.zrange(keys.members_key(name), 0, -1)
        ]
        removed += len(members)
        pipe = client.pipeline(transaction=False)
        for member in members:
            tag = keys.member_tag(name, member)
            for suffix in ("state", "history", "win", "ids", "agg", "peers", "days", "standing"):
                pipe.delete(f"{keys.PREFIX}:{tag}:{suffix}")
            pipe.zrem(DUE, f"{name}/{member}")
        for segment in ("community", "audience", "dormant"):
            pipe.delete(keys.segment_key(name, segment))
        pipe.delete(keys.members_key(name), keys.transitions_stream_key(name))
        pipe.srem(keys.COMMUNITIES, name)
        await pipe.execute()
    if community is None:
        await client.delete(OUTBOX)
    return removed


def _community_of(key: bytes | None) -> str | None:
    if not key:
        return None
    return key.decode(errors="replace").split("/", 1)[0]


async def replay(
    settings: Settings,
    rules: Rules,
    community: str | None,
    publish: bool,
    now_ms: int,
    progress: bool = True,
) -> ReplaySummary:
    started = time.perf_counter()
    summary = ReplaySummary()
    client = aioredis.Redis.from_url(settings.redis_url)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()

    async def send(topic: str, records: list[tuple[str, bytes]]) -> None:
        if publish or topic == CLASSIFIER_DEADLETTER:
            await asyncio.gather(
                *[await producer.send(topic, value, key.encode()) for key, value in records]
            )

    try:
        await delete_state(client, community)
        store = Store(client, rules, settings.history_limit, emit=publish)
        classifier = Classifier(store, send, MEMBER_TRANSITIONS, CLASSIFIER_DEADLETTER)
        batch: list[bytes | None] = []
        bar = tqdm(desc="replaying", unit="rec", disable=not progress)
        async for key, value in read_log(settings.kafka_bootstrap):
            summary.records += 1
            bar.update()
            if community is not None and _community_of(key) != community:
                continue
            batch.append(value)
            if len(batch) >= settings.batch_size:
                outcome = await classifier.process_batch(batch)
                summary.events += outcome.processed
                summary.transitions += len(outcome.transitions)
                batch = []
        if batch:
            outcome = await classifier.process_batch(batch)
            summary.events += outcome.processed
            summary.transitions += len(outcome.transitions)
        bar.close()
        # Inactivity up to now, for the replayed members only (others are the workers' business).
        names = (
            [community]
            if community
            else [
                c.decode() if isinstance(c, bytes) else c
                for c in await client.smembers(keys.COMMUNITIES)  # type: ignore[misc]  # redis-py types commands sync|async
            ]
        )
        for name in names:
            members = [
                m.decode() if isinstance(m, bytes) else m
                for m in await client.zrange(keys.members_key(name), 0, -1)
            ]
            summary.members += len(members)
            for i in range(0, len(members), settings.batch_size):
                steps = [
                    Step("sweep", name, m, "", now_ms) for m in members[i : i + settings.batch_size]
                ]
                outcome = BatchOutcome()
                await classifier.publish_transitions(await store.run(steps), outcome)
                summary.transitions += len(outcome.transitions)
    finally:
        await producer.stop()
        await client.aclose()
    summary.seconds = time.perf_counter() - started
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description="Rebuild classifier state from engagement.events.")
    parser.add_argument("--community", help="only this community (default: every community)")
    parser.add_argument("--publish", action="store_true", help="publish recomputed transitions")
    parser.add_argument("--yes", action="store_true", help="do not ask before deleting state")
    args = parser.parse_args()
    try:
        settings = load_settings()
        rules = load_rules(settings.rules_file)
        wait_for_kafka(settings.kafka_bootstrap, settings.startup_timeout_seconds)
        wait_for_redis(settings.redis_url, settings.startup_timeout_seconds)
    except (ConfigError, ValueError, OSError) as exc:
        print(f"error: {getattr(exc, 'message', exc)}", file=sys.stderr)
        return 2
    scope = f"community {args.community!r}" if args.community else "EVERY community"
    if not args.yes:
        if not sys.stdin.isatty():
            print("refusing to delete state without --yes (no terminal to ask)", file=sys.stderr)
            return 2
        if (
            input(
                f"Delete and rebuild the state of {scope} with rules {rules.rules_version}? [y/N] "
            )
            != "y"
        ):
            return 1
    now_ms = int((time.time() + settings.clock_offset_seconds) * 1000)
    summary = asyncio.run(replay(settings, rules, args.community, args.publish, now_ms))
    print(
        f"replayed {summary.events} events ({summary.records} records read) into {summary.members} members "
        f"of {scope} with rules {rules.rules_version}: {summary.transitions} transitions "
        f"{'published' if args.publish else 'recomputed quietly (not published)'} in {summary.seconds:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
