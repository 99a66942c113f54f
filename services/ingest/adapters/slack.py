"""Slack Events API (``event_callback`` envelopes) → engagement events.

Event key = the inner ``event.type``; a ``message`` becomes ``message`` (starts a thread) or
``message.reply`` (``thread_ts`` differs from ``ts``; Slack names the parent's author in
``parent_user_id``). Other message subtypes (edits, deletions, bot and join notices) key as
``message.<subtype>`` and are not in the table. User mentions (``<@U123>``) in a message add one
``mention`` per mentioned member. The community is ``team_id``; the delivery id is ``event_id``
(the same on Slack's retries). ``url_verification`` is answered with its challenge.
"""

from __future__ import annotations

import re
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
    utf8_clean,
)

_MENTION = re.compile(r"<@([UW][A-Z0-9]{2,30})(?:\|[^>]*)?>")
# Subtypes that are still a member writing a message (a broadcast reply, a message with a file).
_MESSAGE_SUBTYPES = {None, "thread_broadcast", "file_share"}

_MESSAGE_ID = ("event.channel", "event.ts")


def _mentions_rule(thread: str, exclude: tuple[str, ...] = ()) -> Rule:
    return Rule(
        Kind.MENTION,
        member="event.user",
        target="$mentions",
        occurred_at=("event.ts",),
        channel="event.channel",
        thread=thread,
        object_id=_MESSAGE_ID,
        exclude=exclude,
        optional=True,
    )


TABLE: Table = {
    "message": (
        Rule(
            Kind.POST,
            member="event.user",
            occurred_at=("event.ts",),
            channel="event.channel",
            thread="event.ts",
            object_id=_MESSAGE_ID,
        ),
        _mentions_rule(thread="event.ts"),
    ),
    "message.reply": (
        Rule(
            Kind.REPLY,
            member="event.user",
            target="event.parent_user_id",
            occurred_at=("event.ts",),
            channel="event.channel",
            thread="event.thread_ts",
            object_id=_MESSAGE_ID,
        ),
        _mentions_rule(thread="event.thread_ts", exclude=("event.parent_user_id",)),
    ),
    "reaction_added": (
        Rule(
            Kind.REACT,
            member="event.user",
            target="event.item_user",
            occurred_at=("event.event_ts", "event_time"),
            channel="event.item.channel",
            thread="event.item.ts",
            object_id=("event.user", "event.reaction", "event.item.channel", "event.item.ts"),
        ),
    ),
    "member_joined_channel": (
        Rule(
            Kind.JOIN,
            member="event.user",
            occurred_at=("event.event_ts", "event_time"),
            channel="event.channel",
            object_id=("event.channel", "event.user", "$delivery"),
        ),
    ),
    "member_left_channel": (
        Rule(
            Kind.LEAVE,
            member="event.user",
            occurred_at=("event.event_ts", "event_time"),
            channel="event.channel",
            object_id=("event.channel", "event.user", "$delivery"),
        ),
    ),
    "team_join": (
        Rule(
            Kind.JOIN,
            member="event.user.id",
            occurred_at=("event.event_ts", "event_time"),
            object_id=("event.user.id",),
        ),
    ),
}


class SlackAdapter(Adapter):
    platform = Platform.SLACK
    table = TABLE

    def handshake(self, headers: Mapping[str, str], payload: Any) -> Handshake | None:
        if isinstance(payload, dict) and payload.get("type") == "url_verification":
            challenge = payload.get("challenge")
            if isinstance(challenge, str) and utf8_clean(challenge):
                return Handshake({"challenge": challenge})
        return None

    def delivery_id(self, headers: Mapping[str, str], payload: Any) -> str | None:
        event_id = payload.get("event_id") if isinstance(payload, dict) else None
        return event_id if isinstance(event_id, str) and event_id else None

    def event_key(self, delivery: Delivery) -> str:
        payload = delivery.payload
        envelope = payload.get("type")
        if envelope != "event_callback":
            return f"envelope.{envelope}"
        event_type = get_path(payload, "event.type")
        if event_type != "message":
            return str(event_type)
        subtype = get_path(payload, "event.subtype")
        if subtype not in _MESSAGE_SUBTYPES:
            return f"message.{subtype}"
        thread_ts = get_path(payload, "event.thread_ts")
        if thread_ts is not None and thread_ts != get_path(payload, "event.ts"):
            return "message.reply"
        return "message"

    def community(self, delivery: Delivery) -> str:
        team = get_path(delivery.payload, "team_id") or get_path(delivery.payload, "event.team")
        return community_id(team, "team_id")

    def derived(self, delivery: Delivery) -> dict[str, Any]:
        text = get_path(delivery.payload, "event.text")
        return {"mentions": _MENTION.findall(text) if isinstance(text, str) else []}


ADAPTER = SlackAdapter()
