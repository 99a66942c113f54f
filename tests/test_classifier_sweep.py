"""Inactivity sweeps on a real Redis: only due members are touched, and concurrent workers
never duplicate a transition. Also: the outbox survives a failed publish."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as aioredis

from invested.contracts import EngagementEvent
from services.classifier.processor import Classifier
from services.classifier.rules import load_rules
from services.classifier.store import Store
from tests.backends import Backend

RULES = load_rules()
T0 = datetime(2026, 6, 1, tzinfo=UTC)


def posts(community: str, members: list[str], day: int) -> list[bytes]:
    """Members who posted once (audience, due when the post leaves the window)."""
    out = []
    for i, member in enumerate(members):
        event = EngagementEvent.model_validate(
            {
                "id": f"{community}-{member}-{i}",
                "community": community,
                "platform": "discourse",
                "member": member,
                "kind": "post",
                "occurred_at": T0 + timedelta(days=day),
                "received_at": T0,
            }
        )
        out.append(event.to_json())
    return out


class Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.records: list[tuple[str, str, bytes]] = []
        self.fail = fail

    async def __call__(self, topic: str, records: list[tuple[str, bytes]]) -> None:
        if self.fail:
            raise ConnectionError("broker down")
        self.records += [(topic, key, value) for key, value in records]


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


async def make(redis_url: str, recorder: Recorder) -> tuple[Classifier, aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    return Classifier(
        Store(client, RULES), recorder, "member.transitions", "classifier.deadletter"
    ), client


def test_sweep_touches_only_due_members_and_runs_each_once_across_workers(
    backend: Backend, unique: str
) -> None:
    async def scenario() -> None:
        recorder = Recorder()
        worker_a, client_a = await make(backend.redis_url, recorder)
        worker_b, client_b = await make(backend.redis_url, recorder)
        community = f"sweep-{unique}"
        early = [f"early{i}" for i in range(5)]
        late = [f"late{i}" for i in range(200)]
        await worker_a.process_batch(posts(community, early, 0))
        await worker_a.process_batch(posts(community, late, 20))
        assert len(recorder.records) == 205  # everyone: dormant -> audience
        recorder.records.clear()
        # Day 30: only the early posts left the window (their due time), the late ones have not.
        now = ms(T0 + timedelta(days=30))
        outcome_a, outcome_b = await asyncio.gather(worker_a.sweep(now), worker_b.sweep(now))
        transitions = [json.loads(v)["data"] for _, _, v in recorder.records]
        assert sorted(t["member"] for t in transitions) == sorted(early)  # each exactly once
        assert {(t["from"], t["to"], t["cause"]) for t in transitions} == {
            ("audience", "dormant", "inactivity")
        }
        # Cost follows due members: 5 evaluated in all, the 200 others untouched.
        assert outcome_a.processed + outcome_b.processed == 5
        await client_a.aclose()
        await client_b.aclose()

    asyncio.run(scenario())


def test_transitions_stay_in_the_outbox_until_kafka_acknowledged(
    backend: Backend, unique: str
) -> None:
    async def scenario() -> None:
        failing = Recorder(fail=True)
        worker, client = await make(backend.redis_url, failing)
        community = f"outbox-{unique}"
        with pytest.raises(ConnectionError):
            await worker.process_batch(posts(community, ["ann"], 0))
        pending = [v for _, _, v in await worker.store.outbox(count=1_000_000) if community in v]
        assert len(pending) == 1
        # The event itself is committed: a redelivery is a duplicate, nothing counts twice ...
        outcome = await worker.process_batch(posts(community, ["ann"], 0))
        assert outcome.duplicates == 1 and not outcome.transitions
        # ... and the transition is published by the outbox flush (a restart or the timer).
        working = Recorder()
        worker.publish = working
        await worker.flush_outbox()
        assert [
            json.loads(v)["data"]["member"]
            for _, _, v in working.records
            if community.encode() in v
        ] == ["ann"]
        assert not [v for _, _, v in await worker.store.outbox(count=1_000_000) if community in v]
        await client.aclose()

    asyncio.run(scenario())
