"""Replay/backfill: rebuilding state from engagement.events gives the live states, quietly.

Live processing first (the real worker), then ``python -m services.classifier.replay`` rebuilds
the community from the earliest offset: same segments, counts and per-member histories
(transition ids included), and nothing new on ``member.transitions``. With changed rules
(new ``rules_version``) the states are recomputed quietly; ``--publish`` re-publishes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import redis

from invested import state as keys
from invested.stack import EmbeddedStack
from tests.backends import Backend
from tests.processes import ROOT, classifier, service_env
from tests.test_reliability_classifier import (
    WORKER,
    outcome,
    produce,
    read_transitions,
    wait_for_sentinel,
    wait_outbox_drained,
    workload,
)


def histories(redis_url: str, members: list[str], community: str) -> dict[str, list[str]]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    return {m: client.lrange(keys.history_key(community, m), 0, -1) for m in members}


def run_replay(stack: EmbeddedStack, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "services.classifier.replay", "--yes", *args],
        env=service_env(stack.kafka_bootstrap, stack.redis_url, **env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_replay_rebuilds_the_live_state_quietly_and_recomputes_new_rules(tmp_path: Path) -> None:
    import asyncio

    community = "replayed"
    events = workload(11, community, n_events=800)
    with EmbeddedStack() as stack:
        produce(stack.kafka_bootstrap, events)
        # Another community in the log must be left alone by a one-community replay.
        other = workload(12, "bystander", n_events=50)
        produce(stack.kafka_bootstrap, other)
        with classifier(stack.kafka_bootstrap, stack.redis_url, tmp_path / "live", **WORKER):
            wait_for_sentinel(stack.redis_url, community)
            wait_for_sentinel(stack.redis_url, "bystander")
            wait_outbox_drained(stack.redis_url)
        live = outcome(stack, community)
        bystander = outcome(stack, "bystander")
        live_histories = histories(stack.redis_url, list(live.segments), community)

        result = run_replay(stack, "--community", community)
        assert "recomputed quietly" in result.stdout
        rebuilt = outcome(stack, community)
        assert rebuilt.segments == live.segments
        assert rebuilt.counts == live.counts
        assert histories(stack.redis_url, list(live.segments), community) == live_histories
        assert rebuilt.transitions == live.transitions  # nothing new was published
        assert outcome(stack, "bystander") == bystander

        # New rules: entering the community gets much harder; recompute quietly.
        rules = tmp_path / "rules.yaml"
        text = (ROOT / "services/classifier/rules.yaml").read_text()
        rules.write_text(
            text.replace('rules_version: "2026-11-25.1"', 'rules_version: "stricter-2"').replace(
                "enter: {investment: 12,", "enter: {investment: 60,"
            )
        )
        run_replay(stack, "--community", community, INVESTED_RULES_FILE=str(rules))
        client = redis.Redis.from_url(stack.redis_url, decode_responses=True)
        versions = {
            client.hget(keys.state_key(community, m), "rules_version") for m in live.segments
        }
        assert versions == {"stricter-2"}
        stricter = outcome(stack, community)
        assert stricter.transitions == live.transitions  # still no storm downstream
        assert stricter.counts["community"] < live.counts["community"]

        # Asked for: the recomputed transitions are published, with new ids.
        run_replay(stack, "--community", community, "--publish", INVESTED_RULES_FILE=str(rules))
        published = asyncio.run(read_transitions(stack.kafka_bootstrap, community))
        new = {i: t for i, t in published.items() if i not in live.transitions}
        assert new and len(new) == sum(
            len(h) for h in histories(stack.redis_url, list(live.segments), community).values()
        )


def test_replay_without_a_terminal_refuses_to_delete_without_yes(backend: Backend) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "services.classifier.replay"],
        env=service_env(backend.kafka_bootstrap, backend.redis_url),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2 and "refusing to delete state without --yes" in result.stderr
    assert "Traceback" not in result.stderr
