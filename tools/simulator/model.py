"""The member-behaviour model: who the community is, and what each member does when.

Platform-neutral: it decides that someone posts, replies, reacts, joins or leaves on one of their
platforms at a simulated time and hands the act to that platform's payload builder
(:class:`Builder`, one module per platform), which turns it into webhooks. Builders add their
platform's own routines (bots, reviews, merges) to the same timeline.

Per member: a heavy-tailed activity level (Pareto) ranks most members as lurkers (they react,
star, attend), some as regulars and a few as core members who start threads and answer; one to
three home platforms; some join during the window and a few leave. Threads draw replies from
other members (popular threads more: rich get richer; a reply answers the thread's author or an
earlier replier), reactions target a message's author, replies sometimes mention a third member,
and a weekly meetup has a host, attendees and feedback. The brand's staff and a few
cross-platform people come from :mod:`tools.simulator.cast`; bots act only through routines.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Protocol

from invested.contracts import Platform
from tools.simulator import cast, names
from tools.simulator.config import SimConfig

DAY = timedelta(days=1)
PARETO_ALPHA = 1.2
CORE_SHARE = 0.07  # by activity rank: the top 7 % are core members
REGULAR_SHARE = 0.20  # the next 20 % regulars, the rest lurkers
# Actions per active day, and how they split into (post, reply, react), by role.
RATES = {"core": 1.6, "regular": 0.35, "lurker": 0.06, "staff": 1.2}
ACTIONS = {
    "core": (0.25, 0.60, 0.15),
    "regular": (0.15, 0.45, 0.40),
    "lurker": (0.03, 0.07, 0.90),
    "staff": (0.10, 0.80, 0.10),  # staff mostly answer
}
MEETUP_CHANCE = {"core": 0.8, "regular": 0.5, "lurker": 0.15, "staff": 0.9}
THREAD_PLATFORMS = (Platform.GITHUB, Platform.SLACK, Platform.DISCOURSE, Platform.DISCORD)
REACT_PLATFORMS = (Platform.SLACK, Platform.DISCORD, Platform.DISCOURSE, Platform.GITHUB)
# The community's weekly rhythm: a release (GitHub, announced on Discord) and a meetup.
RELEASES = timedelta(days=2, hours=15)
MEETUPS = timedelta(days=3, hours=18)
# Chances per crowd member: joining during the window, leaving, editing their Slack profile.
JOIN_CHANCE, LEAVE_CHANCE, PROFILE_CHANCE = 0.35, 0.05, 0.1


def pareto_activities(rng: random.Random, count: int) -> list[float]:
    """Activity levels of ``count`` members (the benchmark workload draws them the same way)."""
    return [rng.paretovariate(PARETO_ALPHA) for _ in range(count)]


def roles_by_rank(activities: list[float]) -> list[str]:
    """core / regular / lurker by activity rank."""
    ranked = sorted(range(len(activities)), key=lambda i: -activities[i])
    roles = [""] * len(activities)
    for rank, index in enumerate(ranked):
        share = rank / max(len(activities), 1)
        roles[index] = "core" if share < CORE_SHARE else "regular"
        if share >= CORE_SHARE + REGULAR_SHARE:
            roles[index] = "lurker"
    return roles


@dataclass(eq=False)
class Member:
    """A person (or a bot account) of the community, with an account per home platform."""

    index: int
    name: str
    role: str  # core, regular, lurker, staff or bot
    activity: float
    accounts: dict[Platform, cast.Identity]
    joined: dict[Platform, datetime] = field(default_factory=dict)  # joined during the window
    left_at: datetime | None = None
    profile_updated_at: datetime | None = None

    @property
    def platforms(self) -> list[Platform]:
        return list(self.accounts)

    @property
    def arrived(self) -> datetime | None:
        """When they joined the community: None if any account predates the window."""
        if not self.joined or len(self.joined) < len(self.accounts):
            return None
        return min(self.joined.values())

    def id(self, platform: Platform) -> str:
        return self.accounts[platform].id

    def handle(self, platform: Platform) -> str:
        return self.accounts[platform].handle


@dataclass(eq=False)
class Message:
    """Something that can be replied or reacted to; ``ref`` holds the platform's ids of it."""

    platform: Platform
    author: Member
    at: datetime
    kind: str = "post"  # issue / discussion / pull on GitHub
    thread: Message | None = None  # the thread starter (None: this is the starter)
    ref: dict[str, Any] = field(default_factory=dict)
    replies: list[Message] = field(default_factory=list)


Routine = tuple[datetime, Callable[[datetime], None]]
Attendance = tuple[Member, datetime, bool]  # who, when they checked in, gives feedback


