"""The ``/v1`` routes: members, member pages, segment counts, history and the live stream.

All of them need a bearer API key (router dependency) and read Redis only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request

from invested.contracts import Segment
from invested.state import MemberState
from services.api.auth import require_api_key
from services.api.cursor import encode_cursor
from services.api.errors import (
    INVALID,
    NOT_FOUND,
    UNAUTHORIZED,
    UNAVAILABLE,
    ApiError,
    json_error_docs,
)
from services.api.explain import explain
from services.api.models import (
    MemberItem,
    MemberPage,
    MemberView,
    SegmentCountsView,
    SegmentsView,
    TransitionHistory,
    WindowView,
)
from services.api.params import (
    DEFAULT_PAGE,
    CommunityId,
    Cursor,
    HistoryLimit,
    LastEventIdHeader,
    LastEventIdQuery,
    MemberId,
    PageLimit,
    SegmentFilter,
)
from services.api.sse import EventStreamResponse, transition_events
from services.api.store import Store

router = APIRouter(
    prefix="/v1",
    dependencies=[Depends(require_api_key)],
    responses={**UNAUTHORIZED, **INVALID, **UNAVAILABLE, **NOT_FOUND},
)
# The SSE route is not JSON on success; its (JSON) errors are documented by reference.
stream_router = APIRouter(prefix="/v1", dependencies=[Depends(require_api_key)])


def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def member_view(state: MemberState) -> MemberView:
    evidence = state.evidence
    return MemberView(
        community=state.community,
        member=state.member,
        segment=state.segment,
        since=_utc(state.since),
        seq=state.seq,
        window=WindowView(
            investment=evidence.investment,
            interest=evidence.interest,
            peers=evidence.peers,
            active_days=evidence.active_days,
            standing=list(evidence.standing),
            events_in_window=evidence.events_in_window,
            kind_counts=dict(evidence.kind_counts),
            window_days=evidence.thresholds.window_days,
        ),
        thresholds=evidence.thresholds,
        reason=evidence.reason,
        explanation=explain(state),
        rules_version=state.rules_version,
        updated_at=_utc(state.updated_at),
        last_event_at=_utc(state.last_event_at) if state.last_event_at else None,
        due_at=_utc(state.due_at) if state.due_at else None,
    )


def _member_not_found(community: str, member: str) -> ApiError:
    return ApiError(404, "member_not_found", f"no member {member!r} in community {community!r}")


@router.get(
    "/communities/{community}/members/{member}",
    response_model=MemberView,
    summary="A member's segment, since when, the numbers behind it and why",
)
async def get_member(
    community: CommunityId, member: MemberId, store: Store = Depends(get_store)
) -> MemberView:
    state = await store.member(community, member)
    if state is None:
        raise _member_not_found(community, member)
    return member_view(state)


@router.get(
    "/communities/{community}/members",
    response_model=MemberPage,
    summary="Members of a community or of one segment, in id order, cursor-paginated",
)
async def list_members(
    community: CommunityId,
    segment: SegmentFilter = None,
    limit: PageLimit = DEFAULT_PAGE,
    cursor: Cursor = None,
    store: Store = Depends(get_store),
) -> MemberPage:
    page = await store.members_page(community, segment, cursor, limit)
    if not page.community_known:
        raise ApiError(404, "community_not_found", f"no member known in community {community!r}")
    return MemberPage(
        community=community,
        segment=segment,
        limit=limit,
        members=[
            MemberItem(
                member=row.member,
                segment=row.segment,
                since=_utc(row.since) if row.since else None,
            )
            for row in page.rows
        ],
        next_cursor=encode_cursor(page.last) if page.last is not None else None,
    )


@router.get(
    "/communities/{community}/segments",
    response_model=SegmentsView,
    summary="Exact member counts per segment (O(1) counters, one atomic snapshot)",
)
async def segment_counts(community: CommunityId, store: Store = Depends(get_store)) -> SegmentsView:
    counts = await store.counts(community)
    if counts.total == 0:
        raise ApiError(404, "community_not_found", f"no member known in community {community!r}")
    return SegmentsView(
        community=community,
        total=counts.total,
        segments=SegmentCountsView(**{s.value: counts.segments[s] for s in Segment}),
    )


@router.get(
    "/communities/{community}/members/{member}/transitions",
    response_model=TransitionHistory,
    summary="A member's transitions, newest first",
)
async def member_transitions(
    community: CommunityId,
    member: MemberId,
    limit: HistoryLimit = DEFAULT_PAGE,
    store: Store = Depends(get_store),
) -> TransitionHistory:
    known, transitions = await store.history(community, member, limit)
    if not known:
        raise _member_not_found(community, member)
    return TransitionHistory(community=community, member=member, transitions=transitions)


_STREAM_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "text/event-stream: `event: transition`, `id` = stream id, `data` = "
        "MemberTransition CloudEvents JSON; `: heartbeat` comments while idle; a final "
        '`event: error` with `{"error":"redis_unavailable"}` if Redis goes away.',
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    },
    **json_error_docs(401, 404, 422, 503),
}


@stream_router.get(
    "/communities/{community}/transitions/stream",
    summary="Live transitions of a community as Server-Sent Events",
    response_class=EventStreamResponse,
    responses=_STREAM_DOC,
)
async def transition_stream(
    request: Request,
    community: CommunityId,
    last_event_id_header: LastEventIdHeader = None,
    last_event_id: LastEventIdQuery = None,
    store: Store = Depends(get_store),
) -> EventStreamResponse:
    # Fixed before the response starts: a Redis outage is still a clean 503 JSON here, and so
    # is a stream over the caps (services/api/live.py).
    after = last_event_id_header or last_event_id or await store.last_stream_id(community)
    subscription = request.app.state.live.subscribe(community, after, request.state.api_key)
    return EventStreamResponse(
        transition_events(subscription, request.app.state.sse_heartbeat_seconds),
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        on_close=subscription.close,
    )
