"""End to end on the real broker and Redis, with the real classifier process.

A scripted member goes dormant → audience (follows) → community (replies to two others on two
days) → audience (inactivity; time advanced by ``INVESTED_CLOCK_OFFSET_SECONDS``, not by
sleeping), and exactly those transitions appear on ``member.transitions`` with their evidence.
A poison record is dead-lettered without stalling its partition, the segment counts match a
recount, and the downstream example prints what it receives.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis
from aiokafka import AIOKafkaConsumer, TopicPartition
from kafka import KafkaProducer

from invested import state as keys
from invested.contracts import DeadLetter, EngagementEvent, MemberTransition, Segment
from invested.records import TransitionRecord
from invested.topics import CLASSIFIER_DEADLETTER, ENGAGEMENT_EVENTS, MEMBER_TRANSITIONS
from tests.backends import Backend
from tests.factories import engagement_event
from tests.processes import ROOT, classifier, service_env

DAY = timedelta(days=1)


def make_event(
    community: str, event_id: str, member: str, kind: str, at: datetime, target: str | None = None
) -> EngagementEvent:
    return engagement_event(community, event_id, member, kind, at, target, platform="github")


def produce(backend: Backend, records: list[tuple[bytes, bytes]]) -> None:
    producer = KafkaProducer(bootstrap_servers=backend.kafka_bootstrap, acks="all")
    for key, value in records:
        producer.send(ENGAGEMENT_EVENTS, key=key, value=value)
    producer.flush()
    producer.close()


async def collect(
    backend: Backend, topic: str, group: str, match: str, count: int, timeout: float = 45
) -> list[bytes]:
    """Read ``topic`` from the beginning until ``count`` records containing ``match`` arrived.

    Partitions are assigned directly (no group join): a test reader needs no rebalance.
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=backend.kafka_bootstrap, client_id=group)
    await consumer.start()
    found: list[bytes] = []
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        deadline = time.monotonic() + timeout
        while len(found) < count and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                found += [r.value for r in records if r.value and match.encode() in r.value]
    finally:
        await consumer.stop()
    return found


def transitions_of(raw: list[bytes]) -> list[MemberTransition]:
    out = {t.id: t for t in map(MemberTransition.from_json, raw)}  # dedupe on id, like downstream
    return sorted(out.values(), key=lambda t: (t.data.member, t.data.seq))


def recount(client: redis.Redis, community: str) -> dict[str, int]:
    counts = {segment.value: 0 for segment in Segment}
    for key in client.scan_iter(match=f"inv:{{{community}/*}}:state", count=1000):
        counts[client.hget(key, "segment")] += 1  # type: ignore[index]
    return counts


