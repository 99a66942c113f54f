"""One way for tests to build an EngagementEvent (what ingest would have produced)."""

from __future__ import annotations

from datetime import UTC, datetime

from invested.contracts import EngagementEvent, Kind


def engagement_event(
    community: str,
    event_id: str,
    member: str,
    kind: Kind | str,
    at: datetime,
    target: str | None = None,
    platform: str = "generic",
    received_at: datetime | None = None,
) -> EngagementEvent:
    return EngagementEvent.model_validate(
        {
            "id": event_id,
            "community": community,
            "platform": platform,
            "member": member,
            "kind": kind,
            "target_member": target,
            "occurred_at": at,
            "received_at": received_at or datetime.now(UTC),
        }
    )
