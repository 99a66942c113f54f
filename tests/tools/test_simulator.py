"""The simulator's member model and command line: deterministic, heavy-tailed, readable people.

What the adapters make of its webhooks is in ``test_simulator_payloads.py``; posting to a
running ingest is in ``tests/test_ingest_http.py``.
"""

from __future__ import annotations

import random
import re
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime

from bench.workload import INVEST_SHARE, Workload, WorkloadConfig
from invested.contracts import Kind, Platform
from tests.test_ingest_support import ROOT, ingest_env
from tests.tools.simulated import CONFIG, END, community, engagement
from tools.simulator import cast
from tools.simulator.community import generate
from tools.simulator.config import SimConfig
from tools.simulator.model import (
    ACTIONS,
    CORE_SHARE,
    REGULAR_SHARE,
    pareto_activities,
    roles_by_rank,
)


def snapshot(config: SimConfig) -> list[tuple[object, ...]]:
    _, events = generate(config)
    return [(e.at, e.platform, e.label, e.body(), e.meta, e.act, e.delivery) for e in events]


def test_same_seed_same_community_and_payloads() -> None:
    assert snapshot(CONFIG) == snapshot(CONFIG)
    other = SimConfig(seed=6, members=80, days=14, end=END)
    assert [body for _, _, _, body, *_ in snapshot(other)] != [
        body for _, _, _, body, *_ in snapshot(CONFIG)
    ]


def test_redeliveries_leave_the_community_as_it_is() -> None:
    # The benchmark turns redeliveries off and must still post the demo's community.
    without = SimConfig(seed=5, members=80, days=14, end=END, redelivery_rate=0.0)
    _, events = community()
    assert sum(1 for e in events if e.attempt > 1) > 0
    assert snapshot(without) == [
        (e.at, e.platform, e.label, e.body(), e.meta, e.act, e.delivery)
        for e in events
        if e.attempt == 1
    ]


def test_activity_is_heavy_tailed_with_threads_reactions_joins_and_leaves() -> None:
    config = SimConfig(seed=7, members=200, days=28, end=END)
    members, _ = generate(config)
    roles = Counter(member.role for member in members)
    assert roles["lurker"] > roles["regular"] > roles["core"] > 0
    assert roles["staff"] == len(cast.STAFF) and roles["bot"] == len(cast.BOTS)

    adapted = [e for e in engagement(config) if e.member_role is None]
    counts = sorted(Counter(e.member for e in adapted).values(), reverse=True)
    assert sum(counts[: len(counts) // 10]) > 0.4 * sum(counts)  # the top tenth does most
    # Every kind a community's platforms report; views, downloads, follows and subscriptions
    # come from no platform the demo has.
    assert {e.kind for e in adapted} == set(Kind) - {
        Kind.VIEW,
        Kind.DOWNLOAD,
        Kind.FOLLOW,
        Kind.UNFOLLOW,
        Kind.SUBSCRIBE,
        Kind.UNSUBSCRIBE,
        Kind.UNSTAR,
    }
    replies = [e for e in adapted if e.kind is Kind.REPLY and e.target_member is not None]
    assert all(e.target_member != e.member for e in replies)
    assert len({(e.member, e.target_member) for e in replies}) > 50  # between many members


def test_crowd_handles_and_emails_never_meet_across_platforms() -> None:
    # Every link the demo shows is one the cast was written for: no crowd member shares a
    # handle (case and punctuation aside) or an e-mail with another account.
    members, _ = generate(SimConfig(seed=7, members=400, days=28, end=END))
    cast_names = {person.name for person in (*cast.STAFF, *cast.PEOPLE)}
    crowd = [m for m in members if m.role != "bot" and m.name not in cast_names]
    assert len(crowd) == 400 - len(cast.PEOPLE)
    keys = Counter(
        re.sub(r"[^a-z0-9]", "", account.handle.lower())
        for member in members
        for account in member.accounts.values()
        if member in crowd or member.role == "bot"
    )
    assert max(keys.values()) == 1
    emails = [a.email for m in crowd for a in m.accounts.values() if a.email is not None]
    assert len(emails) == len(set(emails))
    slack = [m.accounts[Platform.SLACK].id for m in members if Platform.SLACK in m.accounts]
    assert all(re.fullmatch(r"U[A-Z0-9]{8,10}", user) for user in slack)
    assert len(slack) == len(set(slack))


def test_the_benchmark_workload_uses_the_model() -> None:
    config = WorkloadConfig(
        members=2000, events=1000, seed=3, end=datetime(2026, 1, 31, tzinfo=UTC)
    )
    workload = Workload(config)
    expected = roles_by_rank(pareto_activities(random.Random(config.seed), config.members))
    assert [m.role for m in workload.members] == expected
    roles = Counter(expected)
    assert roles["core"] == round(CORE_SHARE * config.members)
    assert roles["core"] + roles["regular"] == round((CORE_SHARE + REGULAR_SHARE) * config.members)
    assert list(Workload(config).records()) == list(workload.records())
    # The workload's own kind mix ranks the roles as the model's actions do.
    invests = {role: post + reply for role, (post, reply, _react) in ACTIONS.items()}
    assert sorted(INVEST_SHARE, key=INVEST_SHARE.__getitem__) == sorted(
        INVEST_SHARE, key=invests.__getitem__
    )


def test_command_line_dry_run_is_deterministic() -> None:
    args = [sys.executable, "-m", "tools.simulator", "--dry-run", "--seed", "11"]
    args += [
        "--members",
        "40",
        "--days",
        "7",
        "--end",
        datetime(2024, 6, 1, tzinfo=UTC).isoformat(),
    ]
    env = ingest_env("127.0.0.1:1", "redis://127.0.0.1:1/0", 1)
    first = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    second = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    assert "webhooks:" in first.stdout and "dependabot[bot]" in first.stdout
