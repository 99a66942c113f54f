"""Slack workspace exports (*Workspace settings → Import/Export Data*) → Slack webhook events.

An export is a zip (or the folder it unpacks to): ``users.json``, ``channels.json`` (public
channels), ``groups.json`` (private channels, when the export has them), and one file per
channel and day, ``<channel name>/<YYYY-MM-DD>.json``, holding that day's messages with thread
replies. Each message is shaped as the ``message`` event Slack sends and mapped by the Slack
adapter, so thread replies, mentions, bots and subtypes come out as the webhook's (join notices,
edits and deletions are ignored there and here). Each reaction listed on a message becomes that
user's ``reaction_added``, whose id (user, emoji, message) is the webhook's; the export has no
reaction time, so the message's time stands in. ``users.json`` gives each user's ``user_change``
(the webhook's one act per user) at the user's ``updated`` time, a leave for deactivated users.
Direct messages are read but not counted (``direct_message``): the webhook subscriptions do not
cover them. Day files are read in date order across channels, messages in ``ts`` order.
"""

from __future__ import annotations

import io
import zipfile
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any

import orjson

from invested.contracts import Platform
from services.backfill.jsonstream import JsonStream, JsonStreamError
from services.backfill.source import (
    BadRecord,
    ByteCounter,
    InputFile,
    Outcome,
    UsageError,
    adapt,
    counting,
    outcome_of,
    record_time,
)
from services.ingest.adapters import slack

USERS = "users.json"
CHANNEL_LISTS = ("channels.json", "groups.json")  # conversations the webhooks report
DIRECT_LISTS = ("dms.json", "mpims.json")
DIRECT_MESSAGE = "direct_message"


