"""The per-platform mapping tables, on realistic payloads (``tests/fixtures/<platform>/``)."""

from __future__ import annotations

import copy
import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from invested.contracts import EngagementEvent, Kind, Platform
from services.ingest.adapters import ADAPTERS, Delivery, Unmappable
from services.ingest.adapters.common import Context, Rule, apply_rules
from tests.test_ingest_support import FIXTURES

RECEIVED = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
INSTANCE = {"x-discourse-instance": "https://forum.acme.dev", "x-discourse-event-id": "9001"}


def headers_for(platform: str, name: str) -> dict[str, str]:
    event = name.split(".")[0]
    if platform == "github":
        return {
            "x-github-event": event,
            "x-github-delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        }
    if platform == "discourse":
        return {
            **INSTANCE,
            "x-discourse-event": event,
            "x-discourse-event-type": event.split("_")[0],
        }
    if platform == "generic":
        return {"webhook-id": "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"}
    return {}


def delivery(platform: str, name: str, payload: Any = None, **headers: str) -> Delivery:
    if payload is None:
        payload = json.loads((FIXTURES / platform / f"{name}.json").read_text())
    all_headers = {**headers_for(platform, name), **headers}
    adapter = ADAPTERS[Platform(platform)]
    delivery_id = adapter.delivery_id(all_headers, payload) or "sha256:x"
    return Delivery(Platform(platform), all_headers, payload, delivery_id, RECEIVED)


def adapt(platform: str, name: str, payload: Any = None, **headers: str) -> list[EngagementEvent]:
    return ADAPTERS[Platform(platform)].adapt(delivery(platform, name, payload, **headers))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


# (platform, fixture) → expected events: (kind, community, member, target, occurred_at).
EXPECTED: dict[tuple[str, str], list[tuple[Kind, str, str, str | None, datetime]]] = {
    ("github", "issues.opened"): [
        (Kind.POST, "acme-oss", "2154", None, at("2024-05-02T09:14:07Z"))
    ],
    ("github", "issue_comment.created"): [
        (Kind.COMMENT, "acme-oss", "583231", "2154", at("2024-05-02T10:01:44Z"))
    ],
    ("github", "pull_request.opened"): [
        (Kind.CONTRIBUTE, "acme-oss", "583231", None, at("2024-05-02T13:30:00Z"))
    ],
    ("github", "pull_request.closed.merged"): [
        (Kind.CONTRIBUTE, "acme-oss", "583231", None, at("2024-05-03T08:12:19Z"))
    ],
    ("github", "pull_request_review.submitted"): [
        (Kind.REVIEW, "acme-oss", "7143", "583231", at("2024-05-02T16:45:10Z"))
    ],
    ("github", "pull_request_review_comment.created"): [
        (Kind.COMMENT, "acme-oss", "7143", "583231", at("2024-05-02T16:44:58Z"))
    ],
    ("github", "discussion.created"): [
        (Kind.POST, "acme-oss", "2154", None, at("2024-05-04T11:00:31Z"))
    ],
    ("github", "discussion_comment.created"): [
        (Kind.REPLY, "acme-oss", "583231", "2154", at("2024-05-04T12:20:05Z"))
    ],
    ("github", "discussion.answered"): [
        (Kind.ANSWER, "acme-oss", "583231", "2154", at("2024-05-04T13:02:40Z"))
    ],
    ("github", "star.created"): [
        (Kind.STAR, "acme-oss", "8812733", None, at("2024-05-05T08:15:02Z"))
    ],
    ("github", "star.deleted"): [(Kind.UNSTAR, "acme-oss", "8812733", None, RECEIVED)],
    ("github", "watch.started"): [(Kind.STAR, "acme-oss", "8812733", None, RECEIVED)],
    ("github", "fork"): [(Kind.FORK, "acme-oss", "8812733", None, at("2024-05-05T08:20:44Z"))],
    ("github", "member.added"): [(Kind.JOIN, "acme-oss", "2154", None, RECEIVED)],
    ("github", "organization.member_added"): [(Kind.JOIN, "acme-oss", "2154", None, RECEIVED)],
    ("slack", "message"): [
        (Kind.POST, "T024BE7LD", "U061F7AUR", None, at("2024-05-02T09:14:07.000200+00:00")),
        (
            Kind.MENTION,
            "T024BE7LD",
            "U061F7AUR",
            "U0G9QF9C6",
            at("2024-05-02T09:14:07.000200+00:00"),
        ),
    ],
    ("slack", "message.thread_reply"): [
        # The mention of the parent's author is the reply itself, not a second event.
        (Kind.REPLY, "T024BE7LD", "U0G9QF9C6", "U061F7AUR", at("2024-05-02T09:18:22.000400+00:00"))
    ],
    ("slack", "reaction_added"): [
        (Kind.REACT, "T024BE7LD", "U0LURKER7", "U0G9QF9C6", at("2024-05-02T09:20:00.000500+00:00"))
    ],
    ("slack", "member_joined_channel"): [
        (Kind.JOIN, "T024BE7LD", "W06GH7XHN", None, at("2024-05-02T08:53:20.000100+00:00"))
    ],
    ("slack", "member_left_channel"): [
        (Kind.LEAVE, "T024BE7LD", "W06GH7XHN", None, at("2024-05-03T09:53:20.000100+00:00"))
    ],
    ("slack", "team_join"): [
        (Kind.JOIN, "T024BE7LD", "U07NEWBIE", None, at("2024-05-02T06:06:40.000300+00:00"))
    ],
    ("discourse", "post_created.topic"): [
        (Kind.POST, "forum.acme.dev", "monalisa", None, at("2024-05-06T07:45:12.482Z"))
    ],
    ("discourse", "post_created.reply"): [
        (Kind.REPLY, "forum.acme.dev", "octocat", "monalisa", at("2024-05-06T09:02:55.104Z"))
    ],
    ("discourse", "post_liked"): [(Kind.REACT, "forum.acme.dev", "monalisa", "octocat", RECEIVED)],
    ("discourse", "user_created"): [
        (Kind.JOIN, "forum.acme.dev", "lurker_lee", None, at("2024-05-05T18:30:00Z"))
    ],
    ("discord", "message_create"): [
        (
            Kind.POST,
            "1100434370200637561",
            "53908232506183680",
            None,
            at("2024-05-07T18:02:11.402+00:00"),
        ),
        (
            Kind.MENTION,
            "1100434370200637561",
            "53908232506183680",
            "80351110224678912",
            at("2024-05-07T18:02:11.402+00:00"),
        ),
    ],
    ("discord", "message_create.reply"): [
        (
            Kind.REPLY,
            "1100434370200637561",
            "80351110224678912",
            "53908232506183680",
            at("2024-05-07T18:05:40.101+00:00"),
        )
    ],
    ("discord", "message_reaction_add"): [
        (
            Kind.REACT,
            "1100434370200637561",
            "99001122334455667",
            "80351110224678912",
            at("2024-05-07T18:07:02.930+00:00"),
        )
    ],
    ("discord", "guild_member_add"): [
        (
            Kind.JOIN,
            "1100434370200637561",
            "110022003300440055",
            None,
            at("2024-05-07T16:59:59.876+00:00"),
        )
    ],
    ("discord", "guild_member_remove"): [
        (
            Kind.LEAVE,
            "1100434370200637561",
            "110022003300440055",
            None,
            at("2024-05-08T09:30:00+00:00"),
        )
    ],
    ("generic", "engagement.attend"): [
        (Kind.ATTEND, "acme-meetups", "attendee-4411", None, at("2024-05-09T19:02:31Z"))
    ],
    ("generic", "engagement.feedback"): [
        (Kind.FEEDBACK, "acme-meetups", "attendee-4411", "host-17", at("2024-05-10T08:00:00Z"))
    ],
    ("generic", "member.joined"): [
        (Kind.JOIN, "acme-meetups", "attendee-4411", None, at("2024-05-01T10:00:00Z"))
    ],
}

UNMAPPABLE = {
    ("github", "issues.labeled"): "unknown_event",
    ("github", "pull_request.closed.unmerged"): "unmapped_event",
    ("slack", "message.message_changed"): "unknown_event",
    ("generic", "invoice.paid"): "unknown_event",
}

HANDSHAKES = {
    ("github", "ping"): {"status": "pong"},
    ("slack", "url_verification"): {
        "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    },
    ("discourse", "ping"): {"status": "pong"},
    ("discord", "ping"): {"type": 1},
}


def test_every_fixture_has_an_expectation() -> None:
    fixtures = {(path.parent.name, path.stem) for path in FIXTURES.glob("*/*.json")}
    assert fixtures == set(EXPECTED) | set(UNMAPPABLE) | set(HANDSHAKES)


@pytest.mark.parametrize(("platform", "name"), sorted(EXPECTED))
def test_fixture_maps_to_the_expected_events(platform: str, name: str) -> None:
    events = adapt(platform, name)
    got = [(e.kind, e.community, e.member, e.target_member, e.occurred_at) for e in events]
    assert got == EXPECTED[(platform, name)]
    for event in events:
        assert event.platform is Platform(platform) and event.received_at == RECEIVED
        EngagementEvent.from_json(event.to_json())  # valid against the contract


@pytest.mark.parametrize(("platform", "name"), sorted(UNMAPPABLE))
def test_unmappable_fixture_raises_with_a_stable_reason(platform: str, name: str) -> None:
    with pytest.raises(Unmappable) as caught:
        adapt(platform, name)
    assert caught.value.reason == UNMAPPABLE[(platform, name)]
    assert caught.value.event_key


@pytest.mark.parametrize(("platform", "name"), sorted(HANDSHAKES))
def test_handshakes(platform: str, name: str) -> None:
    d = delivery(platform, name)
    handshake = ADAPTERS[Platform(platform)].handshake(d.headers, d.payload)
    assert handshake is not None and handshake.body == HANDSHAKES[(platform, name)]


@pytest.mark.parametrize(("platform", "name"), sorted(EXPECTED))
def test_ids_are_deterministic_and_independent_of_receive_time(platform: str, name: str) -> None:
    adapter = ADAPTERS[Platform(platform)]
    d = delivery(platform, name)
    first = adapter.adapt(d)
    later = adapter.adapt(dataclasses.replace(d, received_at=RECEIVED + timedelta(hours=5)))
    assert [e.id for e in first] == [e.id for e in later]
    assert len({e.id for e in first}) == len(first)


def test_ids_differ_across_fixtures() -> None:
    ids = [e.id for platform, name in EXPECTED for e in adapt(platform, name)]
    assert len(ids) == len(set(ids))


def test_ids_of_the_same_object_do_not_depend_on_the_delivery_id() -> None:
    # A platform may send one message under two deliveries (two subscriptions): one event id.
    one = adapt("github", "issue_comment.created", **{"x-github-delivery": "a"})
    two = adapt("github", "issue_comment.created", **{"x-github-delivery": "b"})
    assert [e.id for e in one] == [e.id for e in two]


# --- edge cases -------------------------------------------------------------------------------


def fixture(platform: str, name: str) -> dict[str, Any]:
    return copy.deepcopy(json.loads((FIXTURES / platform / f"{name}.json").read_text()))


def test_commenting_on_ones_own_issue_has_no_target() -> None:
    payload = fixture("github", "issue_comment.created")
    payload["comment"]["user"] = payload["issue"]["user"]
    [event] = adapt("github", "issue_comment.created", payload)
    assert event.target_member is None and event.kind is Kind.COMMENT


def test_community_falls_back_to_the_repository_owner() -> None:
    payload = fixture("github", "star.created")
    del payload["organization"]
    payload["repository"]["owner"] = {"login": "solo-dev", "id": 1, "type": "User"}
    [event] = adapt("github", "star.created", payload)
    assert event.community == "solo-dev"


@pytest.mark.parametrize(
    ("platform", "name", "mutate", "reason"),
    [
        ("github", "issues.opened", lambda p: p["issue"].pop("user"), "missing_field"),
        ("github", "issues.opened", lambda p: p["issue"]["user"].update(id=True), "invalid_field"),
        (
            "github",
            "issues.opened",
            lambda p: p["issue"]["user"].update(id="x" * 300),
            "invalid_field",
        ),
        (
            "github",
            "issues.opened",
            lambda p: p["issue"]["user"].update(id="a\nb"),
            "invalid_field",
        ),
        (
            "github",
            "issues.opened",
            lambda p: p["issue"]["user"].update(id="\ud800"),
            "invalid_field",
        ),
        (
            "github",
            "issues.opened",
            lambda p: p["issue"].update(created_at="yesterday"),
            "invalid_timestamp",
        ),
        (
            "github",
            "issues.opened",
            lambda p: p["issue"].update(created_at="1970-01-01T00:00:00Z"),
            "invalid_timestamp",
        ),
        (
            "github",
            "issues.opened",
            lambda p: (p.pop("organization"), p.pop("repository")),
            "no_community",
        ),
        (
            "slack",
            "message",
            lambda p: p.update(team_id=None, event={**p["event"], "team": None}),
            "no_community",
        ),
        ("slack", "message", lambda p: p["event"].update(subtype="bot_message"), "unknown_event"),
        ("discord", "message_create", lambda p: p["d"].pop("guild_id"), "no_community"),
        ("discord", "message_create", lambda p: p["d"].update(type=7), "unknown_event"),
        (
            "discord",
            "message_reaction_add",
            lambda p: p["d"]["emoji"].update(name=None),
            "missing_field",
        ),
        ("generic", "engagement.attend", lambda p: p["data"].pop("member"), "missing_field"),
    ],
)
def test_broken_payloads_are_unmappable_not_errors(
    platform: str, name: str, mutate: Any, reason: str
) -> None:
    payload = fixture(platform, name)
    mutate(payload)
    with pytest.raises(Unmappable) as caught:
        adapt(platform, name, payload)
    assert caught.value.reason == reason


@pytest.mark.parametrize("payload", [[], "text", 7, None])
@pytest.mark.parametrize("platform", [p.value for p in Platform])
def test_a_payload_that_is_not_an_object_is_unmappable(platform: str, payload: Any) -> None:
    with pytest.raises(Unmappable) as caught:
        ADAPTERS[Platform(platform)].adapt(
            Delivery(Platform(platform), headers_for(platform, "x"), payload, "d", RECEIVED)
        )
    assert caught.value.reason == "not_an_object"


def test_discourse_needs_the_instance_header() -> None:
    d = delivery("discourse", "post_created.topic")
    headers = {k: v for k, v in d.headers.items() if k != "x-discourse-instance"}
    with pytest.raises(Unmappable) as caught:
        ADAPTERS[Platform.DISCOURSE].adapt(Delivery(d.platform, headers, d.payload, "x", RECEIVED))
    assert caught.value.reason == "no_community"


def test_discourse_reply_to_the_whole_topic_has_no_target() -> None:
    payload = fixture("discourse", "post_created.reply")
    del payload["post"]["reply_to_user"]
    [event] = adapt("discourse", "post_created.reply", payload)
    assert event.kind is Kind.REPLY and event.target_member is None


def test_slack_mentions_fan_out_once_per_other_member() -> None:
    payload = fixture("slack", "message")
    payload["event"]["text"] = "<@U1AAA> <@U2BBB|bee> <@U1AAA> <@U061F7AUR> thanks"
    events = adapt("slack", "message", payload)
    assert [(e.kind, e.target_member) for e in events] == [
        (Kind.POST, None),
        (Kind.MENTION, "U1AAA"),
        (Kind.MENTION, "U2BBB"),
    ]


def test_discord_webhook_events_ping_is_a_204_handshake() -> None:
    payload = {"version": 1, "application_id": "1", "type": 0}
    handshake = ADAPTERS[Platform.DISCORD].handshake({}, payload)
    assert handshake is not None and handshake.status == 204 and handshake.body is None
    event = {"version": 1, "application_id": "1", "type": 1, "event": {"type": "X"}}
    assert ADAPTERS[Platform.DISCORD].handshake({}, event) is None


def test_rule_guard_and_fan_out_machinery() -> None:
    rules = (Rule(Kind.POST, member="a", object_id=("id",), when=lambda p: p.get("go") is True),)
    with pytest.raises(Unmappable) as caught:
        apply_rules(Platform.GENERIC, "c", "k", rules, Context({"a": "m", "id": 1}), RECEIVED)
    assert caught.value.reason == "unmapped_event"
    [event] = apply_rules(
        Platform.GENERIC, "c", "k", rules, Context({"a": "m", "id": 1, "go": True}), RECEIVED
    )
    assert event.member == "m" and event.occurred_at == RECEIVED


def test_generic_type_table_covers_every_kind() -> None:
    for kind in Kind:
        payload = {"type": f"engagement.{kind.value}", "data": {"community": "c", "member": "m"}}
        [event] = adapt("generic", "x", payload)
        assert event.kind is kind
