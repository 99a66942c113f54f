"""The Redis layout the classifier writes and the API reads: key names and the read-side model.

Every key of one member shares the hash tag ``{community/member}``. Per-community indexes
(segment member sets, transition stream) are updated in the same atomic Lua step as the member's
state, so counts are exact and never need a scan:

| Key | Type | Content |
| --- | --- | --- |
| ``inv:{c/m}:state`` | hash | :class:`MemberState` fields (JSON-encoded where noted) |
| ``inv:{c/m}:history`` | list | MemberTransition JSON, newest first, capped (``INVESTED_HISTORY_LIMIT``) |
| ``inv:seg:{c}:<segment>`` | zset | members of a segment, all scores 0 (lexicographic order) |
| ``inv:members:{c}`` | zset | every known member of the community, scores 0 |
| ``inv:communities`` | set | every community seen |
| ``inv:transitions:{c}`` | stream | live transitions (field ``t`` = MemberTransition JSON), capped |
| ``inv:rules`` | string | the active rules (JSON) and their ``rules_version`` |

Segment counts are ``ZCARD inv:seg:{c}:<segment>`` (O(1)). Classifier-internal keys (windows,
dedupe, due index) are documented in ``services/classifier/store.py``.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from invested.contracts import Evidence, Segment

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


def segment_key(community: str, segment: Segment | str) -> str:
    return f"{PREFIX}:seg:{{{community}}}:{Segment(segment).value}"


def members_key(community: str) -> str:
    return f"{PREFIX}:members:{{{community}}}"


def transitions_stream_key(community: str) -> str:
    return f"{PREFIX}:transitions:{{{community}}}"


class MemberState(BaseModel):
    """What the API serves for one member: hash ``inv:{c/m}:state`` decoded.

    Hash fields: ``segment``, ``since`` (ISO 8601), ``seq`` (int, transitions so far),
    ``evidence`` (Evidence JSON: window numbers, thresholds, one-line reason, as of ``updated_at``),
    ``rules_version``, ``updated_at`` (ISO 8601, event time of the last evaluation),
    ``last_event_at`` (ISO 8601), ``due_at`` (ISO 8601 or empty: when the segment can next
    change without a new event).
    """

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
    def from_hash(cls, community: str, member: str, raw: dict[str, str]) -> MemberState:
        return cls.model_validate(
            {
                "community": community,
                "member": member,
                "segment": raw["segment"],
                "since": raw["since"],
                "seq": int(raw.get("seq", "0")),
                "evidence": Evidence.model_validate_json(raw["evidence"]),
                "rules_version": raw["rules_version"],
                "updated_at": raw["updated_at"],
                "last_event_at": raw.get("last_event_at") or None,
                "due_at": raw.get("due_at") or None,
            }
        )
