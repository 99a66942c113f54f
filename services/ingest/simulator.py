"""Community simulator: a realistic community over simulated time, as signed platform webhooks.

``make demo`` (``python -m services.ingest.simulator``) posts it to a running ingest service with a
progress bar and prints a summary; benchmarks import :func:`generate` / :func:`signed_requests` /
:func:`post_all`. The same ``--seed`` (and ``--end``) gives the same community and the same
payloads; only the signature headers differ, because they must carry the current time (the replay
window rejects anything else). Simulated times go in each payload's own time fields.

The model, per member: a heavy-tailed activity level (Pareto), which makes most members lurkers
(they react, star, attend), some regulars and a few core members who start threads and answer;
one to three home platforms; some join during the window and a few leave. Threads get replies
from other members (replying to the thread's author or to an earlier replier), reactions target
a message's author, replies sometimes mention a third member, and a weekly meetup (Standard
Webhooks sender) has a host, attendees and feedback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from invested.communities import discourse_community
from invested.contracts import Platform
from services.ingest.signing import Secrets, SignedRequest, Signer

DAY = timedelta(days=1)
ALL_PLATFORMS = (
    Platform.GITHUB,
    Platform.SLACK,
    Platform.DISCOURSE,
    Platform.DISCORD,
    Platform.GENERIC,
)
# Where a member of each role tends to act, and how often (actions per active day).
RATES = {"core": 1.6, "regular": 0.35, "lurker": 0.06}
ACTIONS = {  # role → (post, reply, react) weights
    "core": (0.25, 0.60, 0.15),
    "regular": (0.15, 0.45, 0.40),
    "lurker": (0.03, 0.07, 0.90),
}
CHAT_PLATFORMS = (Platform.SLACK, Platform.DISCORD)
THREAD_PLATFORMS = (Platform.GITHUB, Platform.SLACK, Platform.DISCOURSE, Platform.DISCORD)
_SYLLABLES = ["ka", "lo", "mi", "ra", "te", "zu", "no", "vi", "sa", "de", "fi", "po", "qu", "le"]


@dataclass(frozen=True)
class SimConfig:
    """What to simulate. ``end`` None means now (rounded down to the minute)."""

    seed: int = 7
    members: int = 150
    days: int = 28
    end: datetime | None = None
    platforms: tuple[Platform, ...] = ALL_PLATFORMS
    github_org: str = "acme-oss"
    slack_team: str = "T0ACME0001"
    discourse_instance: str = "https://forum.acme.dev"
    discord_guild: str = "910000000000000001"
    meetup_community: str = "acme-meetups"

    def community(self, platform: Platform) -> str:
        """The community id ingest derives for this platform's payloads."""
        return {
            Platform.GITHUB: self.github_org,
            Platform.SLACK: self.slack_team,
            Platform.DISCOURSE: discourse_community(self.discourse_instance),
            Platform.DISCORD: self.discord_guild,
            Platform.GENERIC: self.meetup_community,
        }[platform]


@dataclass
class Member:
    index: int
    name: str
    role: str
    activity: float
    platforms: list[Platform]
    ids: dict[Platform, str]
    joined_at: datetime | None  # None: already a member when the window starts
    left_at: datetime | None = None


@dataclass
class Message:
    """Something that can be replied or reacted to."""

    platform: Platform
    author: Member
    at: datetime
    ref: dict[str, Any]  # platform ids (ts, post id, message id, number, ...)
    thread: Message | None = None  # the thread starter (None: this is the starter)
    kind: str = "post"  # issue/discussion/pull on GitHub
    replies: list[Message] = field(default_factory=list)


@dataclass(frozen=True)
class SimEvent:
    """One webhook to send: its simulated time, platform, label and what the signer needs."""

    at: datetime
    platform: Platform
    label: str  # e.g. "issue_comment.created", "message.reply", "engagement.attend"
    payload: dict[str, Any]
    meta: dict[str, str]  # platform headers that are not signatures (event names, delivery ids)

    def body(self) -> bytes:
        return json.dumps(self.payload, separators=(",", ":"), ensure_ascii=False).encode()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method is fine for the small means used here.
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


