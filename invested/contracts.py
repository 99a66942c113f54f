"""The event contracts (v1) of shared/DESIGN.md as pydantic v2 models.

``EngagementEvent`` is the value on ``engagement.events``; ``MemberTransition`` (a CloudEvents 1.0
JSON envelope) is the value on ``member.transitions``. Contracts evolve additively; the version is
in the type (``schema`` / CloudEvents ``type``). JSON Schemas generated from these models are
committed under ``schemas/`` (``python -m invested.schemas``) for downstream teams.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

ENGAGEMENT_EVENT_SCHEMA: Final = "invested.engagement_event.v1"
TRANSITION_EVENT_TYPE: Final = "io.invested.member.transition.v1"
TRANSITION_SOURCE: Final = "/invested/classifier"

_ID_NAMESPACE = uuid.UUID("6f1c2d8e-0b7a-4f1e-9a55-3c1f0e2d4b6a")


# What identifiers must not contain; ingest and the API check it with this same pattern.
CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")


def _no_control_chars(value: str) -> str:
    if CONTROL_CHARS.search(value):
        raise ValueError("must not contain control characters")
    return value


_KEY_SEPARATORS = re.compile("[/{}]")


def _no_key_separators(value: str) -> str:
    # Redis keys are built from "{community/member}": a "/" would let two pairs share keys,
    # braces would break the Redis Cluster hash tag. No platform's ids contain them.
    if _KEY_SEPARATORS.search(value):
        raise ValueError("must not contain '/', '{' or '}'")
    return value


# Platform ids are opaque strings; bounded so a hostile payload cannot blow up keys or memory.
Identifier = Annotated[
    str, StringConstraints(min_length=1, max_length=256), AfterValidator(_no_control_chars)
]
# Communities and members name Redis keys and Kafka keys (community/member).
MemberId = Annotated[Identifier, AfterValidator(_no_key_separators)]


class Platform(StrEnum):
    GITHUB = "github"
    SLACK = "slack"
    DISCOURSE = "discourse"
    DISCORD = "discord"
    GENERIC = "generic"


class Kind(StrEnum):
    """Engagement kinds (DESIGN.md). Grouping lives in the sets below, not in scattered ifs."""

    # interest (audience signals)
    VIEW = "view"
    REACT = "react"
    STAR = "star"
    FORK = "fork"
    DOWNLOAD = "download"
    # standing interest and its inverse
    FOLLOW = "follow"
    UNFOLLOW = "unfollow"
    JOIN = "join"
    LEAVE = "leave"
    SUBSCRIBE = "subscribe"
    UNSUBSCRIBE = "unsubscribe"
    UNSTAR = "unstar"
    # investment (community signals)
    POST = "post"
    REPLY = "reply"
    COMMENT = "comment"
    MENTION = "mention"
    ANSWER = "answer"
    REVIEW = "review"
    CONTRIBUTE = "contribute"
    FEEDBACK = "feedback"
    ATTEND = "attend"
    HOST = "host"
    COMMIT = "commit"  # a commit pushed by its author (GitHub push)
    RELEASE = "release"  # a release published (GitHub release.published)


class KindGroup(StrEnum):
    INTEREST = "interest"
    STANDING = "standing"
    STANDING_END = "standing_end"
    INVESTMENT = "investment"


INTEREST_KINDS: frozenset[Kind] = frozenset(
    {Kind.VIEW, Kind.REACT, Kind.STAR, Kind.FORK, Kind.DOWNLOAD}
)
# Standing interest is held from the opening kind until its inverse.
STANDING_INVERSE: dict[Kind, Kind] = {
    Kind.FOLLOW: Kind.UNFOLLOW,
    Kind.JOIN: Kind.LEAVE,
    Kind.SUBSCRIBE: Kind.UNSUBSCRIBE,
    Kind.STAR: Kind.UNSTAR,
}
STANDING_KINDS: frozenset[Kind] = frozenset(STANDING_INVERSE)
STANDING_END_KINDS: frozenset[Kind] = frozenset(STANDING_INVERSE.values())
STANDING_OPENED_BY: dict[Kind, Kind] = {end: start for start, end in STANDING_INVERSE.items()}
INVESTMENT_KINDS: frozenset[Kind] = frozenset(
    {
        Kind.POST,
        Kind.REPLY,
        Kind.COMMENT,
        Kind.MENTION,
        Kind.ANSWER,
        Kind.REVIEW,
        Kind.CONTRIBUTE,
        Kind.FEEDBACK,
        Kind.ATTEND,
        Kind.HOST,
        Kind.COMMIT,
        Kind.RELEASE,
    }
)


class Role(StrEnum):
    """What a member is to the classifier. Only ``member`` counts: bots and staff are never
    audience or community and never anyone's peer (README "Roles")."""

    MEMBER = "member"
    BOT = "bot"
    STAFF = "staff"


