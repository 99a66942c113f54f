"""Unit tests of the rules at every boundary (pure code, no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from invested.contracts import EngagementEvent, Kind, Segment
from services.classifier.rules import DAY_MS, Rules, WindowNumbers, decide, load_rules
from services.classifier.store import steps_for

RULES = load_rules()
T = 100 * DAY_MS  # an evaluation instant
LONG_AGO = T - 30 * DAY_MS  # since: dwell long passed


def numbers(
    inv: float = 0, peers: int = 0, days: int = 0, standing: int = 0, own: int = 0
) -> WindowNumbers:
    return WindowNumbers(inv, 0, peers, days, standing, own)


def test_default_rules_file_is_valid_and_versioned() -> None:
    assert RULES.rules_version
    assert (RULES.window_days, RULES.min_dwell_days) == (28, 7)
    assert RULES.community.enter.investment == 12 and RULES.community.stay.investment == 6
    assert RULES.weight_centi(Kind.REPLY) == 600 and RULES.weight_centi(Kind.VIEW) == 50
    assert RULES.weight_centi(Kind.UNFOLLOW) == 0


@pytest.mark.parametrize(
    ("inv", "peers", "days", "expected"),
    [
        (12, 2, 2, Segment.COMMUNITY),  # exactly at every enter threshold
        (11.99, 2, 2, Segment.AUDIENCE),
        (12, 1, 2, Segment.AUDIENCE),
        (12, 2, 1, Segment.AUDIENCE),
        (40, 5, 5, Segment.COMMUNITY),
    ],
)
def test_enter_thresholds(inv: float, peers: int, days: int, expected: Segment) -> None:
    assert (
        decide(Segment.AUDIENCE, LONG_AGO, T, numbers(inv, peers, days, own=3), RULES) is expected
    )


@pytest.mark.parametrize(
    ("inv", "peers", "expected"),
    [
        (6, 1, Segment.COMMUNITY),  # exactly at the stay thresholds: hysteresis keeps the member
        (5.99, 1, Segment.AUDIENCE),
        (6, 0, Segment.AUDIENCE),
        (11, 1, Segment.COMMUNITY),  # below enter, above stay
    ],
)
def test_stay_thresholds_are_easier_than_enter(inv: float, peers: int, expected: Segment) -> None:
    assert decide(Segment.COMMUNITY, LONG_AGO, T, numbers(inv, peers, 1, own=1), RULES) is expected
    # The same numbers do not let an audience member in.
    assert (
        decide(Segment.AUDIENCE, LONG_AGO, T, numbers(inv, peers, 1, own=1), RULES)
        is Segment.AUDIENCE
    )


def test_minimum_dwell_before_demotion() -> None:
    empty = numbers()
    dwell = RULES.dwell_ms
    assert decide(Segment.COMMUNITY, T - dwell + 1, T, empty, RULES) is Segment.COMMUNITY
    assert decide(Segment.COMMUNITY, T - dwell, T, empty, RULES) is Segment.DORMANT
    assert decide(Segment.AUDIENCE, T - dwell + 1, T, empty, RULES) is Segment.AUDIENCE
    assert decide(Segment.AUDIENCE, T - dwell, T, empty, RULES) is Segment.DORMANT
    # Dwell never blocks a promotion.
    assert decide(Segment.AUDIENCE, T, T, numbers(12, 2, 2, own=2), RULES) is Segment.COMMUNITY


def test_demotion_lands_on_audience_when_something_remains() -> None:
    assert decide(Segment.COMMUNITY, LONG_AGO, T, numbers(standing=1), RULES) is Segment.AUDIENCE
    assert decide(Segment.COMMUNITY, LONG_AGO, T, numbers(inv=3, own=1), RULES) is Segment.AUDIENCE


def test_standing_interest_alone_keeps_a_member_in_the_audience() -> None:
    assert decide(Segment.DORMANT, LONG_AGO, T, numbers(standing=1), RULES) is Segment.AUDIENCE
    assert decide(Segment.AUDIENCE, LONG_AGO, T, numbers(standing=0), RULES) is Segment.DORMANT


def event(kind: str, target: str | None = None, member: str = "ann") -> EngagementEvent:
    at = datetime(2026, 11, 2, tzinfo=UTC)
    return EngagementEvent.model_validate(
        {
            "id": "e1",
            "community": "c",
            "platform": "slack",
            "member": member,
            "kind": kind,
            "target_member": target,
            "occurred_at": at,
            "received_at": at,
        }
    )


def test_a_reply_counts_a_peer_for_both_sides() -> None:
    actor, received = steps_for(event("reply", "bob"), RULES)
    assert (actor.member, actor.peer, actor.group, actor.weight) == ("ann", "bob", "i", 600)
    assert (received.member, received.peer, received.group, received.weight) == (
        "bob",
        "ann",
        "r",
        0,
    )
    assert received.event_id == "e1:r"


def test_self_replies_are_not_peers() -> None:
    steps = steps_for(event("reply", "ann"), RULES)
    assert len(steps) == 1 and steps[0].peer == ""


def test_reactions_are_interest_without_peers() -> None:
    steps = steps_for(event("react", "bob"), RULES)
    assert len(steps) == 1 and (steps[0].group, steps[0].peer) == ("n", "")


@pytest.mark.parametrize(
    ("kind", "pair", "start", "group"),
    [
        ("follow", "follow", "1", "n"),
        ("unfollow", "follow", "0", "e"),
        ("star", "star", "1", "n"),
        ("leave", "join", "0", "e"),
    ],
)
def test_standing_interest_and_its_inverse(kind: str, pair: str, start: str, group: str) -> None:
    (step,) = steps_for(event(kind), RULES)
    assert (step.standing_pair, step.standing_start, step.group) == (pair, start, group)


@pytest.mark.parametrize(
    "change",
    [
        {"community": {"enter": {"investment": 5}, "stay": {"investment": 6}}},  # stay > enter
        {"weights": {"reply": -1}},
        {"weights": {"unfollow": 1}},
        {"weights": {"teleport": 1}},
        {"weights": {"reply": 0.001}},
        {"window_days": 0},
        {"surprise": True},
    ],
)
def test_invalid_rules_are_rejected(change: dict[str, object]) -> None:
    base = {"rules_version": "t"}
    with pytest.raises(ValidationError):
        Rules.model_validate(base | change)


def test_rules_file_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("rules_version: custom-1\nwindow_days: 14\nweights: {reply: 3}\n")
    rules = load_rules(path)
    assert (rules.rules_version, rules.window_ms, rules.weight_centi(Kind.REPLY)) == (
        "custom-1",
        14 * DAY_MS,
        300,
    )


def test_a_broken_rules_file_stops_the_worker_with_one_message(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.processes import ROOT, service_env

    path = tmp_path / "rules.yaml"
    path.write_text(
        "rules_version: x\ncommunity: {enter: {investment: 1}, stay: {investment: 9}}\n"
    )
    env = service_env("127.0.0.1:1", "redis://127.0.0.1:1/0", INVESTED_RULES_FILE=str(path))
    env["INVESTED_STARTUP_TIMEOUT_SECONDS"] = "0.1"
    # Rules are checked after the broker wait: point at nothing, but read the rules first.
    result = subprocess.run(
        [sys.executable, "-c", "from invested.service import main_guarded; from invested.settings import load_settings; "
         "from services.classifier.app import create_app; main_guarded(lambda: create_app(load_settings()))"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert "INVESTED_RULES_FILE" in result.stderr and "stay thresholds" in result.stderr
    assert "Traceback" not in result.stderr
