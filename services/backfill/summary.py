"""Counts of an import and the summary printed at its end.

:class:`Counts` is what the checkpoint accumulates across runs (records read, events per kind,
skipped records per reason, notes per reason, where each reason was first seen), so the summary
of a resumed import can show both this run and the whole import.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from services.backfill.source import Outcome


def _add(counter: dict[str, int], key: str, amount: int = 1) -> None:
    counter[key] = counter.get(key, 0) + amount


class Counts(BaseModel):
    records: int = 0
    events: dict[str, int] = Field(default_factory=dict, description="Events per kind.")
    skipped: dict[str, int] = Field(default_factory=dict, description="Not counted, per reason.")
    notes: dict[str, int] = Field(
        default_factory=dict, description="Counted with less than the webhook says, per reason."
    )
    first_seen: dict[str, str] = Field(
        default_factory=dict, description="Where each skip or note reason was first seen."
    )

    def add(self, outcome: Outcome, label: str) -> None:
        self.records += 1
        events = self.events
        for event in outcome.events:
            kind = event.kind.value
            events[kind] = events.get(kind, 0) + 1
        for reason in outcome.skipped:
            _add(self.skipped, reason)
            self.first_seen.setdefault(reason, f"{label} record {outcome.index}")
        for note in outcome.notes:
            _add(self.notes, note)
            self.first_seen.setdefault(note, f"{label} record {outcome.index}")

    def merge(self, other: Counts) -> None:
        self.records += other.records
        for mine, theirs in (
            (self.events, other.events),
            (self.skipped, other.skipped),
            (self.notes, other.notes),
        ):
            for key, amount in theirs.items():
                _add(mine, key, amount)
        for key, where in other.first_seen.items():
            self.first_seen.setdefault(key, where)

    @property
    def event_total(self) -> int:
        return sum(self.events.values())

    def is_empty(self) -> bool:
        return self.records == 0


def _lines(counter: dict[str, int], first_seen: dict[str, str] | None = None) -> list[str]:
    rows = []
    for key, amount in sorted(counter.items(), key=lambda item: (-item[1], item[0])):
        where = f"  (first: {first_seen[key]})" if first_seen and key in first_seen else ""
        rows.append(f"    {amount:>9,}  {key}{where}")
    return rows


def render(
    this_run: Counts,
    total: Counts,
    inputs: int,
    already_imported: int,
    seconds: float,
    sink: dict[str, Any],
) -> str:
    """The summary people read at the end of an import."""
    rate = this_run.event_total / seconds if seconds > 0 else 0.0
    lines = [
        f"Imported {this_run.event_total:,} events from {this_run.records:,} records in "
        f"{seconds:.1f} s ({rate:,.0f} events/s); inputs: {inputs}, "
        f"{already_imported} already imported before this run.",
    ]
    if this_run.events:
        lines += ["  Events by kind:", *_lines(this_run.events)]
    if this_run.skipped:
        lines += [
            "  Records not counted, by reason:",
            *_lines(this_run.skipped, this_run.first_seen),
        ]
    if this_run.notes:
        lines += [
            "  Counted with less than the webhook would say:",
            *_lines(this_run.notes, this_run.first_seen),
        ]
    if total.records != this_run.records:
        lines.append(
            f"  Whole import (all runs): {total.event_total:,} events from "
            f"{total.records:,} records."
        )
    if sink:
        lines.append("  Sink: " + ", ".join(f"{key}: {value}" for key, value in sink.items()))
    return "\n".join(lines)
