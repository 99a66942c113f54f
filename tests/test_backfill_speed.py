"""How fast exports are read and mapped, on busy inputs made from the published samples.

The ``slow`` tests measure parsing alone (reading, JSON, mapping to events; no sink, no
checkpoint) on one process: GH Archive hours of one busy community and a Slack export of one
busy channel. They print events/s and fail only far below the ~20 000 events/s the importer is
built for (a shared 2-core test machine runs well under a quiet one), so they catch a slowdown
by a large factor (a quadratic step, a parse per event), not noise.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from invested.contracts import utcnow
from services.backfill import formats
from services.backfill.source import ByteCounter
from tests.backfill_support import busy_export, busy_hours

FLOOR = 5_000  # events/s


def parse_rate(platform: str, inputs: list[Path], community: str | None) -> tuple[int, float]:
    fmt = formats.build(platform, inputs, community)
    started = time.process_time()
    fmt.prepare(fmt.inputs(), utcnow())
    events = sum(
        len(outcome.events)
        for source in fmt.inputs()
        for outcome in fmt.read(source, 0, ByteCounter())
    )
    return events, events / (time.process_time() - started)


@pytest.mark.slow
def test_gh_archive_hours_parse_fast(tmp_path: Path) -> None:
    hours = busy_hours(tmp_path, hours=2, lines=10_000)
    events, rate = parse_rate("github", hours, "acme")
    print(f"GH Archive: {events} events, {rate:,.0f} events/s of CPU")
    assert events > 18_000 and rate > FLOOR


@pytest.mark.slow
def test_slack_day_files_parse_fast(tmp_path: Path) -> None:
    export = busy_export(tmp_path / "export.zip", days=20, per_day=500)
    events, rate = parse_rate("slack", [export], None)
    print(f"Slack: {events} events, {rate:,.0f} events/s of CPU")
    assert events > 10_000 and rate > FLOOR
