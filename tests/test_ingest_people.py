"""Who acted, as the payload says: bots marked, handles and verified e-mails kept, one act once.

Built on the platforms' published examples (``tests/fixtures/``), changed only where a story
needs another actor (a bot account, a maintainer), with the shapes those accounts have.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from invested.contracts import EngagementEvent, Kind, Role, email_digest
from tests.test_ingest_adapters import adapt, outcome
from tests.test_ingest_support import fixture

# GitHub accounts as webhooks show them.
DEPENDABOT = {"login": "dependabot[bot]", "id": 49699333, "type": "Bot", "site_admin": False}
WELCOME_BOT = {"login": "welcome[bot]", "id": 27806111, "type": "Bot", "site_admin": False}
MAINTAINER = {"login": "mona", "id": 583231, "type": "User", "site_admin": False}
ALICE = {"login": "alice", "id": 2154, "type": "User", "site_admin": False}


def content(event: EngagementEvent) -> tuple[Any, ...]:
    return (
        event.id,
        event.community,
        event.kind,
        event.member,
        event.member_role,
        event.target_member,
        event.target_role,
    )


# --- stories ------------------------------------------------------------------------------------


def test_a_dependabot_pull_request_merged_by_a_maintainer_after_review() -> None:
    opened = fixture("github", "pull_request/opened.payload")
    opened["pull_request"]["user"] = opened["sender"] = DEPENDABOT
    merged = fixture("github", "pull_request/closed.payload")
    merged["pull_request"]["user"] = DEPENDABOT
    merged["pull_request"].update(
        merged=True, merged_at="2019-05-15T16:01:00Z", merged_by=MAINTAINER
    )
    merged["sender"] = MAINTAINER
    review = fixture("github", "pull_request_review/submitted.payload")
    review["review"]["user"] = review["sender"] = MAINTAINER
    review["pull_request"]["user"] = DEPENDABOT
    inline = fixture("github", "pull_request_review_comment/created.payload")
    inline["comment"]["user"] = inline["sender"] = MAINTAINER
    inline["pull_request"]["user"] = DEPENDABOT

    [pr_opened] = adapt("github", "pull_request/opened.payload", opened)
    [pr_merged] = adapt("github", "pull_request/closed.payload", merged)
    [reviewed] = adapt("github", "pull_request_review/submitted.payload", review)
    [commented] = adapt("github", "pull_request_review_comment/created.payload", inline)

    # The bot's contribution: one act (opened, then merged), marked bot.
    assert content(pr_opened) == content(pr_merged)
    assert (pr_opened.kind, pr_opened.member, pr_opened.member_role) == (
        Kind.CONTRIBUTE,
        "49699333",
        Role.BOT,
    )
    assert pr_opened.member_handle == "dependabot[bot]"
    # The maintainer's review: the review and its inline comment are one event, aimed at a bot.
    assert content(reviewed) == content(commented)
    assert (reviewed.kind, reviewed.member, reviewed.member_role) == (Kind.REVIEW, "583231", None)
    assert (reviewed.target_member, reviewed.target_role) == ("49699333", Role.BOT)
    assert reviewed.target_handle == "dependabot[bot]"


def test_a_welcome_bots_comment_on_alices_issue_is_marked_bot() -> None:
    payload = fixture("github", "issue_comment/created.payload")
    payload["comment"]["user"] = payload["sender"] = WELCOME_BOT
    payload["issue"]["user"] = ALICE
    [event] = adapt("github", "issue_comment/created.payload", payload)
    assert (event.kind, event.member, event.member_role, event.member_handle) == (
        Kind.COMMENT,
        "27806111",
        Role.BOT,
        "welcome[bot]",
    )
    assert (event.target_member, event.target_role, event.target_handle) == ("2154", None, "alice")


def test_a_comment_made_through_a_github_app_is_marked_bot() -> None:
    payload = fixture("github", "issue_comment/created.payload")
    payload["comment"]["performed_via_github_app"] = {"id": 15368, "slug": "welcome", "name": "W"}
    [event] = adapt("github", "issue_comment/created.payload", payload)
    assert event.member_role is Role.BOT


def test_a_bot_whose_login_says_so_is_marked_even_when_typed_user() -> None:
    payload = fixture("github", "issues/opened.payload")
    payload["issue"]["user"] = {**ALICE, "login": "renovate[bot]"}
    [event] = adapt("github", "issues/opened.payload", payload)
    assert event.member_role is Role.BOT


def test_people_of_the_published_examples_are_members() -> None:
    for platform, name in [
        ("github", "issue_comment/created.payload"),
        ("slack", "messageExample"),
        ("discord", "message_create"),
        ("discourse", "post_created.reply"),
    ]:
        assert all(event.member_role is None for event in adapt(platform, name)), name


# --- Slack bots ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "member"),
    [
        ("botMessage", "U0442US8QGH"),  # bot_id next to user, no subtype: a modern app
        ("circleci", "U04130YGVK8"),
        ("message_subtype_bot_message", "B07JWPS5Y5S"),  # no user: the bot id is the member
        ("slackbotIm", "USLACKBOT"),
    ],
)
def test_slack_messages_of_apps_are_marked_bot(name: str, member: str) -> None:
    events = adapt("slack", name)
    assert events and all(e.member == member and e.member_role is Role.BOT for e in events)


def test_slack_app_id_alone_marks_a_bot_and_a_person_is_not_one() -> None:
    payload = fixture("slack", "messageExample")
    [person] = adapt("slack", "messageExample", payload)
    payload["event"]["app_id"] = "A0442TUPHGR"
    [app] = adapt("slack", "messageExample", payload)
    assert (person.member_role, app.member_role) == (None, Role.BOT)


@pytest.mark.parametrize("flag", ["is_bot", "is_app_user"])
def test_slack_bot_users_joining_are_marked_bot(flag: str) -> None:
    payload = fixture("slack", "team_join")
    payload["event"]["user"][flag] = True
    [event] = adapt("slack", "team_join", payload)
    assert event.member_role is Role.BOT


def test_slack_bot_handles_are_their_app_names() -> None:
    [event] = adapt("slack", "botMessage")
    assert event.member_handle == "Slacklinker dev"
    [event] = adapt("slack", "message_subtype_bot_message")
    assert event.member_handle == "Reacji Channeler"


# --- Discord bots -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mark",
    [
        lambda d: d["author"].update(bot=True),
        lambda d: d["author"].update(system=True),
        lambda d: d.update(webhook_id="223704706495545344"),
    ],
)
def test_discord_messages_of_bots_webhooks_and_the_system_user_are_marked_bot(mark: Any) -> None:
    payload = fixture("discord", "message_create")
    mark(payload["d"])
    events = adapt("discord", "message_create", payload)
    assert events and all(e.member_role is Role.BOT for e in events)


def test_discord_targets_say_when_they_are_bots() -> None:
    payload = fixture("discord", "message_create")
    payload["d"]["mentions"][0]["bot"] = True
    _, mention = adapt("discord", "message_create", payload)
    assert (mention.target_member, mention.target_role, mention.target_handle) == (
        "80351110224678912",
        Role.BOT,
        "Nelly",
    )
    reply = fixture("discord", "message_create.reply")
    reply["d"]["referenced_message"]["author"]["bot"] = True
    [event] = adapt("discord", "message_create.reply", reply)
    assert (event.target_role, event.target_handle) == (Role.BOT, "Mason")


def test_discord_reactions_and_joins_of_bots_are_marked_bot() -> None:
    payload = fixture("discord", "message_reaction_add")
    payload["d"]["member"]["user"]["bot"] = True
    [event] = adapt("discord", "message_reaction_add", payload)
    assert event.member_role is Role.BOT
    payload = fixture("discord", "guild_member_add")
    payload["d"]["user"]["bot"] = True
    [event] = adapt("discord", "guild_member_add", payload)
    assert event.member_role is Role.BOT


# --- Discourse bots -----------------------------------------------------------------------------


def test_discourse_system_users_are_bots_by_their_ids() -> None:
    [post] = adapt("discourse", "post_created.system")
    assert (post.member, post.member_role) == ("system", Role.BOT)
    like = fixture("discourse", "post_liked")
    like["like"]["user"] = {"id": -2, "username": "discobot", "name": "discobot"}
    like["like"]["post"]["user_id"] = -1
    [event] = adapt("discourse", "post_liked", like)
    assert (event.member_role, event.target_role) == (Role.BOT, Role.BOT)
    user = fixture("discourse", "user_created")
    user["user"].update(id=-2, username="discobot")
    [joined] = adapt("discourse", "user_created", user)
    assert joined.member_role is Role.BOT


def test_a_discourse_reply_to_discobot_names_a_bot_target() -> None:
    payload = fixture("discourse", "post_created.reply")
    payload["post"]["reply_to_user"]["username"] = "discobot"
    [event] = adapt("discourse", "post_created.reply", payload)
    assert (event.target_member, event.target_role) == ("discobot", Role.BOT)


# --- verified e-mails ---------------------------------------------------------------------------


def test_verified_emails_become_digests() -> None:
    [discourse] = adapt("discourse", "user_created")
    assert discourse.member_email_sha256 == email_digest("lee@example.com")
    [slack] = adapt("slack", "team_join")
    assert slack.member_email_sha256 == email_digest("sherlock@example.com")
    [changed] = adapt("slack", "user_change")
    assert changed.member_email_sha256 == email_digest("some.user@example.com")


def test_an_unconfirmed_slack_email_gives_no_digest() -> None:
    payload = fixture("slack", "team_join")
    payload["event"]["user"]["is_email_confirmed"] = False
    [event] = adapt("slack", "team_join", payload)
    assert event.member_email_sha256 is None


def test_messages_carry_no_email() -> None:
    for platform, name in [("slack", "messageExample"), ("discourse", "post_created.topic")]:
        assert all(e.member_email_sha256 is None for e in adapt(platform, name))


# --- GitHub push: one commit event per distinct commit, by its author --------------------------


def push(*commits: dict[str, Any], sender: dict[str, Any] | None = None) -> dict[str, Any]:
    payload = fixture("github", "push/with-new-branch.payload")
    template = payload["commits"][0]
    payload["commits"] = [
        {**copy.deepcopy(template), "id": f"{n:040x}", **commit} for n, commit in enumerate(commits)
    ]
    if sender is not None:
        payload["sender"] = sender
    return payload


def test_a_push_gives_one_commit_event_per_distinct_commit_by_its_author() -> None:
    payload = push(
        # the pusher, by a verified address GitHub matched to the account
        {"author": {"name": "C", "email": "coder@acme.test", "username": "Codertocat"}},
        # someone else, by their noreply address: its id and login
        {"author": {"name": "A", "email": "2154+alice@users.noreply.github.com"}},
        # a bot's noreply address
        {
            "author": {
                "name": "dependabot[bot]",
                "email": "49699333+dependabot[bot]@users.noreply.github.com",
                "username": "dependabot[bot]",
            }
        },
        # already pushed to this repository: counted then, not now
        {"distinct": False, "author": {"name": "C", "email": "x", "username": "Codertocat"}},
        # nobody GitHub knows: no user id, skipped
        {"author": {"name": "Guest", "email": "guest@example.com"}},
    )
    events = adapt("github", "push/with-new-branch.payload", payload)
    assert [(e.kind, e.member, e.member_handle, e.member_role) for e in events] == [
        (Kind.COMMIT, "21031067", "Codertocat", None),
        (Kind.COMMIT, "2154", "alice", None),
        (Kind.COMMIT, "49699333", "dependabot[bot]", Role.BOT),
    ]
    assert events[0].member_email_sha256 == email_digest("coder@acme.test")
    assert events[1].member_email_sha256 is None  # a noreply address is no mailbox
    assert len({e.id for e in events}) == 3


def test_a_push_by_authors_nobody_can_map_is_ignored() -> None:
    payload = push({"author": {"name": "Guest", "email": "guest@example.com"}})
    assert outcome("github", "push/with-new-branch.payload", payload) == (
        "ignored",
        "commit_authors_unknown",
    )


def test_a_commit_pushed_again_elsewhere_is_the_same_act() -> None:
    first = adapt("github", "push/with-new-branch.payload")
    again = fixture("github", "push/with-new-branch.payload")
    again["ref"] = "refs/heads/another-branch"
    assert [e.id for e in first] == [
        e.id for e in adapt("github", "push/with-new-branch.payload", again)
    ]


# --- one act, one event -------------------------------------------------------------------------


def test_a_discourse_post_and_its_edit_are_one_event() -> None:
    [created] = adapt("discourse", "post_created.reply")
    [edited] = adapt("discourse", "post_edited")
    assert content(created) == content(edited)
    assert created.occurred_at == edited.occurred_at  # the post's own time, not the edit's


def test_a_slack_join_and_a_later_profile_change_are_one_membership() -> None:
    joined = fixture("slack", "team_join")
    changed = fixture("slack", "user_change")
    changed["team_id"] = joined["team_id"]
    changed["event"]["user"]["id"] = joined["event"]["user"]["id"]
    [a] = adapt("slack", "team_join", joined)
    [b] = adapt("slack", "user_change", changed)
    assert content(a) == content(b)
    changed["event"]["user"]["deleted"] = True
    [left] = adapt("slack", "user_change", changed)
    assert (left.kind, left.member) == (Kind.LEAVE, a.member)


def test_a_retried_discord_dispatch_is_the_same_event() -> None:
    first = adapt("discord", "message_create")
    retry = fixture("discord", "message_create")
    retry["id"] = "brg-another-delivery"
    retry["timestamp"] = "2017-07-11T17:27:09.000000+00:00"
    assert [content(e) for e in first] == [
        content(e) for e in adapt("discord", "message_create", retry)
    ]
