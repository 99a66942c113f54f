"""Slack Events API deliveries of the demo's workspace (mirrors ``services/ingest/adapters/slack.py``).

Members post in channels, reply in threads (mentioning others as ``<@U…>``), react, join the
workspace (``team_join``, then ``member_joined_channel`` for #general) and leave #general. A
``user_change`` (a profile edit, carrying the verified e-mail) is the same act as the
``team_join`` of that member: one workspace membership. Bots as Slack shows them: the *Acme
Digest* app posts a daily digest with ``bot_id`` next to its ``user`` and no subtype, the way
modern apps post; Slackbot (``USLACKBOT``) posts the meetup reminder. Some messages are edited
(``message_changed``, which ingest ignores).
"""

from __future__ import annotations

import string
from datetime import datetime, timedelta
from typing import Any

from invested.contracts import Platform
from tools.simulator.base import PlatformBuilder
from tools.simulator.cast import SLACK_DIGEST_APP_ID, SLACK_DIGEST_BOT_ID
from tools.simulator.model import DAY, MEETUPS, Member, Message, Routine, every, weekly

GENERAL, HELP, SHOW_AND_TELL = "C0ACMEGNRL", "C0ACMEHELP", "C0ACMESHOW"
CHANNELS = (GENERAL, HELP, SHOW_AND_TELL)
INVESTED_APP = "A0INVESTED1"  # the app whose subscription delivers these events
INVESTED_BOT_USER = "U0INVESTBOT"
POSTS = (
    "Has anyone tried the new firmware on the v3 board?",
    "Sharing my weather station build, feedback welcome",
    "Is there a way to log the torque curve to CSV?",
    "What's the recommended power supply for two sensors?",
)
REPLIES = ("good question", "yes, works for me", "I had the same issue, a reboot fixed it")
EMOJI = ("thumbsup", "heart", "tada", "eyes", "fire", "raised_hands")


