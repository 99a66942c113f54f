"""Any Standard Webhooks sender → engagement events, in Invested's own vocabulary.

The payload follows the Standard Webhooks envelope (``type``, ``timestamp``, ``data``):

```json
{"type": "engagement.reply", "timestamp": "2024-05-01T12:00:00Z",
 "data": {"community": "acme-events", "member": "u-17", "target_member": "u-3",
          "channel": "meetup-berlin", "thread": "t-9", "id": "rsvp-881",
          "occurred_at": "2024-05-01T11:58:00Z"}}
```

``type`` is ``engagement.<kind>`` for every kind (``engagement.attend``, ``engagement.feedback``,
...) or one of a few common aliases (``member.joined``, ``reaction.added``, ...); other types are
ignored. ``data.community`` and ``data.member`` are required; ``data.id`` (else the
``webhook-id``, which Standard Webhooks signs with the body) makes the event id;
``data.occurred_at`` (else the envelope ``timestamp``) is the event time.
"""

from __future__ import annotations

from typing import Any

from invested.contracts import Kind, Platform
from services.ingest.adapters.common import (
    Adapter,
    Delivery,
    Rule,
    Table,
    community_id,
    get_path,
)

ALIASES: dict[str, Kind] = {
    "member.joined": Kind.JOIN,
    "member.left": Kind.LEAVE,
    "post.created": Kind.POST,
    "comment.created": Kind.COMMENT,
    "reply.created": Kind.REPLY,
    "reaction.added": Kind.REACT,
    "follow.created": Kind.FOLLOW,
    "follow.deleted": Kind.UNFOLLOW,
    "subscription.created": Kind.SUBSCRIBE,
    "subscription.deleted": Kind.UNSUBSCRIBE,
}


def _rule(kind: Kind) -> Rule:
    return Rule(
        kind,
        member="data.member",
        target="data.target_member",
        occurred_at=("data.occurred_at", "timestamp"),
        channel="data.channel",
        thread="data.thread",
        object_id=("$object",),
    )


TABLE: Table = {
    **{f"engagement.{kind.value}": (_rule(kind),) for kind in Kind},
    **{name: (_rule(kind),) for name, kind in ALIASES.items()},
}


class GenericAdapter(Adapter):
    platform = Platform.GENERIC
    table = TABLE

    def delivery_id(self, delivery: Delivery) -> str | None:
        return delivery.headers.get("webhook-id") or None

    def event_key(self, delivery: Delivery) -> str:
        kind = delivery.payload.get("type")
        return kind if isinstance(kind, str) and kind else "(no type)"

    def community(self, delivery: Delivery) -> str:
        return community_id(get_path(delivery.payload, "data.community"), "data.community")

    def derived(self, delivery: Delivery) -> dict[str, Any]:
        object_id = get_path(delivery.payload, "data.id")
        if isinstance(object_id, bool) or not isinstance(object_id, str | int) or object_id == "":
            object_id = delivery.delivery_id
        return {"object": object_id}


ADAPTER = GenericAdapter()