def test_scripted_member_dormant_audience_community_audience(
    backend: Backend, unique: str, tmp_path: Path
) -> None:
    community = f"e2e-{unique}"
    now = datetime.now(UTC).replace(microsecond=0)
    follow = make_event(community, f"{unique}-follow", "alice", "follow", now - 3 * DAY)
    reply_bob = make_event(community, f"{unique}-r1", "alice", "reply", now - 2 * DAY, "bob")
    reply_carol = make_event(community, f"{unique}-r2", "alice", "reply", now - DAY, "carol")
    after_poison = make_event(community, f"{unique}-late-star", "dave", "star", now)
    records = [(e.key.encode(), e.to_json()) for e in (follow, reply_bob, reply_carol)]
    # A poison record on alice's key (same partition), then a valid event behind it.
    records += [
        (follow.key.encode(), b'{"not": "an event", "community": "' + community.encode() + b'"}')
    ]
    records += [(follow.key.encode(), after_poison.to_json())]
    client = redis.Redis.from_url(backend.redis_url, decode_responses=True)

    with classifier(backend.kafka_bootstrap, backend.redis_url, tmp_path):
        produce(backend, records)
        raw = asyncio.run(collect(backend, MEMBER_TRANSITIONS, f"t-{unique}", community, 3))
        dead = asyncio.run(collect(backend, CLASSIFIER_DEADLETTER, f"d-{unique}", community, 1))

    first = transitions_of(raw)
    alice = [t for t in first if t.data.member == "alice"]
    assert [t.data.cause for t in alice] == [follow.id, reply_carol.id]
    assert [t.data.seq for t in alice] == [1, 2]
    entered = alice[1].data.evidence
    assert (entered.investment, entered.peers, entered.active_days) == (12, 2, 2)
    assert entered.standing == ["follow"] and entered.kind_counts == {"follow": 1, "reply": 2}
    assert entered.thresholds.enter_investment == 12 and entered.thresholds.stay_peers == 1
    assert alice[1].data.at == reply_carol.occurred_at
    assert alice[1].subject == f"{community}/alice"
    # Ids computed inside Redis follow the published scheme: anyone can recompute them.
    assert alice[1].id == MemberTransition.make_id(
        community, "alice", 2, alice[1].data.rules_version
    )
    # The poison record was dead-lettered and the event behind it still processed.
    assert len(dead) == 1 and DeadLetter.model_validate_json(dead[0]).reason == "invalid_event"
    assert [(t.data.from_segment, t.data.to_segment) for t in first if t.data.member == "dave"] == [
        (Segment.DORMANT, Segment.AUDIENCE)
    ]

    # Forty days later (by configuration): the window thins out, alice falls back to audience.
    offset = str(int(timedelta(days=40).total_seconds()))
    with classifier(
        backend.kafka_bootstrap, backend.redis_url, tmp_path, INVESTED_CLOCK_OFFSET_SECONDS=offset
    ):
        raw = asyncio.run(collect(backend, MEMBER_TRANSITIONS, f"t2-{unique}", community, 4))
    alice = [t for t in transitions_of(raw) if t.data.member == "alice"]
    assert [(t.data.from_segment, t.data.to_segment, t.data.cause) for t in alice] == [
        (Segment.DORMANT, Segment.AUDIENCE, follow.id),
        (Segment.AUDIENCE, Segment.COMMUNITY, reply_carol.id),
        (Segment.COMMUNITY, Segment.AUDIENCE, "inactivity"),
    ]
    left = alice[2].data
    assert left.at == reply_carol.occurred_at + 28 * DAY  # the last reply left the window
    assert (left.evidence.investment, left.evidence.peers, left.evidence.standing) == (
        0,
        0,
        ["follow"],
    )

    # Exact counts, maintained as data changed, equal a recount of every member's state.
    maintained = {s.value: client.zcard(keys.segment_key(community, s)) for s in Segment}
    assert maintained == recount(client, community)
    assert maintained == {"community": 0, "audience": 2, "dormant": 2}  # alice, dave; bob, carol
    history = [
        TransitionRecord.parse(h).seq
        for h in client.lrange(keys.history_key(community, "alice"), 0, -1)
    ]
    assert history == [3, 2, 1]  # newest first


def test_downstream_example_prints_transitions(
    backend: Backend, unique: str, tmp_path: Path
) -> None:
    community = f"tail-{unique}"
    now = datetime.now(UTC)
    event = make_event(community, f"{unique}-follow", "erin", "follow", now)
    env = service_env(backend.kafka_bootstrap, backend.redis_url)
    with classifier(backend.kafka_bootstrap, backend.redis_url, tmp_path):
        tail = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "services.classifier.tail",
                "--from-beginning",
                "--max",
                "1000",
            ],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            produce(backend, [(event.key.encode(), event.to_json())])
            deadline = time.monotonic() + 45
            line = ""
            while time.monotonic() < deadline and community not in line:
                line = tail.stdout.readline()  # type: ignore[union-attr]
            assert f"{community}/erin dormant -> audience (seq 1, cause {event.id})" in line
        finally:
            tail.terminate()
            tail.wait(10)
