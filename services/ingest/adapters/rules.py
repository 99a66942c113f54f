"""Mapping rules: how one payload of one event key becomes events, and how an event is built.

A :class:`Rule` names, by payload path, who acted, who the act is aimed at, when it happened and
which platform object ids make the event id, plus what the payload says about the people
involved (handle, bot or not, a verified e-mail). The event id is ``platform, community, kind,
object ids`` (and the target, for a rule fanning out over several): the delivery, the event key
and anything outside the signed body stay out of it, so retries, replays and the paired
notifications of one act (an inline review comment and its review) give the same id.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from pydantic import ValidationError

from invested.contracts import EngagementEvent, Kind, Platform, Role, email_digest, stable_id
from services.ingest.adapters.payload import (
    INVALID_FIELD,
    MISSING,
    MISSING_FIELD,
    Ignored,
    Reader,
    Unmappable,
    as_id,
    optional_text,
    parse_time,
    reader,
)

# What a payload says about a target member, given the payload and the target's id.
TargetFact = Callable[[Any, str], Any]


@dataclass(frozen=True)
class Rule:
    """How one event key becomes one event (or, with a fan-out target, one per target).

    ``member``/``target``/``channel``/``thread``/``member_handle`` are paths; ``occurred_at``
    lists candidate paths (first present wins, else the receive time); ``object_id`` lists the
    paths whose values make the event id; ``skip_reason`` returns None when the rule applies, else
    why the payload is not counted (a PR closed unmerged); ``exclude`` lists paths whose member
    ids a fan-out must skip (a reply's mention of the parent). ``member_bot``/``member_email`` and
    ``target_bot``/``target_handle`` read what the payload says about the people involved.
    """

    kind: Kind
    member: str
    object_id: tuple[str, ...]
    target: str | None = None
    occurred_at: tuple[str, ...] = ()
    channel: str | None = None
    thread: str | None = None
    skip_reason: Callable[[Any], str | None] | None = None
    exclude: tuple[str, ...] = ()
    optional: bool = False  # a supplementary rule (mentions): no target, no event, no error
    member_handle: str | None = None
    member_bot: Callable[[Any], bool] | None = None
    member_email: Callable[[Any], str | None] | None = None
    target_handle: TargetFact | None = None
    target_bot: TargetFact | None = None

    @functools.cached_property
    def readers(self) -> RuleReaders:
        """The rule's paths as readers, built on first use (``apply_rule`` runs per webhook)."""

        def optional(path: str | None) -> Reader | None:
            return None if path is None else reader(path)

        return RuleReaders(
            member=reader(self.member),
            target=optional(self.target),
            exclude=tuple(reader(path) for path in self.exclude),
            occurred_at=tuple((path, reader(path)) for path in self.occurred_at),
            object_id=tuple((path, reader(path)) for path in self.object_id),
            channel=optional(self.channel),
            thread=optional(self.thread),
            member_handle=optional(self.member_handle),
        )


class RuleReaders(NamedTuple):
    member: Reader
    target: Reader | None
    exclude: tuple[Reader, ...]
    occurred_at: tuple[tuple[str, Reader], ...]
    object_id: tuple[tuple[str, Reader], ...]
    channel: Reader | None
    thread: Reader | None
    member_handle: Reader | None


@dataclass
class Context:
    """What rules resolve against: the payload and the adapter's derived ``$`` values."""

    payload: Any
    derived: dict[str, Any] = field(default_factory=dict)


def apply_rules(
    platform: Platform,
    community: str,
    event_key: str,
    rules: tuple[Rule, ...],
    context: Context,
    received_at: datetime,
) -> list[EngagementEvent]:
    """Every event the rules produce from one payload; :class:`Ignored` when every rule skips it."""
    events: list[EngagementEvent] = []
    skipped = ""
    applied = False
    for rule in rules:
        if rule.skip_reason is not None:
            reason = rule.skip_reason(context.payload)
            if reason is not None:
                skipped = skipped or reason
                continue
        applied = True
        events.extend(apply_rule(platform, community, event_key, rule, context, received_at))
    if not applied:
        raise Ignored(skipped, event_key)
    return events


def apply_rule(
    platform: Platform,
    community: str,
    event_key: str,
    rule: Rule,
    context: Context,
    received_at: datetime,
) -> list[EngagementEvent]:
    payload, derived = context.payload, context.derived
    readers = rule.readers
    raw_member = readers.member(payload, derived)
    if raw_member is MISSING or raw_member is None:
        raise Unmappable(MISSING_FIELD, rule.member, event_key)
    member = as_id(raw_member, rule.member)

    fan_out = False
    targets: list[str | None]
    if readers.target is None:
        targets = [None]
    else:
        raw_target = readers.target(payload, derived)
        if isinstance(raw_target, list):
            fan_out = True
            excluded = {member}
            for read in readers.exclude:
                value = read(payload, derived)
                if isinstance(value, str | int) and not isinstance(value, bool):
                    excluded.add(str(value))
            seen: list[str | None] = []
            for item in raw_target:
                if isinstance(item, str | int) and not isinstance(item, bool):
                    text = str(item)
                    if text not in excluded and text not in seen:
                        seen.append(text)
            targets = seen
        elif raw_target is MISSING or raw_target is None:
            targets = [] if rule.optional else [None]
        else:
            single = as_id(raw_target, rule.target or "")
            # Acting on one's own thing has no "other member" (commenting on one's own issue).
            targets = [None if single == member else single]
    if not targets:
        return []

    occurred_at = received_at
    for path, read in readers.occurred_at:
        value = read(payload, derived)
        if value is not MISSING and value is not None:
            occurred_at = parse_time(value, path)
            break

    id_parts: list[str] = [platform, community, rule.kind]  # StrEnums are their values
    for path, read in readers.object_id:
        value = read(payload, derived)
        if value is MISSING or value is None:
            raise Unmappable(MISSING_FIELD, path, event_key)
        id_parts.append(as_id(value, path))

    channel = optional_text(readers.channel(payload, derived)) if readers.channel else None
    thread = optional_text(readers.thread(payload, derived)) if readers.thread else None
    handle = (
        optional_text(readers.member_handle(payload, derived)) if readers.member_handle else None
    )
    role = Role.BOT if rule.member_bot is not None and rule.member_bot(payload) else None
    address = rule.member_email(payload) if rule.member_email is not None else None
    events = []
    for target in targets:
        event_id = stable_id(*id_parts, target or "") if fan_out else stable_id(*id_parts)
        target_handle = target_role = None
        if target is not None:
            if rule.target_handle is not None:
                target_handle = optional_text(rule.target_handle(payload, target))
            if rule.target_bot is not None and rule.target_bot(payload, target):
                target_role = Role.BOT
        events.append(
            make_event(
                event_key,
                id=event_id,
                community=community,
                platform=platform,
                member=member,
                kind=rule.kind,
                target_member=target,
                channel=channel,
                thread=thread,
                occurred_at=occurred_at,
                received_at=received_at,
                member_handle=handle,
                member_role=role,
                member_email_sha256=email_digest(address) if address else None,
                target_handle=target_handle,
                target_role=target_role,
            )
        )
    return events


def make_event(event_key: str, **fields: Any) -> EngagementEvent:
    """The contract's event from its fields, or :class:`Unmappable` naming the rejected fields."""
    try:
        return EngagementEvent.model_validate(fields)
    except ValidationError as exc:
        names = ",".join(str(e["loc"][0]) for e in exc.errors() if e["loc"])
        raise Unmappable(INVALID_FIELD, names, event_key) from None
