"""Discord gateway dispatches of the demo's guild, in the bridge's envelope (mirrors
``services/ingest/adapters/discord.py``).

Members post (``MESSAGE_CREATE`` type 0), reply (type 19, the replied-to author in ``mentions`` as
Discord puts it), react (``MESSAGE_REACTION_ADD``), join and leave (``GUILD_MEMBER_ADD`` /
``REMOVE``). Bots as Discord shows them: MEE6 (``author.bot``) congratulates members reaching a
new level, mentioning them, and the *Acme Releases* channel webhook (``webhook_id``) announces
each weekly release; members react to both. The bridge's envelope (``v``, ``id``, ``t``,
``timestamp``) wraps each dispatch; a redelivery repeats its ``id``.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from invested.contracts import Platform
from tools.simulator.base import PlatformBuilder
from tools.simulator.model import RELEASES, Member, Message, Routine, release_version, weekly
from tools.simulator.names import DISCORD_EPOCH_MS

GENERAL, HELP, ANNOUNCEMENTS = "920000000000000001", "920000000000000002", "920000000000000003"
LEVELS = (3, 10, 25, 50)  # messages a member has sent when MEE6 announces a new level
POSTS = (
    "anyone tried the new firmware?",
    "my rover build, finally moving!",
    "which sensor for humidity?",
)
REPLIES = ("yes, works for me", "try flashing it again", "nice build!")
EMOJI = ("🔥", "🎉", "👍", "❤️", "👀")


def discord_time(moment: datetime) -> str:
    """Discord's times: ``2017-07-11T17:27:07.299000+00:00``."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


