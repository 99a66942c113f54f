"""Reliability of the classifier on the real broker and Redis: crashes and Redis restarts.

Each scenario runs the same seeded event stream twice on two fresh embedded stacks: once
uninterrupted, once with the fault. Final segments, exact counts and the set of distinct
transitions published on ``member.transitions`` must be equal. The stream is pinned to one
partition so both runs see one order (Kafka orders per partition), and the sweep is off
(event times are recent: nothing becomes due during the test).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from aiokafka import AIOKafkaConsumer, TopicPartition
from kafka import KafkaProducer

from invested import state as keys
from invested.contracts import INVESTMENT_KINDS, EngagementEvent, Kind, MemberTransition, Segment
from invested.stack import EmbeddedStack
from invested.topics import ENGAGEMENT_EVENTS, MEMBER_TRANSITIONS
from services.classifier.store import OUTBOX
from tests.factories import engagement_event
from tests.processes import classifier, healthy

KINDS = [Kind.REPLY] * 4 + [
    Kind.POST,
    Kind.COMMENT,
    Kind.REACT,
    Kind.REACT,
    Kind.VIEW,
    Kind.FOLLOW,
    Kind.UNFOLLOW,
    Kind.STAR,
]
SENTINEL = "zz-sentinel"
WORKER = {"INVESTED_SWEEP_INTERVAL_SECONDS": "3600", "INVESTED_BATCH_SIZE": "20"}


def workload(
    seed: int, community: str, n_events: int, n_members: int = 80
) -> list[EngagementEvent]:
    rng = random.Random(seed)
    members = [f"m{i:03d}" for i in range(n_members)]
    weights = [1 / (i + 1) for i in range(n_members)]  # heavy-tailed: a few do most
    now = datetime.now(UTC).replace(microsecond=0)
    events = []
    for i in range(n_events):
        kind = rng.choice(KINDS)
        member = rng.choices(members, weights)[0]
        target = rng.choices(members, weights)[0] if kind in INVESTMENT_KINDS else None
        at = now - timedelta(days=10) + timedelta(seconds=rng.randrange(10 * 86400))
        events.append(engagement_event(community, f"{community}-{i}", member, kind, at, target))
    events.append(engagement_event(community, f"{community}-end", SENTINEL, Kind.FOLLOW, now))
    return events


def produce(bootstrap: str, events: list[EngagementEvent], seconds: float = 0.0) -> None:
    """Produce to partition 0, spread over ``seconds`` (a stream, not a preloaded log)."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    pause = seconds / max(1, len(events))
    for event in events:
        producer.send(ENGAGEMENT_EVENTS, key=event.key.encode(), value=event.to_json(), partition=0)
        if pause:
            time.sleep(pause)
    producer.flush()
    producer.close()


@dataclass(frozen=True)
class Outcome:
    segments: dict[str, str]
    counts: dict[str, int]
    transitions: dict[str, tuple]  # id -> (member, seq, from, to, at, cause)


def wait_for_sentinel(redis_url: str, community: str, timeout: float = 90) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    deadline = time.monotonic() + timeout
    while client.hget(keys.state_key(community, SENTINEL), "segment") != "audience":
        assert time.monotonic() < deadline, "the stream was not fully processed in time"
        time.sleep(0.2)


def wait_outbox_drained(redis_url: str, timeout: float = 60) -> None:
    """Every transition committed in Redis has been acknowledged by Kafka (the outbox is empty).

    After a crash or a Redis outage, transitions of a half-done batch wait in the outbox until a
    flush (the next start, or the timer after a grace period) publishes them.
    """
    client = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + timeout
    while client.xlen(OUTBOX):
        assert time.monotonic() < deadline, "transitions stayed in the outbox"
        time.sleep(0.2)


def outcome(stack: EmbeddedStack, community: str) -> Outcome:
    client = redis.Redis.from_url(stack.redis_url, decode_responses=True)
    segments = {}
    for key in client.scan_iter(match=f"inv:{{{community}/*}}:state", count=1000):
        member = key.split("/", 1)[1].split("}", 1)[0]
        segments[member] = client.hget(key, "segment")
    counts = {s.value: client.zcard(keys.segment_key(community, s)) for s in Segment}
    assert counts == {s.value: list(segments.values()).count(s.value) for s in Segment}
    return Outcome(
        segments, counts, asyncio.run(read_transitions(stack.kafka_bootstrap, community))
    )


