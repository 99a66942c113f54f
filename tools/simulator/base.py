"""What every platform's payload builder shares: the webhook record, the outbox, redeliveries.

A builder turns the model's acts into :class:`SimEvent`\\ s, one per webhook. Every webhook built
for one act carries that act's id: the paired notifications of one act (an inline review comment
and its review, a pull request opened then merged, a post and its edit, a Slack workspace join
and a later profile change) and the platform's redeliveries of a webhook (same body, same
delivery id) share it, so a test can check that ingest gives each act one set of event ids.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from invested.contracts import Platform
from tools.simulator.config import SimConfig
from tools.simulator.model import Attendance, Member, Message, Routine, Simulation

# Platforms retry a webhook they got no 2xx for; Slack after 1, 5 and 30 minutes.
REDELIVERY_DELAYS = (60, 300, 1800)


@dataclass(frozen=True)
class SimEvent:
    """One webhook: when it is sent (simulated), the act it reports and what the signer needs."""

    at: datetime
    platform: Platform
    label: str  # e.g. "issue_comment.created", "message.reply", "engagement.attend"
    payload: dict[str, Any]
    act: str  # the act it reports (several webhooks may report one act)
    delivery: str  # the platform's delivery id: the same on a redelivery
    meta: dict[str, str] = field(default_factory=dict)  # headers that are not signatures
    attempt: int = 1  # 2: a redelivery of the same webhook

    def body(self) -> bytes:
        return json.dumps(self.payload, separators=(",", ":"), ensure_ascii=False).encode()


def iso(moment: datetime) -> str:
    """GitHub's and Standard Webhooks' times: ``2024-05-06T07:45:12Z``."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def iso_ms(moment: datetime) -> str:
    """Discourse's times: ``2024-05-06T07:45:12.482Z``."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class Outbox:
    """Every webhook built, with the platform's redeliveries drawn from a stream of their own (the
    community and its payloads are the same whatever the redelivery rate)."""

    def __init__(self, config: SimConfig) -> None:
        self.events: list[SimEvent] = []
        self.rate = config.redelivery_rate
        self.rng = random.Random(f"{config.seed}/redeliveries")

    def send(self, event: SimEvent) -> None:
        self.events.append(event)
        if self.rate > 0 and self.rng.random() < self.rate:
            delay = timedelta(seconds=self.rng.choice(REDELIVERY_DELAYS))
            self.events.append(replace(event, at=event.at + delay, attempt=2))

    def in_time_order(self) -> list[SimEvent]:
        return sorted(self.events, key=lambda event: event.at)


class PlatformBuilder:
    """Base of the platform builders: acts a platform does not have are no-ops."""

    platform: ClassVar[Platform]

    def __init__(self, sim: Simulation, outbox: Outbox) -> None:
        self.sim = sim
        self.outbox = outbox
        self.rng = sim.rng
        self.config = sim.config
        self.counter = 0
        self.reactions: set[tuple[int, int, str]] = set()

    @property
    def community(self) -> str:
        return self.config.community(self.platform)

    def number(self) -> int:
        """Increasing numbers for the platform's object ids."""
        self.counter += 1
        return self.counter

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def first_reaction(self, member: Member, message: Message, emoji: str = "") -> bool:
        """Platforms keep one reaction per member, message (and emoji): a second is no new act."""
        key = (member.index, id(message), emoji)
        if key in self.reactions:
            return False
        self.reactions.add(key)
        return True

    def in_window(self, at: datetime) -> bool:
        """Follow-ups (a review, a merge, an edit) happen only if their time is not past the end."""
        return at <= self.sim.end

    def send(
        self,
        at: datetime,
        act: str,
        label: str,
        payload: dict[str, Any],
        delivery: str,
        **meta: str,
    ) -> None:
        self.outbox.send(SimEvent(at, self.platform, label, payload, act, delivery, meta))

    # --- the model's acts (see tools.simulator.model.Builder) ---------------------------------

    def post(self, message: Message) -> None:
        raise NotImplementedError(f"{self.platform.value} has no threads")

    def reply(self, reply: Message, parent: Message, mention: Member | None) -> None:
        raise NotImplementedError(f"{self.platform.value} has no threads")

    def react(self, member: Member, message: Message | None, at: datetime) -> None:
        """No reactions on this platform."""

    def join(self, member: Member, at: datetime) -> None:
        """No joins on this platform."""

    def leave(self, member: Member, at: datetime) -> None:
        """No leaves on this platform."""

    def profile_update(self, member: Member, at: datetime) -> None:
        """No profile events on this platform."""

    def routines(self) -> list[Routine]:
        return []

    def meetup(self, host: Member, attendees: list[Attendance], at: datetime) -> None:
        raise NotImplementedError(f"{self.platform.value} has no meetups")