class _Sim:
    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        end = config.end or datetime.now(UTC).replace(second=0, microsecond=0)
        self.end = end.astimezone(UTC)
        self.start = self.end - config.days * DAY
        self.events: list[SimEvent] = []
        self.messages: dict[Platform, list[Message]] = {p: [] for p in config.platforms}
        self.starred: set[int] = set()
        self.counter = 0
        self.members = self._members()

    # --- ids --------------------------------------------------------------------------------

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _next(self) -> int:
        self.counter += 1
        return self.counter

    def _snowflake(self, at: datetime) -> str:
        # Discord ids embed their creation time (ms since 2015-01-01) above 22 bits.
        millis = int(at.timestamp() * 1000) - 1420070400000
        return str((millis << 22) | (self._next() & 0x3FFFFF))

    def _slack_ts(self, at: datetime) -> str:
        return f"{at.timestamp():.6f}"

    # --- members ----------------------------------------------------------------------------

    def _members(self) -> list[Member]:
        rng, config = self.rng, self.config
        activities = [rng.paretovariate(1.2) for _ in range(config.members)]
        ranked = sorted(range(config.members), key=lambda i: -activities[i])
        roles = {}
        for rank, index in enumerate(ranked):
            share = rank / max(config.members, 1)
            roles[index] = "core" if share < 0.07 else "regular" if share < 0.27 else "lurker"
        members = []
        for index in range(config.members):
            name = "".join(rng.choice(_SYLLABLES) for _ in range(3)) + str(index)
            count = 1 + (rng.random() < 0.45) + (rng.random() < 0.2)
            platforms = rng.sample(list(config.platforms), min(count, len(config.platforms)))
            ids = {
                Platform.GITHUB: str(100_000 + index * 37 + rng.randrange(30)),
                Platform.SLACK: f"U0{index:05d}{name[:3].upper()}",
                Platform.DISCOURSE: name,
                Platform.DISCORD: str(300_000_000_000_000_000 + index * 1_000_003),
                Platform.GENERIC: f"m-{index}",
            }
            joined = None
            if rng.random() < 0.35:
                joined = self.start + timedelta(
                    seconds=rng.uniform(0, 0.8 * self.config.days * 86400)
                )
            member = Member(index, name, roles[index], activities[index], platforms, ids, joined)
            if rng.random() < 0.05:
                begin = joined or self.start
                member.left_at = begin + (self.end - begin) * rng.uniform(0.4, 0.95)
            members.append(member)
        return members

    def active(self, member: Member, at: datetime) -> bool:
        return (member.joined_at is None or member.joined_at <= at) and (
            member.left_at is None or at < member.left_at
        )

    # --- the timeline -----------------------------------------------------------------------

    def run(self) -> list[SimEvent]:
        plans: list[tuple[datetime, int, str, Member]] = []
        for member in self.members:
            if member.joined_at is not None:
                plans.append((member.joined_at, 0, "join", member))
            if member.left_at is not None:
                plans.append((member.left_at, 2, "leave", member))
            begin = member.joined_at or self.start
            finish = member.left_at or self.end
            days = (finish - begin).total_seconds() / 86400
            for _ in range(_poisson(self.rng, RATES[member.role] * days * min(member.activity, 4))):
                at = begin + (finish - begin) * self.rng.random()
                post, reply, _react = ACTIONS[member.role]
                roll = self.rng.random()
                action = "post" if roll < post else "reply" if roll < post + reply else "react"
                plans.append((at, 1, action, member))
        if Platform.GENERIC in self.config.platforms and self.members:
            meetup = self.start + timedelta(days=3, hours=18)
            while meetup < self.end:
                plans.append((meetup, 1, "meetup", self.members[0]))
                meetup += 7 * DAY
        plans.sort(key=lambda plan: (plan[0], plan[1], plan[3].index))
        for at, _, action, member in plans:
            getattr(self, f"_{action}")(member, at)
        self.events.sort(key=lambda event: event.at)
        return self.events

    def _platform_for(self, member: Member, among: Iterable[Platform]) -> Platform | None:
        options = [p for p in member.platforms if p in set(among)]
        return self.rng.choice(options) if options else None

    def _join(self, member: Member, at: datetime) -> None:
        for platform in member.platforms:
            if platform in (Platform.SLACK, Platform.DISCORD, Platform.DISCOURSE):
                self._emit_membership(platform, member, at, joined=True)

    def _leave(self, member: Member, at: datetime) -> None:
        for platform in member.platforms:
            if platform in CHAT_PLATFORMS:
                self._emit_membership(platform, member, at, joined=False)

    def _post(self, member: Member, at: datetime) -> None:
        platform = self._platform_for(member, THREAD_PLATFORMS)
        if platform is None:
            self._react(member, at)
            return
        kind = "post"
        if platform is Platform.GITHUB:
            kind = self.rng.choices(["issue", "discussion", "pull"], [0.6, 0.25, 0.15])[0]
        message = Message(platform, member, at, {}, kind=kind)
        self._emit_post(message)
        self.messages[platform].append(message)

    def _recent(self, platform: Platform, at: datetime, member: Member) -> list[Message]:
        horizon = at - 10 * DAY
        return [
            m
            for m in self.messages.get(platform, [])[-300:]
            if m.at > horizon and m.author is not member and self.active(m.author, at)
        ]

    def _reply(self, member: Member, at: datetime) -> None:
        platform = self._platform_for(member, THREAD_PLATFORMS)
        starters = (
            [m for m in self._recent(platform, at, member) if m.thread is None] if platform else []
        )
        if platform is None or not starters:
            # Nothing to answer yet: the active start a thread, lurkers react.
            if member.role == "lurker":
                self._react(member, at)
            else:
                self._post(member, at)
            return
        # Popular threads attract more replies (rich get richer).
        thread = self.rng.choices(starters, [1 + len(m.replies) for m in starters])[0]
        parent = thread
        earlier = [r for r in thread.replies if r.author is not member]
        if earlier and self.rng.random() < 0.5:  # answer someone else's reply in the thread
            parent = self.rng.choice(earlier)
        others = [
            m
            for m in self.members
            if m is not member and platform in m.platforms and self.active(m, at)
        ]
        mention = self.rng.choice(others) if others and self.rng.random() < 0.12 else None
        reply = Message(platform, member, at, {}, thread=thread, kind=thread.kind)
        self._emit_reply(reply, parent, mention)
        thread.replies.append(reply)
        self.messages[platform].append(reply)

    def _react(self, member: Member, at: datetime) -> None:
        platform = self._platform_for(member, (*CHAT_PLATFORMS, Platform.GITHUB))
        if platform is Platform.GITHUB:
            self._emit_star_or_fork(member, at)
            return
        candidates = self._recent(platform, at, member) if platform else []
        if platform is None or not candidates:
            return
        self._emit_reaction(platform, member, self.rng.choice(candidates[-40:]), at)

    def _meetup(self, _member: Member, at: datetime) -> None:
        present = [
            m for m in self.members if Platform.GENERIC in m.platforms and self.active(m, at)
        ]
        hosts = [m for m in present if m.role == "core"] or present
        if not hosts:
            return
        host = self.rng.choice(hosts)
        meetup = f"meetup-{at:%Y-%m-%d}"
        self._emit_generic("engagement.host", host, None, meetup, at)
        for member in present:
            chance = {"core": 0.8, "regular": 0.5, "lurker": 0.15}[member.role]
            if member is host or self.rng.random() > chance:
                continue
            arrived = at + timedelta(minutes=self.rng.uniform(-10, 40))
            self._emit_generic("engagement.attend", member, None, meetup, arrived)
            if self.rng.random() < 0.3:
                later = at + timedelta(hours=self.rng.uniform(3, 40))
                if later < self.end:
                    self._emit_generic("engagement.feedback", member, host, meetup, later)

    # --- platform payloads --------------------------------------------------------------------

    def _add(
        self, at: datetime, platform: Platform, label: str, payload: dict[str, Any], **meta: str
    ) -> None:
        self.events.append(SimEvent(at, platform, label, payload, meta))

    def _gh_user(self, member: Member) -> dict[str, Any]:
        return {
            "login": member.name,
            "id": int(member.ids[Platform.GITHUB]),
            "type": "User",
            "site_admin": False,
        }

    def _gh_repo(self) -> dict[str, Any]:
        org = self.config.github_org
        return {
            "id": 186853002,
            "name": "widgets",
            "full_name": f"{org}/widgets",
            "private": False,
            "owner": {"login": org, "id": 9919, "type": "Organization"},
        }

    def _gh(
        self, event: str, label: str, at: datetime, member: Member, body: dict[str, Any]
    ) -> None:
        payload = {
            **body,
            "repository": self._gh_repo(),
            "organization": {"login": self.config.github_org, "id": 9919},
            "sender": self._gh_user(member),
        }
        self._add(at, Platform.GITHUB, label, payload, event=event, delivery=self._uuid())

    def _slack(self, label: str, at: datetime, event: dict[str, Any]) -> None:
        payload = {
            "token": "sim-verification-token",
            "team_id": self.config.slack_team,
            "api_app_id": "A0SIMULATOR",
            "event": {**event, "event_ts": event.get("ts", self._slack_ts(at))},
            "type": "event_callback",
            "event_id": f"Ev{self._next():08d}{self.rng.randrange(16**4):04X}",
            "event_time": int(at.timestamp()),
        }
        self._add(at, Platform.SLACK, label, payload)

    def _discord(self, label: str, at: datetime, name: str, data: dict[str, Any]) -> None:
        payload = {
            "v": 1,
            "id": f"brg-{self._uuid()}",
            "t": name,
            "timestamp": at.isoformat(),
            "d": {**data, "guild_id": self.config.discord_guild},
        }
        self._add(at, Platform.DISCORD, label, payload)

    def _discord_user(self, member: Member) -> dict[str, Any]:
        return {
            "id": member.ids[Platform.DISCORD],
            "username": member.name,
            "global_name": member.name.title(),
            "discriminator": "0",
        }

    def _discourse(
        self, label: str, at: datetime, event: str, event_type: str, payload: dict[str, Any]
    ) -> None:
        self._add(
            at,
            Platform.DISCOURSE,
            label,
            payload,
            event=event,
            event_type=event_type,
            instance=self.config.discourse_instance,
            event_id=str(self._next()),
        )

    def _emit_membership(
        self, platform: Platform, member: Member, at: datetime, joined: bool
    ) -> None:
        if platform is Platform.SLACK:
            kind = "member_joined_channel" if joined else "member_left_channel"
            self._slack(
                kind,
                at,
                {
                    "type": kind,
                    "user": member.ids[platform],
                    "channel": "C0COMMUNITY",
                    "channel_type": "C",
                    "team": self.config.slack_team,
                    "event_ts": self._slack_ts(at),
                },
            )
        elif platform is Platform.DISCORD:
            name = "GUILD_MEMBER_ADD" if joined else "GUILD_MEMBER_REMOVE"
            data: dict[str, Any] = {"user": self._discord_user(member)}
            if joined:
                data.update(roles=[], joined_at=at.isoformat(), deaf=False, mute=False, flags=0)
            self._discord(name, at, name, data)
        elif platform is Platform.DISCOURSE and joined:
            self._discourse(
                "user_created",
                at,
                "user_created",
                "user",
                {
                    "user": {
                        "id": 1000 + member.index,
                        "username": member.name,
                        "name": member.name.title(),
                        "created_at": _iso(at),
                        "trust_level": 0,
                        "post_count": 0,
                    }
                },
            )

    def _emit_post(self, message: Message) -> None:
        member, at, platform = message.author, message.at, message.platform
        number = self._next()
        if platform is Platform.GITHUB:
            obj = {
                "id": 1_900_000_000 + number,
                "number": number,
                "title": f"Question {number}",
                "user": self._gh_user(member),
                "created_at": _iso(at),
                "updated_at": _iso(at),
                "state": "open",
                "body": "...",
            }
            message.ref = {"number": number}
            if message.kind == "issue":
                self._gh("issues", "issues.opened", at, member, {"action": "opened", "issue": obj})
            elif message.kind == "discussion":
                self._gh(
                    "discussion",
                    "discussion.created",
                    at,
                    member,
                    {
                        "action": "created",
                        "discussion": {**obj, "category": {"name": "Q&A", "is_answerable": True}},
                    },
                )
            else:
                self._gh(
                    "pull_request",
                    "pull_request.opened",
                    at,
                    member,
                    {
                        "action": "opened",
                        "number": number,
                        "pull_request": {**obj, "merged": False, "merged_at": None, "draft": False},
                    },
                )
        elif platform is Platform.SLACK:
            ts = self._slack_ts(at)
            message.ref = {"ts": ts}
            self._slack(
                "message",
                at,
                {
                    "type": "message",
                    "channel": "C0COMMUNITY",
                    "user": member.ids[platform],
                    "text": "Has anyone tried this?",
                    "ts": ts,
                    "team": self.config.slack_team,
                    "channel_type": "channel",
                },
            )
        elif platform is Platform.DISCOURSE:
            topic = 20_000 + number
            message.ref = {"post_id": 100_000 + number, "topic_id": topic, "post_number": 1}
            self._discourse(
                "post_created.topic",
                at,
                "post_created",
                "post",
                {"post": self._discourse_post(member, at, message.ref, None)},
            )
        elif platform is Platform.DISCORD:
            message_id = self._snowflake(at)
            message.ref = {"id": message_id}
            self._discord(
                "MESSAGE_CREATE",
                at,
                "MESSAGE_CREATE",
                {
                    "type": 0,
                    "id": message_id,
                    "channel_id": "920000000000000001",
                    "author": self._discord_user(member),
                    "content": "anyone tried the new firmware?",
                    "timestamp": at.isoformat(),
                    "mentions": [],
                    "referenced_message": None,
                },
            )

    def _discourse_post(
        self, member: Member, at: datetime, ref: dict[str, Any], reply_to: Member | None
    ) -> dict[str, Any]:
        post: dict[str, Any] = {
            "id": ref["post_id"],
            "username": member.name,
            "name": member.name.title(),
            "created_at": _iso(at),
            "post_number": ref["post_number"],
            "post_type": 1,
            "reply_to_post_number": ref.get("reply_to_post_number"),
            "topic_id": ref["topic_id"],
            "topic_slug": f"topic-{ref['topic_id']}",
            "category_id": 7,
            "user_id": 1000 + member.index,
            "raw": "...",
        }
        if reply_to is not None:
            post["reply_to_user"] = {
                "username": reply_to.name,
                "name": reply_to.name.title(),
                "avatar_template": "",
            }
        return post

    def _emit_reply(self, reply: Message, parent: Message, mention: Member | None) -> None:
        member, at, platform, thread = reply.author, reply.at, reply.platform, reply.thread
        assert thread is not None
        number = self._next()
        if platform is Platform.GITHUB:
            comment = {
                "id": 2_000_000_000 + number,
                "user": self._gh_user(member),
                "created_at": _iso(at),
                "updated_at": _iso(at),
                "body": "...",
            }
            starter = {
                "id": 1_900_000_000 + thread.ref["number"],
                "number": thread.ref["number"],
                "user": self._gh_user(thread.author),
                "title": "...",
            }
            if thread.kind == "issue":
                self._gh(
                    "issue_comment",
                    "issue_comment.created",
                    at,
                    member,
                    {"action": "created", "issue": starter, "comment": comment},
                )
            elif thread.kind == "discussion":
                self._gh(
                    "discussion_comment",
                    "discussion_comment.created",
                    at,
                    member,
                    {
                        "action": "created",
                        "discussion": starter,
                        "comment": {**comment, "parent_id": None},
                    },
                )
            else:
                review = {
                    "id": 2_030_000_000 + number,
                    "user": self._gh_user(member),
                    "submitted_at": _iso(at),
                    "state": self.rng.choice(["approved", "commented", "changes_requested"]),
                    "body": "...",
                }
                self._gh(
                    "pull_request_review",
                    "pull_request_review.submitted",
                    at,
                    member,
                    {"action": "submitted", "review": review, "pull_request": starter},
                )
        elif platform is Platform.SLACK:
            text = "good question" + (f" <@{mention.ids[Platform.SLACK]}>" if mention else "")
            ts = self._slack_ts(at)
            reply.ref = {"ts": ts}
            self._slack(
                "message.reply",
                at,
                {
                    "type": "message",
                    "channel": "C0COMMUNITY",
                    "user": member.ids[platform],
                    "text": text,
                    "ts": ts,
                    "thread_ts": thread.ref["ts"],
                    "parent_user_id": thread.author.ids[platform],
                    "team": self.config.slack_team,
                    "channel_type": "channel",
                },
            )
        elif platform is Platform.DISCOURSE:
            reply.ref = {
                "post_id": 100_000 + number,
                "topic_id": thread.ref["topic_id"],
                "post_number": len(thread.replies) + 2,
                "reply_to_post_number": parent.ref["post_number"],
            }
            self._discourse(
                "post_created.reply",
                at,
                "post_created",
                "post",
                {"post": self._discourse_post(member, at, reply.ref, parent.author)},
            )
        elif platform is Platform.DISCORD:
            message_id = self._snowflake(at)
            reply.ref = {"id": message_id}
            mentions = [self._discord_user(parent.author)] + (
                [self._discord_user(mention)] if mention else []
            )
            self._discord(
                "MESSAGE_CREATE.reply",
                at,
                "MESSAGE_CREATE",
                {
                    "type": 19,
                    "id": message_id,
                    "channel_id": "920000000000000001",
                    "author": self._discord_user(member),
                    "content": "yes, works for me",
                    "timestamp": at.isoformat(),
                    "mentions": mentions,
                    "message_reference": {
                        "message_id": parent.ref["id"],
                        "channel_id": "920000000000000001",
                        "guild_id": self.config.discord_guild,
                    },
                    "referenced_message": {
                        "id": parent.ref["id"],
                        "author": self._discord_user(parent.author),
                        "content": "...",
                        "type": 0,
                    },
                },
            )

    def _emit_reaction(
        self, platform: Platform, member: Member, message: Message, at: datetime
    ) -> None:
        emoji = self.rng.choice(["thumbsup", "heart", "tada", "eyes", "fire"])
        if platform is Platform.SLACK:
            self._slack(
                "reaction_added",
                at,
                {
                    "type": "reaction_added",
                    "user": member.ids[platform],
                    "reaction": emoji,
                    "item_user": message.author.ids[platform],
                    "item": {"type": "message", "channel": "C0COMMUNITY", "ts": message.ref["ts"]},
                    "event_ts": self._slack_ts(at),
                },
            )
        else:
            self._discord(
                "MESSAGE_REACTION_ADD",
                at,
                "MESSAGE_REACTION_ADD",
                {
                    "user_id": member.ids[platform],
                    "message_id": message.ref["id"],
                    "message_author_id": message.author.ids[platform],
                    "channel_id": "920000000000000001",
                    "emoji": {"id": None, "name": emoji},
                    "burst": False,
                    "type": 0,
                },
            )

    def _emit_star_or_fork(self, member: Member, at: datetime) -> None:
        if member.index not in self.starred:
            self.starred.add(member.index)
            self._gh(
                "star", "star.created", at, member, {"action": "created", "starred_at": _iso(at)}
            )
        elif self.rng.random() < 0.08:
            forkee = {
                "id": 700_000_000 + self._next(),
                "name": "widgets",
                "full_name": f"{member.name}/widgets",
                "owner": self._gh_user(member),
                "fork": True,
                "created_at": _iso(at),
            }
            self._gh("fork", "fork", at, member, {"forkee": forkee})

    def _emit_generic(
        self, kind: str, member: Member, target: Member | None, meetup: str, at: datetime
    ) -> None:
        data: dict[str, Any] = {
            "community": self.config.meetup_community,
            "member": member.ids[Platform.GENERIC],
            "channel": "berlin-gearheads",
            "thread": meetup,
            "id": f"{kind}-{meetup}-{member.index}",
            "occurred_at": _iso(at),
        }
        if target is not None:
            data["target_member"] = target.ids[Platform.GENERIC]
        payload = {"type": kind, "timestamp": _iso(at), "data": data}
        self._add(
            at, Platform.GENERIC, kind, payload, msg_id=f"msg_{self._uuid().replace('-', '')}"
        )


