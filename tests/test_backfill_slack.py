"""Slack workspace exports give the events of Slack's Events API webhooks.

The real sample is slackdump's published export (``tests/fixtures/backfill/slack/``, source in
``tests/fixtures/README.md``): a channel with threads, a join notice, a deleted thread parent,
an app's message and users of every kind. Slack publishes no export of the messages in its
webhook examples, so each pair is built: the webhook's ``event`` is the message as an export's
day file holds it (without ``channel``, which the folder and ``channels.json`` give), and the
tests say what else they add.
"""

from __future__ import annotations

import copy
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from invested.contracts import Kind, Role, email_digest
from services.backfill.source import UsageError
from tests.backfill_support import FIXTURES, act, imported, webhook
from tests.test_ingest_support import fixture

SAMPLE = FIXTURES / "slack" / "source_export.zip"


def export(
    tmp_path: Path,
    messages: list[dict[str, Any]],
    channel: str = "C043YJGBY49",
    users: list[dict[str, Any]] | None = None,
    direct: list[dict[str, Any]] | None = None,
) -> Path:
    """An export zip with one channel ("general") holding ``messages`` on one day, and a DM."""
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("users.json", json.dumps(users or []))
        archive.writestr("channels.json", json.dumps([{"id": channel, "name": "general"}]))
        archive.writestr("dms.json", json.dumps([{"id": "D0123456789", "members": []}]))
        archive.writestr("general/2022-09-23.json", json.dumps(messages))
        archive.writestr("D0123456789/2022-09-23.json", json.dumps(direct or []))
    return path


def as_exported(name: str) -> dict[str, Any]:
    """The message of a webhook example as a day file holds it."""
    message = dict(fixture("slack", name)["event"])
    for field in ("channel", "event_ts", "channel_type"):
        message.pop(field, None)
    return message


def test_the_published_export(tmp_path: Path) -> None:
    started = datetime.now(UTC)
    events, result = imported("slack", [SAMPLE], tmp_path)
    counts = result.this_run
    assert counts.events == {"post": 10, "reply": 4, "join": 9, "leave": 1}
    assert counts.skipped == {
        "event_not_mapped (message.channel_join)": 1,
        "event_not_mapped (message.tombstone)": 1,
    }
    # The workspace is the team of users.json; channels are ids, not folder names.
    assert {event.community for event in events} == {"TOAC06ADF3"}
    messages = [event for event in events if event.kind in (Kind.POST, Kind.REPLY)]
    assert {event.channel for event in messages} == {"CO69735E8A"}
    # Replies in the first thread: to its author, none for the author's own reply.
    thread = [event for event in messages if event.thread == "1736478630.905399"]
    assert [(e.kind, e.member, e.target_member) for e in thread] == [
        (Kind.POST, "UOF82F39AE", None),
        (Kind.REPLY, "UOB5F987BF17", "UOF82F39AE"),
        (Kind.REPLY, "UOF82F39AE", None),
    ]
    # The app's message (bot_id next to user) is marked, as the webhook marks it.
    [by_app] = [event for event in messages if event.member == "UO0EC43A4792"]
    assert by_app.member_role is Role.BOT
    users = [event for event in events if event.kind in (Kind.JOIN, Kind.LEAVE)]
    bots = {event.member for event in users if event.member_role is Role.BOT}
    assert len(bots) == 6  # is_bot or is_app_user in users.json
    # A user never updated (updated: 0) joins at the import's start, the stand-in time.
    [never] = [event for event in users if event.member == "UO1D8E698D"]
    assert never.occurred_at >= started
    # Events of a day file come in message time order.
    times = [event.occurred_at for event in messages]
    assert times == sorted(times)


def test_the_team_id_given_wins(tmp_path: Path) -> None:
    events, _ = imported("slack", [SAMPLE], tmp_path, community="T0ACME")
    assert {event.community for event in events} == {"T0ACME"}


@pytest.mark.parametrize(
    "name",
    [
        "messageExample",
        "message.thread_reply",
        "botMessage",
        "message_subtype_bot_message",
        "circleci",
    ],
)
def test_an_exported_message_gives_the_webhooks_events(tmp_path: Path, name: str) -> None:
    payload = fixture("slack", name)
    channel = payload["event"]["channel"]
    path = export(tmp_path, [as_exported(name)], channel=channel)
    events, _ = imported("slack", [path], tmp_path, community=payload["team_id"])
    received = webhook("slack", name)
    assert received and [act(e) for e in events] == [act(e) for e in received]


