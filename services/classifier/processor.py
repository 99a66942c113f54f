"""Batch processing, sweeps and the transition outbox, independent of Faust.

The Faust wiring (``app.py``), the replay command and the benchmarks all drive this class, so
what is tested is what runs. Delivery: Redis commits the state and puts each transition in an
outbox in the same Lua step; a transition leaves the outbox only after Kafka acknowledged it.
A crash in between republishes it (same deterministic id) instead of losing it.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from pydantic import ValidationError

from invested.contracts import DeadLetter, EngagementEvent, utcnow
from services.classifier import metrics
from services.classifier.store import Step, StepResult, Store, steps_for

log = logging.getLogger(__name__)

# (key, value) pairs to produce; awaits until the broker acknowledged all of them.
Publish = Callable[[str, list[tuple[str, bytes]]], Awaitable[None]]


@dataclass
class BatchOutcome:
    processed: int = 0
    duplicates: int = 0
    late: int = 0
    invalid: int = 0
    transitions: list[str] = field(default_factory=list)  # MemberTransition JSON


class Classifier:
    def __init__(
        self,
        store: Store,
        publish: Publish,
        transitions_topic: str,
        deadletter_topic: str,
    ) -> None:
        self.store = store
        self.publish = publish
        self.transitions_topic = transitions_topic
        self.deadletter_topic = deadletter_topic

    async def process_batch(self, values: Sequence[bytes | None]) -> BatchOutcome:
        outcome = BatchOutcome()
        events: list[EngagementEvent] = []
        dead: list[tuple[str, bytes]] = []
        for value in values:
            try:
                events.append(EngagementEvent.from_json(value or b""))
            except ValidationError as exc:
                outcome.invalid += 1
                reason = "invalid_json" if _is_json_error(exc) else "invalid_event"
                metrics.DEADLETTERED.labels(reason).inc()
                dead.append(("classifier", _dead_letter(value, reason, exc)))
        if dead:
            await self.publish(self.deadletter_topic, dead)
        steps: list[Step] = []
        owners: list[EngagementEvent | None] = []  # the event of each own step, None for received
        for event in events:
            for step in steps_for(event, self.store.rules):
                steps.append(step)
                owners.append(event if step.mode == "event" else None)
        results = await self.store.run(steps)
        committed = time.time()
        processed_kinds: Counter[str] = Counter()
        for owner, result in zip(owners, results, strict=True):
            if owner is not None:
                self._count(owner, result, committed, outcome, processed_kinds)
        for kind, count in processed_kinds.items():  # one metric update per kind, not per event
            metrics.EVENTS_PROCESSED.labels(kind).inc(count)
        metrics.BATCH_SIZE.observe(len(values))
        await self.publish_transitions(results, outcome)
        return outcome

    def _count(
        self,
        event: EngagementEvent,
        result: StepResult,
        committed: float,
        outcome: BatchOutcome,
        processed_kinds: Counter[str],
    ) -> None:
        if result.status == "dup":
            outcome.duplicates += 1
            metrics.DUPLICATES.inc()
        elif result.status == "late":
            outcome.late += 1
            metrics.LATE_EVENTS.inc()
        else:
            outcome.processed += 1
            processed_kinds[event.kind.value] += 1
            metrics.PROCESSING_LATENCY.observe(max(0.0, committed - event.received_at.timestamp()))

    async def publish_transitions(self, results: list[StepResult], outcome: BatchOutcome) -> None:
        pending = [t for result in results for t in result.transitions]
        if not pending:
            return
        records = []
        for _, value in pending:
            envelope = json.loads(value)
            # The envelope's subject is community/member, the partition key of member.transitions.
            records.append((envelope["subject"], value.encode()))
            outcome.transitions.append(value)
            metrics.TRANSITIONS.labels(envelope["data"]["from"], envelope["data"]["to"]).inc()
        await self.publish(self.transitions_topic, records)
        await self.store.ack_outbox([oid for oid, _ in pending])

    async def sweep(self, now_ms: int, limit: int = 1000, max_rounds: int = 100) -> BatchOutcome:
        """Re-evaluate members whose due time has passed; cost grows with due members only."""
        started = time.perf_counter()
        outcome = BatchOutcome()
        for _ in range(max_rounds):
            due = await self.store.due_members(now_ms, limit)
            if not due:
                break
            results = await self.store.run(
                [Step("sweep", community, member, "", now_ms) for community, member in due]
            )
            swept = sum(1 for r in results if r.status == "ok")
            outcome.processed += swept
            metrics.SWEPT_MEMBERS.inc(swept)
            await self.publish_transitions(results, outcome)
            if len(due) < limit:
                break
        metrics.SWEEP_DURATION.observe(time.perf_counter() - started)
        return outcome

    async def flush_outbox(self, older_than_ms: int | None = None) -> int:
        """Publish transitions left in the outbox (a worker died between Redis and Kafka)."""
        flushed = 0
        while True:
            rows = await self.store.outbox()
            if older_than_ms is not None:
                rows = [r for r in rows if int(r[0].split("-")[0]) < older_than_ms]
            if not rows:
                return flushed
            await self.publish(
                self.transitions_topic, [(key, value.encode()) for _, key, value in rows]
            )
            await self.store.ack_outbox([oid for oid, _, _ in rows])
            flushed += len(rows)


def _is_json_error(exc: ValidationError) -> bool:
    return any(error["type"] == "json_invalid" for error in exc.errors())


def _dead_letter(value: bytes | None, reason: str, exc: ValidationError) -> bytes:
    detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
    record = DeadLetter(
        source="classifier",
        reason=reason,
        detail=detail[:2000],
        received_at=utcnow(),
        payload=(value or b"")[:1_048_576].decode("utf-8", errors="replace"),
    )
    return record.model_dump_json().encode()
