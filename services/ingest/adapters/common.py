"""The machinery every platform adapter shares: mapping rules, payload paths, ids, timestamps.

A platform adapter is data: a table from an *event key* (e.g. ``issue_comment.created``,
``message.reply``) to the :class:`Rule`\\ s that turn one payload into events. A rule names, by
dotted payload paths, who acted, who the act is aimed at, when it happened and which platform ids
make the event id. Paths starting with ``$`` read values the adapter derived from headers or text
(``$delivery``, ``$mentions``). A ``*`` segment fans out over a list (``d.mentions.*.id``).

Anything a table cannot map raises :class:`Unmappable` with a stable reason; ingest then puts the
raw payload on ``ingest.deadletter`` (nothing is silently dropped).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from pydantic import ValidationError

from invested.contracts import CONTROL_CHARS, EngagementEvent, Kind, Platform, stable_id

# Reasons on ingest.deadletter (stable codes, also metric labels).
UNKNOWN_EVENT = "unknown_event"  # the event key is not in the platform's table
UNMAPPED_EVENT = "unmapped_event"  # a known key whose rules all declined (a PR closed unmerged)
MISSING_FIELD = "missing_field"  # a field the rule needs is absent
INVALID_FIELD = "invalid_field"  # present but not usable (wrong type, too long, control chars)
INVALID_TIMESTAMP = "invalid_timestamp"
NO_COMMUNITY = "no_community"
NOT_AN_OBJECT = "not_an_object"
ADAPTER_ERROR = "adapter_error"  # a bug: the adapter raised; the payload is kept for replay

_MISSING = object()
_NUMERIC_TS = re.compile(r"^[0-9]{9,11}(\.[0-9]+)?$")
_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_LATEST = datetime(2100, 1, 1, tzinfo=UTC)


class Unmappable(Exception):
    """An authentic payload the tables cannot map; ``reason`` is a stable code."""

    def __init__(self, reason: str, detail: str = "", event_key: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
        self.event_key = event_key


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs ~2 µs a webhook
class Delivery:
    """One authentic webhook: parsed payload plus what the adapter may need from the request."""

    platform: Platform
    headers: Mapping[str, str]  # lower-case names
    payload: Any
    delivery_id: str
    received_at: datetime


@dataclass(frozen=True)
class Rule:
    """How one event key becomes one event (or, with a fan-out target, one per target).

    ``member``/``target``/``channel``/``thread`` are paths; ``occurred_at`` lists candidate paths
    (first present wins, else the receive time); ``object_id`` lists the paths whose values make
    the deterministic event id; ``when`` guards the rule (e.g. a PR closed *and merged*);
    ``exclude`` lists paths whose member ids a fan-out must skip (a reply's mention of the parent).
    """

    kind: Kind
    member: str
    object_id: tuple[str, ...]
    target: str | None = None
    occurred_at: tuple[str, ...] = ()
    channel: str | None = None
    thread: str | None = None
    when: Callable[[Any], bool] | None = None
    exclude: tuple[str, ...] = ()
    optional: bool = False  # a supplementary rule (mentions): no target, no event, no error

    @functools.cached_property
    def readers(self) -> RuleReaders:
        """The rule's paths as readers, built on first use (``_apply`` runs per webhook)."""

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
        )


Reader = Callable[[Any, dict[str, Any]], Any]


class RuleReaders(NamedTuple):
    member: Reader
    target: Reader | None
    exclude: tuple[Reader, ...]
    occurred_at: tuple[tuple[str, Reader], ...]
    object_id: tuple[tuple[str, Reader], ...]
    channel: Reader | None
    thread: Reader | None


Table = Mapping[str, tuple[Rule, ...]]


@dataclass
class Context:
    """What rules resolve against: the payload and the adapter's derived ``$`` values."""

    payload: Any
    derived: dict[str, Any] = field(default_factory=dict)


# One reader per path, built on first use: the paths come from the mapping tables (a fixed set),
# and a closure over the split path costs a third of splitting and walking it on every call.
_READERS: dict[str, Reader] = {}


