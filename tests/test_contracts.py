"""The contracts of DESIGN.md as code: taxonomy, ids, JSON round trips, committed schemas."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from invested import schemas
from invested.contracts import (
    INTEREST_KINDS,
    INVESTMENT_KINDS,
    STANDING_END_KINDS,
    STANDING_INVERSE,
    EngagementEvent,
    Evidence,
    Kind,
    KindGroup,
    MemberTransition,
    Segment,
    Thresholds,
    TransitionData,
    groups_of,
    stable_id,
)

T0 = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


def event(**overrides: object) -> EngagementEvent:
    values: dict[str, object] = dict(
        id="e1",
        community="acme",
        platform="github",
        member="alice",
        kind="reply",
        target_member="bob",
        occurred_at=T0,
        received_at=T0,
    )
    values.update(overrides)
    return EngagementEvent.model_validate(values)


def transition(seq: int = 1) -> MemberTransition:
    thresholds = Thresholds(
        enter_investment=12,
        enter_peers=2,
        enter_active_days=2,
        stay_investment=6,
        stay_peers=1,
        min_dwell_days=7,
        window_days=28,
    )
    evidence = Evidence(
        investment=14,
        interest=2,
        peers=2,
        active_days=2,
        standing=["follow"],
        events_in_window=4,
        thresholds=thresholds,
        reason="2 replies",
    )
    data = TransitionData.model_validate(
        {
            "community": "acme",
            "member": "alice",
            "from": "audience",
            "to": "community",
            "at": T0,
            "cause": "e1",
            "evidence": evidence,
            "rules_version": "2026-11-01",
            "seq": seq,
        }
    )
    return MemberTransition.build(data)


def test_every_kind_has_a_group_and_the_groups_match_design() -> None:
    assert {Kind.VIEW, Kind.REACT, Kind.STAR, Kind.FORK, Kind.DOWNLOAD} == INTEREST_KINDS
    assert STANDING_INVERSE[Kind.FOLLOW] is Kind.UNFOLLOW
    assert STANDING_INVERSE[Kind.STAR] is Kind.UNSTAR
    assert Kind.REPLY in INVESTMENT_KINDS and Kind.CONTRIBUTE in INVESTMENT_KINDS
    for kind in Kind:
        assert groups_of(kind), f"{kind} belongs to no group"
    assert groups_of(Kind.STAR) == {KindGroup.INTEREST, KindGroup.STANDING}
    assert not (INVESTMENT_KINDS & (INTEREST_KINDS | STANDING_END_KINDS))


def test_event_json_round_trip_uses_the_versioned_schema_name() -> None:
    original = event()
    raw = original.to_json()
    assert b'"schema":"invested.engagement_event.v1"' in raw
    assert EngagementEvent.from_json(raw) == original
    assert original.key == "acme/alice"


@pytest.mark.parametrize(
    "overrides",
    [
        {"kind": "teleport"},
        {"member": ""},
        {"member": "x" * 257},
        {"community": "bad\nid"},
        {"community": "a/b"},  # would share Redis keys with community "a", member "b/..."
        {"member": "x{y}"},
        {"platform": "myspace"},
        {"surprise": 1},
    ],
)
def test_invalid_events_are_rejected(overrides: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        event(**overrides)


def test_transition_is_a_cloudevents_envelope_with_a_deterministic_id() -> None:
    first, again, next_one = transition(1), transition(1), transition(2)
    assert first.id == again.id != next_one.id
    body = first.model_dump(by_alias=True, mode="json")
    assert body["specversion"] == "1.0"
    assert body["type"] == "io.invested.member.transition.v1"
    assert body["subject"] == "acme/alice"
    assert body["data"]["from"] == "audience" and body["data"]["to"] == "community"
    assert MemberTransition.from_json(first.to_json()) == first
    assert first.data.to_segment is Segment.COMMUNITY


@given(st.lists(st.text(max_size=20), min_size=1, max_size=5))
def test_stable_id_is_a_function_of_its_parts(parts: list[str]) -> None:
    assert stable_id(*parts) == stable_id(*parts)
    assert stable_id(*parts) != stable_id(*parts, "x")


@given(st.lists(st.text(max_size=40), min_size=1, max_size=6))
def test_stable_id_is_the_uuid5_of_its_joined_parts(parts: list[str]) -> None:
    # Event ids must never change between versions: redeliveries after an upgrade dedupe too.
    expected = uuid.uuid5(uuid.UUID("6f1c2d8e-0b7a-4f1e-9a55-3c1f0e2d4b6a"), "\x1f".join(parts))
    assert stable_id(*parts) == str(expected)


def test_stable_id_is_pinned() -> None:
    stable = "594bee3c-c210-5d50-8e91-1a5695f762eb"
    assert stable_id("github", "acme", "issue_comment.created", "comment", "1", "") == stable


def test_committed_schemas_match_the_models() -> None:
    assert schemas.drifted() == [], "run `make schemas` and commit schemas/"


def test_model_output_validates_against_the_committed_schemas() -> None:
    import json

    for filename, instance in [
        ("engagement_event.v1.json", event().model_dump(by_alias=True, mode="json")),
        ("member_transition.v1.json", transition().model_dump(by_alias=True, mode="json")),
    ]:
        schema = json.loads((schemas.SCHEMA_DIR / filename).read_text())
        jsonschema.validate(instance, schema)


def test_schema_drift_is_detected(tmp_path: object) -> None:
    from pathlib import Path

    directory = Path(str(tmp_path))
    for filename, model in schemas.MODELS.items():
        (directory / filename).write_text(schemas.render(model))
    assert schemas.drifted(directory) == []
    (directory / "engagement_event.v1.json").write_text("{}\n")
    assert schemas.drifted(directory) == ["engagement_event.v1.json"]