# A verified e-mail address, as the hex SHA-256 of its trimmed, lower-cased form: enough to match
# one person across platforms without putting addresses on Kafka.
EmailDigest = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


def email_digest(address: str) -> str:
    """The :data:`EmailDigest` of an address (ingest and backfill use this one function)."""
    return hashlib.sha256(address.strip().lower().encode()).hexdigest()


def groups_of(kind: Kind) -> frozenset[KindGroup]:
    """A kind can be in two groups: ``star`` is an interest signal and a standing interest."""
    groups = set()
    if kind in INTEREST_KINDS:
        groups.add(KindGroup.INTEREST)
    if kind in STANDING_KINDS:
        groups.add(KindGroup.STANDING)
    if kind in STANDING_END_KINDS:
        groups.add(KindGroup.STANDING_END)
    if kind in INVESTMENT_KINDS:
        groups.add(KindGroup.INVESTMENT)
    return frozenset(groups)


_ID_NAMESPACE_BYTES = _ID_NAMESPACE.bytes


def stable_id(*parts: str) -> str:
    """A deterministic id from source identifiers: the same parts always give the same id.

    ``str(uuid.uuid5(_ID_NAMESPACE, "\\x1f".join(parts)))``, computed without building a UUID
    object (a third of the time; ingest makes one per event; a test holds the two equal)."""
    digest = bytearray(
        hashlib.sha1(
            _ID_NAMESPACE_BYTES + "\x1f".join(parts).encode(), usedforsecurity=False
        ).digest()[:16]
    )
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def utcnow() -> datetime:
    return datetime.now(UTC)


