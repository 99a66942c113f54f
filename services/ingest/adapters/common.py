"""The machinery every platform adapter shares: the delivery, direct answers and the adapter base.

A platform adapter is data: a table from an *event key* (e.g. ``issue_comment.created``,
``message.reply``) to the :class:`~services.ingest.adapters.rules.Rule`\\ s that turn one payload
into events. An authentic delivery ends in one of four ways: events; a direct answer
(:class:`Handshake`: an endpoint check or a Discord interaction); :class:`Ignored` (an event we do
not count, answered 200 and dropped); or :class:`Unmappable` (a mapped event that could not be
mapped, dead-lettered with the raw payload: nothing we should count is silently dropped).

Payload reading lives in :mod:`~services.ingest.adapters.payload`, rules in
:mod:`~services.ingest.adapters.rules`; both are re-exported here for the adapters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from invested.contracts import EngagementEvent, Platform
from services.ingest.adapters.payload import (
    ADAPTER_ERROR,
    EVENT_NOT_MAPPED,
    INVALID_FIELD,
    INVALID_TIMESTAMP,
    MISSING,
    MISSING_FIELD,
    NO_COMMUNITY,
    NOT_AN_OBJECT,
    UNMAPPED_EVENT,
    Ignored,
    Unmappable,
    as_id,
    community_id,
    get_path,
    getter,
    optional_text,
    parse_time,
    require_object,
    safe_text,
    utf8_clean,
)
from services.ingest.adapters.rules import Context, Rule, apply_rules, make_event

__all__ = [
    "ADAPTER_ERROR",
    "EVENT_NOT_MAPPED",
    "INVALID_FIELD",
    "INVALID_TIMESTAMP",
    "MISSING",
    "MISSING_FIELD",
    "NO_COMMUNITY",
    "NOT_AN_OBJECT",
    "UNMAPPED_EVENT",
    "Adapter",
    "Context",
    "Delivery",
    "Handshake",
    "Ignored",
    "Rule",
    "Table",
    "Unmappable",
    "apply_rules",
    "as_id",
    "community_id",
    "get_path",
    "getter",
    "make_event",
    "optional_text",
    "parse_time",
    "require_object",
    "safe_text",
    "utf8_clean",
]

Table = Mapping[str, tuple[Rule, ...]]


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs ~2 µs a webhook
class Delivery:
    """One authentic webhook: parsed payload plus what the adapter may need from the request."""

    platform: Platform
    headers: Mapping[str, str]  # lower-case names
    payload: Any
    delivery_id: str
    received_at: datetime
    # The community the verifying secret is bound to (Discourse), else None.
    bound_community: str | None = None


@dataclass(frozen=True)
class Handshake:
    """An answer given directly, with no event: a platform's endpoint check (GitHub ping, Slack
    url_verification, Discord PING; outcome ``handshake``) or the answer to a Discord interaction
    (a slash command, a button; outcome ``interaction``)."""

    body: dict[str, Any] | None
    status: int = 200
    outcome: str = "handshake"
    reason: str = ""  # with outcome "ignored": why (Discord Webhook Events we do not map)


class Adapter:
    """One platform: its mapping table plus how to read key, community and ids from a delivery.

    ``ignored`` gives event keys a more specific ignored reason than ``event_not_mapped``.
    """

    platform: Platform
    table: Table
    ignored: Mapping[str, str] = {}

    def handshake(self, headers: Mapping[str, str], payload: Any) -> Handshake | None:
        return None

    def delivery_id(self, delivery: Delivery) -> str | None:
        """The platform's id of this delivery, the same on every retry (the dedupe key only:
        event ids never depend on it)."""
        raise NotImplementedError

    def event_key(self, delivery: Delivery) -> str:
        raise NotImplementedError

    def community(self, delivery: Delivery) -> str:
        raise NotImplementedError

    def derived(self, delivery: Delivery) -> dict[str, Any]:
        """Extra ``$`` values for the rules."""
        return {}

    def adapt(self, delivery: Delivery) -> list[EngagementEvent]:
        """Events from one authentic delivery, or :class:`Ignored` / :class:`Unmappable`."""
        payload = require_object(delivery.payload)
        key = self.event_key(delivery)
        rules = self.table.get(key)
        if rules is None:
            raise Ignored(self.ignored.get(key, EVENT_NOT_MAPPED), key)
        try:
            community = self.community(delivery)
            context = Context(payload, self.derived(delivery))
            return apply_rules(self.platform, community, key, rules, context, delivery.received_at)
        except Unmappable as exc:
            exc.event_key = exc.event_key or key
            raise
