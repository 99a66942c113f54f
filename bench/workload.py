"""A deterministic, seeded benchmark workload: ``EngagementEvent`` JSON, ready for Kafka.

Why not the simulator's webhooks? ``tools/simulator/`` builds platform payloads and tracks
threads, which is right for ingest (the ingest benchmark uses it) but an order of magnitude too
slow for 10 million events. This generator uses the simulator's *member model*
(:mod:`tools.simulator.model`: its Pareto activity, role ranks and per-role rates):

* members have a heavy-tailed activity level (Pareto, alpha 1.2); by rank the top 7 % are
  ``core``, the next 20 % ``regular``, the rest ``lurker``;
* a member's share of the events follows their activity (capped, so one member cannot own the
  stream); each member lives in one community (GitHub org, Slack team, Discourse site, Discord
  guild, a Standard Webhooks meetup sender: mixed platforms);
* kinds: about 70 % interest (view, react, star, fork, download, follow, join, subscribe and a
  few inverses) and 30 % investment (post, reply, comment, answer, review, mention, contribute,
  feedback, attend, host); core members invest more, lurkers mostly watch and react;
* replies, comments, answers, reviews, mentions, feedback and reactions target another member of
  the same community, picked by activity (popular members get more replies);
* event times cover the rules window (the last ``days`` days up to ``end``), roughly in time
  order; about 1 % of the records are redeliveries of an earlier event (same id), as an
  at-least-once pipeline sees them.

Records are produced lazily (``(key, value)`` bytes), so 10 million events never sit in memory.
The same seed and ``end`` give byte-identical records.
"""

from __future__ import annotations

import bisect
import itertools
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tools.simulator.model import RATES, pareto_activities, roles_by_rank

# (community, platform) pairs; members are spread over them.
COMMUNITIES: tuple[tuple[str, str], ...] = (
    ("acme-oss", "github"),
    ("T0ACME0001", "slack"),
    ("forum.acme.dev", "discourse"),
    ("910000000000000001", "discord"),
    ("acme-meetups", "generic"),
)
COMMUNITY_SHARE = (0.3, 0.25, 0.15, 0.25, 0.05)

# Kinds per role: weights of interest kinds and investment kinds, and the investment share.
INTEREST_KINDS = (
    ("view", 30),
    ("react", 30),
    ("star", 6),
    ("fork", 2),
    ("download", 8),
    ("follow", 6),
    ("join", 5),
    ("subscribe", 4),
    ("unfollow", 1),
    ("leave", 1),
    ("unsubscribe", 1),
    ("unstar", 1),
)
INVESTMENT_KINDS = (
    ("reply", 30),
    ("comment", 20),
    ("post", 12),
    ("answer", 6),
    ("review", 6),
    ("mention", 8),
    ("contribute", 5),
    ("feedback", 5),
    ("attend", 6),
    ("host", 2),
)
TARGETED = frozenset({"reply", "comment", "answer", "review", "mention", "feedback", "react"})
# Investment share per role, calibrated so the whole stream is ~30 % investment.
INVEST_SHARE = {"core": 0.33, "regular": 0.2, "lurker": 0.06}
MAX_MEMBER_SHARE = 0.002  # no member owns more than 0.2 % of the stream
DUPLICATE_RATE = 0.01

SCHEMA = "invested.engagement_event.v1"


@dataclass(frozen=True)
class WorkloadConfig:
    """What to generate. ``end`` None means now (rounded down to the second)."""

    members: int = 20_000
    events: int = 200_000
    seed: int = 7
    days: float = 27.0  # inside the default 28-day window, so nothing is dropped as late
    end: datetime | None = None
    id_prefix: str = "bench"
    duplicate_rate: float = DUPLICATE_RATE


@dataclass(frozen=True)
class MemberSpec:
    community: int  # index into COMMUNITIES
    member_id: str
    role: str
    weight: float  # share of the stream (before capping)


def _member_id(platform: str, index: int) -> str:
    if platform == "github":
        return str(100_000 + index * 37)
    if platform == "slack":
        return f"U0{index:07d}"
    if platform == "discourse":
        return f"user{index}"
    if platform == "discord":
        return str(300_000_000_000_000_000 + index * 1_000_003)
    return f"m-{index}"