class EngagementEvent(BaseModel):
    """One normalized engagement of one member, the value on ``engagement.events``."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False)

    schema_: Literal["invested.engagement_event.v1"] = Field(
        ENGAGEMENT_EVENT_SCHEMA, alias="schema", description="Contract name and version."
    )
    id: Identifier = Field(
        description="Deterministic from the source: a redelivered webhook yields the same id."
    )
    community: MemberId = Field(
        description="Tenant/space: GitHub org, Slack team, Discourse site, Discord guild."
    )
    platform: Platform
    member: MemberId = Field(description="Platform user id of the acting member.")
    kind: Kind
    target_member: MemberId | None = Field(
        None, description="The other member this interaction is aimed at (replied to, reacted to)."
    )
    channel: Identifier | None = None
    thread: Identifier | None = None
    occurred_at: datetime = Field(description="Event time, from the payload (UTC).")
    received_at: datetime = Field(description="When ingest received it (UTC).")
    member_handle: Identifier | None = Field(
        None,
        description="The acting member's handle or display name as the payload shows it (GitHub "
        "login, Slack name, Discourse username, Discord username).",
    )
    member_role: Role | None = Field(
        None,
        description="'bot' when the payload itself says the actor is a bot or an app; otherwise "
        "absent (staff come from the roles file, not from payloads).",
    )
    member_email_sha256: EmailDigest | None = Field(
        None,
        description="SHA-256 of a verified e-mail address the payload proves for the actor "
        "(trimmed, lower-cased): links one person across platforms of a brand.",
    )
    target_handle: Identifier | None = Field(
        None, description="The target member's handle or display name, as the payload shows it."
    )
    target_role: Role | None = Field(
        None, description="'bot' when the payload says the target member is a bot or an app."
    )

    @property
    def key(self) -> str:
        return f"{self.community}/{self.member}"

    def to_json(self) -> bytes:
        return self.model_dump_json(by_alias=True).encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> EngagementEvent:
        return cls.model_validate_json(data)


class Segment(StrEnum):
    COMMUNITY = "community"
    AUDIENCE = "audience"
    DORMANT = "dormant"


class Thresholds(BaseModel):
    """The thresholds a segment decision was held against (copied from the rules)."""

    model_config = ConfigDict(frozen=True)

    enter_investment: float
    enter_peers: int
    enter_active_days: int
    stay_investment: float
    stay_peers: int
    min_dwell_days: float
    window_days: float


class Evidence(BaseModel):
    """The window's numbers that decided a transition, and the thresholds they met or missed."""

    model_config = ConfigDict(frozen=True)

    investment: float
    interest: float
    peers: int
    active_days: int
    standing: list[str] = Field(description="Standing interests held (follow, join, ...).")
    events_in_window: int
    kind_counts: dict[str, int] = Field(
        default_factory=dict, description="Events in the window by kind (e.g. reply: 5)."
    )
    thresholds: Thresholds
    reason: str = Field(description="One line a person can read.")


class TransitionData(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)

    community: MemberId
    member: MemberId
    from_segment: Segment = Field(alias="from")
    to_segment: Segment = Field(alias="to")
    at: datetime = Field(
        description="Event time of the change (the cause's time, or the due time)."
    )
    cause: str = Field(description="The EngagementEvent id that caused it, or 'inactivity'.")
    evidence: Evidence
    rules_version: str
    seq: int = Field(ge=1, description="Per-member sequence number, 1 for the first transition.")


class MemberTransition(BaseModel):
    """A segment change, as a CloudEvents 1.0 structured-mode JSON envelope."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    specversion: Literal["1.0"] = "1.0"
    type: Literal["io.invested.member.transition.v1"] = TRANSITION_EVENT_TYPE
    source: str = TRANSITION_SOURCE
    id: str = Field(description="Deterministic: same input gives the same id; dedupe on it.")
    time: datetime
    subject: str = Field(description="community/member")
    datacontenttype: Literal["application/json"] = "application/json"
    data: TransitionData

    @staticmethod
    def make_id(community: str, member: str, seq: int, rules_version: str) -> str:
        """The classifier's id scheme (computed inside Redis by store.lua): same input, same id."""
        text = "\x1f".join(["transition", community, member, str(seq), rules_version])
        return hashlib.sha1(text.encode()).hexdigest()[:32]

    @classmethod
    def build(cls, data: TransitionData) -> MemberTransition:
        return cls(
            id=cls.make_id(data.community, data.member, data.seq, data.rules_version),
            time=data.at,
            subject=f"{data.community}/{data.member}",
            data=data,
        )

    def to_json(self) -> bytes:
        return self.model_dump_json(by_alias=True).encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> MemberTransition:
        return cls.model_validate_json(data)


class DeadLetter(BaseModel):
    """A record on a dead-letter topic: what could not be used, why, and the raw input."""

    model_config = ConfigDict(frozen=True)

    source: str = Field(description="Who dead-lettered it: ingest/<platform> or classifier.")
    reason: str = Field(description="Stable reason code, e.g. unmapped_event, invalid_event.")
    detail: str = ""
    received_at: datetime
    headers: dict[str, str] = Field(default_factory=dict)
    payload: str = Field(description="The raw body/value, as text (invalid UTF-8 replaced).")
    extra: dict[str, Any] = Field(default_factory=dict)
