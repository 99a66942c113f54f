"""GitHub REST API list responses saved by ``gh api --paginate`` → GitHub webhook events.

A dump is a set of JSON files, each with one endpoint's pages (arrays back to back, one array,
or ``--slurp``'s array of pages): issues, issue comments, pull requests, reviews, review
comments, commit comments, discussions and discussion comments, stargazers with ``starred_at``
(``Accept: application/vnd.github.star+json``), and the repository itself. Records are told
apart by their fields, not by file names. A REST record is the very object the webhook carries
(``issue``, ``comment``, ``pull_request``, ``review``, ``discussion``), so each is put in the
body of the webhook that reports its creation and mapped by the GitHub adapter's table. What a
list record lacks, the dump's other records supply: the author of the issue a comment answers,
of the pull request a review is for, of the discussion a comment replies to (an index of the
dump's issues, pull requests and discussions, built before importing), and the repository of a
stargazer (its ``repos/OWNER/REPO`` record: in the same file, else in the same folder, else the
only one of the dump). A
pull request is one ``contribute`` at its creation (opened and merged are one act for the
webhook); issues that are pull requests are left to the pull requests list. The community is
the repository owner's login (the webhook's organization login, or the owner's).
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from invested.contracts import Platform
from services.backfill.jsonstream import JsonStream, JsonStreamError
from services.backfill.source import (
    OTHER_COMMUNITY,
    BadRecord,
    ByteCounter,
    InputFile,
    Outcome,
    UsageError,
    apply_table,
    counting,
    file_input,
    outcome_of,
    record_time,
)
from services.ingest.adapters import github

ISSUE, ISSUE_OF_PULL, PULL, ISSUE_COMMENT, REVIEW, REVIEW_COMMENT = (
    "issue",
    "issue_of_pull_request",
    "pull_request",
    "issue_comment",
    "review",
    "review_comment",
)
COMMIT_COMMENT, DISCUSSION, DISCUSSION_COMMENT, STARGAZER, REPOSITORY, UNKNOWN = (
    "commit_comment",
    "discussion",
    "discussion_comment",
    "stargazer",
    "repository",
    "unknown",
)
INDEXED = {ISSUE, ISSUE_OF_PULL, PULL, DISCUSSION, DISCUSSION_COMMENT, REPOSITORY}
NOT_COUNTED = {
    UNKNOWN: "unknown_record",
    REPOSITORY: "context_only (repository)",
    ISSUE_OF_PULL: "pull_request_in_issue_list (counted from the pull requests list)",
}
# The webhooks reporting a record's act (event key, body, the record's time field), and notes.
Webhooks = tuple[list[tuple[str, dict[str, Any], str]], tuple[str, ...]]
TARGET_UNKNOWN = "target_not_in_export (import the issues, pull requests and discussions too)"
ANSWER_UNKNOWN = "answer_not_in_export (import the discussion comments too)"
_REPO_IN_URL = re.compile(r"/repos/([^/]+/[^/]+)")
_ANSWER_ID = re.compile(r"discussioncomment-([0-9]+)$")
_ISSUE_URL = re.compile(r"/repos/[^/]+/[^/]+/issues/[0-9]+$")


def kind_of(record: dict[str, Any]) -> str:
    """Which list a REST record comes from, by the fields only that list has."""
    if "starred_at" in record and isinstance(record.get("user"), dict):
        return STARGAZER
    if "diff_hunk" in record or "original_position" in record:  # no diff_hunk before 2013
        return REVIEW_COMMENT
    if "head" in record and "base" in record:
        return PULL
    if "pull_request_url" in record:
        return REVIEW
    if "discussion_id" in record:
        return DISCUSSION_COMMENT
    if "answer_chosen_at" in record or "answer_html_url" in record:
        return DISCUSSION
    if "issue_url" in record:
        return ISSUE_COMMENT
    if "commit_id" in record and "position" in record:
        return COMMIT_COMMENT
    if "number" in record and (
        "repository_url" in record or _ISSUE_URL.search(str(record.get("url")))
    ):
        # Issues that are pull requests link to them; before 2013 every issue had the key,
        # with null links on plain issues.
        pull = record.get("pull_request")
        linked = isinstance(pull, dict) and (pull.get("url") or pull.get("html_url"))
        return ISSUE_OF_PULL if linked else ISSUE
    if "full_name" in record and isinstance(record.get("owner"), dict):
        return REPOSITORY
    return UNKNOWN


def repository_of(record: dict[str, Any]) -> str | None:
    """``owner/name`` of the repository a record belongs to."""
    if isinstance(record.get("full_name"), str) and "owner" in record:
        return str(record["full_name"])
    base = record.get("base")
    if isinstance(base, dict) and isinstance(base.get("repo"), dict):
        name = base["repo"].get("full_name")
        if isinstance(name, str):
            return name
    for field in ("repository_url", "issue_url", "pull_request_url", "url"):
        value = record.get(field)
        if isinstance(value, str):
            found = _REPO_IN_URL.search(value)
            if found:
                return found.group(1)
            if field == "repository_url" and value.count("/") == 1:  # discussions: "owner/name"
                return value
    return None


def _number_in(url: Any) -> int | None:
    if isinstance(url, str) and url.rstrip("/").rsplit("/", 1)[-1].isdigit():
        return int(url.rstrip("/").rsplit("/", 1)[-1])
    return None


class GitHubRestFormat:
    name = "github-rest"
    platform = Platform.GITHUB

    def __init__(self, files: list[Path], community: str | None) -> None:
        self._community = community.lower() if community else None
        self._inputs = [file_input(path) for path in files]
        self._fallback = datetime.min
        self._authors: dict[tuple[str, int], dict[str, Any]] = {}  # (repo, number) → user
        self._discussions: dict[Any, dict[str, Any]] = {}  # discussion id → number and user
        self._comments: dict[str, dict[str, Any]] = {}  # discussion comment id → the comment
        self._repositories: dict[str, dict[str, Any]] = {}  # input key → its repository record
        self._webhooks: dict[str, Callable[[dict[str, Any], str], Webhooks]] = {
            ISSUE: self._issue,
            PULL: self._pull_request,
            STARGAZER: self._stargazer,
            COMMIT_COMMENT: self._commit_comment,
            ISSUE_COMMENT: self._issue_comment,
            REVIEW: self._review,
            REVIEW_COMMENT: self._review_comment,
            DISCUSSION: self._discussion,
            DISCUSSION_COMMENT: self._discussion_comment,
        }

    def inputs(self) -> list[InputFile]:
        return self._inputs

    def close(self) -> None:
        return None

    def _records(
        self, source: InputFile, counter: ByteCounter
    ) -> Iterator[tuple[int, dict[str, Any], int]]:
        index = 0
        try:
            with io.TextIOWrapper(counting(source.path.open("rb"), counter), "utf-8") as text:
                for index, (record, line) in enumerate(JsonStream(text).records()):
                    if not isinstance(record, dict):
                        raise BadRecord(source.label, index, "not a JSON object", line)
                    yield index, record, line
        except JsonStreamError as exc:
            raise BadRecord(source.label, index, exc.detail, exc.line) from None
        except UnicodeDecodeError as exc:
            raise BadRecord(source.label, index, f"not UTF-8: {exc.reason}") from None

    def prepare(self, pending: list[InputFile], started_at: datetime) -> None:
        """Index every input (complete ones too: their records answer the pending ones')."""
        self._fallback = started_at
        stargazer_files = []
        for source in self._inputs:
            for index, record, _ in self._records(source, ByteCounter()):
                kind = kind_of(record)
                if index == 0 and kind not in INDEXED:
                    if kind == STARGAZER:
                        stargazer_files.append(source)
                    break  # one endpoint per file: nothing to index here
                self._index(source, kind, record)
        for source in stargazer_files:
            self._repositories[source.key] = self._repository_near(source)

    def _repository_near(self, source: InputFile) -> dict[str, Any]:
        """The repository of a stargazers file: the one saved in its folder, else the only one
        of the dump (the list names no repository, and a star's id needs its numeric id)."""
        nearby = {
            repo["full_name"]: repo
            for key, repo in self._repositories.items()
            if Path(key).parent == source.path.parent
        }
        anywhere = {repo["full_name"]: repo for repo in self._repositories.values()}
        for found in (nearby, anywhere):
            if len(found) == 1:
                return next(iter(found.values()))
        raise UsageError(
            f"{source.label}: stargazers name no repository; save it in the same folder "
            "(gh api repos/OWNER/REPO > repo.json), one folder per repository"
        )

    def _index(self, source: InputFile, kind: str, record: dict[str, Any]) -> None:
        if kind in (ISSUE, ISSUE_OF_PULL, PULL):
            repo, number, user = repository_of(record), record.get("number"), record.get("user")
            if repo and isinstance(number, int) and isinstance(user, dict):
                self._authors[(repo.lower(), number)] = user
        elif kind == DISCUSSION:
            self._discussions[record.get("id")] = {
                "number": record.get("number"),
                "user": record.get("user"),
            }
        elif kind == DISCUSSION_COMMENT:
            self._comments[str(record.get("id"))] = record
        elif kind == REPOSITORY and isinstance(record.get("full_name"), str):
            self._repositories.setdefault(source.key, record)

    def read(self, source: InputFile, start: int, counter: ByteCounter) -> Iterator[Outcome]:
        for index, record, _ in self._records(source, counter):
            if index >= start:
                yield self._map(source, index, record)

    def _map(self, source: InputFile, index: int, record: dict[str, Any]) -> Outcome:
        kind = kind_of(record)
        if kind in NOT_COUNTED:
            return Outcome(index, skipped=(NOT_COUNTED[kind],))
        repository = self._repositories.get(source.key, {}) if kind == STARGAZER else {}
        repo = repository.get("full_name") if kind == STARGAZER else repository_of(record)
        if not isinstance(repo, str) or "/" not in repo:
            return Outcome(index, skipped=(f"no_repository ({kind})",))
        community = repo.split("/")[0]
        if self._community is not None and community.lower() != self._community:
            return Outcome(index, skipped=(OTHER_COMMUNITY,))
        if kind == REVIEW and (record.get("state") == "PENDING" or not record.get("submitted_at")):
            return Outcome(index, skipped=("pending_review",))
        webhooks, notes = self._webhooks[kind](record, repo)
        shaped = {"repository": repository or {"full_name": repo}}
        results = [
            apply_table(
                Platform.GITHUB,
                community,
                key,
                github.TABLE,
                {**shaped, **body},
                record_time(record.get(time_field), self._fallback),
            )
            for key, body, time_field in webhooks
        ]
        return outcome_of(index, results, notes)

    # One method per record kind: the webhooks (event key, body, the record's time field) that
    # report its act, and what the dump lacked for them.

    def _issue(self, record: dict[str, Any], repo: str) -> Webhooks:
        return [("issues.opened", {"issue": record}, "created_at")], ()

    def _pull_request(self, record: dict[str, Any], repo: str) -> Webhooks:
        return [("pull_request.opened", {"pull_request": record}, "created_at")], ()

    def _stargazer(self, record: dict[str, Any], repo: str) -> Webhooks:
        body = {"starred_at": record.get("starred_at"), "sender": record.get("user")}
        return [("star.created", body, "starred_at")], ()

    def _commit_comment(self, record: dict[str, Any], repo: str) -> Webhooks:
        return [("commit_comment.created", {"comment": record}, "created_at")], ()

    def _parent(self, repo: str, url: Any) -> tuple[dict[str, Any], tuple[str, ...]]:
        """The issue or pull request a record answers (its number, and its author when the
        dump lists it)."""
        number = _number_in(url)
        author = self._authors.get((repo.lower(), number)) if number is not None else None
        if author is None:
            return {"number": number}, (TARGET_UNKNOWN,)
        return {"number": number, "user": author}, ()

    def _issue_comment(self, record: dict[str, Any], repo: str) -> Webhooks:
        issue, notes = self._parent(repo, record.get("issue_url"))
        return [("issue_comment.created", {"comment": record, "issue": issue}, "created_at")], notes

    def _review(self, record: dict[str, Any], repo: str) -> Webhooks:
        pull, notes = self._parent(repo, record.get("pull_request_url"))
        body = {"review": record, "pull_request": pull}
        return [("pull_request_review.submitted", body, "submitted_at")], notes

    def _review_comment(self, record: dict[str, Any], repo: str) -> Webhooks:
        pull, notes = self._parent(repo, record.get("pull_request_url"))
        body = {"comment": record, "pull_request": pull}
        return [("pull_request_review_comment.created", body, "created_at")], notes

    def _discussion(self, record: dict[str, Any], repo: str) -> Webhooks:
        webhooks = [("discussion.created", {"discussion": record}, "created_at")]
        if not record.get("answer_chosen_at"):
            return webhooks, ()
        found = _ANSWER_ID.search(str(record.get("answer_html_url") or ""))
        answer = self._comments.get(found.group(1)) if found else None
        if answer is None:
            return webhooks, (ANSWER_UNKNOWN,)
        body = {"discussion": record, "answer": answer}
        return [*webhooks, ("discussion.answered", body, "answer_chosen_at")], ()

    def _discussion_comment(self, record: dict[str, Any], repo: str) -> Webhooks:
        discussion = self._discussions.get(record.get("discussion_id"))
        body = {"comment": record, "discussion": discussion or {}}
        notes = () if discussion is not None else (TARGET_UNKNOWN,)
        return [("discussion_comment.created", body, "created_at")], notes
