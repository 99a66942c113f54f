"""Discord → engagement events, through a gateway-to-webhook bridge; interactions answered.

Discord delivers messages, reactions and member joins over its Gateway (a websocket), not as
webhooks. A small bridge (a bot on the Gateway) forwards each dispatch it receives as one signed
HTTP POST in this shape (README "Ingest / Discord"):

```json
{"v": 1, "id": "<bridge delivery id, the same on retries>", "t": "<dispatch name>",
 "timestamp": "<ISO 8601, when the bridge received it>", "d": {<the dispatch data, unchanged>}}
```

signed like Discord's own outgoing requests: ``X-Signature-Ed25519`` = hex Ed25519 signature of
``X-Signature-Timestamp`` + body. Event key = ``t``; ``MESSAGE_CREATE`` of message type 19 (a
reply) keys as ``MESSAGE_CREATE.reply``; system messages (joins, boosts, pins) as
``MESSAGE_CREATE.system`` (ignored). The community is ``d.guild_id``. Bots: ``author.bot``,
``author.system`` or a ``webhook_id`` on the message; ``user.bot`` elsewhere.

The same route is the application's interactions endpoint (:mod:`.discord_interactions`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from invested.contracts import Kind, Platform
from services.ingest.adapters.common import (
    MISSING_FIELD,
    Adapter,
    Delivery,
    Handshake,
    Rule,
    Table,
    Unmappable,
    community_id,
    get_path,
    getter,
)
from services.ingest.adapters.discord_interactions import answer_directly

MESSAGE_DEFAULT = 0
MESSAGE_REPLY = 19
# Messages an application posts in answer to a command: its author is the app (a bot).
MESSAGE_COMMAND_ANSWERS = {20, 23}
SYSTEM_MESSAGE = "system_message"

_author = getter("d.author")
_webhook_id = getter("d.webhook_id")
_mentions = getter("d.mentions")


def _message_by_bot(payload: Any) -> bool:
    author = _author(payload)
    return _webhook_id(payload) is not None or (
        isinstance(author, dict) and (author.get("bot") is True or author.get("system") is True)
    )


def _flag(path: str) -> Callable[[Any], bool]:
    read = getter(path)
    return lambda payload: read(payload) is True


def _mentioned(field: str) -> Callable[[Any, str], Any]:
    """A fact about a mentioned user, looked up by id in ``d.mentions``."""

    def fact(payload: Any, target: str) -> Any:
        mentions = _mentions(payload)
        for user in mentions if isinstance(mentions, list) else ():
            if isinstance(user, dict) and str(user.get("id")) == target:
                return user.get(field)
        return None

    return fact


def _target(path: str) -> Callable[[Any, str], Any]:
    read = getter(path)
    return lambda payload, target: read(payload)


def _message_rule(kind: Kind, thread: str, target: str | None = None) -> Rule:
    return Rule(
        kind,
        member="d.author.id",
        target=target,
        occurred_at=("d.timestamp", "timestamp"),
        channel="d.channel_id",
        thread=thread,
        object_id=("d.id",),
        member_handle="d.author.username",
        member_bot=_message_by_bot,
        target_handle=_target("d.referenced_message.author.username") if target else None,
        target_bot=_target("d.referenced_message.author.bot") if target else None,
    )


def _mentions_rule(thread: str, exclude: tuple[str, ...] = ()) -> Rule:
    is_bot = _mentioned("bot")
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
        member_handle="d.author.username",
        member_bot=_message_by_bot,
        target_handle=_mentioned("username"),
        target_bot=lambda payload, target: is_bot(payload, target) is True,
    )


TABLE: Table = {
    "MESSAGE_CREATE": (
        _message_rule(Kind.POST, thread="d.id"),
        _mentions_rule(thread="d.id"),
    ),
    "MESSAGE_CREATE.reply": (
        _message_rule(
            Kind.REPLY,
            thread="d.message_reference.message_id",
            target="d.referenced_message.author.id",
        ),
        _mentions_rule(
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
            object_id=("d.message_id", "d.user_id", "$emoji"),
            member_handle="d.member.user.username",
            member_bot=_flag("d.member.user.bot"),
        ),
    ),
    # Membership: the join carries its own time; a removal only the bridge's receive time.
    "GUILD_MEMBER_ADD": (
        Rule(
            Kind.JOIN,
            member="d.user.id",
            occurred_at=("d.joined_at", "timestamp"),
            object_id=("d.user.id", "d.joined_at"),
            member_handle="d.user.username",
            member_bot=_flag("d.user.bot"),
        ),
    ),
    "GUILD_MEMBER_REMOVE": (
        Rule(
            Kind.LEAVE,
            member="d.user.id",
            occurred_at=("timestamp",),
            object_id=("d.user.id", "timestamp"),
            member_handle="d.user.username",
            member_bot=_flag("d.user.bot"),
        ),
    ),
}


class DiscordAdapter(Adapter):
    platform = Platform.DISCORD
    table = TABLE
    ignored = {"MESSAGE_CREATE.system": SYSTEM_MESSAGE}

    def handshake(self, headers: Mapping[str, str], payload: Any) -> Handshake | None:
        if not isinstance(payload, dict) or "t" in payload:
            return None  # a bridge dispatch
        return answer_directly(payload)

    def delivery_id(self, delivery: Delivery) -> str | None:
        payload = delivery.payload
        value = payload.get("id") if isinstance(payload, dict) else None
        return str(value) if isinstance(value, str | int) and not isinstance(value, bool) else None

    def event_key(self, delivery: Delivery) -> str:
        name = delivery.payload.get("t")
        if not isinstance(name, str) or not name:
            raise Unmappable(MISSING_FIELD, "t (the bridge's dispatch name)")
        if name == "MESSAGE_CREATE":
            message_type = get_path(delivery.payload, "d.type")
            if message_type == MESSAGE_REPLY:
                return "MESSAGE_CREATE.reply"
            if message_type not in (None, MESSAGE_DEFAULT, *MESSAGE_COMMAND_ANSWERS):
                return "MESSAGE_CREATE.system"
        return name

    def community(self, delivery: Delivery) -> str:
        return community_id(get_path(delivery.payload, "d.guild_id"), "d.guild_id")

    def derived(self, delivery: Delivery) -> dict[str, Any]:
        emoji = get_path(delivery.payload, "d.emoji")
        if not isinstance(emoji, dict):
            return {}
        # A custom emoji is named by its id, a standard one by its name (its id is null).
        return {"emoji": emoji.get("id") or emoji.get("name")}


ADAPTER = DiscordAdapter()
