"""DiscordChatExporter JSON exports give the events of the Discord bridge's webhooks.

DiscordChatExporter publishes no sample export; the real samples are the exports published with
mlomb/chat-analytics' tests (``tests/fixtures/backfill/discord/``, source in
``tests/fixtures/README.md``): a server channel and a group DM. The pairs are built: the message
of each Discord webhook example (``tests/fixtures/discord/``) written the way
DiscordChatExporter's JSON writer (``JsonMessageWriter.cs``) writes a message, in an export of
the example's guild and channel.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from invested.contracts import Kind, Role
from services.backfill.discord_export import DiscordExportFormat
from services.backfill.source import ByteCounter
from tests.backfill_support import FIXTURES, act, imported, webhook, write_json
from tests.test_ingest_support import fixture

SAMPLES = FIXTURES / "discord"


def exported_user(user: dict[str, Any], roles: bool = True) -> dict[str, Any]:
    """A Discord user as DiscordChatExporter writes it (``name`` is the username)."""
    written = {
        "id": user["id"],
        "name": user["username"],
        "discriminator": user.get("discriminator", "0000"),
        "nickname": user.get("global_name") or user["username"],
        "color": None,
        "isBot": user.get("bot", False),
    }
    if roles:
        written["roles"] = []
    return written | {"avatarUrl": "https://cdn.discordapp.com/embed/avatars/0.png"}


def exported_message(data: dict[str, Any], kind: str = "Default", **extra: Any) -> dict[str, Any]:
    """A MESSAGE_CREATE's message as DiscordChatExporter writes it (milliseconds, as .NET)."""
    stamp = data["timestamp"]
    return {
        "id": data["id"],
        "type": kind,
        "timestamp": stamp[:23] + stamp[26:],
        "timestampEdited": None,
        "callEndedTimestamp": None,
        "isPinned": False,
        "content": data["content"],
        "author": exported_user(data["author"]),
        "attachments": [],
        "embeds": [],
        "stickers": [],
        "reactions": [],
        "mentions": [exported_user(user) for user in data.get("mentions", [])],
        "inlineEmojis": [],
    } | extra


def channel_export(tmp_path: Path, data: dict[str, Any], messages: list[dict[str, Any]]) -> Path:
    export = {
        "guild": {"id": data["guild_id"], "name": "Acme", "iconUrl": ""},
        "channel": {
            "id": data["channel_id"],
            "type": "GuildTextChat",
            "categoryId": None,
            "category": None,
            "name": "general",
            "topic": None,
        },
        "dateRange": {"after": None, "before": None},
        "exportedAt": "2024-06-01T12:00:00.000+00:00",
        "messages": messages,
        "messageCount": len(messages),
    }
    return write_json(tmp_path / "Acme - general.json", export)


def test_the_published_exports(tmp_path: Path) -> None:
    events, result = imported("discord", [SAMPLES], tmp_path)
    counts = result.this_run
    # The server channel's five messages (one written twice: one act, one id); the group DM's
    # six messages are not counted; reactions were exported without their users.
    assert counts.events == {"post": 5}
    assert len({event.id for event in events}) == 4
    assert counts.skipped == {"direct_message": 6}
    assert counts.notes == {"reaction_users_not_exported": 2}
    assert {event.community for event in events} == {"253601524398293010"}
    assert {event.member_handle for event in events} == {"Deleted User", "mlomb"}


def test_an_exported_message_gives_the_webhooks_events(tmp_path: Path) -> None:
    data = fixture("discord", "message_create")["d"]
    path = channel_export(tmp_path, data, [exported_message(data)])
    events, _ = imported("discord", [path], tmp_path)
    received = webhook("discord", "message_create")
    assert [e.kind for e in received] == [Kind.POST, Kind.MENTION]
    assert [act(e) for e in events] == [act(e) for e in received]