class DiscordBuilder(PlatformBuilder):
    platform = Platform.DISCORD

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.sent: dict[int, int] = {}  # messages per member, for MEE6's levels

    def _snowflake(self, at: datetime) -> str:
        # Discord ids embed their creation time (ms since 2015-01-01) above 22 bits.
        millis = int(at.timestamp() * 1000) - DISCORD_EPOCH_MS
        return str((millis << 22) | (self.number() & 0x3FFFFF))

    def _send(self, at: datetime, act: str, label: str, name: str, data: dict[str, Any]) -> None:
        delivery = f"brg-{self.uuid()}"  # the bridge's delivery id, the same on its retries
        payload = {
            "v": 1,
            "id": delivery,
            "t": name,
            "timestamp": discord_time(at + timedelta(milliseconds=self.rng.randrange(20, 400))),
            "d": {**data, "guild_id": self.community},
        }
        self.send(at, act, label, payload, delivery)

    def _user(self, member: Member) -> dict[str, Any]:
        account = member.accounts[self.platform]
        found: dict[str, Any] = {
            "id": account.id,
            "username": account.handle,
            "global_name": member.name if member.role != "bot" else None,
            "discriminator": "0",
            "avatar": hashlib.md5(account.id.encode()).hexdigest(),  # an avatar hash, stable
            "public_flags": 0,
        }
        if member.role == "bot":
            found.update(bot=True, discriminator="0000" if self._is_webhook(member) else "5294")
        return found

    def _is_webhook(self, member: Member) -> bool:
        return member is self.sim.bots.get("releases-webhook")

    def _message(self, author: Member, at: datetime, channel: str, content: str) -> dict[str, Any]:
        message_id = self._snowflake(at)
        found: dict[str, Any] = {
            "attachments": [],
            "tts": False,
            "embeds": [],
            "timestamp": discord_time(at),
            "mention_everyone": False,
            "id": message_id,
            "pinned": False,
            "edited_timestamp": None,
            "author": self._user(author),
            "mention_roles": [],
            "content": content,
            "channel_id": channel,
            "mentions": [],
            "type": 0,
            "channel_type": 0,
        }
        if self._is_webhook(author):
            found["webhook_id"] = author.id(self.platform)
        else:
            found["member"] = {
                "roles": [],
                "joined_at": "2023-04-26T06:26:56.936000+00:00",
                "deaf": False,
                "mute": False,
            }
        return found

    # --- threads ------------------------------------------------------------------------------

    def post(self, message: Message) -> None:
        channel = message.ref.get("channel") or self.rng.choice((GENERAL, HELP))
        content = message.ref.get("content") or self.rng.choice(POSTS)
        mentioned: list[Member] = message.ref.get("mentions", [])
        data = self._message(message.author, message.at, channel, content)
        data["mentions"] = [self._user(m) for m in mentioned]
        message.ref = {"id": data["id"], "channel": channel, "data": data}
        self._send(
            message.at,
            self.sim.new_act("discord:message"),
            "MESSAGE_CREATE",
            "MESSAGE_CREATE",
            data,
        )
        self._count(message.author, message.at)

    def reply(self, reply: Message, parent: Message, mention: Member | None) -> None:
        channel = parent.ref["channel"]
        content = self.rng.choice(REPLIES)
        if mention is not None:
            content += f" <@{mention.id(self.platform)}>"
        data = self._message(reply.author, reply.at, channel, content)
        # Discord lists the replied-to author among the mentions (a reply pings by default).
        data["mentions"] = [self._user(parent.author)] + ([self._user(mention)] if mention else [])
        # The replied-to message as Discord nests it: without its own member and reference.
        nested = ("member", "guild_id", "referenced_message")
        referenced = {k: v for k, v in parent.ref["data"].items() if k not in nested}
        data.update(
            type=19,
            message_reference={
                "type": 0,
                "message_id": parent.ref["id"],
                "channel_id": channel,
                "guild_id": self.community,
            },
            referenced_message=referenced,
        )
        reply.ref = {"id": data["id"], "channel": channel, "data": data}
        act = self.sim.new_act("discord:reply")
        self._send(reply.at, act, "MESSAGE_CREATE.reply", "MESSAGE_CREATE", data)
        self._count(reply.author, reply.at)

    def react(self, member: Member, message: Message | None, at: datetime) -> None:
        assert message is not None
        emoji = self.rng.choice(EMOJI)
        if not self.first_reaction(member, message, emoji):
            return
        data = {
            "user_id": member.id(self.platform),
            "channel_id": message.ref["channel"],
            "message_id": message.ref["id"],
            "member": {
                "user": self._user(member),
                "nick": None,
                "avatar": None,
                "roles": [],
                "joined_at": "2023-04-26T06:26:56.936000+00:00",
                "deaf": False,
                "mute": False,
            },
            "emoji": {"id": None, "name": emoji},
            "message_author_id": message.author.id(self.platform),
            "burst": False,
            "burst_colors": [],
            "type": 0,
        }
        self._send(
            at,
            self.sim.new_act("discord:reaction"),
            "MESSAGE_REACTION_ADD",
            "MESSAGE_REACTION_ADD",
            data,
        )

    # --- membership ---------------------------------------------------------------------------

    def join(self, member: Member, at: datetime) -> None:
        data: dict[str, Any] = {
            "user": self._user(member),
            "nick": None,
            "avatar": None,
            "roles": [],
            "joined_at": discord_time(at),
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
        }
        self._send(
            at, self.sim.new_act("discord:join"), "GUILD_MEMBER_ADD", "GUILD_MEMBER_ADD", data
        )

    def leave(self, member: Member, at: datetime) -> None:
        data = {"user": self._user(member)}
        self._send(
            at,
            self.sim.new_act("discord:leave"),
            "GUILD_MEMBER_REMOVE",
            "GUILD_MEMBER_REMOVE",
            data,
        )

    # --- bots ---------------------------------------------------------------------------------

    def _count(self, author: Member, at: datetime) -> None:
        """MEE6 congratulates a member whose message count reaches a new level."""
        mee6 = self.sim.bots.get("mee6")
        if author.role == "bot" or mee6 is None:
            return
        count = self.sent[author.index] = self.sent.get(author.index, 0) + 1
        if count not in LEVELS:
            return
        level = LEVELS.index(count) + 1
        content = f"GG <@{author.id(self.platform)}>, you just advanced to level {level}!"
        at += timedelta(seconds=self.rng.uniform(1, 5))
        ref = {"channel": GENERAL, "content": content, "mentions": [author]}
        self.sim.publish(Message(self.platform, mee6, at, ref=ref))

    def routines(self) -> list[Routine]:
        if "releases-webhook" not in self.sim.bots:
            return []
        announced = weekly(self.sim.start, self.sim.end, RELEASES + timedelta(minutes=10))
        return [(at, self._announce) for at in announced]

    def _announce(self, at: datetime) -> None:
        webhook = self.sim.bots["releases-webhook"]
        version = release_version(self.sim.start, at)
        org = self.config.github_org
        content = f"Acme widgets {version} is out: https://github.com/{org}/widgets/releases/tag/{version}"
        self.sim.publish(
            Message(self.platform, webhook, at, ref={"channel": ANNOUNCEMENTS, "content": content})
        )
