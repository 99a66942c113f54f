"""GitHub webhooks (repository or organization hooks, GitHub Apps) → engagement events.

Event key = ``X-GitHub-Event`` + ``.`` + ``action`` (``fork`` has no action). Members are GitHub
user ids (stable across renames); the community is the organization login, else the repository
owner's login. ``ping`` (sent when a hook is created) is answered as a handshake.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from invested.contracts import Kind, Platform
from services.ingest.adapters.common import (
    Adapter,
    Delivery,
    Handshake,
    Rule,
    Table,
    community_id,
    get_path,
)

REPO = "repository.full_name"


def _merged(payload: Any) -> bool:
    return get_path(payload, "pull_request.merged") is True


TABLE: Table = {
    # investment: starting things
    "issues.opened": (
        Rule(
            Kind.POST,
            member="issue.user.id",
            occurred_at=("issue.created_at",),
            channel=REPO,
            thread="issue.number",
            object_id=("issue.id",),
        ),
    ),
    "discussion.created": (
        Rule(
            Kind.POST,
            member="discussion.user.id",
            occurred_at=("discussion.created_at",),
            channel=REPO,
            thread="discussion.number",
            object_id=("discussion.id",),
        ),
    ),
    "pull_request.opened": (
        Rule(
            Kind.CONTRIBUTE,
            member="pull_request.user.id",
            occurred_at=("pull_request.created_at",),
            channel=REPO,
            thread="pull_request.number",
            object_id=("pull_request.id",),
        ),
    ),
    "pull_request.closed": (
        Rule(
            Kind.CONTRIBUTE,
            member="pull_request.user.id",
            occurred_at=("pull_request.merged_at",),
            channel=REPO,
            thread="pull_request.number",
            object_id=("pull_request.id",),
            when=_merged,  # closed without merging is no contribution
        ),
    ),
    # investment: engaging with someone else's thing (target = its author)
    "issue_comment.created": (
        Rule(
            Kind.COMMENT,
            member="comment.user.id",
            target="issue.user.id",
            occurred_at=("comment.created_at",),
            channel=REPO,
            thread="issue.number",
            object_id=("comment.id",),
        ),
    ),
    "discussion_comment.created": (
        Rule(
            Kind.REPLY,
            member="comment.user.id",
            target="discussion.user.id",
            occurred_at=("comment.created_at",),
            channel=REPO,
            thread="discussion.number",
            object_id=("comment.id",),
        ),
    ),
    "discussion.answered": (
        Rule(
            Kind.ANSWER,
            member="answer.user.id",
            target="discussion.user.id",
            occurred_at=("discussion.answer_chosen_at", "answer.created_at"),
            channel=REPO,
            thread="discussion.number",
            object_id=("answer.id",),
        ),
    ),
    "pull_request_review.submitted": (
        Rule(
            Kind.REVIEW,
            member="review.user.id",
            target="pull_request.user.id",
            occurred_at=("review.submitted_at",),
            channel=REPO,
            thread="pull_request.number",
            object_id=("review.id",),
        ),
    ),
    "pull_request_review_comment.created": (
        Rule(
            Kind.COMMENT,
            member="comment.user.id",
            target="pull_request.user.id",
            occurred_at=("comment.created_at",),
            channel=REPO,
            thread="pull_request.number",
            object_id=("comment.id",),
        ),
    ),
    # interest
    "star.created": (
        Rule(
            Kind.STAR,
            member="sender.id",
            occurred_at=("starred_at",),
            channel=REPO,
            object_id=("repository.id", "sender.id", "starred_at"),
        ),
    ),
    "star.deleted": (
        Rule(
            Kind.UNSTAR,
            member="sender.id",
            channel=REPO,
            object_id=("repository.id", "sender.id", "$delivery"),
        ),
    ),
    # GitHub's "watch" event is fired by starring (README: subscribe to star *or* watch).
    "watch.started": (
        Rule(
            Kind.STAR,
            member="sender.id",
            channel=REPO,
            object_id=("repository.id", "sender.id", "$delivery"),
        ),
    ),
    "fork": (
        Rule(
            Kind.FORK,
            member="sender.id",
            occurred_at=("forkee.created_at",),
            channel=REPO,
            object_id=("forkee.id",),
        ),
    ),
    # standing interest: membership
    "member.added": (
        Rule(
            Kind.JOIN,
            member="member.id",
            channel=REPO,
            object_id=("repository.id", "member.id", "$delivery"),
        ),
    ),
    "member.removed": (
        Rule(
            Kind.LEAVE,
            member="member.id",
            channel=REPO,
            object_id=("repository.id", "member.id", "$delivery"),
        ),
    ),
    "organization.member_added": (
        Rule(
            Kind.JOIN,
            member="membership.user.id",
            object_id=("organization.id", "membership.user.id", "$delivery"),
        ),
    ),
    "organization.member_removed": (
        Rule(
            Kind.LEAVE,
            member="membership.user.id",
            object_id=("organization.id", "membership.user.id", "$delivery"),
        ),
    ),
}


class GitHubAdapter(Adapter):
    platform = Platform.GITHUB
    table = TABLE

    def handshake(self, headers: Mapping[str, str], payload: Any) -> Handshake | None:
        if headers.get("x-github-event") == "ping":
            return Handshake({"status": "pong"})
        return None

    def delivery_id(self, headers: Mapping[str, str], payload: Any) -> str | None:
        return headers.get("x-github-delivery") or None

    def event_key(self, delivery: Delivery) -> str:
        event = delivery.headers.get("x-github-event") or "(no X-GitHub-Event)"
        action = delivery.payload.get("action")
        return f"{event}.{action}" if isinstance(action, str) and action else event

    def community(self, delivery: Delivery) -> str:
        payload = delivery.payload
        org = get_path(payload, "organization.login")
        if org is not None:
            return community_id(org, "organization.login")
        return community_id(get_path(payload, "repository.owner.login"), "repository.owner.login")


ADAPTER = GitHubAdapter()
