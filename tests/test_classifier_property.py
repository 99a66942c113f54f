"""Property test: the Redis/Lua classifier equals a plain-Python reference model.

For random event histories (several members replying to each other, standing interests and
their inverses, self-replies, late and very late events, inactivity sweeps at random times),
delivered in any order, with duplicates, in any batch split, the real store (Lua on a real
Redis) must give exactly the reference's final segments and transition list (member, seq,
from, to, at, cause and the evidence numbers). The reference recomputes every window from
scratch from a plain list of events; the store maintains it incrementally in Redis.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as aioredis
from hypothesis import given, settings
from hypothesis import strategies as st

from invested import state as keys
from invested.contracts import (
    INVESTMENT_KINDS,
    STANDING_END_KINDS,
    STANDING_KINDS,
    STANDING_OPENED_BY,
    EngagementEvent,
    Kind,
    Segment,
)
from services.classifier.rules import DAY_MS, Rules, WindowNumbers, decide, load_rules
from services.classifier.store import Step, Store, steps_for
from tests.backends import Backend
from tests.factories import engagement_event

RULES = load_rules()
T0 = datetime(2026, 9, 1, tzinfo=UTC)
MEMBERS = ["ann", "bob", "cat", "dan"]
KINDS = [
    Kind.REPLY, Kind.REPLY, Kind.POST, Kind.COMMENT, Kind.REVIEW, Kind.REACT, Kind.VIEW,
    Kind.FOLLOW, Kind.UNFOLLOW, Kind.STAR, Kind.UNSTAR, Kind.JOIN, Kind.LEAVE,
]  # fmt: skip


# --- the reference model ---------------------------------------------------------------------


@dataclass
class Entry:
    at: int
    id: str
    kind: str
    group: str  # i investment, n interest, r received
    weight: int
    peer: str


@dataclass
class RefMember:
    segment: Segment = Segment.DORMANT
    since: int | None = None
    seq: int = 0
    clock: int | None = None
    entries: list[Entry] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    standing: dict[str, tuple[int, str, bool]] = field(default_factory=dict)
    last_own: int = 0
    due: int | None = None


class Reference:
    """Plain Python: lists and sets, every number recomputed from scratch."""

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.members: dict[str, RefMember] = {}
        self.transitions: list[tuple] = []

    def window(self, m: RefMember, at: int) -> list[Entry]:
        return [e for e in m.entries if e.at > at - self.rules.window_ms]

    def numbers(self, m: RefMember, at: int) -> tuple[WindowNumbers, dict[str, int]]:
        window = self.window(m, at)
        own = [e for e in window if e.group in "in"]
        numbers = WindowNumbers(
            investment=sum(e.weight for e in own if e.group == "i") / 100,
            interest=sum(e.weight for e in own if e.group == "n") / 100,
            peers=len({e.peer for e in window if e.peer}),
            active_days=len({e.at // DAY_MS for e in own if e.group == "i"}),
            standing=sum(1 for _, _, start in m.standing.values() if start),
            own_events=len(own),
        )
        counts: dict[str, int] = {}
        for e in own:
            counts[e.kind] = counts.get(e.kind, 0) + 1
        return numbers, counts

    def evaluate(self, name: str, m: RefMember, at: int, cause: str) -> None:
        numbers, counts = self.numbers(m, at)
        new = decide(m.segment, m.since, at, numbers, self.rules)
        if new is not m.segment:
            m.seq += 1
            self.transitions.append(
                (name, m.seq, m.segment.value, new.value, at, cause,
                 numbers.investment, numbers.peers, numbers.active_days, numbers.own_events)
            )  # fmt: skip
            m.segment, m.since = new, at
        m.due = self.due(m, at, numbers)

    def due(self, m: RefMember, at: int, numbers: WindowNumbers) -> int | None:
        W, dwell = self.rules.window_ms, self.rules.dwell_ms
        if m.segment is Segment.COMMUNITY:
            window = self.window(m, at)
            due = min(e.at for e in window) + W if window else at
        elif m.segment is Segment.AUDIENCE and numbers.standing == 0:
            due = m.last_own + W
        else:
            return None
        if m.since is not None:
            due = max(due, m.since + dwell)
        return due if due > at else at + 1

    def catch_up(self, name: str, m: RefMember, until: int) -> int:
        steps = 0
        while m.due is not None and m.due <= until:
            m.clock = m.due if m.clock is None else max(m.clock, m.due)
            self.evaluate(name, m, m.due, "inactivity")
            steps += 1
        return steps

    def apply(self, step: Step) -> None:
        name = step.member
        if step.mode == "sweep":
            if name in self.members:
                self.catch_up(name, self.members[name], step.at_ms)
            return
        if name not in self.members:
            self.members[name] = RefMember(since=step.at_ms)
        m = self.members[name]
        if m.clock is not None and step.at_ms <= m.clock - self.rules.window_ms:
            return  # too late
        if step.event_id in m.ids:
            return  # duplicate
        m.ids.add(step.event_id)
        self.catch_up(name, m, step.at_ms)
        if step.standing_pair:
            current = m.standing.get(step.standing_pair)
            if current is None or (step.at_ms, step.event_id) > current[:2]:
                m.standing[step.standing_pair] = (
                    step.at_ms,
                    step.event_id,
                    step.standing_start == "1",
                )
        if step.group != "e":
            m.entries.append(
                Entry(step.at_ms, step.event_id, step.kind, step.group, step.weight, step.peer)
            )
            if step.group in "in":
                m.last_own = max(m.last_own, step.at_ms)
        m.clock = step.at_ms if m.clock is None else max(m.clock, step.at_ms)
        cause = step.event_id.removesuffix(":r") if step.mode == "received" else step.event_id
        self.evaluate(name, m, m.clock, cause)


# --- generated histories -------------------------------------------------------------------


@st.composite
def histories(draw: st.DrawFn) -> dict[str, object]:
    n = draw(st.integers(min_value=1, max_value=28))
    events = []
    for i in range(n):
        kind = draw(st.sampled_from(KINDS))
        member = draw(st.sampled_from(MEMBERS))
        target = draw(st.sampled_from([None, *MEMBERS])) if kind in INVESTMENT_KINDS else None
        # Mostly within a few weeks, sometimes far apart (inactivity, too-late events).
        hours = draw(st.one_of(st.integers(0, 24 * 40), st.integers(0, 24 * 120)))
        events.append((f"e{i}", member, kind, target, hours))
    order = draw(st.permutations(range(n)))
    duplicates = draw(st.lists(st.integers(0, n - 1), max_size=6))
    sweeps = draw(st.lists(st.tuples(st.integers(0, n), st.integers(0, 24 * 200)), max_size=4))
    batch_sizes = draw(st.lists(st.integers(1, 9), min_size=1, max_size=8))
    return {
        "events": events,
        "order": order,
        "duplicates": duplicates,
        "sweeps": sweeps,
        "batch_sizes": batch_sizes,
    }


def to_event(community: str, raw: tuple) -> EngagementEvent:
    event_id, member, kind, target, hours = raw
    at = T0 + timedelta(hours=hours)
    return engagement_event(community, event_id, member, kind, at, target, received_at=at)


def delivery(history: dict[str, object], community: str) -> list[Step]:
    """The steps in delivery order: permuted, sweeps interleaved, duplicates re-delivered."""
    events = [to_event(community, history["events"][i]) for i in history["order"]]  # type: ignore[index]
    sweeps = sorted(history["sweeps"])  # type: ignore[arg-type]

    def sweep_steps(hours: int) -> list[Step]:
        at_ms = int((T0 + timedelta(hours=hours)).timestamp() * 1000)
        return [Step("sweep", community, m, "", at_ms) for m in MEMBERS]

    items: list[list[Step]] = []  # one item per delivery: an event's steps or a sweep
    for position, event in enumerate(events):
        items += [sweep_steps(hours) for at, hours in sweeps if at == position]
        items.append(steps_for(event, RULES))
    items += [sweep_steps(hours) for at, hours in sweeps if at >= len(events)]
    # A redelivery comes later than its original, anywhere after it.
    for offset, index in enumerate(history["duplicates"]):  # type: ignore[arg-type]
        original = steps_for(events[index % len(events)], RULES)
        first = next(i for i, item in enumerate(items) if item == original)
        items.insert(min(len(items), first + 1 + offset), original)
    return [step for item in items for step in item]


def batches(steps: list[Step], sizes: list[int]) -> list[list[Step]]:
    out, i, k = [], 0, 0
    while i < len(steps):
        size = sizes[k % len(sizes)]
        out.append(steps[i : i + size])
        i, k = i + size, k + 1
    return out


async def run_store(redis_url: str, steps: list[Step], sizes: list[int]) -> list[tuple]:
    client = aioredis.Redis.from_url(redis_url)
    try:
        store = Store(client, RULES)
        transitions = []
        for batch in batches(steps, sizes):
            for result in await store.run(batch):
                await store.ack_outbox([oid for oid, _ in result.transitions])  # as if published
                for _, raw in result.transitions:
                    data = json.loads(raw)["data"]
                    ev = data["evidence"]
                    at = int(datetime.fromisoformat(data["at"]).timestamp() * 1000)
                    transitions.append(
                        (data["member"], data["seq"], data["from"], data["to"], at, data["cause"],
                         ev["investment"], ev["peers"], ev["active_days"], ev["events_in_window"])
                    )  # fmt: skip
        return transitions
    finally:
        await client.aclose()


async def final_segments(redis_url: str, community: str) -> dict[str, str]:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        out = {}
        for member in MEMBERS:
            segment = await client.hget(keys.state_key(community, member), "segment")
            if segment is not None:
                out[member] = segment
        # The segment sets agree with the states: counts are exact without a scan.
        for segment in Segment:
            members = set(await client.zrange(keys.segment_key(community, segment), 0, -1))
            assert members == {m for m, s in out.items() if s == segment.value}
        return out
    finally:
        await client.aclose()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@settings(max_examples=120)
@given(history=histories())
def test_store_equals_reference_model(backend: Backend, history: dict[str, object]) -> None:
    community = f"prop-{uuid.uuid4().hex[:12]}"
    steps = delivery(history, community)
    reference = Reference(RULES)
    for step in steps:
        reference.apply(step)
    transitions = asyncio.run(run_store(backend.redis_url, steps, history["batch_sizes"]))  # type: ignore[arg-type]
    assert transitions == reference.transitions
    expected = {name: m.segment.value for name, m in reference.members.items()}
    assert asyncio.run(final_segments(backend.redis_url, community)) == expected


@settings(max_examples=40)
@given(history=histories(), other_sizes=st.lists(st.integers(1, 9), min_size=1, max_size=8))
def test_duplicates_and_batch_split_change_nothing(
    backend: Backend, history: dict[str, object], other_sizes: list[int]
) -> None:
    """The same deliveries, once without duplicates in one split and once with them in another."""
    plain = dict(history, duplicates=[])
    runs = []
    for variant, sizes in ((plain, history["batch_sizes"]), (history, other_sizes)):
        community = f"prop-{uuid.uuid4().hex[:12]}"
        transitions = asyncio.run(run_store(backend.redis_url, delivery(variant, community), sizes))  # type: ignore[arg-type]
        runs.append((transitions, asyncio.run(final_segments(backend.redis_url, community))))
    assert runs[0] == runs[1]


def test_reference_model_agrees_on_a_scripted_member() -> None:
    """The reference itself, on the DESIGN.md story: follow, two replies on two days, silence."""
    community = "script"
    events = [
        ("f", "ann", Kind.FOLLOW, None, 0),
        ("r1", "ann", Kind.REPLY, "bob", 24),
        ("r2", "ann", Kind.REPLY, "cat", 48),
    ]
    reference = Reference(RULES)
    for raw in events:
        for step in steps_for(to_event(community, raw), RULES):
            reference.apply(step)
    reference.apply(
        Step("sweep", community, "ann", "", int((T0 + timedelta(days=60)).timestamp() * 1000))
    )
    path = [(t[2], t[3], t[5]) for t in reference.transitions if t[0] == "ann"]
    assert path == [
        ("dormant", "audience", "f"),
        ("audience", "community", "r2"),
        ("community", "audience", "inactivity"),
    ]


def test_kinds_used_cover_every_group() -> None:
    assert set(KINDS) & INVESTMENT_KINDS and set(KINDS) & STANDING_KINDS
    assert set(KINDS) & STANDING_END_KINDS
    assert all(STANDING_OPENED_BY[k] in KINDS for k in set(KINDS) & STANDING_END_KINDS)
