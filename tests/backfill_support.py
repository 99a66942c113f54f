"""Helpers for the backfill tests (this module holds no tests).

:func:`imported` runs one import of the given inputs into a :class:`RecordingSink` with a fresh
checkpoint; :func:`webhook` maps a published webhook example (``tests/fixtures/<platform>/``)
with the ingest adapter, as ingest would; :func:`act` is what an imported event and a webhook
event of the same act must share (everything but ``received_at``, and the times where the
export has no time of its own).
"""

from __future__ import annotations

import asyncio
import gzip
import json
import zipfile
from pathlib import Path
from typing import Any

from invested.contracts import EngagementEvent
from services.backfill import formats
from services.backfill.checkpoint import Journal
from services.backfill.runner import ImportResult, run_import
from services.backfill.sink import RecordingSink
from tests.test_ingest_adapters import adapt

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "backfill"


def imported(
    platform: str, inputs: list[Path], tmp: Path, community: str | None = None
) -> tuple[list[EngagementEvent], ImportResult]:
    """The events of one clean import, and its result."""
    fmt = formats.build(platform, inputs, community)
    journal = Journal.open(tmp / "checkpoint.jsonl", fmt.name, community, restart=True)
    sink = RecordingSink()
    try:
        result = asyncio.run(run_import(fmt, journal, sink, progress=False))
    finally:
        journal.close()
    return sink.events, result


def webhook(platform: str, name: str, payload: Any = None) -> list[EngagementEvent]:
    """The events ingest makes of a published webhook example (or of ``payload`` under its
    name, for a changed copy)."""
    return adapt(platform, name, payload)


def act(event: EngagementEvent, times: bool = True) -> dict[str, Any]:
    """What must be equal for one act imported and received: all but ``received_at`` (and
    ``occurred_at`` when ``times`` is false: the export or the webhook has no time of its own)."""
    excluded = {"received_at"} if times else {"received_at", "occurred_at"}
    return event.model_dump(exclude=excluded)


def write_json(path: Path, value: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=2))
    return path


def write_lines(path: Path, values: list[Any]) -> Path:
    """JSON lines, gzipped when the name ends in ``.gz`` (GH Archive's hourly files)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(value, separators=(",", ":")) + "\n" for value in values)
    if path.name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def read_events(path: Path) -> list[EngagementEvent]:
    """The events a ``--out`` file holds; a last line cut short by a kill is left out."""
    events = []
    for line in path.read_bytes().split(b"\n"):
        if not line:
            continue
        try:
            events.append(EngagementEvent.from_json(line))
        except ValueError:
            continue
    return events


def busy_hours(folder: Path, hours: int, lines: int, community: str = "acme") -> list[Path]:
    """GH Archive hours of one busy community: the published hour's lines moved into
    ``community`` with new ids (issues, comments, pull requests, forks, commits), so every line
    maps and no two acts share an id."""
    published = gzip.decompress(
        (FIXTURES / "gharchive" / "2019-11-27-3.first100.json.gz").read_bytes()
    )
    originals = [json.loads(line) for line in published.splitlines()]
    paths = []
    for hour in range(hours):
        values = []
        for index in range(lines):
            number = hour * lines + index
            event = json.loads(json.dumps(originals[index % len(originals)]))
            name = event["repo"]["name"].split("/")[1]
            event["repo"]["name"] = f"{community}/{name}"
            event["org"] = {"id": 1, "login": community}
            event["id"] = str(10**10 + number)
            event["created_at"] = f"2024-01-01T{hour:02d}:{index * 60 // lines:02d}:00Z"
            payload = event["payload"]
            for key in ("issue", "pull_request", "comment", "forkee"):
                if isinstance(payload.get(key), dict):
                    payload[key]["id"] = 10**9 + number
            for commit in payload.get("commits") or []:
                commit["sha"] = f"{number:020x}{commit['sha'][:20]}"
                commit["author"]["email"] = f"{number}+dev{number}@users.noreply.github.com"
            values.append(event)
        paths.append(write_lines(folder / f"2024-01-01-{hour}.json.gz", values))
    return paths


def archive_line(event_type: str, payload: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """The Events API event of a webhook example's act: its sender as the actor (the fields the
    Events API gives), its repository as ``repo``, ``body`` as the payload."""
    sender, repository = payload["sender"], payload["repository"]
    actor_fields = ("id", "login", "gravatar_id", "url", "avatar_url")
    line = {
        "id": "10956409041",
        "type": event_type,
        "actor": {k: sender[k] for k in actor_fields} | {"display_login": sender["login"]},
        "repo": {"id": repository["id"], "name": repository["full_name"], "url": repository["url"]},
        "payload": body,
        "public": True,
        "created_at": "2019-05-15T15:20:40Z",
    }
    if "organization" in payload:
        line["org"] = {
            "id": payload["organization"]["id"],
            "login": payload["organization"]["login"],
        }
    return line


def busy_export(path: Path, days: int, per_day: int) -> Path:
    """A Slack export of one busy channel: the published export's messages (posts, thread
    replies, an app's message) repeated with new times and authors, every fifth with a
    reaction, ``per_day`` messages a day."""
    with zipfile.ZipFile(FIXTURES / "slack" / "source_export.zip") as sample:
        users = json.loads(sample.read("users.json"))
        channels = sample.read("channels.json")
        templates = [
            message
            for name in sample.namelist()
            if name.startswith("B75B4C7/") and name.endswith(".json")
            for message in json.loads(sample.read(name))
            if message.get("subtype") is None
        ]
    members = [user["id"] for user in users]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as export:
        export.writestr("users.json", json.dumps(users))
        export.writestr("channels.json", channels)
        for day in range(days):
            messages = []
            for number in range(per_day):
                message = dict(templates[number % len(templates)])
                second = 1_700_000_000 + day * 86_400 + number * (86_400 // per_day)
                message["ts"] = f"{second}.{number:06d}"
                message["user"] = members[number % len(members)]
                if "thread_ts" in message:
                    message["thread_ts"] = f"{second - 1}.000000"
                if number % 5 == 0:
                    reactor = members[(number + 1) % len(members)]
                    message["reactions"] = [{"name": "+1", "users": [reactor], "count": 1}]
                messages.append(message)
            export.writestr(f"B75B4C7/2023-11-{day + 1:02d}.json", json.dumps(messages, indent=4))
    return path