def generate(config: SimConfig) -> tuple[list[Member], list[SimEvent]]:
    """The simulated community and its webhooks in time order (deterministic for a seed/end)."""
    sim = _Sim(config)
    events = sim.run()
    return sim.members, events


def sign(event: SimEvent, signer: Signer) -> SignedRequest:
    """The signed HTTP request for one simulated webhook, signed now."""
    body, meta = event.body(), event.meta
    if event.platform is Platform.GITHUB:
        return signer.github(body, meta["event"], meta["delivery"], label=event.label)
    if event.platform is Platform.SLACK:
        return signer.slack(body, label=event.label)
    if event.platform is Platform.DISCOURSE:
        return signer.discourse(
            body,
            meta["event"],
            meta["event_type"],
            meta["instance"],
            meta["event_id"],
            label=event.label,
        )
    if event.platform is Platform.DISCORD:
        return signer.discord(body, label=event.label)
    return signer.generic(body, meta["msg_id"], label=event.label)


def signed_requests(events: Iterable[SimEvent], signer: Signer) -> Iterator[SignedRequest]:
    """Sign lazily, at send time: the replay window needs fresh timestamps."""
    for event in events:
        yield sign(event, signer)


@dataclass
class Summary:
    statuses: Counter[int] = field(default_factory=Counter)
    by_platform: Counter[str] = field(default_factory=Counter)
    by_label: Counter[str] = field(default_factory=Counter)
    events_accepted: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def sent(self) -> int:
        return sum(self.statuses.values())


