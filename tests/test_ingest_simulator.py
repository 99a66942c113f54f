"""The community simulator: deterministic, heavy-tailed, and every webhook authentic and mappable.

(The simulator posting to a running ingest is in ``test_ingest_http.py``.)
"""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from invested.contracts import EngagementEvent, Kind, Platform
from invested.devsecrets import DEV_ENV
from invested.settings import load_settings
from services.ingest.adapters import ADAPTERS, Delivery
from services.ingest.signing import Secrets, Signer
from services.ingest.simulator import SimConfig, SimEvent, generate, sign
from services.ingest.verifiers import build_verifiers

END = datetime(2024, 6, 1, tzinfo=UTC)
CONFIG = SimConfig(seed=5, members=80, days=14, end=END)
SIGNER = Signer(Secrets.from_env(DEV_ENV))


def adapt(event: SimEvent) -> list[EngagementEvent]:
    """What ingest makes of one simulated webhook (signed as it would be sent)."""
    request = sign(event, SIGNER)
    headers = {name.lower(): value for name, value in request.headers.items()}
    adapter = ADAPTERS[request.platform]
    payload = json.loads(request.body)
    bound = CONFIG.community(request.platform) if request.platform is Platform.DISCOURSE else None
    delivery = Delivery(request.platform, headers, payload, "", END, bound)
    delivery.delivery_id = adapter.delivery_id(delivery) or "x"
    return adapter.adapt(delivery)


def test_same_seed_same_community_and_payloads() -> None:
    _, first = generate(CONFIG)
    _, second = generate(CONFIG)
    assert [(e.at, e.label, e.body(), e.meta) for e in first] == [
        (e.at, e.label, e.body(), e.meta) for e in second
    ]
    _, other = generate(SimConfig(seed=6, members=80, days=14, end=END))
    assert [e.body() for e in other] != [e.body() for e in first]


def test_activity_is_heavy_tailed_with_threads_reactions_joins_and_leaves() -> None:
    members, events = generate(SimConfig(seed=7, members=200, days=28, end=END))
    roles = Counter(member.role for member in members)
    assert roles["lurker"] > roles["regular"] > roles["core"] > 0

    adapted = [e for event in events for e in adapt(event)]
    by_member = Counter(e.member for e in adapted)
    counts = sorted(by_member.values(), reverse=True)
    assert sum(counts[: len(counts) // 10]) > 0.4 * sum(counts)  # the top tenth does most
    kinds = Counter(e.kind for e in adapted)
    for kind in (Kind.POST, Kind.REPLY, Kind.REACT, Kind.JOIN, Kind.LEAVE, Kind.ATTEND, Kind.HOST):
        assert kinds[kind] > 0, kind
    replies = [e for e in adapted if e.kind is Kind.REPLY]
    assert all(
        e.target_member not in (None, e.member)
        for e in replies
        if e.platform is not Platform.GITHUB
    )
    assert len({(e.member, e.target_member) for e in replies}) > 20  # between many members


def test_every_webhook_is_authentic_and_maps_at_its_simulated_time() -> None:
    settings = load_settings({k: v for k, v in DEV_ENV.items() if k != "INVESTED_API_KEYS"})
    verifiers = build_verifiers(settings)
    _, events = generate(CONFIG)
    assert {event.platform for event in events} == set(Platform)
    for event in events:
        request = sign(event, SIGNER)
        headers = {name.lower(): value for name, value in request.headers.items()}
        verifiers[request.platform].verify(headers, request.body, time.time())
        mapped = adapt(event)
        assert mapped, event.label
        for engagement in mapped:
            assert engagement.community == CONFIG.community(event.platform)
            assert END - timedelta(days=CONFIG.days) <= engagement.occurred_at <= END
            assert abs(engagement.occurred_at - event.at) < timedelta(seconds=1), event.label
