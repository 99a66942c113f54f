"""Discord → engagement events, through a gateway-to-webhook bridge.

Discord delivers messages, reactions and member joins over its Gateway (a websocket), not as
webhooks. A small bridge (a bot on the Gateway) forwards each dispatch it receives as one signed
HTTP POST in this shape (README "Ingest / Discord"):

```json
{"v": 1, "id": "<bridge delivery id, the same on retries>", "t": "<dispatch name>",
 "timestamp": "<ISO 8601, when the bridge received it>", "d": {<the dispatch data, unchanged>}}
```

signed like Discord's own outgoing requests: ``X-Signature-Ed25519`` = hex Ed25519 signature of
``X-Signature-Timestamp`` + body. Event key = ``t``; ``MESSAGE_CREATE`` of message type 19 (a
reply) keys as ``MESSAGE_CREATE.reply``, other non-default message types as
``MESSAGE_CREATE.type<n>``. The community is ``d.guild_id``. Discord's own PING (interactions
endpoint, ``{"type": 1}``) is answered ``{"type": 1}``; a Webhook Events PING (``type`` 0) with 204.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from invested.contracts import Kind, Platform
from services.ingest.adapters.common import (
    Adapter,
    Delivery,
    Handshake,
    Rule,
    Table,
    community_id,
    get_path,
)

MESSAGE_DEFAULT = 0
MESSAGE_REPLY = 19


def _mentions(thread: str, exclude: tuple[str, ...] = ()) -> Rule:
    return Rule(
        Kind.MENTION,
        member="d.author.id",
        target="d.mentions.*.id",
        occurred_at=("d.timestamp", "timestamp"),
        channel="d.channel_id",
        thread=thread,
        object_id=("d.id",),
        exclude=exclude,
        optional=True,
    )


TABLE: Table = {
    "MESSAGE_CREATE": (
        Rule(
            Kind.POST,
            member="d.author.id",
            occurred_at=("d.timestamp", "timestamp"),
            channel="d.channel_id",
            thread="d.id",
            object_id=("d.id",),
        ),
        _mentions(thread="d.id"),
    ),
    "MESSAGE_CREATE.reply": (
        Rule(
            Kind.REPLY,
            member="d.author.id",
            target="d.referenced_message.author.id",
            occurred_at=("d.timestamp", "timestamp"),
            channel="d.channel_id",
            thread="d.message_reference.message_id",
            object_id=("d.id",),
        ),
        _mentions(
            thread="d.message_reference.message_id", exclude=("d.referenced_message.author.id",)
        ),
    ),
    "MESSAGE_REACTION_ADD": (
        Rule(
            Kind.REACT,
            member="d.user_id",
            target="d.message_author_id",
            occurred_at=("timestamp",),
            channel="d.channel_id",
            thread="d.message_id",
            object_id=("d.message_id", "d.user_id", "d.emoji.name"),
        ),
    ),
    "GUILD_MEMBER_ADD": (
        Rule(
            Kind.JOIN,
            member="d.user.id",
            occurred_at=("d.joined_at", "timestamp"),
            object_id=("d.user.id", "$delivery"),
        ),
    ),
    "GUILD_MEMBER_REMOVE": (
        Rule(
            Kind.LEAVE,
            member="d.user.id",
            occurred_at=("timestamp",),
            object_id=("d.user.id", "$delivery"),
        ),
    ),
}


class DiscordAdapter(Adapter):
    platform = Platform.DISCORD
    table = TABLE

    def handshake(self, headers: Mapping[str, str], payload: Any) -> Handshake | None:
        if not isinstance(payload, dict) or "t" in payload:
            return None
        if "event" in payload:  # a Webhook Events event (type 1), not a ping
            return None
        kind = payload.get("type")
        if kind == 1:  # interactions endpoint PING → PONG
            return Handshake({"type": 1})
        if kind == 0:  # Webhook Events PING → 204 No Content
            return Handshake(None, status=204)
        return None

    def delivery_id(self, headers: Mapping[str, str], payload: Any) -> str | None:
        value = payload.get("id") if isinstance(payload, dict) else None
        return str(value) if isinstance(value, str | int) and not isinstance(value, bool) else None

    def event_key(self, delivery: Delivery) -> str:
        name = delivery.payload.get("t")
        if not isinstance(name, str) or not name:
            return "(no bridge dispatch name t)"
        if name == "MESSAGE_CREATE":
            message_type = get_path(delivery.payload, "d.type")
            if message_type == MESSAGE_REPLY:
                return "MESSAGE_CREATE.reply"
            if message_type not in (None, MESSAGE_DEFAULT):
                return f"MESSAGE_CREATE.type{message_type}"
        return name

    def community(self, delivery: Delivery) -> str:
        return community_id(get_path(delivery.payload, "d.guild_id"), "d.guild_id")


ADAPTER = DiscordAdapter()
