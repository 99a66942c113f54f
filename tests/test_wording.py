"""The explanations read as plain English: every kind's noun, singular and plural, pinned.

The classifier's reasons (on ``member.transitions``, printed by ``make tail``, returned by the
API) and the API's member explanations share :mod:`invested.wording`; these tests pin its table
for every kind of the contract, so a new kind cannot ship as "3 contributes".
"""

from __future__ import annotations

import pytest

from invested.contracts import Kind, Thresholds
from invested.records import WindowSummary, reason
from invested.wording import counted, kind_count, kind_listing, listing

# kind -> (one of it, three of it), as a person writes them.
PINNED = {
    "view": ("1 view", "3 views"),
    "react": ("1 reaction", "3 reactions"),
    "star": ("1 star", "3 stars"),
    "fork": ("1 fork", "3 forks"),
    "download": ("1 download", "3 downloads"),
    "follow": ("1 follow", "3 follows"),
    "unfollow": ("1 unfollow", "3 unfollows"),
    "join": ("1 join", "3 joins"),
    "leave": ("1 departure", "3 departures"),
    "subscribe": ("1 subscription", "3 subscriptions"),
    "unsubscribe": ("1 cancelled subscription", "3 cancelled subscriptions"),
    "unstar": ("1 removed star", "3 removed stars"),
    "post": ("1 post", "3 posts"),
    "reply": ("1 reply", "3 replies"),
    "comment": ("1 comment", "3 comments"),
    "mention": ("1 mention", "3 mentions"),
    "answer": ("1 answer", "3 answers"),
    "review": ("1 review", "3 reviews"),
    "contribute": ("1 contribution", "3 contributions"),
    "feedback": ("1 piece of feedback", "3 pieces of feedback"),
    "attend": ("1 event attended", "3 events attended"),
    "host": ("1 event hosted", "3 events hosted"),
    "commit": ("1 commit", "3 commits"),
    "release": ("1 release", "3 releases"),
}

THRESHOLDS = Thresholds(
    enter_investment=12,
    enter_peers=2,
    enter_active_days=2,
    stay_investment=6,
    stay_peers=1,
    min_dwell_days=7,
    window_days=28,
)


def test_every_kind_of_the_contract_is_pinned() -> None:
    assert set(PINNED) == {kind.value for kind in Kind}


@pytest.mark.parametrize("kind", sorted(PINNED))
def test_kind_in_singular_and_plural(kind: str) -> None:
    one, three = PINNED[kind]
    assert kind_count(kind, 1) == one
    assert kind_count(kind, 3) == three
    assert kind_count(kind, 0) == "0" + three[1:]  # zero takes the plural


def test_counts_of_plain_nouns() -> None:
    assert counted(1, "own event") == "1 own event"
    assert counted(2, "own event") == "2 own events"
    assert counted(28.0, "day") == "28 days"
    assert counted(1.0, "day") == "1 day"
    assert counted(0.5, "day") == "0.5 days"
    assert counted(3, "person", "people") == "3 people"


def test_a_kind_from_a_newer_contract_still_reads() -> None:
    assert kind_count("sketch", 2) == "2 sketches"
    assert kind_count("reply-ish", 1) == "1 reply-ish"
    assert kind_count("story", 4) == "4 stories"


def test_listings() -> None:
    assert listing([]) == ""
    assert listing(["a"]) == "a"
    assert listing(["a", "b", "c"]) == "a, b and c"
    # Most frequent first, ties in contract order, zero counts left out.
    counts = {"reply": 1, "contribute": 3, "post": 1, "view": 0}
    assert kind_listing(counts) == "3 contributions, 1 post and 1 reply"


def summary(why: str, **numbers: object) -> WindowSummary:
    values: dict[str, object] = {
        "investment_centi": 0,
        "interest_centi": 0,
        "peers": 0,
        "active_days": 0,
        "events": 0,
        "kind_counts": {},
        "standing": [],
    }
    return WindowSummary(why=why, **(values | numbers))  # type: ignore[arg-type]


def test_audience_reason_counts_own_events_in_singular_and_plural() -> None:
    one = reason(summary("audience", events=1, interest_centi=100), THRESHOLDS)
    assert one.startswith("audience: 1 own event in the window, below community")
    three = reason(summary("audience", events=3), THRESHOLDS)
    assert three.startswith("audience: 3 own events in the window")


def test_community_reason_cites_kinds_members_and_days_in_words() -> None:
    entered = summary(
        "enter",
        investment_centi=1500,
        peers=2,
        active_days=2,
        events=5,
        kind_counts={"contribute": 3, "reply": 1, "follow": 1, "view": 0},
    )
    assert reason(entered, THRESHOLDS) == (
        "entered community: investment 15 >= 12, peers 2 >= 2, active days 2 >= 2 "
        "(3 contributions, 1 follow and 1 reply, with 2 members on 2 days in the last 28 days)"
    )
    stays = summary("stay", investment_centi=600, peers=1, active_days=1, kind_counts={"post": 1})
    assert reason(stays, THRESHOLDS) == (
        "stays in community: investment 6 >= 6, peers 1 >= 1 "
        "(1 post, with 1 member on 1 day in the last 28 days)"
    )
