"""What every export format shares: its inputs, the outcome of one record, and bad input.

An import reads *inputs* (a file, or one member of a zip) record by record. A format turns each
record into the events the platform's webhooks would have produced for the same act by shaping
it as that webhook's payload and running it through the ingest adapter's own rules
(:func:`adapt`, :func:`apply_table`): event ids, members, targets, handles, bots and e-mail
digests have one definition for both paths. ``received_at`` is the record's own time (when the
webhook would have arrived, as near as the export says); where a record has no time at all, the
import's start time, fixed in its checkpoint, stands in, so a resumed import gives the same
events as a clean one.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from invested.contracts import EngagementEvent, Platform
from services.ingest.adapters.common import (
    Adapter,
    Context,
    Delivery,
    Ignored,
    Rule,
    Unmappable,
    apply_rules,
    parse_time,
)

OTHER_COMMUNITY = "other_community"  # a record of another organization, guild or workspace


@dataclass(frozen=True)
class InputFile:
    """One input of an import. ``key`` names it in the checkpoint (the absolute path, plus
    ``!member`` inside a zip); ``fingerprint`` changes with its content, so a changed input is
    read again from its start; ``size`` is the number of bytes its reader counts (progress)."""

    key: str
    label: str
    size: int
    fingerprint: str
    path: Path
    member: str | None = None


def file_input(path: Path) -> InputFile:
    resolved = path.resolve()
    stat = resolved.stat()
    return InputFile(
        key=str(resolved),
        label=str(path),
        size=stat.st_size,
        fingerprint=f"{stat.st_size}:{stat.st_mtime_ns}",
        path=resolved,
    )


@dataclass(slots=True)
class Outcome:
    """What one record gave: events, and why some or all of it was not counted (``skipped``)
    or was counted with less than the webhook would have said (``notes``)."""

    index: int
    events: list[EngagementEvent] = field(default_factory=list)
    skipped: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


class BadRecord(Exception):
    """An input that is not what its format expects, at record ``index`` (0-based) and, where
    known, ``line`` (1-based). Records before it are imported; this one stops the import."""

    def __init__(self, label: str, index: int, detail: str, line: int | None = None) -> None:
        where = f"record {index}" + (f" (line {line})" if line is not None else "")
        super().__init__(f"{label}: {where}: {detail}")
        self.label = label
        self.index = index
        self.line = line
        self.detail = detail


class UsageError(Exception):
    """The command cannot run as asked (a missing option, an input it cannot read)."""


class ByteCounter:
    """Bytes a reader has consumed so far (the progress bar follows it)."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0


class _CountingRaw(io.RawIOBase):
    def __init__(self, inner: BinaryIO, counter: ByteCounter) -> None:
        self._inner = inner
        self._counter = counter

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        read = self._inner.readinto(buffer)  # type: ignore[attr-defined]
        self._counter.count += read or 0
        return read or 0

    def close(self) -> None:
        self._inner.close()
        super().close()


def counting(inner: BinaryIO, counter: ByteCounter) -> io.BufferedReader:
    """``inner`` read through a buffer, counting the bytes taken from it."""
    return io.BufferedReader(_CountingRaw(inner, counter), buffer_size=1 << 20)


class ExportFormat(Protocol):
    """One platform export format (a module of this package)."""

    name: str  # names the format in checkpoints
    platform: Platform

    def inputs(self) -> list[InputFile]:
        """The inputs, in the order they are imported (event time where the format allows)."""
        ...

    def prepare(self, pending: list[InputFile], started_at: datetime) -> None:
        """Before reading: what records need from other records (authors of issues a comment
        answers), and the time that stands in for records without one."""
        ...

    def read(self, source: InputFile, start: int, counter: ByteCounter) -> Iterator[Outcome]:
        """Outcomes of the records of ``source`` from record ``start`` on, in order; raises
        :class:`BadRecord`."""
        ...

    def close(self) -> None: ...


def ignored_reason(exc: Ignored) -> str:
    return f"{exc.reason} ({exc.event_key})" if exc.event_key else exc.reason


def unmappable_reason(exc: Unmappable) -> str:
    detail = f" {exc.detail}" if exc.detail else ""
    return f"unmappable {exc.event_key or 'record'}: {exc.reason}{detail}"


def adapt(
    adapter: Adapter,
    payload: dict[str, Any],
    received_at: datetime,
    headers: Mapping[str, str] | None = None,
    bound_community: str | None = None,
) -> tuple[list[EngagementEvent], str | None]:
    """The events the platform's adapter makes of a webhook-shaped payload, or why none."""
    delivery = Delivery(adapter.platform, headers or {}, payload, "", received_at, bound_community)
    try:
        return adapter.adapt(delivery), None
    except Ignored as exc:
        return [], ignored_reason(exc)
    except Unmappable as exc:
        return [], unmappable_reason(exc)


def apply_table(
    platform: Platform,
    community: str,
    event_key: str,
    table: Mapping[str, tuple[Rule, ...]],
    payload: dict[str, Any],
    received_at: datetime,
) -> tuple[list[EngagementEvent], str | None]:
    """The events of one event key's rules on a webhook-shaped payload, or why none."""
    rules = table.get(event_key)
    if rules is None:
        return [], f"event_not_mapped ({event_key})"
    try:
        return apply_rules(
            platform, community, event_key, rules, Context(payload), received_at
        ), None
    except Ignored as exc:
        return [], ignored_reason(exc)
    except Unmappable as exc:
        exc.event_key = exc.event_key or event_key
        return [], unmappable_reason(exc)


def record_time(value: Any, fallback: datetime) -> datetime:
    """A record's own time (ISO 8601 or Unix seconds), else ``fallback``."""
    if value is None or value == "" or value == 0:
        return fallback
    try:
        return parse_time(value, "time")
    except Unmappable:
        return fallback


def outcome_of(
    index: int, results: list[tuple[list[EngagementEvent], str | None]], notes: tuple[str, ...] = ()
) -> Outcome:
    """One record's outcome from the results of the webhook payloads it was shaped into."""
    events: list[EngagementEvent] = []
    skipped: list[str] = []
    for found, reason in results:
        events.extend(found)
        if reason is not None:
            skipped.append(reason)
    return Outcome(index, events, tuple(skipped), notes if events else ())