def test_an_exported_reaction_gives_the_webhooks_event(tmp_path: Path) -> None:
    payload = fixture("slack", "reaction_added")
    event = payload["event"]
    # The reacted message, as its day file lists it with the reaction's users.
    message = {
        "type": "message",
        "user": event["item_user"],
        "text": "Who's up for lunch?",
        "ts": event["item"]["ts"],
        "reactions": [{"name": event["reaction"], "users": [event["user"]], "count": 1}],
    }
    path = export(tmp_path, [message], channel=event["item"]["channel"])
    events, _ = imported("slack", [path], tmp_path, community=payload["team_id"])
    [reacted] = [e for e in events if e.kind is Kind.REACT]
    [received] = webhook("slack", "reaction_added")
    # The export has no reaction time: the message's time stands in for event_ts.
    assert act(reacted, times=False) == act(received, times=False)
    assert reacted.occurred_at < received.occurred_at


@pytest.mark.parametrize("name", ["team_join", "user_change"])
def test_users_json_gives_the_webhooks_membership(tmp_path: Path, name: str) -> None:
    payload = fixture("slack", name)
    user = payload["event"]["user"]
    path = export(tmp_path, [], users=[user])
    events, _ = imported("slack", [path], tmp_path, community=payload["team_id"])
    received = webhook("slack", name)
    # users.json has the user's last update, the webhook its own event time.
    assert [act(e, times=False) for e in events] == [act(e, times=False) for e in received]
    assert events[0].occurred_at == datetime.fromtimestamp(user["updated"], UTC)


def test_a_deactivated_user_leaves_and_a_verified_email_is_kept(tmp_path: Path) -> None:
    payload = fixture("slack", "user_change")
    user = copy.deepcopy(payload["event"]["user"]) | {"deleted": True}
    joined = fixture("slack", "team_join")["event"]["user"]
    path = export(tmp_path, [], users=[user, joined])
    events, _ = imported("slack", [path], tmp_path, community=payload["team_id"])
    assert [event.kind for event in events] == [Kind.LEAVE, Kind.JOIN]
    assert events[1].member_email_sha256 == email_digest(joined["profile"]["email"])


def test_direct_messages_are_read_but_not_counted(tmp_path: Path) -> None:
    message = as_exported("messageExample")
    path = export(tmp_path, [message], direct=[message, message])
    events, result = imported("slack", [path], tmp_path, community="T043DB835ML")
    assert [event.kind for event in events] == [Kind.POST]
    assert result.this_run.skipped == {"direct_message": 2}


def test_an_unpacked_export_reads_as_its_zip(tmp_path: Path) -> None:
    folder = tmp_path / "unpacked"
    with zipfile.ZipFile(SAMPLE) as archive:
        archive.extractall(folder)
    unpacked, _ = imported("slack", [folder], tmp_path)
    zipped, _ = imported("slack", [SAMPLE], tmp_path)
    # (A user never updated stands in each import's own start time: times compared apart.)
    assert [act(e, times=False) for e in unpacked] == [act(e, times=False) for e in zipped]
    messages = [e.occurred_at for e in zipped if e.kind in (Kind.POST, Kind.REPLY)]
    assert [e.occurred_at for e in unpacked if e.kind in (Kind.POST, Kind.REPLY)] == messages


def test_what_is_not_an_export_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.zip").write_bytes(b"not a zip")
    with pytest.raises(UsageError, match="not a zip"):
        imported("slack", [tmp_path / "notes.zip"], tmp_path)
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(UsageError, match="not a Slack export"):
        imported("slack", [tmp_path / "other.zip"], tmp_path)


def test_a_bad_record_in_a_day_file_stops_after_the_records_before_it(tmp_path: Path) -> None:
    first = as_exported("messageExample")
    second = first | {"ts": "1663966390.000100", "client_msg_id": "2"}
    later = first | {"ts": "1663966399.000100", "client_msg_id": "3"}
    path = export(tmp_path, [first, second, "not a message", later])  # type: ignore[list-item]
    events, result = imported("slack", [path], tmp_path, community="T043DB835ML")
    assert [event.occurred_at.timestamp() for event in events] == [
        1663966382.046509,
        1663966390.0001,
    ]
    assert str(result.error).endswith("general/2022-09-23.json: record 2: not a JSON object")
