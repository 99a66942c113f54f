"""Discourse webhooks → engagement events.

Event key = the ``X-Discourse-Event`` header (``post_created``, ``post_liked``, ``user_created``,
...); ``post_created`` splits into ``post_created.topic`` (post number 1 starts a topic) and
``post_created.reply``. Members are usernames: it is the one identity every payload carries,
including ``reply_to_user`` (which has no user id). The community is the host of
``X-Discourse-Instance``; the delivery id is ``X-Discourse-Event-Id`` on that instance. The
``ping`` event is answered as a handshake.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from invested.contracts import Kind, Platform
from services.ingest.adapters.common import (
    NO_COMMUNITY,
    Adapter,
    Delivery,
    Handshake,
    Rule,
    Table,
    Unmappable,
    community_id,
    get_path,
)

TABLE: Table = {
    "post_created.topic": (
        Rule(
            Kind.POST,
            member="post.username",
            occurred_at=("post.created_at",),
            channel="post.category_id",
            thread="post.topic_id",
            object_id=("post.id",),
        ),
    ),
    "post_created.reply": (
        Rule(
            Kind.REPLY,
            member="post.username",
            # Absent when the post answers the topic as a whole rather than one post.
            target="post.reply_to_user.username",
            occurred_at=("post.created_at",),
            channel="post.category_id",
            thread="post.topic_id",
            object_id=("post.id",),
        ),
    ),
    "post_liked": (
        Rule(
            Kind.REACT,
            member="like.user.username",
            target="like.post.username",
            # The like payload carries no time of its own: the receive time stands in.
            channel="like.post.category_id",
            thread="like.post.topic_id",
            object_id=("like.post.id", "like.user.username"),
        ),
    ),
    "user_created": (
        Rule(
            Kind.JOIN,
            member="user.username",
            occurred_at=("user.created_at",),
            object_id=("user.id",),
        ),
    ),
    "user_destroyed": (
        Rule(
            Kind.LEAVE,
            member="user.username",
            object_id=("user.id", "$delivery"),
        ),
    ),
}


def instance_host(headers: Mapping[str, str]) -> str | None:
    """``https://forum.example.com`` → ``forum.example.com`` (the header is a base URL)."""
    instance = headers.get("x-discourse-instance")
    if not instance:
        return None
    host = urlsplit(instance).netloc if "://" in instance else instance
    return host.strip().lower() or None


class DiscourseAdapter(Adapter):
    platform = Platform.DISCOURSE
    table = TABLE

    def handshake(self, headers: Mapping[str, str], payload: Any) -> Handshake | None:
        if "ping" in (headers.get("x-discourse-event"), headers.get("x-discourse-event-type")):
            return Handshake({"status": "pong"})
        return None

    def delivery_id(self, headers: Mapping[str, str], payload: Any) -> str | None:
        event_id = headers.get("x-discourse-event-id")
        if not event_id:
            return None
        return f"{instance_host(headers) or '-'}#{event_id}"

    def event_key(self, delivery: Delivery) -> str:
        event = delivery.headers.get("x-discourse-event") or "(no X-Discourse-Event)"
        if event == "post_created":
            return (
                "post_created.topic"
                if get_path(delivery.payload, "post.post_number") == 1
                else "post_created.reply"
            )
        return event

    def community(self, delivery: Delivery) -> str:
        host = instance_host(delivery.headers)
        if host is None:
            raise Unmappable(NO_COMMUNITY, "X-Discourse-Instance header")
        return community_id(host, "X-Discourse-Instance")


ADAPTER = DiscourseAdapter()