def read_path(path: str, payload: Any, derived: dict[str, Any]) -> Any:
    """The value at a dotted path (``$name``: a derived value), or ``_MISSING``."""
    return reader(path)(payload, derived)


def reader(path: str) -> Reader:
    """A function reading ``path`` from (payload, derived values), ``_MISSING`` when absent."""
    read = _READERS.get(path)
    if read is None:
        read = _READERS[path] = _reader(path)
    return read


def _reader(path: str) -> Reader:
    if path.startswith("$"):
        name = path[1:]
        return lambda payload, derived: derived.get(name, _MISSING)
    parts = tuple(path.split("."))
    if "*" in parts:
        return lambda payload, derived: _walk(payload, parts)

    def read(node: Any, derived: dict[str, Any]) -> Any:
        for part in parts:
            if not isinstance(node, dict):
                return _MISSING
            node = node.get(part, _MISSING)
            if node is _MISSING:
                return _MISSING
        return node

    return read


def _walk(node: Any, parts: Sequence[str]) -> Any:
    for index, part in enumerate(parts):
        if part == "*":
            if not isinstance(node, list):
                return _MISSING
            rest = parts[index + 1 :]
            values = [_walk(item, rest) for item in node]
            return [v for v in values if v is not _MISSING and v is not None]
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def get_path(payload: Any, path: str) -> Any:
    """The value at a dotted path, or None when absent."""
    value = read_path(path, payload, {})
    return None if value is _MISSING else value


def utf8_clean(text: str) -> bool:
    """JSON may carry lone surrogates (``"\\ud800"``): not encodable, so not usable as an id."""
    if text.isascii():  # most ids: no encoding attempt needed
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def safe_text(text: str) -> str:
    """The text with anything UTF-8 cannot carry replaced (for logs, answers, dead letters)."""
    return text.encode("utf-8", errors="replace").decode("utf-8")


