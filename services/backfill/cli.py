"""``python -m services.backfill``: import a platform's export, then print a summary.

    python -m services.backfill --platform slack --community T0ACME --out events.jsonl export.zip
    python -m services.backfill --platform github --community acme --dry-run ./gh-dump/
    make backfill BACKFILL_ARGS="--platform discord --out events.jsonl ./exports/"

Exit status: 0 imported (or nothing left to import), 1 a bad record stopped the import (the
records before it are imported and checkpointed: fix or remove it and run the same command to
continue), 2 the command could not start. The sink is chosen in :func:`open_sink` and nowhere
else.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from services.backfill import formats
from services.backfill.checkpoint import Journal, default_path
from services.backfill.runner import DEFAULT_BATCH_SIZE, ImportResult, run_import
from services.backfill.sink import RecordingSink, Sink
from services.backfill.source import UsageError
from services.backfill.summary import render


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m services.backfill",
        description="Import a brand's history from a platform export as the engagement events "
        "its webhooks would have produced (README: Importing history).",
    )
    parser.add_argument("--platform", required=True, choices=sorted(formats.PLATFORMS))
    parser.add_argument(
        "--community",
        help="GitHub organization (or owner) login, Slack team id (T…), Discourse instance URL, "
        "Discord guild id. GitHub and Discord read it from the export and keep only this one "
        "when given; Slack reads it from users.json when not given; Discourse requires it.",
    )
    sinks = parser.add_mutually_exclusive_group(required=True)
    sinks.add_argument("--out", type=Path, help="append the events to this file as JSON lines")
    sinks.add_argument("--dry-run", action="store_true", help="map and count, keep nothing")
    parser.add_argument(
        "--checkpoint",
        type=Path,
        help="checkpoint file (default: .invested/backfill/<platform>-<inputs digest>.jsonl)",
    )
    parser.add_argument("--restart", action="store_true", help="forget the checkpoint first")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("inputs", nargs="+", type=Path, help="export files or folders")
    args = parser.parse_args(argv)
    if args.batch_size < 1:
        parser.error("--batch-size must be at least 1")
    return args


def open_sink(args: argparse.Namespace) -> Sink:
    """The one place the command picks its sink (the classifier's store goes here)."""
    if args.dry_run:
        return RecordingSink(keep=False)
    return RecordingSink(args.out, keep=False)


async def run(args: argparse.Namespace) -> ImportResult:
    fmt = formats.build(args.platform, args.inputs, args.community)
    path = args.checkpoint or default_path(fmt.name, args.community, fmt.inputs())
    journal = Journal.open(path, fmt.name, args.community, restart=args.restart)
    sink = open_sink(args)
    try:
        result = await run_import(
            fmt, journal, sink, batch_size=args.batch_size, progress=not args.no_progress
        )
    finally:
        summary = await sink.close()
        journal.close()
    result.sink = summary
    return result


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        result = asyncio.run(run(args))
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        render(
            result.this_run,
            result.total,
            result.inputs,
            result.already_imported,
            result.seconds,
            result.sink,
        )
    )
    if result.error is not None:
        print(
            f"error: {result.error}\nThe records before it are imported and checkpointed; fix or "
            "remove this record and run the same command again to continue.",
            file=sys.stderr,
        )
        return 1
    return 0
