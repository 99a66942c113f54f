"""Slack Events API (``event_callback`` envelopes) → engagement events.

Event key = the inner ``event.type``; a ``message`` becomes ``message`` (starts a thread) or
``message.reply`` (``thread_ts`` differs from ``ts``; Slack names the parent's author in
``parent_user_id``). Subtypes that are still someone writing (a broadcast reply, a file, ``/me``,
a ``bot_message``) map like plain messages; other subtypes (edits, deletions, join notices) key as
``message.<subtype>`` and are ignored. User mentions (``<@U123>``) add one ``mention`` per
mentioned member. The community is ``team_id``; the delivery id is ``event_id`` (the same on
Slack's retries; it is in the signed body). ``url_verification`` is answered with its challenge.

Bots: a message with ``bot_id`` (modern apps send it next to ``user``), ``bot_profile``, an
``app_id``, the ``bot_message`` subtype or the user ``USLACKBOT``; a user object with ``is_bot``
or ``is_app_user``. A ``bot_message`` has no ``user``: its member is the ``bot_id``.
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
    getter,
    utf8_clean,
)

_MENTION = re.compile(r"<@([UW][A-Z0-9]{2,30})(?:\|[^>]*)?>")
# Subtypes that are still a member (or an app) writing a message.
_MESSAGE_SUBTYPES = {None, "thread_broadcast", "file_share", "me_message", "bot_message"}
SLACKBOT = "USLACKBOT"
USER_DEACTIVATED_KEY = "user_change.deleted"

_MESSAGE_ID = ("event.channel", "event.ts")
_EVENT_TIME = ("event.event_ts", "event_time")

_event = getter("event")
_user_object = getter("event.user")


def _message_by_bot(payload: Any) -> bool:
    event = _event(payload)
    if not isinstance(event, dict):
        return False
    return (
        event.get("bot_id") is not None
        or event.get("bot_profile") is not None
        or event.get("app_id") is not None
        or event.get("subtype") == "bot_message"
        or event.get("user") == SLACKBOT
    )


def _user_is_bot(payload: Any) -> bool:
    user = _user_object(payload)
    return isinstance(user, dict) and (
        user.get("is_bot") is True or user.get("is_app_user") is True or user.get("id") == SLACKBOT
    )


def _verified_email(payload: Any) -> str | None:
    user = _user_object(payload)
    if not isinstance(user, dict) or user.get("is_email_confirmed") is False:
        return None
    profile = user.get("profile")
    email = profile.get("email") if isinstance(profile, dict) else None
    return email if isinstance(email, str) and "@" in email else None


def _message_rule(kind: Kind, target: str | None, thread: str) -> Rule:
    return Rule(
        kind,
        member="$actor",
        target=target,
        occurred_at=("event.ts",),
        channel="event.channel",
        thread=thread,
        object_id=_MESSAGE_ID,
        member_handle="$handle",
        member_bot=_message_by_bot,
    )


def _mentions_rule(thread: str, exclude: tuple[str, ...] = ()) -> Rule:
    return Rule(
        Kind.MENTION,
        member="$actor",
        target="$mentions",
        occurred_at=("event.ts",),
        channel="event.channel",
        thread=thread,
        object_id=_MESSAGE_ID,
        exclude=exclude,
        optional=True,
        member_handle="$handle",
        member_bot=_message_by_bot,
    )


def _membership_rule(kind: Kind) -> Rule:
    # The channel stays on the event: standing interest is held per channel.
    return Rule(
        kind,
        member="event.user",
        occurred_at=_EVENT_TIME,
        channel="event.channel",
        object_id=("event.channel", "event.user", "event_time"),
    )


def _workspace_rule(kind: Kind) -> Rule:
    # team_join and user_change name one act, being a member of the workspace: one id.
    return Rule(
        kind,
        member="event.user.id",
        occurred_at=_EVENT_TIME,
        object_id=("event.user.id",),
        member_handle="event.user.name",
        member_bot=_user_is_bot,
        member_email=_verified_email,
    )


TABLE: Table = {
    "message": (
        _message_rule(Kind.POST, target=None, thread="event.ts"),
        _mentions_rule(thread="event.ts"),
    ),
    "message.reply": (
        _message_rule(Kind.REPLY, target="event.parent_user_id", thread="event.thread_ts"),
        _mentions_rule(thread="event.thread_ts", exclude=("event.parent_user_id",)),
    ),
    "reaction_added": (
        Rule(
            Kind.REACT,
            member="event.user",
            target="event.item_user",
            occurred_at=_EVENT_TIME,
            channel="event.item.channel",
            thread="event.item.ts",
            object_id=("event.user", "event.reaction", "$item"),
        ),
    ),
    "member_joined_channel": (_membership_rule(Kind.JOIN),),
    "member_left_channel": (_membership_rule(Kind.LEAVE),),
    "team_join": (_workspace_rule(Kind.JOIN),),
    "user_change": (_workspace_rule(Kind.JOIN),),
    USER_DEACTIVATED_KEY: (_workspace_rule(Kind.LEAVE),),
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

    def delivery_id(self, delivery: Delivery) -> str | None:
        payload = delivery.payload
        event_id = payload.get("event_id") if isinstance(payload, dict) else None
        return event_id if isinstance(event_id, str) and event_id else None

    def event_key(self, delivery: Delivery) -> str:
        payload = delivery.payload
        envelope = payload.get("type")
        if envelope != "event_callback":
            return f"envelope.{envelope}"
        event_type = get_path(payload, "event.type")
        if event_type == "user_change" and get_path(payload, "event.user.deleted") is True:
            return USER_DEACTIVATED_KEY
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
        event = delivery.payload.get("event")
        if not isinstance(event, dict):
            return {}
        text = event.get("text")
        user = event.get("user")
        profile = event.get("bot_profile")
        item = event.get("item")
        if isinstance(item, dict):
            # A reaction to a message (channel + ts) or to a file / file comment.
            item_id = (
                f"{item.get('channel')}:{item.get('ts')}"
                if item.get("ts") is not None
                else item.get("file_comment") or item.get("file")
            )
        else:
            item_id = None
        return {
            "mentions": _MENTION.findall(text) if isinstance(text, str) else [],
            "actor": user if user is not None else event.get("bot_id"),
            "handle": profile.get("name") if isinstance(profile, dict) else event.get("username"),
            "item": item_id,
        }


ADAPTER = SlackAdapter()
