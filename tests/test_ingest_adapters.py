"""The mapping tables on the platforms' own published examples (``tests/fixtures/README.md``).

Every vendored example is mapped, ignored, or answered directly: none is dead-lettered, since
each is authentic and complete. Selected examples are checked event by event; the ids are
deterministic and come from the signed body only. Bots, handles, e-mails and the stories of
real communities are in ``test_ingest_people.py``.
"""

from __future__ import annotations

import copy
import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from invested.contracts import EngagementEvent, Kind, Platform, Role
from services.ingest.adapters import ADAPTERS, Delivery, Ignored, Unmappable
from services.ingest.adapters.common import Context, Rule, apply_rules
from tests.test_ingest_support import event_name, fixture, fixture_names

RECEIVED = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
FORUM = "forum.acme.dev"  # the community the Discourse secret is bound to in these tests


def headers_for(platform: str, name: str) -> dict[str, str]:
    if platform == "github":
        return {
            "x-github-event": event_name(platform, name),
            "x-github-delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        }
    if platform == "discourse":
        event = event_name(platform, name)
        return {
            "x-discourse-instance": "https://forum.acme.dev",
            "x-discourse-event-id": "9001",
            "x-discourse-event": event,
            "x-discourse-event-type": event.split("_")[0],
        }
    if platform == "generic":
        return {"webhook-id": "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"}
    return {}


def delivery(platform: str, name: str, payload: Any = None, **headers: str) -> Delivery:
    if payload is None:
        payload = fixture(platform, name)
    bound = FORUM if platform == "discourse" else None
    found = Delivery(
        Platform(platform), {**headers_for(platform, name), **headers}, payload, "", RECEIVED, bound
    )
    found.delivery_id = ADAPTERS[Platform(platform)].delivery_id(found) or "sha256:x"
    return found


def adapt(platform: str, name: str, payload: Any = None, **headers: str) -> list[EngagementEvent]:
    return ADAPTERS[Platform(platform)].adapt(delivery(platform, name, payload, **headers))


def outcome(platform: str, name: str, payload: Any = None) -> tuple[Any, ...]:
    """("events", [...]) / ("ignored", reason) / ("answered", outcome) / ("deadletter", reason)."""
    found = delivery(platform, name, payload)
    adapter = ADAPTERS[found.platform]
    handshake = adapter.handshake(found.headers, found.payload)
    if handshake is not None:
        return ("answered", handshake.outcome)
    try:
        return ("events", adapter.adapt(found))
    except Ignored as exc:
        return ("ignored", exc.reason)
    except Unmappable as exc:
        return ("deadletter", exc.reason, exc.detail)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


ALL_FIXTURES = [
    (platform, name)
    for platform in ("github", "slack", "discourse", "discord", "generic")
    for name in fixture_names(platform)
]

# --- GitHub: every octokit example of the events the README subscribes to (and a few others) ---

# The counted event keys and their kinds: the README's table, stated here on its own.
GITHUB_COUNTED = {
    "issues.opened": Kind.POST,
    "discussion.created": Kind.POST,
    "pull_request.opened": Kind.CONTRIBUTE,
    "pull_request.closed": Kind.CONTRIBUTE,
    "release.published": Kind.RELEASE,
    "push": Kind.COMMIT,
    "issue_comment.created": Kind.COMMENT,
    "commit_comment.created": Kind.COMMENT,
    "discussion_comment.created": Kind.REPLY,
    "discussion.answered": Kind.ANSWER,
    "pull_request_review.submitted": Kind.REVIEW,
    "pull_request_review_comment.created": Kind.REVIEW,
    "star.created": Kind.STAR,
    "star.deleted": Kind.UNSTAR,
    "fork": Kind.FORK,
    "member.added": Kind.JOIN,
    "member.removed": Kind.LEAVE,
    "organization.member_added": Kind.JOIN,
    "organization.member_removed": Kind.LEAVE,
}
# Examples of counted keys that do not count, and why.
GITHUB_NOT_COUNTED = {
    "issues/opened.with-transfer.payload": "issue_transferred",
    "pull_request/closed.payload": "pull_request_not_merged",
    "pull_request/closed.with-organization.payload": "pull_request_not_merged",
    "push/payload": "no_new_commits",  # a branch deleted
    "push/1.payload": "no_new_commits",
    "push/with-installation.payload": "no_new_commits",
    "push/with-organization.payload": "no_new_commits",
    "watch/started.payload": "reported_by_star_event",
    "watch/started.with-installation.payload": "reported_by_star_event",
}


def github_key(name: str) -> str:
    action = fixture("github", name).get("action")
    event = event_name("github", name)
    return f"{event}.{action}" if action else event


@pytest.mark.parametrize("name", fixture_names("github"))
def test_every_octokit_example_is_counted_ignored_or_a_handshake(name: str) -> None:
    result = outcome("github", name)
    key = github_key(name)
    if event_name("github", name) == "ping":
        assert result == ("answered", "handshake")
    elif name in GITHUB_NOT_COUNTED:
        assert result == ("ignored", GITHUB_NOT_COUNTED[name])
    elif key in GITHUB_COUNTED:
        assert result[0] == "events", result
        assert {event.kind for event in result[1]} == {GITHUB_COUNTED[key]}
    else:
        assert result == ("ignored", "event_not_mapped"), key


def test_the_octokit_set_covers_every_counted_event_and_the_readme_subscriptions() -> None:
    keys = {github_key(name) for name in fixture_names("github")}
    # member.removed and organization.member_removed have no published example.
    assert set(GITHUB_COUNTED) - keys == {"member.removed", "organization.member_removed"}
    assert len(fixture_names("github")) >= 130


# --- the other platforms: every example with its outcome -------------------------------------

OUTCOMES: dict[tuple[str, str], tuple[Any, ...]] = {
    ("slack", "messageExample"): ("events", [Kind.POST]),
    ("slack", "message_rich_text"): ("events", [Kind.POST]),  # its only mention is the author
    ("slack", "messageIm"): ("events", [Kind.POST]),
    ("slack", "message.thread_reply"): ("events", [Kind.REPLY]),  # the mention is the parent
    ("slack", "botMessage"): ("events", [Kind.REPLY]),
    ("slack", "circleci"): ("events", [Kind.POST]),
    ("slack", "message_subtype_bot_message"): ("events", [Kind.POST]),
    ("slack", "slackbotIm"): ("events", [Kind.POST, Kind.MENTION]),
    ("slack", "reaction_added"): ("events", [Kind.REACT]),
    ("slack", "member_joined_channel"): ("events", [Kind.JOIN]),
    ("slack", "member_left_channel"): ("events", [Kind.LEAVE]),
    ("slack", "team_join"): ("events", [Kind.JOIN]),
    ("slack", "user_change"): ("events", [Kind.JOIN]),
    ("slack", "messageChange"): ("ignored", "event_not_mapped"),
    ("slack", "message_deleted"): ("ignored", "event_not_mapped"),
    ("slack", "joinChannel"): ("ignored", "event_not_mapped"),  # member_joined_channel says it
    ("slack", "url_verification"): ("answered", "handshake"),
    ("discourse", "post_created.topic"): ("events", [Kind.POST]),
    ("discourse", "post_created.reply"): ("events", [Kind.REPLY]),
    ("discourse", "post_created.reply_to_topic"): ("events", [Kind.REPLY]),
    ("discourse", "post_edited"): ("events", [Kind.REPLY]),
    ("discourse", "post_created.system"): ("events", [Kind.POST]),
    ("discourse", "post_liked"): ("events", [Kind.REACT]),
    ("discourse", "user_created"): ("events", [Kind.JOIN]),
    ("discourse", "post_created.small_action"): ("ignored", "small_action"),
    ("discourse", "post_created.whisper"): ("ignored", "whisper"),
    ("discourse", "post_created.private_message"): ("ignored", "private_message"),
    ("discourse", "topic_created"): ("ignored", "event_not_mapped"),
    ("discourse", "ping"): ("answered", "handshake"),
    ("discord", "message_create"): ("events", [Kind.POST, Kind.MENTION]),
    ("discord", "message_create.reply"): ("events", [Kind.REPLY]),  # the mention is the parent
    ("discord", "message_reaction_add"): ("events", [Kind.REACT]),
    ("discord", "guild_member_add"): ("events", [Kind.JOIN]),
    ("discord", "guild_member_remove"): ("events", [Kind.LEAVE]),
    ("discord", "interaction.ping"): ("answered", "handshake"),
    ("discord", "interaction.slash_command"): ("answered", "interaction"),
    ("discord", "interaction.autocomplete"): ("answered", "interaction"),
    ("generic", "engagement.attend"): ("events", [Kind.ATTEND]),
    ("generic", "engagement.feedback"): ("events", [Kind.FEEDBACK]),
    ("generic", "member.joined"): ("events", [Kind.JOIN]),
    ("generic", "invoice.paid"): ("ignored", "event_not_mapped"),
}


def test_every_fixture_has_an_expected_outcome() -> None:
    others = {(platform, name) for platform, name in ALL_FIXTURES if platform != "github"}
    assert others == set(OUTCOMES)


@pytest.mark.parametrize(("platform", "name"), sorted(OUTCOMES))
def test_every_published_example_has_its_outcome(platform: str, name: str) -> None:
    result = outcome(platform, name)
    if result[0] == "events":
        assert ("events", [event.kind for event in result[1]]) == OUTCOMES[(platform, name)]
    else:
        assert result == OUTCOMES[(platform, name)]


# --- selected examples, event by event --------------------------------------------------------

# (platform, fixture) → [(kind, community, member, target, occurred_at, role, handle)]
EXPECTED: dict[tuple[str, str], list[tuple[Any, ...]]] = {
    ("github", "issue_comment/created.with-organization.payload"): [
        (
            Kind.COMMENT,
            "Octocoders",
            "21031067",
            None,
            at("2019-05-15T15:20:21Z"),
            None,
            "Codertocat",
        )
    ],
    ("github", "pull_request_review/submitted.payload"): [
        (
            Kind.REVIEW,
            "Codertocat",
            "21031067",
            None,
            at("2019-05-15T15:20:38Z"),
            None,
            "Codertocat",
        )
    ],
    ("github", "discussion/answered.payload"): [
        (
            Kind.ANSWER,
            "Codertocat",
            "1253226",
            "4595477",
            at("2021-03-30T23:17:18Z"),
            None,
            "dan2wik",
        )
    ],
    ("github", "release/published.payload"): [
        (
            Kind.RELEASE,
            "Codertocat",
            "21031067",
            None,
            at("2019-05-15T15:20:53Z"),
            None,
            "Codertocat",
        )
    ],
    ("github", "push/with-new-branch.payload"): [
        (
            Kind.COMMIT,
            "Codertocat",
            "21031067",
            None,
            at("2019-05-15T15:19:25Z"),
            None,
            "Codertocat",
        )
    ],
    ("github", "star/deleted.payload"): [
        (Kind.UNSTAR, "Codertocat", "21031067", None, RECEIVED, None, "Codertocat")
    ],
    ("slack", "message.thread_reply"): [
        (
            Kind.REPLY,
            "T043DB835ML",
            "U0442AB12CD",
            "U043H11ES4V",
            at("2022-09-23T20:55:01.046601+00:00"),
            None,
            None,
        )
    ],
    ("slack", "reaction_added"): [
        (
            Kind.REACT,
            "T123ABC456",
            "U123ABC456",
            "U222222222",
            at("2013-02-13T19:13:24.083113+00:00"),
            None,
            None,
        )
    ],
    ("slack", "team_join"): [
        (
            Kind.JOIN,
            "T123ABC456",
            "U123ABC456",
            None,
            at("2017-08-07T20:44:46.0002+00:00"),
            None,
            "sherlock",
        )
    ],
    ("discourse", "post_created.reply"): [
        (Kind.REPLY, FORUM, "octocat", "monalisa", at("2024-05-06T09:02:55.104Z"), None, "octocat")
    ],
    ("discourse", "post_created.reply_to_topic"): [
        # The post payload names no topic author: a reply to the whole topic has no target.
        (Kind.REPLY, FORUM, "lurker_lee", None, at("2024-05-06T10:15:00.310Z"), None, "lurker_lee")
    ],
    ("discourse", "post_created.system"): [
        (Kind.POST, FORUM, "system", None, at("2024-05-07T09:00:00Z"), Role.BOT, "system")
    ],
    ("discourse", "post_liked"): [
        (Kind.REACT, FORUM, "monalisa", "octocat", RECEIVED, None, "monalisa")
    ],
    ("discord", "message_create"): [
        (
            Kind.POST,
            "290926798626357999",
            "53908099506183680",
            None,
            at("2017-07-11T17:27:07.299+00:00"),
            None,
            "Mason",
        ),
        (
            Kind.MENTION,
            "290926798626357999",
            "53908099506183680",
            "80351110224678912",
            at("2017-07-11T17:27:07.299+00:00"),
            None,
            "Mason",
        ),
    ],
    ("discord", "message_create.reply"): [
        (
            Kind.REPLY,
            "290926798626357999",
            "80351110224678912",
            "53908099506183680",
            at("2017-07-11T17:29:41.006+00:00"),
            None,
            "Nelly",
        )
    ],
    ("generic", "engagement.feedback"): [
        (
            Kind.FEEDBACK,
            "acme-meetups",
            "attendee-4411",
            "host-17",
            at("2024-05-10T08:00:00Z"),
            None,
            None,
        )
    ],
}


@pytest.mark.parametrize(("platform", "name"), sorted(EXPECTED))
def test_fixture_maps_to_the_expected_events(platform: str, name: str) -> None:
    events = adapt(platform, name)
    got = [
        (
            e.kind,
            e.community,
            e.member,
            e.target_member,
            e.occurred_at,
            e.member_role,
            e.member_handle,
        )
        for e in events
    ]
    assert got == EXPECTED[(platform, name)]
    for event in events:
        assert event.platform is Platform(platform) and event.received_at == RECEIVED
        EngagementEvent.from_json(event.to_json())  # valid against the contract


def test_slack_joins_and_leaves_keep_their_channel() -> None:
    # The classifier holds standing interest per channel: joined #general and #random, left
    # #random → #general still held.
    general = fixture("slack", "member_joined_channel")
    random = copy.deepcopy(general)
    random["event"]["channel"] = "C0RANDOM01"
    left = fixture("slack", "member_left_channel")
    left["event"]["channel"] = "C0RANDOM01"
    events = [
        *adapt("slack", "member_joined_channel", general),
        *adapt("slack", "member_joined_channel", random),
        *adapt("slack", "member_left_channel", left),
    ]
    assert [(e.kind, e.channel) for e in events] == [
        (Kind.JOIN, "C123ABC456"),
        (Kind.JOIN, "C0RANDOM01"),
        (Kind.LEAVE, "C0RANDOM01"),
    ]
    assert len({e.id for e in events}) == 3


# --- ids ------------------------------------------------------------------------------------------

MAPPED = [case for case in ALL_FIXTURES if outcome(*case)[0] == "events"]


@pytest.mark.parametrize(("platform", "name"), MAPPED)
def test_ids_are_deterministic_and_independent_of_receive_time_and_delivery(
    platform: str, name: str
) -> None:
    adapter = ADAPTERS[Platform(platform)]
    first = adapter.adapt(delivery(platform, name))
    later = dataclasses.replace(delivery(platform, name), received_at=RECEIVED + timedelta(hours=5))
    # The delivery headers are unsigned (GitHub, Discourse) or only a retry counter: new ones,
    # as a replay would bring, change nothing.
    replay = delivery(
        platform,
        name,
        **{"x-github-delivery": "another", "x-discourse-event-id": "31337"},
    )
    assert [e.id for e in first] == [e.id for e in adapter.adapt(later)]
    assert [e.id for e in first] == [e.id for e in adapter.adapt(replay)]
    assert len({e.id for e in first}) == len(first)


def test_one_id_is_one_act_one_kind_member_and_target() -> None:
    # Examples repeat one object under several hook kinds (with-organization, with-installation)
    # and pair notifications of one act: a shared id must always mean the same content.
    by_id: dict[str, tuple[Any, ...]] = {}
    for case in MAPPED:
        for event in adapt(*case):
            content = (event.community, event.kind, event.member, event.target_member)
            assert by_id.setdefault(event.id, content) == content, case
    assert len(by_id) > 40


# --- edge cases -------------------------------------------------------------------------------


def test_commenting_on_ones_own_issue_has_no_target() -> None:
    [event] = adapt("github", "issue_comment/created.payload")
    assert event.member == "21031067" and event.target_member is None


def test_community_falls_back_to_the_repository_owner() -> None:
    payload = fixture("github", "star/created.payload")
    assert "organization" not in payload
    [event] = adapt("github", "star/created.payload", payload)
    assert event.community == payload["repository"]["owner"]["login"]


@pytest.mark.parametrize(
    ("platform", "name", "mutate", "reason"),
    [
        ("github", "issues/opened.payload", lambda p: p["issue"].pop("user"), "missing_field"),
        (
            "github",
            "issues/opened.payload",
            lambda p: p["issue"]["user"].update(id=True),
            "invalid_field",
        ),
        (
            "github",
            "issues/opened.payload",
            lambda p: p["issue"]["user"].update(id="x" * 300),
            "invalid_field",
        ),
        (
            "github",
            "issues/opened.payload",
            lambda p: p["issue"]["user"].update(id="a\nb"),
            "invalid_field",
        ),
        (
            "github",
            "issues/opened.payload",
            lambda p: p["issue"]["user"].update(id="\ud800"),
            "invalid_field",
        ),
        (
            "github",
            "issues/opened.payload",
            lambda p: p["issue"].update(created_at="yesterday"),
            "invalid_timestamp",
        ),
        (
            "github",
            "issues/opened.payload",
            lambda p: p["issue"].update(created_at="1970-01-01T00:00:00Z"),
            "invalid_timestamp",
        ),
        (
            "github",
            "issues/opened.payload",
            lambda p: p.pop("repository"),
            "no_community",
        ),
        (
            "github",
            "pull_request/closed.payload",
            lambda p: p["pull_request"].update(merged="yes"),
            "invalid_field",
        ),
        (
            "github",
            "pull_request_review_comment/created.payload",
            lambda p: p["comment"].pop("pull_request_review_id"),
            "missing_field",
        ),
        ("github", "push/with-new-branch.payload", lambda p: p.pop("commits"), "missing_field"),
        (
            "slack",
            "messageExample",
            lambda p: p.update(team_id=None, event={**p["event"], "team": None}),
            "no_community",
        ),
        ("slack", "messageExample", lambda p: p["event"].pop("user"), "missing_field"),
        ("discord", "message_create", lambda p: p["d"].pop("guild_id"), "no_community"),
        ("discord", "message_create", lambda p: p.pop("t"), "missing_field"),
        ("discord", "message_reaction_add", lambda p: p["d"].pop("emoji"), "missing_field"),
        ("discourse", "post_created.reply", lambda p: p["post"].pop("id"), "missing_field"),
        ("generic", "engagement.attend", lambda p: p["data"].pop("member"), "missing_field"),
    ],
)
def test_broken_payloads_of_mapped_events_are_unmappable_not_errors(
    platform: str, name: str, mutate: Any, reason: str
) -> None:
    payload = fixture(platform, name)
    mutate(payload)
    with pytest.raises(Unmappable) as caught:
        adapt(platform, name, payload)
    assert caught.value.reason == reason
    # The event key names what failed, unless the key itself is what is missing.
    assert caught.value.event_key or "dispatch name" in caught.value.detail


def test_a_missing_event_name_header_is_unmappable() -> None:
    found = delivery("github", "issues/opened.payload")
    headers = {k: v for k, v in found.headers.items() if k != "x-github-event"}
    with pytest.raises(Unmappable) as caught:
        ADAPTERS[Platform.GITHUB].adapt(dataclasses.replace(found, headers=headers))
    assert caught.value.reason == "missing_field"


@pytest.mark.parametrize("payload", [[], "text", 7, None])
@pytest.mark.parametrize("platform", [p.value for p in Platform])
def test_a_payload_that_is_not_an_object_is_unmappable(platform: str, payload: Any) -> None:
    found = Delivery(
        Platform(platform), headers_for(platform, "x.y"), payload, "d", RECEIVED, FORUM
    )
    with pytest.raises(Unmappable) as caught:
        ADAPTERS[Platform(platform)].adapt(found)
    assert caught.value.reason == "not_an_object"


def test_discourse_needs_a_bound_instance() -> None:
    found = dataclasses.replace(delivery("discourse", "post_created.topic"), bound_community=None)
    with pytest.raises(Unmappable) as caught:
        ADAPTERS[Platform.DISCOURSE].adapt(found)
    assert caught.value.reason == "no_community"


def test_discourse_community_is_the_bound_instance_not_the_header() -> None:
    found = delivery(
        "discourse", "post_created.topic", **{"x-discourse-instance": "https://evil.example"}
    )
    [event] = ADAPTERS[Platform.DISCOURSE].adapt(found)
    assert event.community == FORUM


def test_slack_mentions_fan_out_once_per_other_member() -> None:
    payload = fixture("slack", "messageExample")
    payload["event"]["text"] = "<@U1AAA> <@U2BBB|bee> <@U1AAA> <@U043H11ES4V> thanks"
    events = adapt("slack", "messageExample", payload)
    assert [(e.kind, e.target_member) for e in events] == [
        (Kind.POST, None),
        (Kind.MENTION, "U1AAA"),
        (Kind.MENTION, "U2BBB"),
    ]


def test_slack_reactions_to_files_are_mapped_too() -> None:
    payload = fixture("slack", "reaction_added")
    payload["event"]["item"] = {"type": "file", "file": "F123ABC456"}
    [event] = adapt("slack", "reaction_added", payload)
    assert event.kind is Kind.REACT and event.channel is None


def test_discord_system_messages_are_ignored() -> None:
    payload = fixture("discord", "message_create")
    payload["d"]["type"] = 7  # USER_JOIN: its author is the member who joined
    assert outcome("discord", "message_create", payload) == ("ignored", "system_message")


def test_discord_webhook_events_are_answered_204() -> None:
    adapter = ADAPTERS[Platform.DISCORD]
    ping = adapter.handshake({}, {"version": 1, "application_id": "1", "type": 0})
    assert ping is not None and ping.status == 204 and ping.body is None
    event = {"version": 1, "application_id": "1", "type": 1, "event": {"type": "X"}}
    answered = adapter.handshake({}, event)
    assert answered is not None and answered.status == 204 and answered.outcome == "ignored"


def test_rule_skip_reason_and_fan_out_machinery() -> None:
    rules = (
        Rule(
            Kind.POST,
            member="a",
            object_id=("id",),
            skip_reason=lambda p: None if p.get("go") else "not_going",
        ),
    )
    with pytest.raises(Ignored) as caught:
        apply_rules(Platform.GENERIC, "c", "k", rules, Context({"a": "m", "id": 1}), RECEIVED)
    assert caught.value.reason == "not_going"
    [event] = apply_rules(
        Platform.GENERIC, "c", "k", rules, Context({"a": "m", "id": 1, "go": True}), RECEIVED
    )
    assert event.member == "m" and event.occurred_at == RECEIVED


def test_generic_type_table_covers_every_kind() -> None:
    for kind in Kind:
        payload = {"type": f"engagement.{kind.value}", "data": {"community": "c", "member": "m"}}
        [event] = adapt("generic", "x", payload)
        assert event.kind is kind
