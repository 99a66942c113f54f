"""API building blocks without I/O: explanations, cursors, key checks, error codes, SSE framing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from invested.contracts import Evidence, Segment, Thresholds
from invested.state import MemberState
from services.api.auth import ApiKeys
from services.api.cursor import decode_cursor, encode_cursor
from services.api.errors import validation_code
from services.api.explain import explain
from services.api.sse import format_event

THRESHOLDS = Thresholds(
    enter_investment=12,
    enter_peers=2,
    enter_active_days=2,
    stay_investment=6,
    stay_peers=1,
    min_dwell_days=7,
    window_days=28,
)


def state(segment: str, reason: str = "", **numbers: object) -> MemberState:
    evidence = {
        "investment": 0,
        "interest": 0,
        "peers": 0,
        "active_days": 0,
        "standing": [],
        "events_in_window": 0,
        "kind_counts": {},
        "thresholds": THRESHOLDS,
        "reason": reason,
        **numbers,
    }
    return MemberState(
        community="acme",
        member="alice",
        segment=Segment(segment),
        since=datetime(2026, 11, 2, 9, 30, tzinfo=UTC),
        seq=1,
        evidence=Evidence.model_validate(evidence),
        rules_version="r1",
        updated_at=datetime(2026, 11, 20, tzinfo=UTC),
    )


# --- explanations ------------------------------------------------------------------------------


def test_explanation_of_a_community_member_reads_like_the_issue_example() -> None:
    member = state(
        "community",
        investment=30,
        peers=3,
        active_days=4,
        events_in_window=5,
        kind_counts={"reply": 5},
    )
    assert explain(member) == (
        "community since 2026-11-02: 5 replies, with 3 members on 4 days in the last 28 days"
    )


def test_explanation_lists_investment_first_then_interest_then_standing_interest() -> None:
    member = state(
        "audience",
        investment=8,
        interest=3,
        peers=1,
        active_days=1,
        standing=["join", "follow"],
        events_in_window=6,
        kind_counts={"view": 2, "post": 1, "react": 1, "join": 1, "follow": 1},
    )
    assert explain(member) == (
        "audience since 2026-11-02: 1 post, with 1 member on 1 day; "
        "2 views, 1 reaction, 1 follow and 1 join in the last 28 days; "
        "standing interest: follow, join"
    )


def test_explanation_of_plurals_ties_and_irregular_nouns() -> None:
    member = state(
        "community",
        peers=2,
        active_days=2,
        events_in_window=4,
        kind_counts={"feedback": 2, "contribute": 1, "host": 1},
    )
    assert explain(member).startswith(
        "community since 2026-11-02: 2 pieces of feedback, 1 contribution and 1 event hosted"
    )


def test_explanation_of_dormant_members() -> None:
    assert explain(state("dormant")) == "dormant since 2026-11-02: no activity in the last 28 days"
    replied_to = state("dormant", peers=2)
    assert explain(replied_to) == (
        "dormant since 2026-11-02: interactions with 2 members in the last 28 days"
    )


def test_explanation_falls_back_to_the_classifier_reason_without_kind_counts() -> None:
    member = state("audience", reason="audience: 3 own events", events_in_window=3)
    assert explain(member) == "audience since 2026-11-02: audience: 3 own events"


# --- cursors -----------------------------------------------------------------------------------


@pytest.mark.parametrize("member", ["a", "alice", "Ünïcødé 👋", "x" * 256, "a/b{c}", "="])
def test_cursor_round_trip(member: str) -> None:
    cursor = encode_cursor(member)
    assert "=" not in cursor
    assert decode_cursor(cursor) == member


@pytest.mark.parametrize(
    "cursor",
    [
        "YWxpY2U=",  # padding: not a cursor this API produces
        "YWxpY2",  # a partial quantum that is not canonical
        "AQ",  # decodes to a control character
        "_w",  # not UTF-8
        encode_cursor("x" * 257),  # longer than any id
    ],
)
def test_cursors_this_api_did_not_produce_are_rejected(cursor: str) -> None:
    with pytest.raises(ValueError, match="not a cursor"):
        decode_cursor(cursor)


# --- keys --------------------------------------------------------------------------------------


def test_api_keys_accept_every_configured_key_and_nothing_else() -> None:
    keys = ApiKeys([SecretStr("old-key"), SecretStr("new-key")])
    assert keys.accepts("old-key") and keys.accepts("new-key")
    for token in (None, "", "old-keyx", "old-ke", "OLD-KEY", "new-key "):
        assert not keys.accepts(token)
    assert "old-key" not in repr(keys) and "new-key" not in repr(keys)


def test_no_configured_key_locks_the_api() -> None:
    keys = ApiKeys([])
    assert not keys and not keys.accepts("anything")


# --- error codes and SSE framing -------------------------------------------------------------


@pytest.mark.parametrize(
    ("loc", "code"),
    [
        (("path", "member"), "invalid_id"),
        (("path", "community"), "invalid_id"),
        (("query", "limit"), "invalid_limit"),
        (("query", "cursor"), "invalid_cursor"),
        (("query", "segment"), "invalid_segment"),
        (("header", "Last-Event-ID"), "invalid_last_event_id"),
        (("query", "other"), "invalid_request"),
        (("body",), "invalid_request"),
    ],
)
def test_validation_errors_get_a_stable_code_per_parameter(loc: tuple[str, ...], code: str) -> None:
    assert validation_code([{"loc": loc, "msg": "bad", "type": "x"}]) == code


def test_sse_event_framing_splits_multiline_data() -> None:
    assert format_event("1-0", "transition", '{"a":1}') == (
        b'id: 1-0\nevent: transition\ndata: {"a":1}\n\n'
    )
    assert format_event("2-0", "x", "a\nb") == b"id: 2-0\nevent: x\ndata: a\ndata: b\n\n"
