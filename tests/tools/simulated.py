"""What ingest's adapters make of the simulator's webhooks (shared by the simulator's tests)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

from invested.contracts import EngagementEvent, Platform
from invested.devsecrets import DEV_ENV
from services.ingest.adapters import ADAPTERS, Delivery, Handshake, Ignored, Unmappable
from tools.simulator.base import SimEvent
from tools.simulator.community import generate
from tools.simulator.config import SimConfig
from tools.simulator.model import Member
from tools.simulator.signing import Secrets, Signer, sign

END = datetime(2024, 6, 1, tzinfo=UTC)
CONFIG = SimConfig(seed=5, members=80, days=14, end=END)
SIGNER = Signer(Secrets.from_env(DEV_ENV))


@dataclass(frozen=True)
class Outcome:
    """One webhook through its adapter: events, or ignored / answered / dead-lettered."""

    events: tuple[EngagementEvent, ...] = ()
    ignored: str | None = None
    answered: Handshake | None = None
    deadletter: str | None = None


def adapt(event: SimEvent, config: SimConfig = CONFIG) -> Outcome:
    """What ingest's adapter makes of one simulated webhook, signed as it would be sent."""
    request = sign(event, SIGNER)
    headers = {name.lower(): value for name, value in request.headers.items()}
    adapter = ADAPTERS[request.platform]
    payload = json.loads(request.body)
    handshake = adapter.handshake(headers, payload)
    if handshake is not None:
        return Outcome(answered=handshake)
    bound = config.community(request.platform) if request.platform is Platform.DISCOURSE else None
    delivery = Delivery(request.platform, headers, payload, "", config.end or END, bound)
    delivery.delivery_id = adapter.delivery_id(delivery) or "x"
    try:
        return Outcome(events=tuple(adapter.adapt(delivery)))
    except Ignored as exc:
        return Outcome(ignored=exc.reason)
    except Unmappable as exc:
        return Outcome(deadletter=f"{exc.reason}: {exc.detail} ({exc.event_key})")


@cache
def community(config: SimConfig = CONFIG) -> tuple[list[Member], list[SimEvent]]:
    members, events = generate(config)
    return members, events


@cache
def outcomes(config: SimConfig = CONFIG) -> list[tuple[SimEvent, Outcome]]:
    _, events = community(config)
    return [(event, adapt(event, config)) for event in events]


def engagement(config: SimConfig = CONFIG) -> list[EngagementEvent]:
    return [e for _, outcome in outcomes(config) for e in outcome.events]
