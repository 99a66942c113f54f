"""Response models of the API (pydantic v2); they are the OpenAPI schema clients rely on."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from invested.contracts import MemberTransition, Segment, Thresholds


class ErrorBody(BaseModel):
    """Every error response, whatever produced it (auth, validation, routing, Redis)."""

    error: str = Field(
        description="Stable machine-readable code, e.g. unauthorized, member_not_found, "
        "invalid_id, invalid_limit, invalid_cursor, redis_unavailable."
    )
    detail: Any = Field(
        None, description="Human-readable detail, or the list of validation problems."
    )


class WindowView(BaseModel):
    """The window numbers of the member's last evaluation (as of ``updated_at``)."""

    model_config = ConfigDict(frozen=True)

    investment: float = Field(description="Sum of the weights of investment events.")
    interest: float = Field(description="Sum of the weights of interest events.")
    peers: int = Field(description="Distinct other members interacted with (sent or received).")
    active_days: int = Field(description="Distinct days with an investment event.")
    standing: list[str] = Field(description="Standing interests held (follow, join, ...).")
    events_in_window: int
    kind_counts: dict[str, int] = Field(description="Events in the window by kind.")
    window_days: float


class MemberView(BaseModel):
    """One member: segment, since when, the numbers and thresholds that decided it, and why."""

    community: str
    member: str
    segment: Segment
    since: datetime = Field(description="When the member entered the current segment.")
    seq: int = Field(description="Transitions so far.")
    window: WindowView
    thresholds: Thresholds
    reason: str = Field(description="The classifier's one-line reason for the segment.")
    explanation: str = Field(
        description="One line a person can read, e.g. 'community since 2026-11-02: 5 replies "
        "with 3 members on 4 days in the last 28 days'."
    )
    rules_version: str
    updated_at: datetime = Field(description="Event time of the last evaluation.")
    last_event_at: datetime | None = None
    due_at: datetime | None = Field(
        None, description="When the segment can next change without a new event."
    )


class MemberItem(BaseModel):
    member: str
    segment: Segment | None = Field(description="Current segment (null only for a member in flux).")
    since: datetime | None = None


class MemberPage(BaseModel):
    """One page of members in lexicographic id order; follow ``next_cursor`` until null."""

    community: str
    segment: Segment | None = Field(description="The segment listed, or null for all members.")
    limit: int
    members: list[MemberItem]
    next_cursor: str | None = Field(
        description="Opaque cursor of the next page; null on the last page."
    )


class SegmentCountsView(BaseModel):
    community: int
    audience: int
    dormant: int


class SegmentsView(BaseModel):
    """Exact member counts per segment, read in one atomic snapshot (their sum is ``total``)."""

    community: str
    total: int
    segments: SegmentCountsView


class TransitionHistory(BaseModel):
    community: str
    member: str
    transitions: list[MemberTransition] = Field(description="Newest first.")


class Health(BaseModel):
    status: str