async def post_all(
    events: list[SimEvent],
    signer: Signer,
    base_url: str,
    concurrency: int = 8,
    progress: bool = True,
) -> Summary:
    """POST every event (signed at send time) with bounded concurrency; a summary of answers."""
    import httpx
    from tqdm import tqdm

    summary = Summary()
    queue: asyncio.Queue[SimEvent] = asyncio.Queue()
    for event in events:
        queue.put_nowait(event)
    bar = tqdm(total=len(events), unit="webhook", disable=not progress, file=sys.stderr)
    started = time.perf_counter()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, timeout=30.0, limits=limits) as client:

        async def worker() -> None:
            while not queue.empty():
                event = queue.get_nowait()
                request = sign(event, signer)
                try:
                    response = await client.post(
                        request.path, headers=request.headers, content=request.body
                    )
                except httpx.HTTPError as exc:
                    summary.errors[type(exc).__name__] += 1
                    bar.update()
                    continue
                summary.statuses[response.status_code] += 1
                summary.by_platform[event.platform.value] += 1
                summary.by_label[f"{event.platform.value}:{event.label}"] += 1
                if response.status_code == 200:
                    summary.events_accepted += int(response.json().get("events", 0))
                elif response.status_code >= 400:
                    summary.errors[response.json().get("error", str(response.status_code))] += 1
                bar.update()

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    bar.close()
    summary.seconds = time.perf_counter() - started
    return summary


