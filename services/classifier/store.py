"""The classifier's Redis side: one atomic Lua call (``store.lua``) per batch of steps.

Public keys (segment sets, state, history, live stream) are those of :mod:`invested.state`;
records are expanded to contract JSON by :mod:`invested.records`. Internal keys, all of one
member sharing the hash tag ``{community/member}``:

| Key | Type | Content |
| --- | --- | --- |
| ``inv:{c/m}:win`` | zset | window entries ``sha1(id)[:10]`` + kind code + ``weight␟peer`` by event time (a redelivery gives the same entry: the window dedupes) |
| ``inv:{c/m}:ids`` | zset | id digests of standing-end events (unfollow, leave, ...) in the window (dedupe) |
| ``inv:due`` | zset | ``community/member`` → due time (ms): when the segment can next change |
| ``inv:outbox`` | stream | transitions committed in Redis, not yet acknowledged by Kafka |

Window counters (sums, kinds, peers, days, standing interests) live in the member's state hash,
which the step reads once per call and writes once at its end. Sums are maintained
incrementally (add on insert, subtract on prune), so an event costs O(entries leaving the
window), not O(window).

One call per batch: Redis runs the whole batch atomically, with one round trip and no per-event
argument packing. The step builds key names from ``invested.state``'s scheme itself (checked by
the tests), which a Redis Cluster would not allow: there, batches would be split by hash slot.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from invested import state as keys
from invested.connections import LuaScript
from invested.contracts import (
    INVESTMENT_KINDS,
    STANDING_END_KINDS,
    STANDING_KINDS,
    STANDING_OPENED_BY,
    EngagementEvent,
    Kind,
    Thresholds,
)
from invested.records import SEP, rules_version_of, transition_json
from services.classifier.rules import Rules

LUA = LuaScript(Path(__file__).with_name("store.lua").read_text())
# One character per kind in window entries. Stored data depends on them: never reuse or change
# a code, only add new ones.
WINDOW_CODES: dict[Kind, str] = {
    Kind.VIEW: "v",
    Kind.REACT: "r",
    Kind.STAR: "s",
    Kind.FORK: "f",
    Kind.DOWNLOAD: "d",
    Kind.FOLLOW: "F",
    Kind.UNFOLLOW: "U",
    Kind.JOIN: "J",
    Kind.LEAVE: "L",
    Kind.SUBSCRIBE: "S",
    Kind.UNSUBSCRIBE: "Z",
    Kind.UNSTAR: "X",
    Kind.POST: "p",
    Kind.REPLY: "y",
    Kind.COMMENT: "c",
    Kind.MENTION: "m",
    Kind.ANSWER: "a",
    Kind.REVIEW: "w",
    Kind.CONTRIBUTE: "b",
    Kind.FEEDBACK: "k",
    Kind.ATTEND: "t",
    Kind.HOST: "h",
    Kind.COMMIT: "g",
    Kind.RELEASE: "e",
}
RECEIVED_CODE = "*"
GS, RS = "\x1d", "\x1e"  # separators of the script's result: fields, steps
MAX_STEPS_PER_CALL = 1000  # bounds how long one call holds Redis (~10-20 ms)
DUE = f"{keys.PREFIX}:due"
OUTBOX = f"{keys.PREFIX}:outbox"


def _to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def member_keys(community: str, member: str) -> list[str]:
    """Every key of one member (the state hash first)."""
    tag = keys.member_tag(community, member)
    return [
        keys.state_key(community, member),
        keys.history_key(community, member),
        f"{keys.PREFIX}:{tag}:win",
        f"{keys.PREFIX}:{tag}:ids",
    ]


@dataclass(slots=True)
class Step:
    """One call of the Lua step: an own event, a received interaction, or a sweep."""

    mode: str
    community: str
    member: str
    event_id: str
    at_ms: int
    kind: str = ""
    code: str = ""  # the kind's WINDOW_CODES entry, RECEIVED_CODE for a received interaction
    group: str = ""
    weight: int = 0
    peer: str = ""
    standing_pair: str = ""
    standing_start: str = ""


@dataclass
class StepResult:
    status: str  # ok | dup | late | none
    watermark_ms: int | None
    due_ms: int | None
    transitions: list[tuple[str, str]] = field(default_factory=list)  # (outbox id, json)


@dataclass(frozen=True, slots=True)
class KindPlan:
    """What an event of one kind does to the window: its group, weight and standing pair."""

    group: str  # "i" investment, "n" interest, "e" standing end
    code: str  # WINDOW_CODES
    weight: int  # hundredths
    standing_pair: str
    standing_start: str


_PLANS: dict[int, tuple[Rules, dict[Kind, KindPlan]]] = {}  # id(rules) -> (rules kept alive, plans)


def kind_plans(rules: Rules) -> dict[Kind, KindPlan]:
    """Per-kind plans of a rules object, computed once (steps_for runs per event)."""
    cached = _PLANS.get(id(rules))
    if cached is not None and cached[0] is rules:
        return cached[1]
    plans = {}
    for kind in Kind:
        if kind in INVESTMENT_KINDS:
            group = "i"
        elif kind in STANDING_END_KINDS:
            group = "e"
        else:
            group = "n"
        pair, start = "", ""
        if kind in STANDING_KINDS:
            pair, start = kind.value, "1"
        elif kind in STANDING_END_KINDS:
            pair, start = STANDING_OPENED_BY[kind].value, "0"
        weight = rules.weight_centi(kind) if group != "e" else 0
        plans[kind] = KindPlan(group, WINDOW_CODES[kind], weight, pair, start)
    _PLANS[id(rules)] = (rules, plans)
    return plans


def steps_for(event: EngagementEvent, rules: Rules) -> list[Step]:
    """The Lua steps of one event: the actor's, and the target's "received" one (peers)."""
    kind = event.kind
    plan = kind_plans(rules)[kind]
    target = event.target_member
    peer = target if target and target != event.member and plan.group == "i" else ""
    at_ms = _to_ms(event.occurred_at)
    own = Step(
        "event",
        event.community,
        event.member,
        event.id,
        at_ms,
        kind.value,
        plan.code,
        plan.group,
        plan.weight,
        peer,
        plan.standing_pair,
        plan.standing_start,
    )
    if not peer:
        return [own]
    # Peers count interactions sent *and* received: the target gains the actor as a peer.
    received = Step(
        "received",
        event.community,
        peer,
        event.id + ":r",
        at_ms,
        kind.value,
        RECEIVED_CODE,
        "r",
        0,
        event.member,
    )
    return [own, received]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class Store:
    """Runs steps against Redis: one script call (one round trip) per batch."""

    def __init__(
        self, client: aioredis.Redis, rules: Rules, history_limit: int = 100, emit: bool = True
    ) -> None:
        """``emit=False``: transitions update state and history only (quiet replay)."""
        self.client = client
        self.rules = rules
        self.history_limit = history_limit
        self._own_thresholds = rules.thresholds()
        self._thresholds = keys.PublishedThresholds(
            client, {rules.rules_version: self._own_thresholds}
        )
        self.plans = kind_plans(rules)
        self._rule_args = [
            rules.window_ms,
            rules.dwell_ms,
            round(rules.community.enter.investment * 100),
            rules.community.enter.peers,
            rules.community.enter.active_days,
            round(rules.community.stay.investment * 100),
            rules.community.stay.peers,
            rules.rules_version,
            history_limit,
            keys.TRANSITION_STREAM_MAXLEN,
            "1" if emit else "0",
            ";".join(f"{p.code}:{kind.value}:{p.group}" for kind, p in self.plans.items()),
        ]

    @staticmethod
    def encode(step: Step) -> str:
        """The step as one script argument (the event id's digest names its window entry)."""
        digest = hashlib.sha1(step.event_id.encode()).hexdigest()[:10]
        return (
            f"{step.mode}{SEP}{step.community}{SEP}{step.member}{SEP}{step.event_id}{SEP}"
            f"{digest}{SEP}{step.at_ms}{SEP}{step.kind}{SEP}{step.code}{SEP}{step.group}{SEP}"
            f"{step.weight}{SEP}{step.peer}{SEP}{step.standing_pair}{SEP}{step.standing_start}"
        )

    async def _call(self, encoded: list[str]) -> list[str]:
        """One script call; one result line per step."""
        raw = await LUA(self.client, *self._rule_args, *encoded)
        return _text(raw).split(RS)

    async def run(self, steps: list[Step]) -> list[StepResult]:
        results: list[StepResult] = []
        for start in range(0, len(steps), MAX_STEPS_PER_CALL):
            chunk = steps[start : start + MAX_STEPS_PER_CALL]
            raw = await self._call([self.encode(step) for step in chunk])
            results.extend(self._parse(chunk, raw))
        return results

    def _parse(self, steps: list[Step], lines: list[str]) -> list[StepResult]:
        thresholds = self._own_thresholds  # the script writes records of this worker's rules
        out: list[StepResult] = []
        for step, line in zip(steps, lines, strict=True):
            status, wm, due, *pairs = line.split(GS)
            transitions = [
                (pairs[i], transition_json(step.community, step.member, pairs[i + 1], thresholds))
                for i in range(0, len(pairs), 2)
            ]
            out.append(
                StepResult(status, int(wm) if wm else None, int(due) if due else None, transitions)
            )
        return out

    async def thresholds(self, rules_version: str) -> Thresholds:
        """The thresholds of a rules version: this worker's own, else as published in Redis."""
        # never published: the best statement is the current rules
        return await self._thresholds.get(rules_version) or self._own_thresholds

    async def publish_rules(self) -> None:
        thresholds = self.rules.thresholds().model_dump_json()
        await self.client.set(keys.thresholds_key(self.rules.rules_version), thresholds)
        await self.client.set(keys.RULES, self.rules.model_dump_json())

    async def due_members(self, until_ms: int, limit: int) -> list[tuple[str, str]]:
        rows = await self.client.zrangebyscore(DUE, "-inf", until_ms, start=0, num=limit)
        out = []
        for row in rows:
            text = row.decode() if isinstance(row, bytes) else row
            community, _, member = text.partition("/")
            out.append((community, member))
        return out

    async def outbox(self, count: int = 1000) -> list[tuple[str, str, str]]:
        """Pending transitions: (outbox id, key, MemberTransition JSON)."""
        rows = await self.client.xrange(OUTBOX, count=count)
        out = []
        for oid, fields in rows:
            get = {_text(k): _text(v) for k, v in fields.items()}
            key, record = get["k"], get["t"]
            community, _, member = key.partition("/")
            thresholds = await self.thresholds(rules_version_of(record))
            out.append((_text(oid), key, transition_json(community, member, record, thresholds)))
        return out

    async def ack_outbox(self, ids: list[str]) -> None:
        ids = [i for i in ids if i]  # quiet steps have no outbox entry
        if ids:
            await self.client.xdel(OUTBOX, *ids)