class SlackExportFormat:
    name = "slack"
    platform = Platform.SLACK

    def __init__(self, path: Path, community: str | None) -> None:
        self._path = path.resolve()
        self._label = str(path)
        if self._path.is_file():
            try:
                self._zip: zipfile.ZipFile | None = zipfile.ZipFile(self._path)
            except zipfile.BadZipFile:
                raise UsageError(f"{path}: not a zip file (a Slack export is a zip)") from None
            self._members = {info.filename: info for info in self._zip.infolist()}
        elif self._path.is_dir():
            self._zip = None
            self._members = {}
        else:
            raise UsageError(f"{path}: no such file or folder")
        if not self._exists(USERS) or not self._exists(CHANNEL_LISTS[0]):
            raise UsageError(f"{path}: not a Slack export (no {USERS} and {CHANNEL_LISTS[0]})")
        self._channels = {
            name: ident for listing in CHANNEL_LISTS for name, ident in self._listing(listing)
        }
        self._direct = {name for listing in DIRECT_LISTS for name, _ in self._listing(listing)}
        self.community = community or self._workspace_id()
        self._inputs = self._find_inputs()
        self._fallback = datetime.min

    # --- the export's files, in a zip or a folder ---

    def _exists(self, name: str) -> bool:
        if self._zip is not None:
            return name in self._members
        return (self._path / name).is_file()

    def _names(self) -> list[str]:
        if self._zip is not None:
            return [name for name, info in self._members.items() if not info.is_dir()]
        return [str(p.relative_to(self._path).as_posix()) for p in self._path.rglob("*.json")]

    def _input(self, name: str) -> InputFile:
        if self._zip is not None:
            info = self._members[name]
            return InputFile(
                key=f"{self._path}!{name}",
                label=f"{self._label}!{name}",
                size=info.file_size,
                fingerprint=f"{info.CRC:08x}:{info.file_size}",
                path=self._path,
                member=name,
            )
        file = self._path / name
        stat = file.stat()
        return InputFile(
            key=str(file),
            label=str(Path(self._label) / name),
            size=stat.st_size,
            fingerprint=f"{stat.st_size}:{stat.st_mtime_ns}",
            path=file,
        )

    def _open(self, source: InputFile, counter: ByteCounter) -> IO[bytes]:
        if self._zip is not None and source.member is not None:
            return counting(self._zip.open(source.member), counter)  # type: ignore[arg-type]
        return counting(source.path.open("rb"), counter)

    def _load(self, source: InputFile, counter: ByteCounter | None = None) -> Any:
        """A whole (small) file: a day of one channel, a list of conversations."""
        with self._open(source, counter or ByteCounter()) as stream:
            data = stream.read()
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise BadRecord(source.label, 0, f"not JSON: {exc.msg}", exc.lineno) from None

    def _stream(self, source: InputFile, counter: ByteCounter | None = None) -> Iterator[Any]:
        """The elements of a file's array, read as they come (users.json of a big workspace)."""
        index = 0
        try:
            with io.TextIOWrapper(self._open(source, counter or ByteCounter()), "utf-8") as text:
                for record, _ in JsonStream(text).elements():
                    yield record
                    index += 1
        except JsonStreamError as exc:
            raise BadRecord(source.label, index, exc.detail, exc.line) from None

    def _listing(self, name: str) -> list[tuple[str, str]]:
        """(folder name, conversation id) of a conversations list; DMs' folders are their ids."""
        if not self._exists(name):
            return []
        items = self._load(self._input(name))
        if not isinstance(items, list):
            raise UsageError(f"{self._label}: {name} is not a list of conversations")
        found = []
        for item in items:
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                found.append((str(item.get("name") or item["id"]), item["id"]))
        return found

    def _workspace_id(self) -> str:
        teams = Counter(
            user.get("team_id")
            for user in self._stream(self._input(USERS))
            if isinstance(user, dict) and isinstance(user.get("team_id"), str)
        )
        if not teams:
            raise UsageError(
                f"{self._label}: {USERS} names no team_id; pass --community with the workspace's "
                "team id (T…, the team_id of its event payloads)"
            )
        return str(teams.most_common(1)[0][0])

    def _find_inputs(self) -> list[InputFile]:
        days = []
        for name in self._names():
            parts = PurePosixPath(name).parts
            if (
                len(parts) == 2
                and parts[1].endswith(".json")
                and (parts[0] in self._channels or parts[0] in self._direct)
            ):
                days.append((parts[1], parts[0], name))
        return [self._input(USERS)] + [self._input(name) for _, _, name in sorted(days)]

    # --- the format ---

    def inputs(self) -> list[InputFile]:
        return self._inputs

    def prepare(self, pending: list[InputFile], started_at: datetime) -> None:
        self._fallback = started_at

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

    def read(self, source: InputFile, start: int, counter: ByteCounter) -> Iterator[Outcome]:
        name = source.member or source.path.relative_to(self._path).as_posix()
        if name == USERS:
            yield from self._users(source, start, counter)
            return
        records = self._load(source, counter)
        if not isinstance(records, list):
            raise BadRecord(source.label, 0, "not a JSON array of records")
        bad = next((i for i, record in enumerate(records) if not isinstance(record, dict)), None)
        valid = records if bad is None else records[:bad]  # the records before a bad one count
        folder = PurePosixPath(name).parent.name
        if folder in self._channels:
            yield from self._messages(valid, self._channels[folder], start)
        else:
            for index in range(start, len(valid)):
                yield Outcome(index, skipped=(DIRECT_MESSAGE,))
        if bad is not None:
            raise BadRecord(source.label, bad, "not a JSON object")

    def _users(self, source: InputFile, start: int, counter: ByteCounter) -> Iterator[Outcome]:
        for index, user in enumerate(self._stream(source, counter)):
            if index < start:
                continue
            if not isinstance(user, dict):
                raise BadRecord(source.label, index, "not a JSON object")
            at = record_time(user.get("updated"), self._fallback)
            event: dict[str, Any] = {"type": "user_change", "user": user}
            payload = {"type": "event_callback", "team_id": self.community, "event": event}
            yield outcome_of(index, [adapt(slack.ADAPTER, payload, at)])

    def _messages(
        self, messages: list[dict[str, Any]], channel: str, start: int
    ) -> Iterator[Outcome]:
        ordered = sorted(messages, key=_ts_order)
        for index in range(start, len(ordered)):
            message = ordered[index]
            ts = message.get("ts")
            at = record_time(ts, self._fallback)
            event = {**message, "type": "message", "channel": channel}
            results = [adapt(slack.ADAPTER, self._envelope(event), at)]
            author = message.get("user") or message.get("bot_id")
            for reaction in message.get("reactions") or ():
                if not isinstance(reaction, dict):
                    continue
                for user in reaction.get("users") or ():
                    added = {
                        "type": "reaction_added",
                        "user": user,
                        "reaction": reaction.get("name"),
                        "item_user": author,
                        "item": {"type": "message", "channel": channel, "ts": ts},
                        "event_ts": ts,
                    }
                    results.append(adapt(slack.ADAPTER, self._envelope(added), at))
            yield outcome_of(index, results)

    def _envelope(self, event: dict[str, Any]) -> dict[str, Any]:
        return {"type": "event_callback", "team_id": self.community, "event": event}


def _ts_order(message: dict[str, Any]) -> float:
    try:
        return float(message.get("ts") or 0)
    except (TypeError, ValueError):
        return 0.0
