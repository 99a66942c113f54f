"""The import loop: inputs → records → events → sink batches → checkpoint, with a progress bar.

Events are applied in batches of about ``batch_size`` in the order the format reads them (event
time within an input where the format allows); a batch ends between records, so the checkpoint
written after it says exactly which records are done. Inputs the checkpoint marks complete are
not read at all (importing an export twice applies nothing the second time); a partly read input
continues after its last applied record. A bad record stops the import after the records before
it were applied and checkpointed, naming the input and the record.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from tqdm import tqdm

from invested.contracts import EngagementEvent
from services.backfill.checkpoint import InputState, Journal
from services.backfill.sink import Sink
from services.backfill.source import BadRecord, ByteCounter, ExportFormat, InputFile
from services.backfill.summary import Counts

DEFAULT_BATCH_SIZE = 500


@dataclass
class ImportResult:
    this_run: Counts
    total: Counts
    inputs: int
    already_imported: int
    seconds: float
    sink: dict[str, Any] = field(default_factory=dict)
    error: BadRecord | None = None  # the record that stopped the import, if one did


@dataclass
class _Batch:
    events: list[EngagementEvent] = field(default_factory=list)
    # input key → (records done, complete, fingerprint): plain tuples in the per-record loop
    positions: dict[str, tuple[int, bool, str]] = field(default_factory=dict)
    counts: Counts = field(default_factory=Counts)


class _Progress:
    """The bar advances by input bytes (that gives an ETA); events and events/s ride along."""

    def __init__(self, total_bytes: int, enabled: bool) -> None:
        self.bar = tqdm(
            total=total_bytes,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc="importing",
            disable=not enabled,
            dynamic_ncols=True,
        )
        self.events = 0
        self.started = time.monotonic()

    def advance(self, counter: ByteCounter, reported: int) -> int:
        """Move the bar by what ``counter`` read since ``reported``; the new reported count."""
        if counter.count > reported:
            self.bar.update(counter.count - reported)
        return counter.count

    def applied(self, events: int) -> None:
        self.events += events
        rate = self.events / max(time.monotonic() - self.started, 1e-9)
        self.bar.set_postfix_str(f"{self.events:,} events, {rate:,.0f} events/s", refresh=False)


class _Importer:
    """Reads inputs into batches and hands each to the sink, then to the checkpoint."""

    def __init__(
        self, fmt: ExportFormat, journal: Journal, sink: Sink, batch_size: int, bar: _Progress
    ) -> None:
        self.fmt, self.journal, self.sink = fmt, journal, sink
        self.batch_size = batch_size
        self.bar = bar
        self.batch = _Batch()
        self.this_run = Counts()

    async def flush(self) -> None:
        batch, self.batch = self.batch, _Batch()
        if not batch.positions:
            return
        if batch.events:
            await self.sink.apply(batch.events)
        positions = {
            key: InputState(done=done, complete=complete, fingerprint=fingerprint)
            for key, (done, complete, fingerprint) in batch.positions.items()
        }
        self.journal.append(positions, batch.counts)
        self.this_run.merge(batch.counts)
        self.bar.applied(len(batch.events))

    async def read(self, source: InputFile) -> None:
        """Every record of ``source`` not applied yet, into batches; raises :class:`BadRecord`
        with the records before the bad one in the current batch."""
        state = self.journal.state(source)
        counter = ByteCounter()
        reported = 0
        key, fingerprint, done = source.key, source.fingerprint, state.done
        self.batch.positions[key] = (done, False, fingerprint)
        for outcome in self.fmt.read(source, state.done, counter):
            batch = self.batch
            batch.events.extend(outcome.events)
            batch.counts.add(outcome, source.label)
            done = outcome.index + 1
            batch.positions[key] = (done, False, fingerprint)
            if len(batch.events) >= self.batch_size:
                await self.flush()
                reported = self.bar.advance(counter, reported)
        self.batch.positions[key] = (done, True, fingerprint)
        self.bar.advance(counter, reported)
        self.bar.bar.update(max(source.size - counter.count, 0))  # zip sizes are estimates


async def run_import(
    fmt: ExportFormat,
    journal: Journal,
    sink: Sink,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: bool = True,
) -> ImportResult:
    """Import every input not yet complete in ``journal`` into ``sink``. A bad record ends the
    import after the records before it were applied and checkpointed (``error``)."""
    started = time.monotonic()
    inputs = fmt.inputs()
    pending = [source for source in inputs if not journal.state(source).complete]
    bar = _Progress(sum(source.size for source in inputs), progress)
    bar.bar.update(sum(source.size for source in inputs if source not in pending))
    importer = _Importer(fmt, journal, sink, batch_size, bar)
    error: BadRecord | None = None
    try:
        try:
            if pending:
                fmt.prepare(pending, journal.started_at)
            for source in pending:
                await importer.read(source)
        except BadRecord as exc:
            error = exc
        await importer.flush()
    finally:
        bar.bar.close()
        fmt.close()
    return ImportResult(
        this_run=importer.this_run,
        total=journal.totals,
        inputs=len(inputs),
        already_imported=len(inputs) - len(pending),
        seconds=time.monotonic() - started,
        error=error,
    )