class SlackBuilder(PlatformBuilder):
    platform = Platform.SLACK

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.event_ids: set[str] = set()
        self.workspace_acts: dict[int, str] = {}  # member index → their membership act

    # --- envelope -----------------------------------------------------------------------------

    def _event_id(self) -> str:
        while True:
            found = "Ev0" + "".join(
                self.rng.choice(string.ascii_uppercase + string.digits) for _ in range(9)
            )
            if found not in self.event_ids:
                self.event_ids.add(found)
                return found

    def _ts(self, at: datetime) -> str:
        # Message ids are channel + ts: the digits below the second keep two messages apart.
        return f"{int(at.timestamp())}.{self.number() % 1_000_000:06d}"

    def _send(self, at: datetime, act: str, label: str, event: dict[str, Any]) -> None:
        team = self.community
        event_id = self._event_id()  # Slack's retries repeat it
        payload = {
            "token": "sim-verification-token",
            "team_id": team,
            "api_app_id": INVESTED_APP,
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(at.timestamp()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": team,
                    "user_id": INVESTED_BOT_USER,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
        }
        self.send(at, act, label, payload, event_id)

    def _message(self, author: Member, channel: str, text: str, ts: str) -> dict[str, Any]:
        event: dict[str, Any] = {
            "type": "message",
            "text": text,
            "user": author.id(self.platform),
            "ts": ts,
            "team": self.community,
            "blocks": [
                {
                    "type": "rich_text",
                    "block_id": self.uuid()[:4],
                    "elements": [
                        {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}
                    ],
                }
            ],
            "channel": channel,
            "event_ts": ts,
            "channel_type": "channel",
        }
        if author is self.sim.bots.get("digest"):
            # A modern app's message: bot_id next to the bot user, no subtype.
            event.update(
                bot_id=SLACK_DIGEST_BOT_ID,
                app_id=SLACK_DIGEST_APP_ID,
                bot_profile={
                    "id": SLACK_DIGEST_BOT_ID,
                    "deleted": False,
                    "name": author.name,
                    "updated": 1_700_000_000,
                    "app_id": SLACK_DIGEST_APP_ID,
                    "team_id": self.community,
                },
            )
        elif author.role != "bot":
            event["client_msg_id"] = self.uuid()  # set by Slack's clients, not by apps
        return event

    # --- threads ------------------------------------------------------------------------------

    def post(self, message: Message) -> None:
        ts = self._ts(message.at)
        channel = message.ref.get("channel") or self.rng.choice(CHANNELS)
        message.ref = {"ts": ts, "channel": channel}
        if message.author.role == "bot":
            threads, replies = self.rng.randrange(3, 25), self.rng.randrange(10, 90)
            text = f"Yesterday in Acme: {threads} new threads, {replies} replies"
        else:
            text = self.rng.choice(POSTS)
        event = self._message(message.author, channel, text, ts)
        self._send(message.at, self.sim.new_act("slack:message"), "message", event)
        self._maybe_edit(event, message.at)

    def reply(self, reply: Message, parent: Message, mention: Member | None) -> None:
        thread = reply.thread
        assert thread is not None
        ts = self._ts(reply.at)
        channel = thread.ref["channel"]
        reply.ref = {"ts": ts, "channel": channel}
        text = self.rng.choice(REPLIES)
        if mention is not None:
            text += f" <@{mention.id(self.platform)}>"
        event = self._message(reply.author, channel, text, ts)
        event.update(thread_ts=thread.ref["ts"], parent_user_id=thread.author.id(self.platform))
        self._send(reply.at, self.sim.new_act("slack:reply"), "message.reply", event)
        self._maybe_edit(event, reply.at)

    def _maybe_edit(self, event: dict[str, Any], at: datetime) -> None:
        """Some messages are edited a minute later: ``message_changed``, which ingest ignores."""
        edited_at = at + timedelta(seconds=self.rng.uniform(20, 300))
        if self.rng.random() > 0.05 or not self.in_window(edited_at):
            return
        edited = {
            **event,
            "text": event["text"] + " (edited)",
            "edited": {"user": event["user"], "ts": self._ts(edited_at)},
        }
        change = {
            "type": "message",
            "subtype": "message_changed",
            "message": edited,
            "previous_message": event,
            "channel": event["channel"],
            "hidden": True,
            "ts": self._ts(edited_at),
            "event_ts": self._ts(edited_at),
            "channel_type": "channel",
        }
        self._send(edited_at, self.sim.new_act("slack:edit"), "message.message_changed", change)

    def react(self, member: Member, message: Message | None, at: datetime) -> None:
        assert message is not None
        emoji = self.rng.choice(EMOJI)
        if not self.first_reaction(member, message, emoji):
            return
        event = {
            "type": "reaction_added",
            "user": member.id(self.platform),
            "reaction": emoji,
            "item_user": message.author.id(self.platform),
            "item": {
                "type": "message",
                "channel": message.ref["channel"],
                "ts": message.ref["ts"],
                "channel_type": "channel",
            },
            "event_ts": self._ts(at),
        }
        self._send(at, self.sim.new_act("slack:reaction"), "reaction_added", event)

    # --- membership ---------------------------------------------------------------------------

    def _user(self, member: Member, at: datetime) -> dict[str, Any]:
        account = member.accounts[self.platform]
        first, _, last = member.name.partition(" ")
        staff = member.role == "staff"
        profile = {
            "title": "Acme" if staff else "",
            "phone": "",
            "skype": "",
            "real_name": member.name,
            "real_name_normalized": member.name,
            "display_name": account.handle,
            "display_name_normalized": account.handle,
            "status_text": "",
            "status_emoji": "",
            "status_expiration": 0,
            "avatar_hash": f"{self.rng.getrandbits(48):012x}",
            "email": account.email,
            "first_name": first,
            "last_name": last,
            "team": self.community,
        }
        return {
            "id": account.id,
            "team_id": self.community,
            "name": account.handle,
            "deleted": False,
            "color": "4bbe2e",
            "real_name": member.name,
            "tz": "Europe/Berlin",
            "tz_label": "Central European Time",
            "tz_offset": 3600,
            "profile": profile,
            "is_admin": staff,
            "is_owner": False,
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": False,
            "is_app_user": False,
            "updated": int(at.timestamp()),
            "is_email_confirmed": True,
        }

    def _membership_act(self, member: Member) -> str:
        # Joining the workspace and every later profile change are one act: the membership.
        if member.index not in self.workspace_acts:
            self.workspace_acts[member.index] = self.sim.new_act("slack:workspace")
        return self.workspace_acts[member.index]

    def join(self, member: Member, at: datetime) -> None:
        ts = f"{at.timestamp():.6f}"
        event = {
            "type": "team_join",
            "user": self._user(member, at),
            "cache_ts": int(at.timestamp()),
            "event_ts": ts,
        }
        self._send(at, self._membership_act(member), "team_join", event)
        self._channel(member, at + timedelta(seconds=5), "member_joined_channel")

    def profile_update(self, member: Member, at: datetime) -> None:
        user = self._user(member, at)
        user["profile"]["status_text"] = "building a weather station"
        user["profile"]["status_emoji"] = ":hammer_and_wrench:"
        event = {
            "user": user,
            "cache_ts": int(at.timestamp()),
            "type": "user_change",
            "event_ts": f"{at.timestamp():.6f}",
        }
        self._send(at, self._membership_act(member), "user_change", event)

    def leave(self, member: Member, at: datetime) -> None:
        self._channel(member, at, "member_left_channel")

    def _channel(self, member: Member, at: datetime, kind: str) -> None:
        event = {
            "type": kind,
            "user": member.id(self.platform),
            "channel": GENERAL,
            "channel_type": "C",
            "team": self.community,
            "event_ts": f"{at.timestamp():.6f}",
        }
        self._send(at, self.sim.new_act(f"slack:{kind}"), kind, event)

    # --- bots ---------------------------------------------------------------------------------

    def routines(self) -> list[Routine]:
        found: list[Routine] = []
        if "digest" in self.sim.bots:
            daily = every(self.sim.start, self.sim.end, timedelta(hours=9), DAY)
            found += [(at, self._digest) for at in daily]
        if "slackbot" in self.sim.bots:
            reminders = weekly(self.sim.start, self.sim.end, MEETUPS - timedelta(minutes=15))
            found += [(at, self._reminder) for at in reminders]
        return found

    def _digest(self, at: datetime) -> None:
        digest = Message(self.platform, self.sim.bots["digest"], at, ref={"channel": GENERAL})
        self.sim.publish(digest)  # members reply in its thread and react to it

    def _reminder(self, at: datetime) -> None:
        slackbot = self.sim.bots["slackbot"]
        event = self._message(
            slackbot, GENERAL, "Reminder: the Acme meetup starts in 15 minutes.", self._ts(at)
        )
        self._send(at, self.sim.new_act("slack:reminder"), "message", event)
