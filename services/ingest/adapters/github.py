"""GitHub webhooks (repository or organization hooks, GitHub Apps) → engagement events.

Event key = ``X-GitHub-Event`` + ``.`` + ``action`` (``fork`` and ``push`` have no action).
Members are GitHub user ids (stable across renames); the community is the organization login,
else the repository owner's login. ``ping`` (sent when a hook is created) is answered as a
handshake. Bots: a user of ``type: "Bot"``, a login ending in ``[bot]``, or an issue or comment
made through a GitHub App (``performed_via_github_app``). ``push`` becomes one ``commit`` per
distinct commit (:mod:`services.ingest.adapters.github_push`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from invested.contracts import EngagementEvent, Kind, Platform
from services.ingest.adapters.common import (
    INVALID_FIELD,
    MISSING_FIELD,
    Adapter,
    Delivery,
    Handshake,
    Rule,
    Table,
    Unmappable,
    community_id,
    get_path,
    getter,
)
from services.ingest.adapters.github_push import commit_events, is_bot_user

REPO = "repository.full_name"

# Ignored reasons of GitHub events.
NOT_MERGED = "pull_request_not_merged"
TRANSFERRED = "issue_transferred"  # the issue was opened elsewhere; the move is no new post
STAR_EVENT_REPORTS_IT = "reported_by_star_event"  # "watch" fires on starring: Stars reports it


def _actor_is_bot(user: str, acted_on: str | None = None) -> Callable[[Any], bool]:
    read_user = getter(user)
    via_app = getter(f"{acted_on}.performed_via_github_app") if acted_on else None
    return lambda payload: (
        is_bot_user(read_user(payload)) or (via_app is not None and via_app(payload) is not None)
    )


def _target_is_bot(user: str) -> Callable[[Any, str], bool]:
    read_user = getter(user)
    return lambda payload, target: is_bot_user(read_user(payload))


def _target_login(user: str) -> Callable[[Any, str], Any]:
    read_login = getter(f"{user}.login")
    return lambda payload, target: read_login(payload)


def _rule(
    kind: Kind,
    actor: str,
    object_id: tuple[str, ...],
    *,
    acted_on: str | None = None,
    target_user: str | None = None,
    occurred_at: tuple[str, ...] = (),
    thread: str | None = None,
    channel: str | None = REPO,
    skip_reason: Callable[[Any], str | None] | None = None,
) -> Rule:
    """A rule whose actor (and target) are GitHub user objects at the given paths."""
    return Rule(
        kind,
        member=f"{actor}.id",
        object_id=object_id,
        target=f"{target_user}.id" if target_user else None,
        occurred_at=occurred_at,
        channel=channel,
        thread=thread,
        skip_reason=skip_reason,
        member_handle=f"{actor}.login",
        member_bot=_actor_is_bot(actor, acted_on),
        target_handle=_target_login(target_user) if target_user else None,
        target_bot=_target_is_bot(target_user) if target_user else None,
    )


_merged = getter("pull_request.merged")
_transfer = getter("changes.old_issue")


def _unless_merged(payload: Any) -> str | None:
    merged = _merged(payload)
    if not isinstance(merged, bool):
        raise Unmappable(INVALID_FIELD if merged is not None else MISSING_FIELD, "merged")
    return None if merged else NOT_MERGED


def _unless_transferred(payload: Any) -> str | None:
    return TRANSFERRED if _transfer(payload) is not None else None


TABLE: Table = {
    # investment: starting things
    "issues.opened": (
        _rule(
            Kind.POST,
            "issue.user",
            ("issue.id",),
            acted_on="issue",
            occurred_at=("issue.created_at",),
            thread="issue.number",
            skip_reason=_unless_transferred,
        ),
    ),
    "discussion.created": (
        _rule(
            Kind.POST,
            "discussion.user",
            ("discussion.id",),
            occurred_at=("discussion.created_at",),
            thread="discussion.number",
        ),
    ),
    # One act: a pull request opened and later merged is one contribution (same id).
    "pull_request.opened": (
        _rule(
            Kind.CONTRIBUTE,
            "pull_request.user",
            ("pull_request.id",),
            occurred_at=("pull_request.created_at",),
            thread="pull_request.number",
        ),
    ),
    "pull_request.closed": (
        _rule(
            Kind.CONTRIBUTE,
            "pull_request.user",
            ("pull_request.id",),
            occurred_at=("pull_request.merged_at",),
            thread="pull_request.number",
            skip_reason=_unless_merged,
        ),
    ),
    "release.published": (
        _rule(
            Kind.RELEASE,
            "release.author",
            ("release.id",),
            occurred_at=("release.published_at", "release.created_at"),
            thread="release.tag_name",
        ),
    ),
    # investment: engaging with someone else's thing (target = its author)
    "issue_comment.created": (
        _rule(
            Kind.COMMENT,
            "comment.user",
            ("comment.id",),
            acted_on="comment",
            target_user="issue.user",
            occurred_at=("comment.created_at",),
            thread="issue.number",
        ),
    ),
    "commit_comment.created": (
        _rule(
            Kind.COMMENT,
            "comment.user",
            ("comment.id",),
            acted_on="comment",
            occurred_at=("comment.created_at",),
            thread="comment.commit_id",
        ),
    ),
    "discussion_comment.created": (
        _rule(
            Kind.REPLY,
            "comment.user",
            ("comment.id",),
            target_user="discussion.user",
            occurred_at=("comment.created_at",),
            thread="discussion.number",
        ),
    ),
    "discussion.answered": (
        _rule(
            Kind.ANSWER,
            "answer.user",
            ("answer.id",),
            target_user="discussion.user",
            occurred_at=("discussion.answer_chosen_at", "answer.created_at"),
            thread="discussion.number",
        ),
    ),
    # One act: a review and each of its inline comments (which name the review in
    # pull_request_review_id) are one review, keyed by the review id.
    "pull_request_review.submitted": (
        _rule(
            Kind.REVIEW,
            "review.user",
            ("review.id",),
            target_user="pull_request.user",
            occurred_at=("review.submitted_at",),
            thread="pull_request.number",
        ),
    ),
    "pull_request_review_comment.created": (
        _rule(
            Kind.REVIEW,
            "comment.user",
            ("comment.pull_request_review_id",),
            acted_on="comment",
            target_user="pull_request.user",
            occurred_at=("comment.created_at",),
            thread="pull_request.number",
        ),
    ),
    # interest; the body has no time for an unstar: the repository's state in it (updated_at,
    # star count) tells two unstars apart, and a replayed body gives the same id.
    "star.created": (
        _rule(
            Kind.STAR,
            "sender",
            ("repository.id", "sender.id", "starred_at"),
            occurred_at=("starred_at",),
        ),
    ),
    "star.deleted": (
        _rule(
            Kind.UNSTAR,
            "sender",
            (
                "repository.id",
                "sender.id",
                "repository.updated_at",
                "repository.stargazers_count",
            ),
        ),
    ),
    "fork": (_rule(Kind.FORK, "sender", ("forkee.id",), occurred_at=("forkee.created_at",)),),
    # standing interest: membership (no time in the body: one join per member and place)
    "member.added": (_rule(Kind.JOIN, "member", ("repository.id", "member.id")),),
    "member.removed": (_rule(Kind.LEAVE, "member", ("repository.id", "member.id")),),
    "organization.member_added": (
        _rule(
            Kind.JOIN,
            "membership.user",
            ("organization.id", "membership.user.id"),
            channel=None,
        ),
    ),
    "organization.member_removed": (
        _rule(
            Kind.LEAVE,
            "membership.user",
            ("organization.id", "membership.user.id"),
            channel=None,
        ),
    ),
}


class GitHubAdapter(Adapter):
    platform = Platform.GITHUB
    table = TABLE
    ignored = {"watch.started": STAR_EVENT_REPORTS_IT}

    def handshake(self, headers: Mapping[str, str], payload: Any) -> Handshake | None:
        if headers.get("x-github-event") == "ping":
            return Handshake({"status": "pong"})
        return None

    def delivery_id(self, delivery: Delivery) -> str | None:
        return delivery.headers.get("x-github-delivery") or None

    def event_key(self, delivery: Delivery) -> str:
        event = delivery.headers.get("x-github-event")
        if not event:
            raise Unmappable(MISSING_FIELD, "X-GitHub-Event header")
        action = delivery.payload.get("action")
        return f"{event}.{action}" if isinstance(action, str) and action else event

    def community(self, delivery: Delivery) -> str:
        payload = delivery.payload
        org = get_path(payload, "organization.login")
        if org is not None:
            return community_id(org, "organization.login")
        return community_id(get_path(payload, "repository.owner.login"), "repository.owner.login")

    def adapt(self, delivery: Delivery) -> list[EngagementEvent]:
        if delivery.headers.get("x-github-event") == "push" and isinstance(delivery.payload, dict):
            return commit_events(delivery, self.community(delivery))
        return super().adapt(delivery)


ADAPTER = GitHubAdapter()