def describe(
    config: SimConfig, members: list[Member], events: list[SimEvent], summary: Summary | None
) -> str:
    roles = Counter(member.role for member in members)
    actors = Counter(event.platform.value for event in events)
    lines = [
        f"simulated {len(members)} members over {config.days} days (seed {config.seed}): "
        + ", ".join(f"{roles[r]} {r}" for r in ("core", "regular", "lurker")),
        f"webhooks: {len(events)} ("
        + ", ".join(f"{platform} {count}" for platform, count in sorted(actors.items()))
        + ")",
    ]
    labels = Counter(event.label for event in events)
    lines.append("by type: " + ", ".join(f"{label} {n}" for label, n in labels.most_common()))
    if summary is not None:
        rate = summary.sent / summary.seconds if summary.seconds else 0.0
        lines.append(
            f"posted {summary.sent} in {summary.seconds:.1f} s ({rate:.0f}/s): "
            + ", ".join(f"HTTP {code} x{n}" for code, n in sorted(summary.statuses.items()))
            + f"; {summary.events_accepted} engagement events accepted"
        )
        if summary.errors:
            lines.append("errors: " + ", ".join(f"{e} x{n}" for e, n in summary.errors.items()))
        lines.append("communities: " + ", ".join(config.community(p) for p in config.platforms))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from invested.settings import ConfigError, load_settings

    parser = argparse.ArgumentParser(
        prog="python -m services.ingest.simulator", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--members", type=int, default=150)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument(
        "--end", default="now", help="ISO 8601 end of the simulated window (default: now)"
    )
    parser.add_argument(
        "--url",
        default=None,
        help="ingest base URL (default: from INVESTED_BIND_HOST/INVESTED_INGEST_PORT)",
    )
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--platforms", default=",".join(p.value for p in ALL_PLATFORMS))
    parser.add_argument(
        "--dry-run", action="store_true", help="generate and summarize, post nothing"
    )
    args = parser.parse_args(argv)

    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    secrets = Secrets.from_env()
    platforms = tuple(Platform(p.strip()) for p in args.platforms.split(",") if p.strip())
    if Platform.DISCORD in platforms and secrets.discord is None:
        print(
            "note: INVESTED_DISCORD_PUBLIC_KEY is not the development key; skipping Discord",
            file=sys.stderr,
        )
        platforms = tuple(p for p in platforms if p is not Platform.DISCORD)
    end = None if args.end == "now" else datetime.fromisoformat(args.end).astimezone(UTC)
    config = SimConfig(
        seed=args.seed, members=args.members, days=args.days, end=end, platforms=platforms
    )
    members, events = generate(config)
    if args.dry_run:
        print(describe(config, members, events, None))
        return 0
    url = args.url or f"http://{settings.bind_host}:{settings.ingest_port}"
    import httpx

    try:
        httpx.get(url + "/healthz", timeout=2.0).raise_for_status()
    except httpx.HTTPError:
        print(
            f"error: no ingest service answers at {url} (start it with `make run`, or pass --url)",
            file=sys.stderr,
        )
        return 2
    summary = asyncio.run(post_all(events, Signer(secrets), url, args.concurrency))
    print(describe(config, members, events, summary))
    return 0 if not summary.errors else 1


if __name__ == "__main__":
    sys.exit(main())
