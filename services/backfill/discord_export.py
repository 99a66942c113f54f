"""DiscordChatExporter JSON exports (one file per channel or thread) → Discord webhook events.

DiscordChatExporter (``export --format Json``) writes one object per channel: ``guild``,
``channel``, then ``messages``, oldest first, each with its author, mentions, reference and
reactions (with the users who reacted). Each message is shaped as the ``MESSAGE_CREATE``
dispatch the gateway bridge forwards and mapped by the Discord adapter: DiscordChatExporter
names message types (``Default``, ``Reply``, ``GuildMemberJoin``…) where Discord numbers them,
and says ``isBot`` where Discord says ``bot``. A reply's target is the author of the message it
references, found among the file's earlier messages (the export keeps only the reference). Each
user listed on a reaction gives that user's ``MESSAGE_REACTION_ADD`` (the webhook's id: message,
user, emoji); the export has no reaction time, so the message's time stands in. Exports of
direct messages (guild ``0``) are read but not counted. The file is streamed: a channel with
millions of messages never sits in memory, only its message authors do (for replies).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from invested.contracts import Platform
from services.backfill.jsonstream import JsonStream, JsonStreamError
from services.backfill.source import (
    OTHER_COMMUNITY,
    BadRecord,
    ByteCounter,
    InputFile,
    Outcome,
    adapt,
    counting,
    file_input,
    outcome_of,
    record_time,
)
from services.ingest.adapters import discord

# DiscordChatExporter's MessageKind names; other kinds are written as Discord's number.
MESSAGE_KINDS = {
    "Default": 0,
    "RecipientAdd": 1,
    "RecipientRemove": 2,
    "Call": 3,
    "ChannelNameChange": 4,
    "ChannelIconChange": 5,
    "ChannelPinnedMessage": 6,
    "GuildMemberJoin": 7,
    "ThreadCreated": 18,
    "Reply": 19,
}
DIRECT_MESSAGES_GUILD = "0"
DIRECT_MESSAGE = "direct_message"
REPLY_TARGET_UNKNOWN = "reply_target_not_in_export"
REACTION_USERS_MISSING = "reaction_users_not_exported"


def _kind(name: Any) -> int:
    if isinstance(name, str):
        if name in MESSAGE_KINDS:
            return MESSAGE_KINDS[name]
        if name.isdigit():
            return int(name)
    return -1  # unknown: a system message to the adapter


def _user(user: Any) -> dict[str, Any]:
    """A Discord user object from DiscordChatExporter's (``name`` is the username)."""
    if not isinstance(user, dict):
        return {}
    return {"id": user.get("id"), "username": user.get("name"), "bot": user.get("isBot") is True}


class DiscordExportFormat:
    name = "discord"
    platform = Platform.DISCORD

    def __init__(self, files: list[Path], community: str | None) -> None:
        self._community = community
        self._inputs = [file_input(path) for path in files]
        self._fallback = datetime.min

    def inputs(self) -> list[InputFile]:
        return self._inputs

    def prepare(self, pending: list[InputFile], started_at: datetime) -> None:
        self._fallback = started_at

    def close(self) -> None:
        return None

    def read(self, source: InputFile, start: int, counter: ByteCounter) -> Iterator[Outcome]:
        index = 0
        line = 1
        header: dict[str, Any] = {}
        try:
            with io.TextIOWrapper(counting(source.path.open("rb"), counter), "utf-8") as text:
                stream = JsonStream(text)
                for key in stream.members():
                    if key != "messages":
                        header[key] = stream.decode()
                        continue
                    guild, channel = self._context(source, header)
                    skip = self._skip_reason(guild)
                    authors: dict[str, dict[str, Any]] = {}
                    for index, (message, line) in enumerate(stream.elements()):
                        if not isinstance(message, dict):
                            raise BadRecord(source.label, index, "not a JSON object", line)
                        author = _user(message.get("author"))
                        if isinstance(message.get("id"), str):
                            authors[message["id"]] = author
                        if index < start:
                            continue  # applied before: read only to know reply targets
                        if skip is not None:
                            yield Outcome(index, skipped=(skip,))
                        else:
                            yield self._map(message, author, authors, guild, channel, index)
        except JsonStreamError as exc:
            raise BadRecord(source.label, index, exc.detail, exc.line) from None
        except UnicodeDecodeError as exc:
            raise BadRecord(source.label, index, f"not UTF-8: {exc.reason}", line) from None

    def _context(self, source: InputFile, header: dict[str, Any]) -> tuple[str, str]:
        guild, channel = header.get("guild"), header.get("channel")
        guild_id = guild.get("id") if isinstance(guild, dict) else None
        channel_id = channel.get("id") if isinstance(channel, dict) else None
        if not isinstance(guild_id, str) or not isinstance(channel_id, str):
            raise BadRecord(
                source.label, 0, "not a DiscordChatExporter export: no guild and channel ids"
            )
        return guild_id, channel_id

    def _skip_reason(self, guild: str) -> str | None:
        if guild == DIRECT_MESSAGES_GUILD:
            return DIRECT_MESSAGE
        if self._community is not None and guild != self._community:
            return OTHER_COMMUNITY
        return None

    def _map(
        self,
        message: dict[str, Any],
        author: dict[str, Any],
        authors: dict[str, dict[str, Any]],
        guild: str,
        channel: str,
        index: int,
    ) -> Outcome:
        timestamp = message.get("timestamp")
        at = record_time(timestamp, self._fallback)
        kind = _kind(message.get("type"))
        mentions = message.get("mentions")
        data: dict[str, Any] = {
            "id": message.get("id"),
            "type": kind,
            "channel_id": channel,
            "guild_id": guild,
            "timestamp": timestamp,
            "author": author,
            "mentions": [_user(user) for user in mentions] if isinstance(mentions, list) else [],
        }
        notes: tuple[str, ...] = ()
        reference = message.get("reference")
        if kind == MESSAGE_KINDS["Reply"] and isinstance(reference, dict):
            replied = reference.get("messageId")
            data["message_reference"] = {"message_id": replied, "channel_id": channel}
            if replied in authors:
                data["referenced_message"] = {"id": replied, "author": authors[replied]}
            else:
                notes = (REPLY_TARGET_UNKNOWN,)
        envelope = {"t": "MESSAGE_CREATE", "timestamp": timestamp, "d": data}
        results = [adapt(discord.ADAPTER, envelope, at)]
        for reaction in message.get("reactions") or ():
            if not isinstance(reaction, dict):
                continue
            users = reaction.get("users")
            if not users and reaction.get("count"):
                notes += (REACTION_USERS_MISSING,)
            emoji = reaction.get("emoji")
            emoji = emoji if isinstance(emoji, dict) else {}
            for user in users or ():
                added = {
                    "user_id": user.get("id") if isinstance(user, dict) else None,
                    "message_id": message.get("id"),
                    "message_author_id": author.get("id"),
                    "channel_id": channel,
                    "guild_id": guild,
                    # A standard emoji has an empty id in the export, none in Discord's payload.
                    "emoji": {"id": emoji.get("id") or None, "name": emoji.get("name")},
                    "member": {"user": _user(user)},
                }
                reacted = {"t": "MESSAGE_REACTION_ADD", "timestamp": timestamp, "d": added}
                results.append(adapt(discord.ADAPTER, reacted, at))
        return outcome_of(index, results, notes)