class Workload:
    """The member population and the record stream of one configuration."""

    def __init__(self, config: WorkloadConfig) -> None:
        self.config = config
        self.end = (config.end or datetime.now(UTC).replace(microsecond=0)).astimezone(UTC)
        self.start = self.end - timedelta(days=config.days)
        rng = random.Random(config.seed)
        activity = pareto_activities(rng, config.members)
        role = roles_by_rank(activity)
        cap = max(activity) if config.members < 500 else MAX_MEMBER_SHARE * sum(activity)
        community_cum = list(itertools.accumulate(COMMUNITY_SHARE))
        self.members: list[MemberSpec] = []
        for index in range(config.members):
            ci = bisect.bisect_left(community_cum, rng.random() * community_cum[-1])
            ci = min(ci, len(COMMUNITIES) - 1)
            weight = min(activity[index], cap) * RATES[role[index]] / RATES["regular"]
            self.members.append(
                MemberSpec(ci, _member_id(COMMUNITIES[ci][1], index), role[index], weight)
            )
        self._cum = list(itertools.accumulate(m.weight for m in self.members))
        # Per community: members and cumulative activity (reply targets are picked by activity).
        self._by_community: list[tuple[list[int], list[float]]] = []
        for ci in range(len(COMMUNITIES)):
            idx = [i for i, m in enumerate(self.members) if m.community == ci]
            self._by_community.append(
                (idx, list(itertools.accumulate(self.members[i].weight for i in idx)))
            )
        self._interest = _cumulative(INTEREST_KINDS)
        self._investment = _cumulative(INVESTMENT_KINDS)

    @property
    def communities(self) -> list[str]:
        return [c for c, _ in COMMUNITIES]

    def records(
        self, count: int | None = None, *, received_now: bool = False, id_prefix: str | None = None
    ) -> Iterator[tuple[bytes, bytes]]:
        """``(key, value)`` records; ``received_now`` stamps ``received_at`` (and event time)
        with the wall clock at generation (the paced latency producer)."""
        cfg = self.config
        total = cfg.events if count is None else count
        prefix = id_prefix or f"{cfg.id_prefix}-{cfg.seed}"
        rng = random.Random(f"{cfg.seed}/{prefix}/{total}")
        span = (self.end - self.start).total_seconds()
        start_ts = self.start.timestamp()
        members, cum, top = self.members, self._cum, self._cum[-1]
        recent: list[bytes] = []
        for i in range(total):
            if recent and rng.random() < cfg.duplicate_rate:
                value = recent[rng.randrange(len(recent))]
                yield _key_of(value), value
                continue
            m = members[bisect.bisect_left(cum, rng.random() * top)]
            community, platform = COMMUNITIES[m.community]
            if rng.random() < INVEST_SHARE[m.role]:
                kind = _pick(rng, self._investment)
            else:
                kind = _pick(rng, self._interest)
            target = ""
            if kind in TARGETED:
                target = self._target(rng, m)
            if received_now:
                now = time.time()
                occurred = received = now
            else:
                # roughly time ordered: event i falls in its slice of the window
                occurred = start_ts + span * (i + rng.random() * 50) / (total + 50)
                received = occurred + rng.uniform(0.05, 3.0)
            value = _event_json(
                f"{prefix}-{i}",
                community,
                platform,
                m.member_id,
                kind,
                target,
                f"c{m.community}-{rng.randrange(8)}",
                occurred,
                received,
            )
            if len(recent) < 1000:
                recent.append(value)
            else:
                recent[rng.randrange(1000)] = value
            yield f"{community}/{m.member_id}".encode(), value

    def _target(self, rng: random.Random, m: MemberSpec) -> str:
        idx, cum = self._by_community[m.community]
        for _ in range(3):
            j = idx[bisect.bisect_left(cum, rng.random() * cum[-1])]
            other = self.members[j]
            if other.member_id != m.member_id:
                return other.member_id
        return ""


def _cumulative(table: tuple[tuple[str, int], ...]) -> tuple[list[str], list[int]]:
    return [k for k, _ in table], list(itertools.accumulate(w for _, w in table))


def _pick(rng: random.Random, table: tuple[list[str], list[int]]) -> str:
    names, cum = table
    return names[bisect.bisect_left(cum, rng.random() * cum[-1] + 1e-9)]


def _iso(ts: float) -> str:
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _event_json(
    event_id: str,
    community: str,
    platform: str,
    member: str,
    kind: str,
    target: str,
    channel: str,
    occurred: float,
    received: float,
) -> bytes:
    # Hand-built JSON (ids here never need escaping): pydantic would cost more than the test.
    target_json = f'"{target}"' if target else "null"
    return (
        f'{{"schema":"{SCHEMA}","id":"{event_id}","community":"{community}",'
        f'"platform":"{platform}","member":"{member}","kind":"{kind}",'
        f'"target_member":{target_json},"channel":"{channel}","thread":null,'
        f'"occurred_at":"{_iso(occurred)}","received_at":"{_iso(received)}"}}'
    ).encode()


def _key_of(value: bytes) -> bytes:
    # community/member of a JSON record built by _event_json (for redeliveries)
    text = value.decode()
    community = text.split('"community":"', 1)[1].split('"', 1)[0]
    member = text.split('"member":"', 1)[1].split('"', 1)[0]
    return f"{community}/{member}".encode()


def describe(workload: Workload, sample: int = 20_000) -> dict[str, object]:
    """Shape of the stream (from a sample): kinds mix, investment share, active members."""
    import json
    from collections import Counter

    kinds: Counter[str] = Counter()
    actors: Counter[str] = Counter()
    n = min(sample, workload.config.events)
    for key, value in workload.records(n):
        kinds[json.loads(value)["kind"]] += 1
        actors[key.decode()] += 1
    investment = sum(c for k, c in kinds.items() if k in dict(INVESTMENT_KINDS))
    top = actors.most_common(max(1, len(actors) // 100))
    return {
        "members": workload.config.members,
        "events": workload.config.events,
        "communities": len(COMMUNITIES),
        "investment_share": round(investment / max(n, 1), 3),
        "top_1pct_members_event_share": round(sum(c for _, c in top) / max(n, 1), 3),
        "duplicate_rate": workload.config.duplicate_rate,
    }
