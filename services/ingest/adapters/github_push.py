"""GitHub ``push`` → one ``commit`` event per distinct commit, by the commit's author.

A push lists its commits (GitHub sends at most 20) with their authors as git records them: a
name, an e-mail and, when GitHub matched the e-mail to an account, a ``username``. The author's
user id comes from the pusher (``sender``) when the author is the pusher, or from a noreply
address ``<id>+<login>@users.noreply.github.com``. Commits by anyone else cannot be tied to a
user id and are skipped: a push whose commits are all skipped is ignored
(``commit_authors_unknown``), one with no new commits (a branch deleted, a tag) too
(``no_new_commits``). An author e-mail that GitHub matched to the account (``username`` present)
is a verified address of that account and becomes the member's e-mail digest; noreply addresses
are not mailboxes and give none.
"""

from __future__ import annotations

import re
from typing import Any

from invested.contracts import EngagementEvent, Kind, Platform, Role, email_digest, stable_id
from services.ingest.adapters.common import (
    MISSING_FIELD,
    Delivery,
    Ignored,
    Unmappable,
    as_id,
    make_event,
    optional_text,
    parse_time,
)

PUSH = "push"
NO_NEW_COMMITS = "no_new_commits"
COMMIT_AUTHORS_UNKNOWN = "commit_authors_unknown"
# GitHub's noreply address carries the account's numeric id and login.
_NOREPLY = re.compile(r"^([0-9]{1,20})\+([^@\s]+)@users\.noreply\.github\.com$", re.IGNORECASE)


def is_bot_user(user: Any) -> bool:
    """A GitHub user object of an app or bot account."""
    if not isinstance(user, dict):
        return False
    login = user.get("login")
    return user.get("type") == "Bot" or (isinstance(login, str) and login.endswith("[bot]"))


def _author(author: Any, sender: Any) -> tuple[str, str | None, bool] | None:
    """(user id, login, is a bot) of a commit author, or None when no user id can be known."""
    if not isinstance(author, dict):
        return None
    username = author.get("username")
    if isinstance(sender, dict) and isinstance(username, str) and username:
        login = sender.get("login")
        if isinstance(login, str) and login.lower() == username.lower():
            return as_id(sender.get("id"), "sender.id"), login, is_bot_user(sender)
    email = author.get("email")
    match = _NOREPLY.match(email) if isinstance(email, str) else None
    if match is None:
        return None
    login = match.group(2)
    return match.group(1), login, login.endswith("[bot]")


def _verified_email(author: dict[str, Any]) -> str | None:
    email, username = author.get("email"), author.get("username")
    if not isinstance(email, str) or "@" not in email or not isinstance(username, str):
        return None
    return None if _NOREPLY.match(email) else email


def commit_events(delivery: Delivery, community: str) -> list[EngagementEvent]:
    payload = delivery.payload
    commits = payload.get("commits")
    if not isinstance(commits, list):
        raise Unmappable(MISSING_FIELD, "commits", PUSH)
    sender = payload.get("sender")
    repository = payload.get("repository")
    channel = optional_text(repository.get("full_name")) if isinstance(repository, dict) else None
    events: list[EngagementEvent] = []
    unknown_authors = 0
    for index, commit in enumerate(commits):
        if not isinstance(commit, dict) or commit.get("distinct") is False:
            continue  # already counted when it was first pushed to this repository
        author = _author(commit.get("author"), sender)
        if author is None:
            unknown_authors += 1
            continue
        member, login, bot = author
        sha = commit.get("id")
        if sha is None:
            raise Unmappable(MISSING_FIELD, f"commits.{index}.id", PUSH)
        timestamp = commit.get("timestamp")
        address = _verified_email(commit["author"])
        events.append(
            make_event(
                PUSH,
                id=stable_id(Platform.GITHUB, community, Kind.COMMIT, as_id(sha, "commits.id")),
                community=community,
                platform=Platform.GITHUB,
                member=member,
                kind=Kind.COMMIT,
                channel=channel,
                occurred_at=(
                    delivery.received_at
                    if timestamp is None
                    else parse_time(timestamp, f"commits.{index}.timestamp")
                ),
                received_at=delivery.received_at,
                member_handle=optional_text(login),
                member_role=Role.BOT if bot else None,
                member_email_sha256=email_digest(address) if address else None,
            )
        )
    if not events:
        raise Ignored(COMMIT_AUTHORS_UNKNOWN if unknown_authors else NO_NEW_COMMITS, PUSH)
    return events
