"""Reads of the classifier's Redis layout (``invested.state``); the API never writes.

Every read is one round trip (pipelined) except a members page, which needs a second one for the
members' current segments. Per-community keys share the ``{community}`` hash tag, so the
segment-count snapshot can be a MULTI/EXEC even on Redis Cluster.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from invested.contracts import MemberTransition, Segment, Thresholds
from invested.records import rules_version_of, transition_json
from invested.state import (
    MemberState,
    PublishedThresholds,
    history_key,
    members_key,
    segment_key,
    state_key,
    transitions_stream_key,
)

log = logging.getLogger(__name__)


def connect(url: str, *, socket_timeout: float | None) -> aioredis.Redis:
    """A client that fails fast: one quick retry (a pooled connection closed by a Redis restart),
    not redis-py's default of three retries with seconds of backoff while a request waits."""
    return aioredis.Redis.from_url(
        url,
        decode_responses=True,
        socket_connect_timeout=1.0,
        socket_timeout=socket_timeout,
        retry=Retry(ExponentialBackoff(cap=0.1, base=0.01), retries=1),
        health_check_interval=30,
    )


_SEGMENTS = {segment.value for segment in Segment}


def _segment(value: str | None) -> Segment | None:
    return Segment(value) if value in _SEGMENTS else None


def _when(value: str | None) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value) / 1000, UTC) if value else None
    except ValueError:
        return None


class RulesNotPublished(Exception):
    """State names a rules version whose thresholds are not in Redis (a classifier publishes
    them at start, before it writes any state)."""


@dataclass(frozen=True)
class MemberRow:
    member: str
    segment: Segment | None
    since: datetime | None


@dataclass(frozen=True)
class Page:
    community_known: bool
    rows: list[MemberRow]
    last: str | None  # id of the last row when another page follows


@dataclass(frozen=True)
class Counts:
    total: int
    segments: dict[Segment, int]


class Store:
    """Typed reads. ``stream`` is a separate client: blocking XREADs must not hold, or time out
    on, the connections of ordinary requests."""

    def __init__(self, client: aioredis.Redis, stream: aioredis.Redis) -> None:
        self.client = client
        self.stream = stream
        self._thresholds = PublishedThresholds(client)

    async def close(self) -> None:
        await self.client.aclose()
        await self.stream.aclose()

    async def ping(self) -> bool:
        return bool(await self.client.ping())

    async def thresholds(self, rules_version: str) -> Thresholds:
        thresholds = await self._thresholds.get(rules_version)
        if thresholds is None:
            raise RulesNotPublished(rules_version)
        return thresholds

    async def transition_text(self, community: str, member: str, record: str) -> str:
        """The MemberTransition JSON of a stored transition record."""
        thresholds = await self.thresholds(rules_version_of(record))
        return transition_json(community, member, record, thresholds)

    async def transition(self, community: str, member: str, record: str) -> MemberTransition:
        return MemberTransition.from_json(await self.transition_text(community, member, record))

    async def member(self, community: str, member: str) -> MemberState | None:
        raw: dict[str, str] = await self.client.hgetall(state_key(community, member))  # type: ignore[misc]
        if not raw:
            return None
        thresholds = await self.thresholds(raw["rules_version"])
        return MemberState.from_hash(community, member, raw, thresholds)

    async def members_page(
        self, community: str, segment: Segment | None, after: str | None, limit: int
    ) -> Page:
        key = segment_key(community, segment) if segment else members_key(community)
        low = f"({after}" if after is not None else "-"
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.exists(members_key(community))
            pipe.zrangebylex(key, low, "+", start=0, num=limit + 1)  # one extra: is there more?
            known, ids = await pipe.execute()
        more = len(ids) > limit
        ids = ids[:limit]
        rows: list[MemberRow] = []
        if ids:
            async with self.client.pipeline(transaction=False) as pipe:
                for member in ids:
                    pipe.hmget(state_key(community, member), ["segment", "since"])
                states = await pipe.execute()
            for member, (seg, since) in zip(ids, states, strict=True):
                rows.append(MemberRow(member, _segment(seg), _when(since)))
        return Page(bool(known), rows, ids[-1] if more else None)

    async def counts(self, community: str) -> Counts:
        # MULTI/EXEC: the classifier moves members between segments atomically, so a snapshot
        # taken in one transaction always sums to the total.
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.zcard(members_key(community))
            for segment in Segment:
                pipe.zcard(segment_key(community, segment))
            total, *sizes = await pipe.execute()
        return Counts(int(total), dict(zip(Segment, map(int, sizes), strict=True)))

    async def history(
        self, community: str, member: str, limit: int
    ) -> tuple[bool, list[MemberTransition]]:
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.exists(state_key(community, member))
            pipe.lrange(history_key(community, member), 0, limit - 1)
            known, raw = await pipe.execute()
        transitions = []
        for item in raw:
            try:
                transitions.append(await self.transition(community, member, item))
            except (ValueError, IndexError):  # never fail a whole history on one bad entry
                log.warning("skipping unreadable history entry of %s/%s", community, member)
        return bool(known) or bool(raw), transitions

    async def last_stream_id(self, community: str) -> str:
        """The id of the newest transition, so a new stream starts exactly after it."""
        newest = await self.client.xrevrange(transitions_stream_key(community), count=1)
        return str(newest[0][0]) if newest else "0-0"

    async def read_stream(
        self, community: str, after: str, block_ms: int, count: int = 100
    ) -> list[tuple[str, dict[str, str]]]:
        reply = await self.stream.xread(
            {transitions_stream_key(community): after}, count=count, block=block_ms
        )
        return [
            (str(entry_id), fields) for _, entries in reply or () for entry_id, fields in entries
        ]
