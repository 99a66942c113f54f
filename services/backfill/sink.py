"""Where imported events go: the :class:`Sink` protocol, and a sink that records them.

The import hands a sink its events in batches, in the order of each input, and writes its
checkpoint only after ``apply`` returned: a sink must have made a batch durable (or idempotent
to redo) before it returns, since a batch cut short by a kill is applied again on resume. Event
ids are deterministic, so a sink that dedupes on ``id`` gives the same state however often a
batch is redone. ``close`` ends the import and returns what the sink has to say about it (the
classifier's store sink will report members per segment there).

:class:`RecordingSink` keeps the events in memory and, with a path, appends them to a file as
JSON lines (flushed per batch): tests and ``--out`` use it, ``--dry-run`` keeps only counts.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any, Protocol, runtime_checkable

from invested.contracts import EngagementEvent


@runtime_checkable
class Sink(Protocol):
    async def apply(self, events: list[EngagementEvent]) -> None:
        """Take one batch; return once it is durable (or safe to apply again)."""
        ...

    async def close(self) -> dict[str, Any]:
        """End the import; a summary of what the sink holds, for people to read."""
        ...


class RecordingSink:
    """Records every applied event: in memory (``events``) unless ``keep`` is false, and as
    JSON lines appended to ``path`` when given."""

    def __init__(self, path: Path | None = None, keep: bool = True) -> None:
        self.events: list[EngagementEvent] = []
        self.batches = 0
        self.applied = 0
        self._keep = keep
        self._path = path
        self._file: IO[bytes] | None = None

    async def apply(self, events: list[EngagementEvent]) -> None:
        self.batches += 1
        self.applied += len(events)
        if self._keep:
            self.events.extend(events)
        if self._path is not None:
            if self._file is None:
                self._path.parent.mkdir(parents=True, exist_ok=True)
                self._file = self._path.open("ab")
            self._file.write(b"".join(event.to_json() + b"\n" for event in events))
            self._file.flush()

    async def close(self) -> dict[str, Any]:
        if self._file is not None:
            self._file.close()
            self._file = None
        summary: dict[str, Any] = {"events applied": self.applied, "batches": self.batches}
        if self._path is not None:
            summary["written to"] = str(self._path)
        return summary
