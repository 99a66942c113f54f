"""The classifier's Redis side: one atomic Lua step per event, pipelined per batch.

Public keys (segment sets, state, history, live stream) are those of :mod:`invested.state`.
Internal keys, all of one member sharing the hash tag ``{community/member}``:

| Key | Type | Content |
| --- | --- | --- |
| ``inv:{c/m}:win`` | zset | window entries ``sha1(id)[:12]␟kind␟group␟weight␟peer␟day`` by event time (a redelivery gives the same entry: the window dedupes) |
| ``inv:{c/m}:ids`` | zset | ids of standing-end events (unfollow, leave, ...) in the window (dedupe) |
| ``inv:{c/m}:agg`` | hash | ``inv``/``int`` sums (hundredths), ``n`` own events, ``k:<kind>`` counts |
| ``inv:{c/m}:peers`` | hash | peer → entries in the window (HLEN = distinct peers) |
| ``inv:{c/m}:days`` | hash | UTC day → investment entries (HLEN = active days) |
| ``inv:{c/m}:standing`` | hash | follow/join/subscribe/star → ``time␟id␟1|0`` (latest by event time) |
| ``inv:due`` | zset | ``community/member`` → due time (ms): when the segment can next change |
| ``inv:outbox`` | stream | transitions committed in Redis, not yet acknowledged by Kafka |

Window sums are maintained incrementally (add on insert, subtract on prune), so an event costs
O(entries leaving the window), not O(window).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from invested import state as keys
from invested.contracts import (
    INVESTMENT_KINDS,
    STANDING_END_KINDS,
    STANDING_KINDS,
    STANDING_OPENED_BY,
    EngagementEvent,
)
from services.classifier.rules import Rules

LUA = Path(__file__).with_name("store.lua").read_text()
DUE = f"{keys.PREFIX}:due"
OUTBOX = f"{keys.PREFIX}:outbox"


def _to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def member_keys(community: str, member: str) -> list[str]:
    tag = keys.member_tag(community, member)
    return [
        keys.state_key(community, member),
        keys.history_key(community, member),
        f"{keys.PREFIX}:{tag}:win",
        f"{keys.PREFIX}:{tag}:ids",
        f"{keys.PREFIX}:{tag}:agg",
        f"{keys.PREFIX}:{tag}:peers",
        f"{keys.PREFIX}:{tag}:days",
        f"{keys.PREFIX}:{tag}:standing",
        keys.segment_key(community, "community"),
        keys.segment_key(community, "audience"),
        keys.segment_key(community, "dormant"),
        keys.members_key(community),
        keys.COMMUNITIES,
        keys.transitions_stream_key(community),
        DUE,
        OUTBOX,
    ]


@dataclass(frozen=True)
class Step:
    """One call of the Lua step: an own event, a received interaction, or a sweep."""

    mode: str
    community: str
    member: str
    event_id: str
    at_ms: int
    kind: str = ""
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


def steps_for(event: EngagementEvent, rules: Rules) -> list[Step]:
    """The Lua steps of one event: the actor's, and the target's "received" one (peers)."""
    kind = event.kind
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
    peer = (
        event.target_member if event.target_member and event.target_member != event.member else ""
    )
    at_ms = _to_ms(event.occurred_at)
    steps = [
        Step(
            "event",
            event.community,
            event.member,
            event.id,
            at_ms,
            kind.value,
            group,
            rules.weight_centi(kind) if group != "e" else 0,
            peer if group == "i" else "",
            pair,
            start,
        )
    ]
    # Peers count interactions sent *and* received: the target gains the actor as a peer.
    if peer and group == "i":
        steps.append(
            Step(
                "received",
                event.community,
                peer,
                event.id + ":r",
                at_ms,
                kind.value,
                "r",
                0,
                event.member,
            )
        )
    return steps


def _parse(raw: list[Any]) -> StepResult:
    values = [v.decode() if isinstance(v, bytes) else str(v) for v in raw]
    transitions = [(values[i], values[i + 1]) for i in range(3, len(values), 2)]
    return StepResult(
        values[0],
        int(float(values[1])) if values[1] else None,
        int(float(values[2])) if values[2] else None,
        transitions,
    )


class Store:
    """Runs steps against Redis: one pipeline (one round trip) per batch."""

    def __init__(
        self, client: aioredis.Redis, rules: Rules, history_limit: int = 100, emit: bool = True
    ) -> None:
        """``emit=False``: transitions update state and history only (quiet replay)."""
        self.client = client
        self.rules = rules
        self.history_limit = history_limit
        self.script = client.register_script(LUA)
        thresholds = rules.thresholds().model_dump(mode="json")
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
            json.dumps(thresholds, separators=(",", ":")),
            keys.TRANSITION_STREAM_MAXLEN,
            f"{rules.window_days:g}",
            "1" if emit else "0",
        ]

    def _args(self, step: Step) -> list[Any]:
        return [
            step.mode,
            step.community,
            step.member,
            step.event_id,
            step.at_ms,
            step.kind,
            step.group,
            step.weight,
            step.peer,
            step.standing_pair,
            step.standing_start,
            *self._rule_args,
        ]

    async def run(self, steps: list[Step]) -> list[StepResult]:
        if not steps:
            return []
        pipe = self.client.pipeline(transaction=False)
        for step in steps:
            await self.script(
                keys=member_keys(step.community, step.member), args=self._args(step), client=pipe
            )
        raw = await pipe.execute()
        return [_parse(r) for r in raw]

    async def publish_rules(self) -> None:
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
        """Pending transitions: (outbox id, key, json)."""
        rows = await self.client.xrange(OUTBOX, count=count)
        out = []
        for oid, fields in rows:
            get = {(k.decode() if isinstance(k, bytes) else k): v for k, v in fields.items()}
            key, value = get["k"], get["t"]
            out.append(
                (
                    oid.decode() if isinstance(oid, bytes) else oid,
                    key.decode() if isinstance(key, bytes) else key,
                    value.decode() if isinstance(value, bytes) else value,
                )
            )
        return out

    async def ack_outbox(self, ids: list[str]) -> None:
        ids = [i for i in ids if i]  # quiet steps have no outbox entry
        if ids:
            await self.client.xdel(OUTBOX, *ids)
