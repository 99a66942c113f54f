"""GH Archive hourly files (``YYYY-MM-DD-H.json.gz``) → the events GitHub's webhooks give.

Each line is one event of GitHub's public Events API; its ``payload`` carries the same objects
as the webhook of the same act (the issue, the comment, the pull request, the review), so each
event is shaped as that webhook's body and mapped by the GitHub adapter's table. What the Events
API lacks: a ``WatchEvent`` (starring) has no ``starred_at``, so the event's ``created_at``
stands in (the ids match when the two times agree); the actor has no ``type``, so only a
``[bot]`` login marks an actor as a bot; push commits have no ``username`` and no time, so only
noreply authors map to a user, at the time of the push. An hour holds all of GitHub, so
``--community`` is required and other communities' lines are dropped before they are parsed.
Lines are read in file order, which is event-time order.
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from invested.contracts import EngagementEvent, Platform
from services.backfill.source import (
    OTHER_COMMUNITY,
    BadRecord,
    ByteCounter,
    InputFile,
    Outcome,
    UsageError,
    apply_table,
    counting,
    file_input,
    ignored_reason,
    record_time,
    unmappable_reason,
)
from services.ingest.adapters import github
from services.ingest.adapters.common import Delivery, Ignored, Unmappable
from services.ingest.adapters.github_push import commit_events

LEGACY_FORMAT = "legacy_timeline_format"  # before 2015 the archive held the Timeline API
PUSH_WITHOUT_COMMITS = "push_without_commits"

Result = tuple[list[EngagementEvent], str | None]


@dataclass(slots=True)  # not frozen: one is built per line, and frozen ones build slower
class ArchiveEvent:
    """One line's event: its payload, the webhook body's common parts (repository, sender),
    its community, its time and the time as written (a star's ``starred_at``)."""

    payload: dict[str, Any]
    common: dict[str, Any]
    community: str
    at: datetime
    created_at: Any


def _table(key: str, event: ArchiveEvent, extra: dict[str, Any] | None = None) -> Result:
    body = {**event.common, **event.payload, **(extra or {})}
    return apply_table(Platform.GITHUB, event.community, key, github.TABLE, body, event.at)


def _with_action(
    prefix: str, renamed: dict[str, str] | None = None
) -> Callable[[ArchiveEvent], Result]:
    def build(event: ArchiveEvent) -> Result:
        action = event.payload.get("action")
        if isinstance(action, str) and renamed:
            action = renamed.get(action, action)
        return _table(f"{prefix}.{action}", event)

    return build


def _commit_comment(event: ArchiveEvent) -> Result:
    # Older Events API payloads have no action: a commit comment event is always a creation.
    return _table("commit_comment.created", event)


def _star(event: ArchiveEvent) -> Result:
    if event.payload.get("action") != "started":
        return [], f"event_not_mapped (watch.{event.payload.get('action')})"
    return _table("star.created", event, {"starred_at": event.created_at})


def _fork(event: ArchiveEvent) -> Result:
    return _table("fork", event)


def _push(event: ArchiveEvent) -> Result:
    commits = event.payload.get("commits")
    if not isinstance(commits, list):
        return [], PUSH_WITHOUT_COMMITS
    shaped = [
        {"id": c.get("sha"), "author": c.get("author"), "distinct": c.get("distinct")}
        for c in commits
        if isinstance(c, dict)
    ]
    body = {**event.common, "commits": shaped}
    try:
        delivery = Delivery(Platform.GITHUB, {}, body, "", event.at)
        return commit_events(delivery, event.community), None
    except Ignored as exc:
        return [], ignored_reason(exc)
    except Unmappable as exc:
        return [], unmappable_reason(exc)


BUILDERS: dict[str, Callable[[ArchiveEvent], Result]] = {
    "IssuesEvent": _with_action("issues"),
    "IssueCommentEvent": _with_action("issue_comment"),
    "PullRequestEvent": _with_action("pull_request"),
    # The Events API says "created" where the webhook says "submitted".
    "PullRequestReviewEvent": _with_action("pull_request_review", {"created": "submitted"}),
    "PullRequestReviewCommentEvent": _with_action("pull_request_review_comment"),
    "CommitCommentEvent": _commit_comment,
    "ReleaseEvent": _with_action("release"),
    "MemberEvent": _with_action("member"),
    "WatchEvent": _star,
    "ForkEvent": _fork,
    "PushEvent": _push,
}


def _gzip_lines(raw: BinaryIO, chunk: int = 1 << 20) -> Iterator[bytes]:
    """The lines of a gzip stream (members back to back allowed), decompressed a chunk at a
    time: splitting big chunks costs a fraction of reading a gzip file line by line."""
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    tail = b""
    while data := raw.read(chunk):
        while data:
            lines = (tail + decompressor.decompress(data)).split(b"\n")
            tail = lines.pop()
            yield from lines
            data = decompressor.unused_data if decompressor.eof else b""
            if data:  # another gzip member follows
                decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    if not decompressor.eof:
        raise EOFError("the file ends before its gzip stream does (cut short?)")
    if tail:
        yield tail


def _event_time(created_at: Any) -> datetime | None:
    """The Events API's ``2019-11-27T03:00:00Z`` with the standard parser alone (it is read for
    every line); None for anything else, which goes to the general parser."""
    if isinstance(created_at, str) and created_at.endswith("Z"):
        try:
            moment = datetime.fromisoformat(created_at)
        except ValueError:
            return None
        return moment if 2000 <= moment.year < 2100 else None  # the general parser's range
    return None


def is_archive(path: Path) -> bool:
    """GH Archive hourly files are gzipped JSON lines; ``.jsonl`` accepts them unpacked."""
    return path.name.endswith((".json.gz", ".jsonl.gz", ".jsonl"))


class GhArchiveFormat:
    name = "gharchive"
    platform = Platform.GITHUB

    def __init__(self, files: list[Path], community: str | None) -> None:
        if not community:
            raise UsageError(
                "GH Archive holds all of GitHub: pass --community with the organization (or "
                "owner) login whose events to import"
            )
        self._community = community.lower()
        self._needle = self._community.encode()
        self._inputs = [file_input(path) for path in sorted(files)]
        self._fallback = datetime.min

    def inputs(self) -> list[InputFile]:
        return self._inputs

    def prepare(self, pending: list[InputFile], started_at: datetime) -> None:
        self._fallback = started_at

    def close(self) -> None:
        return None

    def read(self, source: InputFile, start: int, counter: ByteCounter) -> Iterator[Outcome]:
        index = start
        try:
            with counting(source.path.open("rb"), counter) as raw:
                lines = _gzip_lines(raw) if source.path.name.endswith(".gz") else iter(raw)
                for index, line in enumerate(itertools.islice(lines, start, None), start):
                    if line.strip():
                        yield self._map_line(source, index, line)
        except (OSError, EOFError, zlib.error) as exc:
            raise BadRecord(
                source.label, index, f"cannot read the file: {exc}", index + 1
            ) from None

    def _map_line(self, source: InputFile, index: int, line: bytes) -> Outcome:
        if self._needle not in line.lower():  # most of an hour is other communities
            return Outcome(index, skipped=(OTHER_COMMUNITY,))
        try:
            event = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise BadRecord(source.label, index, f"not JSON: {exc}", index + 1) from None
        if not isinstance(event, dict):
            raise BadRecord(source.label, index, "not a JSON object", index + 1)
        actor, repo, org = event.get("actor"), event.get("repo"), event.get("org")
        if not isinstance(actor, dict) or not isinstance(repo, dict):
            return Outcome(index, skipped=(LEGACY_FORMAT,))
        full_name = repo.get("name")
        owner = full_name.split("/")[0] if isinstance(full_name, str) else None
        community = org.get("login") if isinstance(org, dict) else owner
        if not isinstance(community, str) or community.lower() != self._community:
            return Outcome(index, skipped=(OTHER_COMMUNITY,))
        kind = event.get("type")
        build = BUILDERS.get(kind) if isinstance(kind, str) else None
        payload = event.get("payload")
        if build is None or not isinstance(payload, dict):
            return Outcome(index, skipped=(f"event_not_mapped ({kind})",))
        common = {
            "repository": {"id": repo.get("id"), "full_name": full_name, "owner": {"login": owner}},
            "sender": actor,
        }
        created_at = event.get("created_at")
        at = _event_time(created_at) or record_time(created_at, self._fallback)
        events, reason = build(ArchiveEvent(payload, common, community, at, created_at))
        return Outcome(index, events, () if reason is None else (reason,))
