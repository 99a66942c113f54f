"""Discourse webhooks → engagement events.

Event key = the ``X-Discourse-Event`` header; ``post_created`` and ``post_edited`` split into
``.topic`` (post number 1 starts a topic) and ``.reply``, and both map alike: a post and its edits
are one act (one id, from the post id). Small actions (``post_type`` 3), whispers (4), moderator
actions (2) and anything in a private message are ignored. Members are usernames: the one
identity every payload carries, including ``reply_to_user`` (which has no user id). Bots: user
ids ≤ 0 (``system`` is -1, ``discobot`` -2) and, for a replied-to user named without an id,
those two reserved names.

The community is the instance the verifying secret is bound to
(:mod:`services.ingest.verifiers`), never the unsigned ``X-Discourse-Instance`` header. The post
payload (``WebHookPostSerializer``) names no topic author: a reply to the topic as a whole
(``reply_to_post_number`` null, no ``reply_to_user``) has no target member; its ``thread`` is the
topic id, as on the topic's first post. The ``ping`` event is answered as a handshake.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from invested.contracts import Kind, Platform
from services.ingest.adapters.common import (
    MISSING_FIELD,
    NO_COMMUNITY,
    Adapter,
    Delivery,
    Handshake,
    Rule,
    Table,
    Unmappable,
    get_path,
    getter,
)

# Ignored reasons of Discourse posts.
MODERATOR_ACTION = "moderator_action"
SMALL_ACTION = "small_action"
WHISPER = "whisper"
PRIVATE_MESSAGE = "private_message"
_POST_TYPES = {2: MODERATOR_ACTION, 3: SMALL_ACTION, 4: WHISPER}  # 1 is a regular post
_RESERVED_BOTS = {"system", "discobot"}


def _not_counted(post: str) -> Any:
    post_type, archetype = getter(f"{post}.post_type"), getter(f"{post}.topic_archetype")

    def reason(payload: Any) -> str | None:
        if archetype(payload) == "private_message":
            return PRIVATE_MESSAGE
        return _POST_TYPES.get(post_type(payload))

    return reason


def _system_user(user_id: str) -> Any:
    read = getter(user_id)

    def is_bot(payload: Any) -> bool:
        value = read(payload)
        return isinstance(value, int) and not isinstance(value, bool) and value <= 0

    return is_bot


def _reserved_name(username: str) -> Any:
    read = getter(username)
    return lambda payload, target: read(payload) in _RESERVED_BOTS


def _post_rule(kind: Kind, target: str | None = None) -> Rule:
    return Rule(
        kind,
        member="post.username",
        # Absent on a reply: when the post answers the topic as a whole rather than one post.
        target=target,
        occurred_at=("post.created_at",),
        channel="post.category_id",
        thread="post.topic_id",
        object_id=("post.id",),
        skip_reason=_not_counted("post"),
        member_handle="post.username",
        member_bot=_system_user("post.user_id"),
        target_handle=(lambda payload, target: target) if target else None,
        target_bot=_reserved_name("post.reply_to_user.username") if target else None,
    )


_TOPIC = (_post_rule(Kind.POST),)
_REPLY = (_post_rule(Kind.REPLY, target="post.reply_to_user.username"),)
_user_email = getter("user.email")
_liked_post_by_bot = _system_user("like.post.user_id")


def _email(payload: Any) -> str | None:
    email = _user_email(payload)
    return email if isinstance(email, str) and "@" in email else None


TABLE: Table = {
    "post_created.topic": _TOPIC,
    "post_created.reply": _REPLY,
    "post_edited.topic": _TOPIC,
    "post_edited.reply": _REPLY,
    "post_liked": (
        Rule(
            Kind.REACT,
            member="like.user.username",
            target="like.post.username",
            # The like payload carries no time of its own: the receive time stands in.
            channel="like.post.category_id",
            thread="like.post.topic_id",
            object_id=("like.post.id", "like.user.username"),
            skip_reason=_not_counted("like.post"),
            member_handle="like.user.username",
            member_bot=_system_user("like.user.id"),
            target_handle=lambda payload, target: target,
            target_bot=lambda payload, target: _liked_post_by_bot(payload),
        ),
    ),
    "user_created": (
        Rule(
            Kind.JOIN,
            member="user.username",
            occurred_at=("user.created_at",),
            object_id=("user.id",),
            member_handle="user.username",
            member_bot=_system_user("user.id"),
            member_email=_email,
        ),
    ),
    "user_destroyed": (
        Rule(
            Kind.LEAVE,
            member="user.username",
            object_id=("user.id",),
            member_handle="user.username",
            member_bot=_system_user("user.id"),
        ),
    ),
}
_POST_EVENTS = {"post_created", "post_edited"}


class DiscourseAdapter(Adapter):
    platform = Platform.DISCOURSE
    table = TABLE

    def handshake(self, headers: Mapping[str, str], payload: Any) -> Handshake | None:
        if "ping" in (headers.get("x-discourse-event"), headers.get("x-discourse-event-type")):
            return Handshake({"status": "pong"})
        return None

    def delivery_id(self, delivery: Delivery) -> str | None:
        event_id = delivery.headers.get("x-discourse-event-id")
        if not event_id:
            return None
        # Event ids count per instance: the bound instance keeps them apart.
        return f"{delivery.bound_community or '-'}#{event_id}"

    def event_key(self, delivery: Delivery) -> str:
        event = delivery.headers.get("x-discourse-event")
        if not event:
            raise Unmappable(MISSING_FIELD, "X-Discourse-Event header")
        if event in _POST_EVENTS:
            first = get_path(delivery.payload, "post.post_number") == 1
            return f"{event}.topic" if first else f"{event}.reply"
        return event

    def community(self, delivery: Delivery) -> str:
        if delivery.bound_community is None:
            raise Unmappable(NO_COMMUNITY, "no instance bound to the verifying secret")
        return delivery.bound_community


ADAPTER = DiscourseAdapter()
