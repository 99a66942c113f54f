"""Reading platform payloads: dotted paths, ids, times, and the two ways a payload is not mapped.

Paths are compiled to reader functions once (the mapping tables are a fixed set of paths). Paths
starting with ``$`` read values the adapter derived from the payload (``$mentions``); a ``*``
segment fans out over a list (``d.mentions.*.id``).

A payload that is not mapped either carries nothing we count (:class:`Ignored`: a label added, an
edit, a whisper; answered 200 and dropped) or should have been mapped and could not be
(:class:`Unmappable`: a missing or invalid field; dead-lettered with the raw payload).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from invested.contracts import CONTROL_CHARS

# Reasons on ingest.deadletter (stable codes, also metric labels).
UNMAPPED_EVENT = "unmapped_event"  # a mapped event none of whose rules could apply
MISSING_FIELD = "missing_field"  # a field the rule needs is absent (or the event name header)
INVALID_FIELD = "invalid_field"  # present but not usable (wrong type, too long, control chars)
INVALID_TIMESTAMP = "invalid_timestamp"
NO_COMMUNITY = "no_community"
NOT_AN_OBJECT = "not_an_object"
ADAPTER_ERROR = "adapter_error"  # a bug: the adapter raised; the payload is kept for replay

# Reasons of the ignored outcome (stable codes, also metric labels).
EVENT_NOT_MAPPED = "event_not_mapped"  # an event (or action, subtype, dispatch) we do not count

MISSING: Any = object()
_NUMERIC_TS = re.compile(r"^[0-9]{9,11}(\.[0-9]+)?$")
_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_LATEST = datetime(2100, 1, 1, tzinfo=UTC)


class Unmappable(Exception):
    """An authentic payload of a mapped event that cannot be mapped; ``reason`` is a stable code."""

    def __init__(self, reason: str, detail: str = "", event_key: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
        self.event_key = event_key


class Ignored(Exception):
    """An authentic payload that carries no engagement we count; ``reason`` is a stable code."""

    def __init__(self, reason: str, event_key: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.event_key = event_key


Reader = Callable[[Any, dict[str, Any]], Any]

# One reader per path, built on first use: the paths come from the mapping tables (a fixed set),
# and a closure over the split path costs a third of splitting and walking it on every call.
_READERS: dict[str, Reader] = {}


def reader(path: str) -> Reader:
    """A function reading ``path`` from (payload, derived values), ``MISSING`` when absent."""
    read = _READERS.get(path)
    if read is None:
        read = _READERS[path] = _reader(path)
    return read


def _reader(path: str) -> Reader:
    if path.startswith("$"):
        name = path[1:]
        return lambda payload, derived: derived.get(name, MISSING)
    parts = tuple(path.split("."))
    if "*" in parts:
        return lambda payload, derived: _walk(payload, parts)

    def read(node: Any, derived: dict[str, Any]) -> Any:
        for part in parts:
            if not isinstance(node, dict):
                return MISSING
            node = node.get(part, MISSING)
            if node is MISSING:
                return MISSING
        return node

    return read


def _walk(node: Any, parts: Sequence[str]) -> Any:
    for index, part in enumerate(parts):
        if part == "*":
            if not isinstance(node, list):
                return MISSING
            rest = parts[index + 1 :]
            values = [_walk(item, rest) for item in node]
            return [v for v in values if v is not MISSING and v is not None]
        if not isinstance(node, dict) or part not in node:
            return MISSING
        node = node[part]
    return node


_NO_DERIVED: dict[str, Any] = {}


def getter(path: str) -> Callable[[Any], Any]:
    """A function reading ``path`` from a payload, None when absent (compiled once)."""
    read = reader(path)

    def get(payload: Any) -> Any:
        value = read(payload, _NO_DERIVED)
        return None if value is MISSING else value

    return get


def get_path(payload: Any, path: str) -> Any:
    """The value at a dotted path, or None when absent."""
    value = reader(path)(payload, _NO_DERIVED)
    return None if value is MISSING else value


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


def optional_text(value: Any) -> str | None:
    """Optional context (channel, thread, handle): what the contract would reject is dropped
    rather than losing the event."""
    if value is MISSING or value is None or isinstance(value, bool):
        return None
    if isinstance(value, str | int):
        text = str(value)
        if 0 < len(text) <= 256 and CONTROL_CHARS.search(text) is None and utf8_clean(text):
            return text
    return None


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