def as_id(value: Any, path: str) -> str:
    """Platform ids are strings or integers; anything else is unusable."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise Unmappable(INVALID_FIELD, f"{path} is not an id")
    text = str(value)
    if not text:
        raise Unmappable(INVALID_FIELD, f"{path} is empty")
    if not utf8_clean(text):
        raise Unmappable(INVALID_FIELD, f"{path} is not valid Unicode")
    return text


def parse_time(value: Any, path: str) -> datetime:
    """ISO 8601 (``Z`` or offset; naive means UTC) or Unix seconds (Slack's ``"1355517523.000005"``)."""
    if isinstance(value, bool):
        raise Unmappable(INVALID_TIMESTAMP, path)
    try:
        numeric = isinstance(value, int | float) or (
            isinstance(value, str) and _NUMERIC_TS.match(value) is not None
        )
        if numeric:
            moment = datetime.fromtimestamp(float(value), tz=UTC)
        elif isinstance(value, str):
            moment = datetime.fromisoformat(value)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            moment = moment.astimezone(UTC)
        else:
            raise ValueError
    except (ValueError, OverflowError, OSError):
        raise Unmappable(INVALID_TIMESTAMP, path) from None
    if not _EARLIEST <= moment < _LATEST:
        raise Unmappable(INVALID_TIMESTAMP, f"{path} out of range")
    return moment


def _optional_text(value: Any) -> str | None:
    if value is _MISSING or value is None or isinstance(value, bool):
        return None
    if isinstance(value, str | int):
        text = str(value)
        # Optional context: drop what the contract would reject rather than lose the event.
        if 0 < len(text) <= 256 and CONTROL_CHARS.search(text) is None and utf8_clean(text):
            return text
    return None


def apply_rules(
    platform: Platform,
    community: str,
    event_key: str,
    rules: tuple[Rule, ...],
    context: Context,
    received_at: datetime,
) -> list[EngagementEvent]:
    """Every event the rules produce from one payload, or :class:`Unmappable`."""
    events: list[EngagementEvent] = []
    applied = False
    for rule in rules:
        if rule.when is not None and not rule.when(context.payload):
            continue
        applied = True
        events.extend(_apply(platform, community, event_key, rule, context, received_at))
    if not applied:
        raise Unmappable(UNMAPPED_EVENT, f"{event_key}: no rule applies", event_key)
    return events


def _apply(
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
    if raw_member is _MISSING or raw_member is None:
        raise Unmappable(MISSING_FIELD, rule.member, event_key)
    member = as_id(raw_member, rule.member)

    targets: list[str | None]
    if readers.target is None:
        targets = [None]
    else:
        raw_target = readers.target(payload, derived)
        if isinstance(raw_target, list):
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
        elif raw_target is _MISSING or raw_target is None:
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
        if value is not _MISSING and value is not None:
            occurred_at = parse_time(value, path)
            break

    id_parts = []
    for path, read in readers.object_id:
        value = read(payload, derived)
        if value is _MISSING or value is None:
            raise Unmappable(MISSING_FIELD, path, event_key)
        id_parts.append(as_id(value, path))

    channel = _optional_text(readers.channel(payload, derived)) if readers.channel else None
    thread = _optional_text(readers.thread(payload, derived)) if readers.thread else None
    events = []
    for target in targets:
        # StrEnum members are their values: joined as they are, no .value lookups
        event_id = stable_id(platform, community, event_key, rule.kind, *id_parts, target or "")
        try:
            events.append(
                EngagementEvent.model_validate(
                    {
                        "id": event_id,
                        "community": community,
                        "platform": platform,
                        "member": member,
                        "kind": rule.kind,
                        "target_member": target,
                        "channel": channel,
                        "thread": thread,
                        "occurred_at": occurred_at,
                        "received_at": received_at,
                    }
                )
            )
        except ValidationError as exc:
            fields = ",".join(str(e["loc"][0]) for e in exc.errors() if e["loc"])
            raise Unmappable(INVALID_FIELD, fields, event_key) from None
    return events


def require_object(payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise Unmappable(NOT_AN_OBJECT, type(payload).__name__)
    return payload


def community_id(value: Any, what: str) -> str:
    if value is None or isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        raise Unmappable(NO_COMMUNITY, what)
    text = str(value)
    if not utf8_clean(text):
        raise Unmappable(INVALID_FIELD, f"{what} is not valid Unicode")
    return text


@dataclass(frozen=True)
class Handshake:
    """A platform's endpoint check (GitHub ping, Slack url_verification, Discord PING), answered
    directly: it carries no engagement and is not dead-lettered."""

    body: dict[str, Any] | None
    status: int = 200


class Adapter:
    """One platform: its mapping table plus how to read key, community and ids from a delivery."""

    platform: Platform
    table: Table

    def handshake(self, headers: Mapping[str, str], payload: Any) -> Handshake | None:
        return None

    def delivery_id(self, headers: Mapping[str, str], payload: Any) -> str | None:
        """The platform's id of this delivery, the same on every retry (dedupe key)."""
        raise NotImplementedError

    def event_key(self, delivery: Delivery) -> str:
        raise NotImplementedError

    def community(self, delivery: Delivery) -> str:
        raise NotImplementedError

    def derived(self, delivery: Delivery) -> dict[str, Any]:
        """Extra ``$`` values for the rules (beyond ``$delivery``)."""
        return {}

    def adapt(self, delivery: Delivery) -> list[EngagementEvent]:
        """Zero or more events from one authentic delivery, or :class:`Unmappable`."""
        payload = require_object(delivery.payload)
        key = self.event_key(delivery)
        rules = self.table.get(key)
        if rules is None:
            raise Unmappable(UNKNOWN_EVENT, key, key)
        community = self.community(delivery)
        context = Context(payload, {"delivery": delivery.delivery_id, **self.derived(delivery)})
        try:
            return apply_rules(self.platform, community, key, rules, context, delivery.received_at)
        except Unmappable as exc:
            exc.event_key = exc.event_key or key
            raise