def reply_export(tmp_path: Path) -> Path:
    data = fixture("discord", "message_create.reply")["d"]
    original = exported_message(data["referenced_message"])
    reference = {
        "type": "Default",
        "messageId": data["message_reference"]["message_id"],
        "channelId": data["channel_id"],
        "guildId": data["guild_id"],
    }
    reply = exported_message(data, "Reply", reference=reference)
    return channel_export(tmp_path, data, [original, reply])


def test_an_exported_reply_finds_its_target_among_earlier_messages(tmp_path: Path) -> None:
    events, result = imported("discord", [reply_export(tmp_path)], tmp_path)
    received = webhook("discord", "message_create.reply")
    assert [e.kind for e in received] == [Kind.REPLY]  # its mention is of the replied author
    assert [act(e) for e in events[1:]] == [act(e) for e in received]
    assert not result.this_run.notes


def test_a_resumed_file_still_knows_the_reply_targets_before_it(tmp_path: Path) -> None:
    path = reply_export(tmp_path)
    fmt = DiscordExportFormat([path], None)
    [source] = fmt.inputs()
    [outcome] = list(fmt.read(source, 1, ByteCounter()))
    [received] = webhook("discord", "message_create.reply")
    assert [act(e) for e in outcome.events] == [act(received)]


def test_a_reply_to_a_message_outside_the_export_counts_without_target(tmp_path: Path) -> None:
    data = fixture("discord", "message_create.reply")["d"]
    reference = {"type": "Default", "messageId": "1", "channelId": data["channel_id"]}
    path = channel_export(tmp_path, data, [exported_message(data, "Reply", reference=reference)])
    events, result = imported("discord", [path], tmp_path)
    [reply] = [e for e in events if e.kind is Kind.REPLY]
    assert reply.target_member is None and reply.thread == "1"
    assert result.this_run.notes == {"reply_target_not_in_export": 1}


def test_exported_reactions_give_the_webhooks_react(tmp_path: Path) -> None:
    reacted = fixture("discord", "message_reaction_add")["d"]
    data = fixture("discord", "message_create")["d"]
    assert reacted["message_id"] == data["id"]
    reaction = {
        # DiscordChatExporter writes a standard emoji with an empty id.
        "emoji": {"id": "", "name": reacted["emoji"]["name"], "code": "fire", "isAnimated": False},
        "count": 1,
        "users": [exported_user(reacted["member"]["user"], roles=False)],
    }
    path = channel_export(tmp_path, data, [exported_message(data, reactions=[reaction])])
    events, _ = imported("discord", [path], tmp_path)
    [react] = [e for e in events if e.kind is Kind.REACT]
    [received] = webhook("discord", "message_reaction_add")
    # No reaction time in the export: the message's time stands in for the bridge's.
    assert act(react, times=False) == act(received, times=False)


@pytest.mark.parametrize("kind", ["20", "23"])
def test_bots_and_command_answers_are_marked(tmp_path: Path, kind: str) -> None:
    data = fixture("discord", "message_create")["d"]
    data["author"] = data["author"] | {"bot": True}
    path = channel_export(tmp_path, data, [exported_message(data, kind)])
    events, _ = imported("discord", [path], tmp_path)
    assert [e.member_role for e in events if e.kind is Kind.POST] == [Role.BOT]


def test_system_messages_are_ignored_as_the_webhook_ignores_them(tmp_path: Path) -> None:
    data = fixture("discord", "message_create")["d"]
    path = channel_export(tmp_path, data, [exported_message(data, "GuildMemberJoin")])
    events, result = imported("discord", [path], tmp_path)
    assert events == []
    assert result.this_run.skipped == {"system_message (MESSAGE_CREATE.system)": 1}


def test_community_option_keeps_one_guild(tmp_path: Path) -> None:
    events, result = imported("discord", [SAMPLES / "SV_5A_5M.json"], tmp_path, community="42")
    assert events == [] and result.this_run.skipped == {"other_community": 5}