class Builder(Protocol):
    """One platform's payload builder, as the model drives it."""

    def post(self, message: Message) -> None: ...
    def reply(self, reply: Message, parent: Message, mention: Member | None) -> None: ...
    def react(self, member: Member, message: Message | None, at: datetime) -> None: ...
    def join(self, member: Member, at: datetime) -> None: ...
    def leave(self, member: Member, at: datetime) -> None: ...
    def profile_update(self, member: Member, at: datetime) -> None: ...
    def routines(self) -> list[Routine]: ...
    def meetup(self, host: Member, attendees: list[Attendance], at: datetime) -> None: ...


def poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method is fine for the small means used here.
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def every(start: datetime, end: datetime, first: timedelta, step: timedelta) -> list[datetime]:
    """Moments ``first`` after the window's start, then every ``step``, before its end."""
    moments, at = [], start + first
    while at < end:
        moments.append(at)
        at += step
    return moments


def weekly(start: datetime, end: datetime, first: timedelta) -> list[datetime]:
    return every(start, end, first, 7 * DAY)


def release_version(start: datetime, at: datetime) -> str:
    """The version of the weekly release at ``at``."""
    return f"v1.{8 + (at - start).days // 7}.0"


class Simulation:
    """The community and its timeline; :meth:`run` plays it through the builders in time order."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        end = config.end or datetime.now(UTC).replace(second=0, microsecond=0)
        self.end = end.astimezone(UTC)
        self.start = self.end - config.days * DAY
        self.messages: dict[Platform, list[Message]] = {p: [] for p in config.platforms}
        self.acts = 0
        self.members: list[Member] = []
        self.members += self._cast(cast.STAFF)
        self.members += self._cast(cast.PEOPLE)
        self.members += self._crowd(max(config.members - len(cast.PEOPLE), 0))
        self.staff = [m for m in self.members if m.role == "staff"]
        self.bots = {
            key: Member(
                -1 - n, bot.handle, "bot", 0.0, {bot.platform: cast.Identity(bot.id, bot.handle)}
            )
            for n, (key, bot) in enumerate(cast.BOTS.items())
            if bot.platform in config.platforms
        }

    # --- people -------------------------------------------------------------------------------

    def _day(self, day: float) -> datetime:
        # Cast events fall inside even a short window.
        return self.start + min(day, 0.8 * self.config.days) * DAY

    def _cast(self, people: Iterable[cast.CastMember]) -> list[Member]:
        members: list[Member] = []
        for person in people:
            accounts = {p: i for p, i in person.identities.items() if p in self.config.platforms}
            index = len(self.members) + len(members)
            member = Member(index, person.name, person.role, person.activity, accounts)
            member.joined = {p: self._day(d) for p, d in person.joins.items() if p in accounts}
            if person.profile_update_day is not None:
                member.profile_updated_at = self._day(person.profile_update_day)
            members.append(member)
        return members

    def _crowd(self, count: int) -> list[Member]:
        rng, config = self.rng, self.config
        activities = pareto_activities(rng, count)
        roles = roles_by_rank(activities)
        taken = names.Taken.of(self.members)
        crowd = []
        for index in range(count):
            platforms_count = 1 + (rng.random() < 0.45) + (rng.random() < 0.2)
            platforms = rng.sample(
                list(config.platforms), min(platforms_count, len(config.platforms))
            )
            person = names.person(rng, taken)
            accounts = {p: names.account(rng, person, p, taken) for p in platforms}
            number = len(self.members) + index
            member = Member(number, person.display, roles[index], activities[index], accounts)
            span = (self.end - self.start).total_seconds()
            if rng.random() < JOIN_CHANCE:
                joined = self.start + timedelta(seconds=rng.uniform(0, 0.8 * span))
                member.joined = dict.fromkeys(platforms, joined)
            if rng.random() < LEAVE_CHANCE:
                begin = member.arrived or self.start
                member.left_at = begin + (self.end - begin) * rng.uniform(0.4, 0.95)
            if rng.random() < PROFILE_CHANCE:
                member.profile_updated_at = self.start + timedelta(seconds=rng.uniform(0, span))
            crowd.append(member)
        return crowd

    @property
    def everyone(self) -> list[Member]:
        return self.members + list(self.bots.values())

    def active(self, member: Member, at: datetime, platform: Platform | None = None) -> bool:
        joined = member.joined.get(platform) if platform else member.arrived
        return (joined is None or joined <= at) and (member.left_at is None or at < member.left_at)

    def staff_on(self, platform: Platform) -> list[Member]:
        return [m for m in self.staff if platform in m.accounts]

    def new_act(self, what: str) -> str:
        """A fresh act id: every webhook built for this act carries it."""
        self.acts += 1
        return f"{self.acts:06d}:{what}"

    # --- the timeline -------------------------------------------------------------------------

    def run(self, builders: Mapping[Platform, Builder]) -> None:
        self.builders = builders
        plans: list[tuple[datetime, int, int, Callable[[datetime], None]]] = []

        def plan(at: datetime, order: int, action: Callable[[datetime], None]) -> None:
            plans.append((at, order, len(plans), action))

        for member in self.members:
            for platform, at in member.joined.items():
                plan(at, 0, partial(builders[platform].join, member))
            if member.profile_updated_at is not None and member.profile_updated_at < self.end:
                plan(member.profile_updated_at, 1, partial(self._profile, member))
            if member.left_at is not None:
                plan(member.left_at, 2, partial(self._leave, member))
            begin = member.arrived or self.start
            finish = member.left_at or self.end
            days = (finish - begin).total_seconds() / 86400
            post, reply, _react = ACTIONS[member.role]
            for _ in range(poisson(self.rng, RATES[member.role] * days * min(member.activity, 4))):
                at = begin + (finish - begin) * self.rng.random()
                roll = self.rng.random()
                act = self._post if roll < post else self._reply
                plan(at, 1, partial(act if roll < post + reply else self._react, member))
        if Platform.GENERIC in builders:
            for at in weekly(self.start, self.end, MEETUPS):
                plan(at, 1, self._meetup)
        for builder in builders.values():
            for at, routine in builder.routines():
                plan(at, 1, routine)
        plans.sort(key=lambda p: (p[0], p[1], p[2]))
        for at, _, _, action in plans:
            action(at)

    def _platform_for(
        self, member: Member, among: Iterable[Platform], at: datetime
    ) -> Platform | None:
        options = [p for p in member.platforms if p in among and self.active(member, at, p)]
        return self.rng.choice(options) if options else None

    def _profile(self, member: Member, at: datetime) -> None:
        for platform in member.platforms:
            if self.active(member, at, platform):
                self.builders[platform].profile_update(member, at)

    def _leave(self, member: Member, at: datetime) -> None:
        for platform in member.platforms:
            self.builders[platform].leave(member, at)

    def _post(self, member: Member, at: datetime) -> None:
        platform = self._platform_for(member, THREAD_PLATFORMS, at)
        if platform is None:
            self._react(member, at)
            return
        kind = "post"
        if platform is Platform.GITHUB:
            kind = self.rng.choices(["issue", "discussion", "pull"], [0.5, 0.25, 0.25])[0]
        self.publish(Message(platform, member, at, kind=kind))

    def publish(self, message: Message) -> None:
        """Build a thread starter and offer it to replies and reactions (builders call this for
        what their bots post)."""
        self.builders[message.platform].post(message)
        self.messages[message.platform].append(message)

    def recent(self, platform: Platform, at: datetime, member: Member) -> list[Message]:
        horizon = at - 10 * DAY
        return [
            m
            for m in self.messages.get(platform, [])[-300:]
            if m.at > horizon and m.author is not member and self.active(m.author, at, platform)
        ]

    def _reply(self, member: Member, at: datetime) -> None:
        platform = self._platform_for(member, THREAD_PLATFORMS, at)
        starters = (
            [m for m in self.recent(platform, at, member) if m.thread is None] if platform else []
        )
        if platform is None or not starters:
            # Nothing to answer yet: the active start a thread, lurkers react.
            (self._react if member.role == "lurker" else self._post)(member, at)
            return
        # Popular threads attract more replies (rich get richer).
        thread = self.rng.choices(starters, [1 + len(m.replies) for m in starters])[0]
        parent = thread
        earlier = [r for r in thread.replies if r.author is not member]
        if earlier and self.rng.random() < 0.5:  # answer someone else's reply in the thread
            parent = self.rng.choice(earlier)
        mention = None
        if self.rng.random() < 0.12:
            others = [
                m
                for m in self.members
                if m is not member and platform in m.accounts and self.active(m, at, platform)
            ]
            mention = self.rng.choice(others) if others else None
        reply = Message(platform, member, at, kind=thread.kind, thread=thread)
        self.builders[platform].reply(reply, parent, mention)
        thread.replies.append(reply)
        self.messages[platform].append(reply)

    def _react(self, member: Member, at: datetime) -> None:
        platform = self._platform_for(member, REACT_PLATFORMS, at)
        if platform is Platform.GITHUB:
            self.builders[platform].react(member, None, at)  # a star or a fork
            return
        candidates = self.recent(platform, at, member) if platform else []
        if platform is not None and candidates:
            self.builders[platform].react(member, self.rng.choice(candidates[-40:]), at)

    def _meetup(self, at: datetime) -> None:
        present = [m for m in self.members if Platform.GENERIC in m.accounts and self.active(m, at)]
        hosts = [m for m in present if m.role == "staff"] or [
            m for m in present if m.role == "core"
        ]
        if not hosts:
            return
        host = self.rng.choice(hosts)
        attendees: list[Attendance] = []
        for member in present:
            if member is host or self.rng.random() > MEETUP_CHANCE[member.role]:
                continue
            arrived = at + timedelta(minutes=self.rng.uniform(-10, 40))
            feedback = self.rng.random() < 0.3
            attendees.append((member, arrived, feedback))
        self.builders[Platform.GENERIC].meetup(host, attendees, at)
