"""The command as people run it: resumable after a kill, idempotent, clear about bad input.

``python -m services.backfill`` runs as a subprocess where a kill is the point; elsewhere its
``main`` runs in-process. The sink is the recording one writing JSON lines (``--out``).
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from invested.contracts import EngagementEvent, utcnow
from services.backfill import cli, formats
from services.backfill.checkpoint import InputState, Journal
from services.backfill.source import ByteCounter, InputFile, UsageError
from services.backfill.summary import Counts
from tests.backfill_support import FIXTURES, busy_hours, read_events, write_json

ROOT = Path(__file__).resolve().parent.parent


def command(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "services.backfill", *map(str, args)]


def run_cli(*args: str | Path) -> int:
    return cli.main([str(arg) for arg in args])


def unique(events: list[EngagementEvent]) -> list[EngagementEvent]:
    """What a consumer deduping on ``id`` keeps, in order."""
    seen: set[str] = set()
    kept = []
    for event in events:
        if event.id not in seen:
            seen.add(event.id)
            kept.append(event)
    return kept


def test_a_killed_import_resumes_where_it_stopped_and_ends_as_a_clean_one(
    tmp_path: Path,
) -> None:
    hours = busy_hours(tmp_path / "hours", hours=3, lines=1500)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    clean_out = tmp_path / "clean.jsonl"
    clean = subprocess.run(
        command(
            "--platform",
            "github",
            "--community",
            "acme",
            "--out",
            clean_out,
            "--checkpoint",
            tmp_path / "clean.ckpt",
            *hours,
        ),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert clean.returncode == 0, clean.stderr
    assert "events/s" in clean.stderr  # the progress bar
    expected = read_events(clean_out)
    assert len(expected) == len(unique(expected)) > 3000

    out, checkpoint = tmp_path / "killed.jsonl", tmp_path / "killed.ckpt"
    args = command(
        "--platform",
        "github",
        "--community",
        "acme",
        "--out",
        out,
        "--checkpoint",
        checkpoint,
        "--batch-size",
        "1",
        "--no-progress",
        *hours,
    )
    victim = subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and victim.poll() is None:
        if out.exists() and out.stat().st_size > 800_000:  # into the second of three hours
            break
        time.sleep(0.05)
    assert victim.poll() is None, "the import ended before it could be killed"
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    applied = read_events(out)
    assert 0 < len(applied) < len(expected)

    resumed = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    # The resumed run did not start over: it applied what was left, and at most the one batch
    # cut short by the kill (one record's events) again.
    after = read_events(out)
    redone = len(after) - len(expected)
    assert 0 <= redone <= 20
    assert [e.model_dump() for e in unique(after)] == [e.model_dump() for e in expected]
    assert "Whole import (all runs)" in resumed.stdout
    assert "1 already imported before this run" in resumed.stdout  # the first hour


def test_importing_twice_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "events.jsonl"
    args = ("--platform", "slack", "--out", out, "--checkpoint", tmp_path / "c", "--no-progress")
    assert run_cli(*args, FIXTURES / "slack" / "source_export.zip") == 0
    first = out.read_bytes()
    assert run_cli(*args, FIXTURES / "slack" / "source_export.zip") == 0
    assert out.read_bytes() == first
    second = capsys.readouterr().out.split("Imported")[-1]
    assert second.startswith(" 0 events from 0 records")
    assert "5 already imported before this run" in second


def broken_hour(tmp_path: Path, fixed: bool = False) -> Path:
    lines = gzip.decompress(
        busy_hours(tmp_path / "source", hours=1, lines=40)[0].read_bytes()
    ).splitlines()
    if not fixed:
        lines[29] = lines[29][:-100]  # cut short, as a failed download leaves a line
    path = tmp_path / "2024-01-01-0.json.gz"
    path.write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
    return path


def test_a_bad_record_stops_the_import_and_loses_nothing_before_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, checkpoint = tmp_path / "events.jsonl", tmp_path / "ckpt"
    hour = broken_hour(tmp_path)
    args = (
        "--platform",
        "github",
        "--community",
        "acme",
        "--out",
        out,
        "--checkpoint",
        checkpoint,
        "--batch-size",
        "7",
        "--no-progress",
        hour,
    )
    assert run_cli(*args) == 1
    error = capsys.readouterr().err
    assert f"{hour}: record 29 (line 30): not JSON" in error
    assert "run the same command again to continue" in error
    before = read_events(out)
    # Every record before the bad one was applied and checkpointed, none after it.
    journal = Journal.open(checkpoint, "gharchive", "acme")
    assert journal.states[str(hour.resolve())].done == 29
    journal.close()
    fixed = broken_hour(tmp_path / "fixed", fixed=True)
    fmt = formats.build("github", [fixed], "acme")
    fmt.prepare(fmt.inputs(), utcnow())
    outcomes = list(fmt.read(fmt.inputs()[0], 0, ByteCounter()))
    assert [e.id for e in before] == [e.id for o in outcomes[:29] for e in o.events]
    # Running again stops at the same record without applying anything twice.
    assert run_cli(*args) == 1
    assert read_events(out) == before


def test_a_truncated_dump_names_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pages = (FIXTURES / "github-rest" / "PyGithub" / "issues_comments.json").read_text()
    dump = tmp_path / "comments.json"
    dump.write_text(pages[: len(pages) // 2])
    assert (
        run_cli(
            "--platform",
            "github",
            "--dry-run",
            "--checkpoint",
            tmp_path / "c",
            "--no-progress",
            dump,
        )
        == 1
    )
    error = capsys.readouterr().err
    assert f"{dump}: record " in error and "(line 1)" in error


def test_a_bad_record_met_while_indexing_stops_before_anything_is_applied(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    issues = (FIXTURES / "github-rest" / "PyGithub" / "issues.json").read_text()
    dump = tmp_path / "dump"
    dump.mkdir()
    (dump / "issues.json").write_text(issues.replace('"number":', '"number";', 3))
    out = tmp_path / "events.jsonl"
    assert (
        run_cli(
            "--platform",
            "github",
            "--out",
            out,
            "--checkpoint",
            tmp_path / "c",
            "--no-progress",
            dump,
        )
        == 1
    )
    streams = capsys.readouterr()
    assert f"{dump / 'issues.json'}: record 0 (line 1): Expecting ':' delimiter" in streams.err
    assert "Imported 0 events from 0 records" in streams.out
    assert not out.exists()


def test_the_summary_counts_kinds_and_reasons_and_says_where_they_were_first_seen(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        run_cli(
            "--platform",
            "slack",
            "--dry-run",
            "--checkpoint",
            tmp_path / "c",
            "--no-progress",
            FIXTURES / "slack" / "source_export.zip",
        )
        == 0
    )
    summary = capsys.readouterr().out
    assert "Imported 24 events from 26 records" in summary
    assert "Events by kind:" in summary and "       10  post" in summary
    assert (
        "event_not_mapped (message.tombstone)  (first: "
        f"{FIXTURES / 'slack' / 'source_export.zip'}!B75B4C7/2025-01-11.json record 5)"
    ) in summary
    assert "Sink: events applied: 24, batches: 1" in summary


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        run_cli(
            "--platform",
            "discourse",
            "--dry-run",
            "--checkpoint",
            tmp_path / "c",
            FIXTURES / "discourse",
        )
        == 2
    )
    assert "--community" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run_cli("--platform", "slack", FIXTURES / "slack" / "source_export.zip")  # no sink


def journal_with(path: Path) -> Journal:
    journal = Journal.open(path, "slack", "T1")
    journal.append({"a": InputState(done=3, fingerprint="f")}, Counts(records=3))
    journal.append({"a": InputState(done=5, complete=True, fingerprint="f")}, Counts(records=2))
    journal.close()
    return journal


def test_a_checkpoint_line_cut_short_by_a_kill_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "ckpt.jsonl"
    journal_with(path)
    with path.open("a") as file:
        file.write('{"inputs": {"a": {"done": 9')
    journal = Journal.open(path, "slack", "T1")
    assert journal.states["a"] == InputState(done=5, complete=True, fingerprint="f")
    assert journal.totals.records == 5
    journal.append({"b": InputState(done=1, fingerprint="g")}, Counts(records=1))
    journal.close()
    assert Journal.open(path, "slack", "T1").states["b"].done == 1


def test_a_checkpoint_belongs_to_one_import(tmp_path: Path) -> None:
    path = tmp_path / "ckpt.jsonl"
    journal_with(path)
    with pytest.raises(UsageError, match="another import"):
        Journal.open(path, "slack", "T2")
    assert Journal.open(path, "slack", "T2", restart=True).states == {}
    write_json(path, {"not": "a checkpoint"})
    with pytest.raises(UsageError, match="not a backfill checkpoint"):
        Journal.open(path, "slack", "T1")


def test_a_changed_input_is_read_again_from_its_start(tmp_path: Path) -> None:
    journal = journal_with(tmp_path / "ckpt.jsonl")
    journal = Journal.open(journal.path, "slack", "T1")
    same = InputFile("a", "a", 1, "f", tmp_path)
    changed = InputFile("a", "a", 1, "other", tmp_path)
    assert journal.state(same).complete
    assert journal.state(changed) == InputState(fingerprint="other")
    assert journal.started_at <= utcnow()


def test_events_reach_the_sink_in_batches_of_whole_records(tmp_path: Path) -> None:
    out = tmp_path / "events.jsonl"
    hours = busy_hours(tmp_path / "hours", hours=2, lines=100)
    assert (
        run_cli(
            "--platform",
            "github",
            "--community",
            "acme",
            "--out",
            out,
            "--checkpoint",
            tmp_path / "c",
            "--batch-size",
            "50",
            "--no-progress",
            *hours,
        )
        == 0
    )
    lines = (tmp_path / "c").read_text().splitlines()
    entries = [json.loads(line) for line in lines[1:]]
    applied = [sum(entry["counts"]["events"].values()) for entry in entries]
    # Each batch is the first whole record at or past 50 events; the last holds the rest.
    assert all(size >= 50 for size in applied[:-1]) and max(applied) < 50 + 20
    # In the order of the hours and of their lines.
    fmt = formats.build("github", hours, "acme")
    fmt.prepare(fmt.inputs(), utcnow())
    read = [
        e.id
        for source in fmt.inputs()
        for o in fmt.read(source, 0, ByteCounter())
        for e in o.events
    ]
    assert [e.id for e in read_events(out)] == read and sum(applied) == len(read)
