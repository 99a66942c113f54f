"""The import's checkpoint: an append-only journal of how far each input got.

The first line names the import (platform, community, and the time it started, which stands in
for records that carry no time). Each later line is written after the sink applied a batch: for
the inputs the batch touched, how many records are done and whether the input is complete, and
the batch's counts. A line per batch keeps checkpointing cheap however many inputs an import has
(a Slack export has one per channel and day). A process killed while writing leaves a partial
last line, which is ignored: that batch is applied again on resume and its events dedupe
downstream by id. Lines are flushed to the operating system, not synced to disk: a killed
process loses nothing, a power cut may cost the last batches, which are then imported again.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path
from typing import IO, Final, Literal

from pydantic import BaseModel, Field, ValidationError

from invested.contracts import utcnow
from services.backfill.source import InputFile, UsageError
from services.backfill.summary import Counts

JOURNAL_FORMAT: Final = "invested.backfill.v1"
DEFAULT_DIRECTORY = Path(".invested") / "backfill"


class InputState(BaseModel):
    done: int = Field(0, description="Records of the input whose events the sink applied.")
    complete: bool = False
    fingerprint: str = ""


class JournalHeader(BaseModel):
    journal: Literal["invested.backfill.v1"] = JOURNAL_FORMAT
    platform: str
    community: str | None
    started_at: datetime


class JournalEntry(BaseModel):
    inputs: dict[str, InputState]
    counts: Counts


def default_path(platform: str, community: str | None, inputs: list[InputFile]) -> Path:
    """One checkpoint per platform, community and set of input files."""
    files = sorted({str(source.path) for source in inputs})
    digest = hashlib.sha256("\n".join([platform, community or "", *files]).encode()).hexdigest()
    return DEFAULT_DIRECTORY / f"{platform}-{digest[:16]}.jsonl"


class Journal:
    """The checkpoint file, open for appending."""

    def __init__(
        self,
        path: Path,
        header: JournalHeader,
        states: dict[str, InputState],
        totals: Counts,
        handle: IO[str],
    ) -> None:
        self.path = path
        self.header = header
        self.states = states
        self.totals = totals
        self._handle = handle

    @property
    def started_at(self) -> datetime:
        return self.header.started_at

    @classmethod
    def open(
        cls, path: Path, platform: str, community: str | None, restart: bool = False
    ) -> Journal:
        if restart and path.exists():
            path.unlink()
        states: dict[str, InputState] = {}
        totals = Counts()
        header = JournalHeader(platform=platform, community=community, started_at=utcnow())
        if path.exists():
            header, valid = cls._replay(path, states, totals)
            if header.platform != platform or header.community != community:
                raise UsageError(
                    f"{path} is the checkpoint of another import ({header.platform}, community "
                    f"{header.community}); pass --checkpoint with another file, or --restart"
                )
            with path.open("r+b") as damaged:
                damaged.truncate(valid)  # drop a line cut short by a kill before appending
            handle = path.open("a", encoding="utf-8")
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = path.open("w", encoding="utf-8")
            handle.write(header.model_dump_json() + "\n")
            handle.flush()
        return cls(path, header, states, totals, handle)

    @staticmethod
    def _replay(
        path: Path, states: dict[str, InputState], totals: Counts
    ) -> tuple[JournalHeader, int]:
        """The header, and the length of the file's complete lines (states and totals filled)."""
        lines = path.read_bytes().split(b"\n")
        complete = lines[:-1]  # what follows the last newline is empty or cut short
        try:
            header = JournalHeader.model_validate_json(complete[0])
        except (IndexError, ValidationError):
            raise UsageError(f"{path} is not a backfill checkpoint; pass --restart") from None
        valid = len(complete[0]) + 1
        for number, line in enumerate(complete[1:], start=2):
            try:
                entry = JournalEntry.model_validate_json(line)
            except ValidationError:
                raise UsageError(f"{path}: line {number} is damaged; pass --restart") from None
            states.update(entry.inputs)
            totals.merge(entry.counts)
            valid += len(line) + 1
        return header, valid

    def state(self, source: InputFile) -> InputState:
        """How far ``source`` got; a changed input (new fingerprint) starts over."""
        state = self.states.get(source.key)
        if state is None or state.fingerprint != source.fingerprint:
            return InputState(fingerprint=source.fingerprint)
        return state

    def append(self, inputs: dict[str, InputState], counts: Counts) -> None:
        """Record a batch the sink applied."""
        entry = JournalEntry(inputs=inputs, counts=counts)
        self._handle.write(entry.model_dump_json() + "\n")
        self._handle.flush()
        self.states.update(inputs)
        self.totals.merge(counts)

    def close(self) -> None:
        self._handle.close()
