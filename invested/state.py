"""The Redis layout the classifier writes and the API reads: key names and the read-side model.

Every key of one member shares the hash tag ``{community/member}``. Per-community indexes
(segment member sets, transition stream) are updated in the same atomic Lua step as the member's
state, so counts are exact and never need a scan:

| Key | Type | Content |
| --- | --- | --- |
| ``inv:{c/m}:state`` | hash | segment, times (epoch ms), reason code and window counters (below) |
| ``inv:{c/m}:history`` | list | transition records, newest first, capped (``INVESTED_HISTORY_LIMIT``) |
| ``inv:seg:{c}:<segment>`` | zset | members of a segment, all scores 0 (lexicographic order) |
| ``inv:members:{c}`` | zset | every known member of the community, scores 0 |
| ``inv:communities`` | set | every community seen |
| ``inv:transitions:{c}`` | stream | live transitions (``m`` = member, ``t`` = record), capped |
| ``inv:rules`` | string | the active rules (JSON) and their ``rules_version`` |
| ``inv:thresholds:<rules_version>`` | string | the Thresholds JSON of each rules version seen |

Records and state hold numbers, not prose: :mod:`invested.records` expands a transition record
to the ``MemberTransition`` envelope and a state hash to its ``Evidence`` (thresholds of the
state's ``rules_version``), for the classifier and the API alike.

State hash fields: ``segment``; ``since``, ``at`` (last evaluation, event time), ``last`` (last
own event), ``due`` (when the segment can next change without a new event, absent if never),
``wm`` (watermark), all epoch ms; ``seq``; ``why`` (reason code); ``rules_version``; window
counters ``inv``/``int`` (hundredths), ``n`` (own events), ``lo`` (last own event in the window),
``k:<kind>`` (events by kind), ``p:<peer>`` (entries per peer: the number of ``p:`` fields is
the peer count), ``d:<utc day>`` (investment entries per day: active days), ``s:<standing>``
(``time␟event id␟1|0``, latest by event time); ``ids`` when standing-end ids are kept.

Segment counts are ``ZCARD inv:seg:{c}:<segment>`` (O(1)). Classifier-internal keys (windows,
dedupe, due index) are documented in ``services/classifier/store.py``.
"""

from __future__ import annotations

from datetime import datetime

import redis.asyncio as aioredis
from pydantic import BaseModel, ConfigDict, Field

from invested.contracts import Evidence, Segment, Thresholds
from invested.records import iso_ms, state_evidence

PREFIX = "inv"
COMMUNITIES = f"{PREFIX}:communities"
RULES = f"{PREFIX}:rules"
TRANSITION_STREAM_MAXLEN = 10_000


def member_tag(community: str, member: str) -> str:
    return "{" + f"{community}/{member}" + "}"


def state_key(community: str, member: str) -> str:
    return f"{PREFIX}:{member_tag(community, member)}:state"


def history_key(community: str, member: str) -> str:
    return f"{PREFIX}:{member_tag(community, member)}:history"


def thresholds_key(rules_version: str) -> str:
    return f"{PREFIX}:thresholds:{rules_version}"


class PublishedThresholds:
    """The thresholds of each rules version, read from ``inv:thresholds:<version>`` once: a
    version's thresholds never change. Shared by the classifier (outbox) and the API."""

    def __init__(self, client: aioredis.Redis, known: dict[str, Thresholds] | None = None) -> None:
        self._client = client
        self._known = dict(known or {})

    async def get(self, rules_version: str) -> Thresholds | None:
        """None when that version was never published."""
        known = self._known.get(rules_version)
        if known is None:
            raw = await self._client.get(thresholds_key(rules_version))
            if raw is None:
                return None
            known = self._known[rules_version] = Thresholds.model_validate_json(raw)
        return known


def segment_key(community: str, segment: Segment | str) -> str:
    return f"{PREFIX}:seg:{{{community}}}:{Segment(segment).value}"


def members_key(community: str) -> str:
    return f"{PREFIX}:members:{{{community}}}"


def transitions_stream_key(community: str) -> str:
    return f"{PREFIX}:transitions:{{{community}}}"


class MemberState(BaseModel):
    """What the API serves for one member: hash ``inv:{c/m}:state`` decoded."""

    model_config = ConfigDict(frozen=True)

    community: str
    member: str
    segment: Segment
    since: datetime
    seq: int = Field(ge=0)
    evidence: Evidence
    rules_version: str
    updated_at: datetime
    last_event_at: datetime | None = None
    due_at: datetime | None = None

    @classmethod
    def from_hash(
        cls, community: str, member: str, raw: dict[str, str], thresholds: Thresholds
    ) -> MemberState:
        """``thresholds``: those of ``raw["rules_version"]`` (``thresholds_key``)."""

        def when(field: str) -> str | None:
            return iso_ms(int(raw[field])) if raw.get(field) else None

        return cls.model_validate(
            {
                "community": community,
                "member": member,
                "segment": raw["segment"],
                "since": when("since"),
                "seq": int(raw.get("seq", "0")),
                "evidence": state_evidence(raw, thresholds),
                "rules_version": raw["rules_version"],
                "updated_at": when("at") or when("since"),
                "last_event_at": when("last"),
                "due_at": when("due"),
            }
        )
