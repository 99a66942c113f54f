"""GitHub REST dumps and GH Archive hourly files give the events GitHub's webhooks give.

Real samples (``tests/fixtures/backfill/``, sources in ``tests/fixtures/README.md``): REST list
responses recorded from api.github.com by PyGithub's test suite, and the first 100 lines of the
GH Archive hour 2019-11-27 03:00 plus real lines of other event types. No published pair of a
webhook and an export of the same act exists, so each pair is built from the octokit webhook
example: a REST list returns the very object the webhook carries (the issue, the comment, the
review), and a GH Archive line carries it in its ``payload``; the tests build the export record
from the example and say which fields they add.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from invested.contracts import Kind, Role
from services.backfill.source import UsageError
from tests.backfill_support import (
    FIXTURES,
    act,
    archive_line,
    imported,
    webhook,
    write_json,
    write_lines,
)
from tests.test_ingest_support import fixture

REST = FIXTURES / "github-rest"
ARCHIVE = FIXTURES / "gharchive"
ALICE = {"login": "alice", "id": 2154, "type": "User", "site_admin": False}
WELCOME_BOT = {"login": "welcome[bot]", "id": 27806111, "type": "Bot", "site_admin": False}


def rest(tmp_path: Path, files: dict[str, Any]) -> list[Path]:
    """A REST dump: one file per endpoint, as ``gh api --paginate`` saves it."""
    return [write_json(tmp_path / "dump" / name, value) for name, value in files.items()]


# --- REST: the recorded samples ---------------------------------------------------------------


def test_the_recorded_pygithub_dump_maps_every_record_it_can(tmp_path: Path) -> None:
    events, result = imported("github", [REST / "PyGithub"], tmp_path)
    counts = result.this_run
    # 16 issues, 60 issue comments (two pages back to back), 4 commit comments, 1 pull request,
    # 5 reviews, 3 review comments, and the repository itself.
    assert counts.records == 90
    assert counts.events == {"post": 16, "comment": 64, "contribute": 1, "review": 6}
    assert {event.community for event in events} == {"PyGithub"}
    assert {event.channel for event in events} == {"PyGithub/PyGithub"}
    # Review comments recorded before reviews existed (2012) name no review: no review id.
    assert counts.skipped == {
        "context_only (repository)": 1,
        "unmappable pull_request_review_comment.created: missing_field "
        "comment.pull_request_review_id": 2,
    }
    # The 2012 API linked comments to issues by issue id, not number: no author to find.
    assert (
        counts.notes["target_not_in_export (import the issues, pull requests and discussions too)"]
        > 0
    )
    reviews = [event for event in events if event.kind is Kind.REVIEW]
    assert {event.thread for event in reviews} == {"538", "31"}
    assert len({event.id for event in events}) == len(events)


def test_stargazers_with_dates_take_the_repository_from_its_record(tmp_path: Path) -> None:
    events, result = imported("github", [REST / "danvk-comparea"], tmp_path)
    assert [event.kind for event in events] == [Kind.STAR] * 6
    assert {event.community for event in events} == {"danvk"}
    assert {event.channel for event in events} == {"danvk/comparea"}
    stars = json.loads((REST / "danvk-comparea" / "stargazers.json").read_text())
    assert [(e.member, e.occurred_at) for e in events] == [
        (str(star["user"]["id"]), datetime.fromisoformat(star["starred_at"])) for star in stars
    ]


def test_stargazers_without_their_repository_are_refused(tmp_path: Path) -> None:
    stars = (REST / "danvk-comparea" / "stargazers.json").read_text()
    (tmp_path / "stars.json").write_text(stars)
    with pytest.raises(UsageError, match="stargazers name no repository"):
        imported("github", [tmp_path / "stars.json"], tmp_path)


def test_community_option_keeps_one_owner(tmp_path: Path) -> None:
    events, result = imported("github", [REST], tmp_path, community="danvk")
    assert {event.community for event in events} == {"danvk"}
    assert result.this_run.skipped["other_community"] == 89  # PyGithub's, but its repository


# --- REST: the same act as the webhook ------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "record_of"),
    [
        ("issues/opened.payload", lambda p: {"issues.json": [p["issue"]]}),
        ("pull_request/opened.payload", lambda p: {"pulls.json": [p["pull_request"]]}),
        ("commit_comment/created.payload", lambda p: {"comments.json": [p["comment"]]}),
        ("discussion/created.payload", lambda p: {"discussions.json": [p["discussion"]]}),
        (
            "star/created.payload",
            lambda p: {
                "repo.json": p["repository"],
                "stargazers.json": [{"starred_at": p["starred_at"], "user": p["sender"]}],
            },
        ),
    ],
)
def test_a_rest_record_gives_the_webhooks_event(tmp_path: Path, name: str, record_of: Any) -> None:
    payload = fixture("github", name)
    events, _ = imported("github", rest(tmp_path, record_of(payload)), tmp_path)
    assert [act(e) for e in events] == [act(e) for e in webhook("github", name)]


def _answered_by_someone_else(name: str) -> dict[str, Any]:
    payload = fixture("github", name)
    parent = "issue" if "issue" in payload else "pull_request"
    payload[parent]["user"] = ALICE  # the octokit examples answer their own issues
    return payload


@pytest.mark.parametrize(
    ("name", "parent", "parent_file", "record", "record_file"),
    [
        ("issue_comment/created.payload", "issue", "issues.json", "comment", "comments.json"),
        (
            "pull_request_review/submitted.payload",
            "pull_request",
            "pulls.json",
            "review",
            "reviews.json",
        ),
        (
            "pull_request_review_comment/created.payload",
            "pull_request",
            "pulls.json",
            "comment",
            "review_comments.json",
        ),
    ],
)
def test_a_reply_finds_its_target_in_the_dumps_other_list(
    tmp_path: Path, name: str, parent: str, parent_file: str, record: str, record_file: str
) -> None:
    payload = _answered_by_someone_else(name)
    files = {parent_file: [payload[parent]], record_file: [payload[record]]}
    events, result = imported("github", rest(tmp_path, files), tmp_path)
    [received] = webhook("github", name, payload)
    assert received.target_member == str(ALICE["id"]) and received.target_handle == "alice"
    assert act(received) in [act(event) for event in events]
    assert not result.this_run.notes


def test_without_the_parent_list_a_comment_counts_without_its_target(tmp_path: Path) -> None:
    payload = _answered_by_someone_else("issue_comment/created.payload")
    events, result = imported("github", rest(tmp_path, {"c.json": [payload["comment"]]}), tmp_path)
    [received] = webhook("github", "issue_comment/created.payload", payload)
    [event] = events
    assert (event.id, event.member, event.thread) == (received.id, received.member, received.thread)
    assert event.target_member is None
    assert list(result.this_run.notes.values()) == [1]


def test_discussion_comments_give_the_webhooks_reply(tmp_path: Path) -> None:
    payload = fixture("github", "discussion_comment/created.payload")
    files = {"discussions.json": [payload["discussion"]], "comments.json": [payload["comment"]]}
    events, result = imported("github", rest(tmp_path, files), tmp_path)
    replies = [act(event) for event in events if event.kind is Kind.REPLY]
    assert replies == [act(e) for e in webhook("github", "discussion_comment/created.payload")]
    assert not result.this_run.notes


def test_an_answered_discussion_gives_the_webhooks_answer(tmp_path: Path) -> None:
    payload = fixture("github", "discussion/answered.payload")
    # The answer is one of the discussion's comments; the discussion links it.
    files = {"discussions.json": [payload["discussion"]], "comments.json": [payload["answer"]]}
    events, result = imported("github", rest(tmp_path, files), tmp_path)
    answers = [act(event) for event in events if event.kind is Kind.ANSWER]
    assert answers == [act(e) for e in webhook("github", "discussion/answered.payload")]
    assert not result.this_run.notes
    events, result = imported(
        "github", rest(tmp_path, {"d.json": [payload["discussion"]]}), tmp_path
    )
    assert [event.kind for event in events] == [Kind.POST]
    assert list(result.this_run.notes) == [
        "answer_not_in_export (import the discussion comments too)"
    ]


def test_bots_are_marked_as_the_webhook_marks_them(tmp_path: Path) -> None:
    payload = _answered_by_someone_else("issue_comment/created.payload")
    payload["comment"]["user"] = payload["sender"] = WELCOME_BOT
    app = copy.deepcopy(payload)
    app["comment"]["user"] = app["sender"] = ALICE | {"id": 99, "login": "mona"}
    app["comment"]["id"] += 1
    app["comment"]["performed_via_github_app"] = {"id": 1, "slug": "triage", "name": "Triage"}
    files = {
        "issues.json": [payload["issue"]],
        "comments.json": [payload["comment"], app["comment"]],
    }
    events, _ = imported("github", rest(tmp_path, files), tmp_path)
    comments = [event for event in events if event.kind is Kind.COMMENT]
    assert [event.member_role for event in comments] == [Role.BOT, Role.BOT]
    received = webhook("github", "issue_comment/created.payload", payload)
    received += webhook("github", "issue_comment/created.payload", app)
    assert [act(e) for e in comments] == [act(e) for e in received]


def test_issues_that_are_pull_requests_are_left_to_the_pull_requests_list(tmp_path: Path) -> None:
    issue = fixture("github", "issues/opened.payload")["issue"]
    issue["pull_request"] = {"url": "https://api.github.com/repos/Codertocat/Hello-World/pulls/1"}
    events, result = imported("github", rest(tmp_path, {"issues.json": [issue]}), tmp_path)
    assert events == []
    [reason] = result.this_run.skipped
    assert reason.startswith("pull_request_in_issue_list")


def test_a_paginated_slurped_and_single_object_dump_read_alike(tmp_path: Path) -> None:
    issue = fixture("github", "issues/opened.payload")["issue"]
    second = issue | {"id": issue["id"] + 1, "number": issue["number"] + 1}
    pages = tmp_path / "pages.json"
    pages.write_text(f"[{json.dumps(issue)}]\n[{json.dumps(second)}]")
    slurped = write_json(tmp_path / "slurp" / "issues.json", [[issue], [second]])
    paged, _ = imported("github", [pages], tmp_path)
    slurp, _ = imported("github", [slurped], tmp_path)
    assert [e.id for e in paged] == [e.id for e in slurp] and len(paged) == 2


# --- GH Archive -------------------------------------------------------------------------------


def test_the_published_hour_maps_each_community_on_its_own(tmp_path: Path) -> None:
    hour = [ARCHIVE / "2019-11-27-3.first100.json.gz"]
    events, result = imported("github", hour, tmp_path, community="tidyverse")
    [comment] = events
    assert (comment.kind, comment.member_handle, comment.target_handle) == (
        Kind.COMMENT,
        "hadley",
        "jennybc",
    )
    assert result.this_run.skipped == {"other_community": 99}
    events, result = imported("github", hour, tmp_path, community="Fablic")
    assert [event.kind for event in events] == [Kind.CONTRIBUTE]  # a merged pull request
    assert result.this_run.skipped["no_new_commits (push)"] == 1  # a branch deleted


def test_the_other_event_types_of_real_hours(tmp_path: Path) -> None:
    sample = [ARCHIVE / "sample.other-types.json.gz"]
    review_before_reviews = (
        "unmappable pull_request_review_comment.created: missing_field "
        "comment.pull_request_review_id"
    )
    expected = {
        "brettcannon": ([Kind.COMMENT], None),  # 2015: a commit comment payload had no action
        "Rossana1603": ([Kind.JOIN], None),
        "ripple": ([], review_before_reviews),  # 2015: review comments had no review yet
        "Ariel-Rodriguez": ([Kind.RELEASE], None),
        "EddieJaoudeCommunity": ([Kind.REVIEW], None),
        "gitpod-io": ([Kind.REVIEW], None),
        "hyperledger": ([Kind.REVIEW], None),
    }
    for community, (kinds, reason) in expected.items():
        events, result = imported("github", sample, tmp_path, community=community)
        assert [event.kind for event in events] == kinds, community
        assert result.this_run.skipped.get(reason or "", 0) == (1 if reason else 0)
    # The first line is from 2014, the Timeline API's format (a repository of Nitix).
    _, result = imported("github", sample, tmp_path, community="Nitix")
    assert result.this_run.skipped == {"other_community": 7, "legacy_timeline_format": 1}


@pytest.mark.parametrize(
    ("event_type", "name", "body_of", "times"),
    [
        (
            "IssuesEvent",
            "issues/opened.payload",
            lambda p: {"action": "opened", "issue": p["issue"]},
            True,
        ),
        (
            "IssueCommentEvent",
            "issue_comment/created.payload",
            lambda p: {"action": "created", "issue": p["issue"], "comment": p["comment"]},
            True,
        ),
        (
            "PullRequestEvent",
            "pull_request/opened.payload",
            lambda p: {"action": "opened", "number": 2, "pull_request": p["pull_request"]},
            True,
        ),
        (
            "PullRequestReviewEvent",
            "pull_request_review/submitted.payload",
            lambda p: {
                "action": "created",
                "review": p["review"],
                "pull_request": p["pull_request"],
            },
            True,
        ),
        (
            "PullRequestReviewCommentEvent",
            "pull_request_review_comment/created.payload",
            lambda p: {
                "action": "created",
                "comment": p["comment"],
                "pull_request": p["pull_request"],
            },
            True,
        ),
        (
            "CommitCommentEvent",
            "commit_comment/created.payload",
            lambda p: {"comment": p["comment"]},
            True,
        ),
        (
            "ReleaseEvent",
            "release/published.payload",
            lambda p: {"action": "published", "release": p["release"]},
            True,
        ),
        ("ForkEvent", "fork/payload", lambda p: {"forkee": p["forkee"]}, True),
        # The star's time is the line's created_at (the example's starred_at, set above).
        ("WatchEvent", "star/created.payload", lambda p: {"action": "started"}, True),
        # Membership webhooks carry no time: the receive time stands in on both sides.
        (
            "MemberEvent",
            "member/added.payload",
            lambda p: {"action": "added", "member": p["member"]},
            False,
        ),
    ],
)
def test_an_archive_line_gives_the_webhooks_event(
    tmp_path: Path, event_type: str, name: str, body_of: Any, times: bool
) -> None:
    payload = fixture("github", name)
    line = archive_line(event_type, payload, body_of(payload))
    hour = write_lines(tmp_path / "2019-05-15-15.json.gz", [line])
    events, _ = imported("github", [hour], tmp_path, community="codertocat")
    assert [act(e, times) for e in events] == [act(e, times) for e in webhook("github", name)]


def test_archive_pushes_map_the_commits_of_noreply_authors(tmp_path: Path) -> None:
    payload = fixture("github", "push/with-new-branch.payload")
    author = {"name": "Mona", "email": "583231+mona@users.noreply.github.com"}
    commit = {
        "id": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
        "distinct": True,
        "author": author,
        "timestamp": "2019-05-15T15:20:40Z",
        "message": "m",
        "url": "u",
    }
    payload["commits"] = [commit]
    # The Events API's commit: sha for id, no username and no time (the push's time stands in).
    archived = {"sha": commit["id"], "author": author, "message": "m", "distinct": True, "url": "u"}
    line = archive_line("PushEvent", payload, {"push_id": 1, "size": 1, "commits": [archived]})
    hour = write_lines(tmp_path / "2019-05-15-15.json.gz", [line])
    events, _ = imported("github", [hour], tmp_path, community="Codertocat")
    assert [act(e) for e in events] == [
        act(e) for e in webhook("github", "push/with-new-branch.payload", payload)
    ]


def test_an_archive_needs_a_community(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--community"):
        imported("github", [ARCHIVE / "2019-11-27-3.first100.json.gz"], tmp_path)


def test_archives_and_rest_dumps_are_separate_runs(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="separate runs"):
        imported("github", [ARCHIVE, REST], tmp_path, community="x")
