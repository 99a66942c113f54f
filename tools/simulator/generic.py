"""The meetup platform, a Standard Webhooks sender (mirrors ``services/ingest/adapters/generic.py``).

Payloads in Invested's own vocabulary, like ``tests/fixtures/generic/``: each weekly meetup is
announced (``event.published``, a type ingest ignores), then its host (``engagement.host``),
check-ins (``engagement.attend``) and, over the next day or two, attendees' feedback to the host
(``engagement.feedback``); people joining the meetup group send ``member.joined``.
"""

from __future__ import annotations

import string
from datetime import datetime, timedelta
from typing import Any

from invested.contracts import Platform
from tools.simulator.base import PlatformBuilder, iso
from tools.simulator.model import Attendance, Member

GROUP = "berlin-gearheads"


class GenericBuilder(PlatformBuilder):
    platform = Platform.GENERIC

    def _send(self, at: datetime, kind: str, data: dict[str, Any], act: str | None = None) -> None:
        # Standard Webhooks message ids (svix style); a retry repeats it.
        msg_id = "msg_" + "".join(
            self.rng.choice(string.ascii_letters + string.digits) for _ in range(27)
        )
        payload = {
            "type": kind,
            "timestamp": iso(at),
            "data": {"community": self.community, **data},
        }
        self.send(at, act or self.sim.new_act(f"meetup:{kind}"), kind, payload, msg_id)

    def _member(self, member: Member) -> str:
        return member.id(self.platform)

    def join(self, member: Member, at: datetime) -> None:
        data = {
            "member": self._member(member),
            "channel": GROUP,
            "id": f"join-{self.number()}",
            "occurred_at": iso(at),
        }
        self._send(at, "member.joined", data)

    def meetup(self, host: Member, attendees: list[Attendance], at: datetime) -> None:
        meetup = f"meetup-{at:%Y-%m-%d}"
        announced = at - timedelta(days=6)
        if announced >= self.sim.start:
            self._send(announced, "event.published", {"event": meetup, "starts_at": iso(at)})
        base = {"channel": GROUP, "thread": meetup}
        self._send(
            at,
            "engagement.host",
            {**base, "member": self._member(host), "id": f"host-{meetup}", "occurred_at": iso(at)},
        )
        for member, arrived, feedback in attendees:
            if not self.in_window(arrived):
                continue
            checkin = {
                **base,
                "member": self._member(member),
                "id": f"checkin-{self.number()}",
                "occurred_at": iso(arrived),
            }
            self._send(arrived, "engagement.attend", checkin)
            later = at + timedelta(hours=self.rng.uniform(3, 40))
            if feedback and self.in_window(later):
                answer = {
                    **base,
                    "member": self._member(member),
                    "target_member": self._member(host),
                    "id": f"survey-response-{self.number()}",
                    "occurred_at": iso(later),
                }
                self._send(later, "engagement.feedback", answer)