async def read_transitions(bootstrap: str, community: str) -> dict[str, tuple]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    out: dict[str, tuple] = {}
    try:
        partitions = [
            TopicPartition(MEMBER_TRANSITIONS, p)
            for p in consumer.partitions_for_topic(MEMBER_TRANSITIONS) or []
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        idle_since = time.monotonic()
        while time.monotonic() - idle_since < 2.0:  # until 2 s without new records
            batches = await consumer.getmany(timeout_ms=300)
            for records in batches.values():
                idle_since = time.monotonic()
                for record in records:
                    t = MemberTransition.from_json(record.value or b"")
                    if t.data.community == community:
                        d = t.data
                        row = (
                            d.member,
                            d.seq,
                            d.from_segment.value,
                            d.to_segment.value,
                            d.at,
                            d.cause,
                        )
                        assert out.get(t.id, row) == row, "one id, two different transitions"
                        out[t.id] = row
    finally:
        await consumer.stop()
    return out


def uninterrupted(events: list[EngagementEvent], community: str, tmp: Path) -> Outcome:
    with EmbeddedStack() as stack:
        produce(stack.kafka_bootstrap, events)
        with classifier(stack.kafka_bootstrap, stack.redis_url, tmp, **WORKER):
            wait_for_sentinel(stack.redis_url, community)
            wait_outbox_drained(stack.redis_url)
        return outcome(stack, community)


@pytest.mark.slow
def test_sigkill_at_random_points_loses_and_doubles_nothing(tmp_path: Path) -> None:
    seed = int(os.environ.get("CRASH_SEED", "20261125"))
    rng = random.Random(seed)
    community = f"crash-{seed}"
    events = workload(seed, community, n_events=2500)
    expected = uninterrupted(events, community, tmp_path / "reference")
    assert expected.transitions, "the workload must produce transitions"

    with EmbeddedStack() as stack:
        streaming = threading.Thread(target=produce, args=(stack.kafka_bootstrap, events, 8.0))
        streaming.start()
        kills = 0
        for _ in range(3):
            with classifier(
                stack.kafka_bootstrap, stack.redis_url, tmp_path / f"crash{kills}", **WORKER
            ) as (proc, _):
                time.sleep(rng.uniform(0.2, 2.5))
                proc.send_signal(signal.SIGKILL)  # no shutdown, no commit, no outbox flush
                proc.wait(10)
                kills += 1
        streaming.join()
        with classifier(stack.kafka_bootstrap, stack.redis_url, tmp_path / "final", **WORKER):
            wait_for_sentinel(stack.redis_url, community)
            wait_outbox_drained(stack.redis_url)
        crashed = outcome(stack, community)

    assert kills == 3
    assert crashed.segments == expected.segments
    assert crashed.counts == expected.counts
    assert crashed.transitions == expected.transitions


@pytest.mark.slow
def test_redis_restart_with_aof_resumes_without_loss_or_double_counting(tmp_path: Path) -> None:
    community = "redis-restart"
    events = workload(7, community, n_events=1500)
    expected = uninterrupted(events, community, tmp_path / "reference")

    half = len(events) // 2
    with EmbeddedStack(redis_appendonly=True) as stack:
        with classifier(stack.kafka_bootstrap, stack.redis_url, tmp_path / "w", **WORKER) as (
            _,
            port,
        ):
            produce(stack.kafka_bootstrap, events[:half])
            health = f"http://127.0.0.1:{port}/healthz"
            stack.stop_redis()
            produce(stack.kafka_bootstrap, events[half:])  # arrives while Redis is down
            deadline = time.monotonic() + 30
            while healthy(health):
                assert time.monotonic() < deadline, (
                    "the classifier kept reporting ready without Redis"
                )
                time.sleep(0.2)
            stack.start_redis()  # same port and directory: the AOF is replayed
            wait_for_sentinel(stack.redis_url, community)
            deadline = time.monotonic() + 30
            while not healthy(health):
                assert time.monotonic() < deadline, "the classifier did not report ready again"
                time.sleep(0.2)
            wait_outbox_drained(stack.redis_url)
        restarted = outcome(stack, community)

    assert restarted.segments == expected.segments
    assert restarted.counts == expected.counts
    assert restarted.transitions == expected.transitions
