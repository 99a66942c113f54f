"""Discourse API responses saved as JSON → the events of Discourse's webhooks.

A dump is any set of files holding responses of Discourse's API (one or more per file, back to
back): ``/posts.json`` (``latest_posts``), ``/t/{id}.json`` (a topic with its ``post_stream``),
``/u/{username}.json`` (``user``), ``/admin/users/list/{flag}.json`` (a list of users, with
e-mails for an admin key) and ``/user_actions.json?filter=1`` (likes given). A post is shaped
as the ``post_created`` webhook's ``post`` (a topic fills in the ``category_id`` and archetype
its posts lack, so private messages are recognised) and mapped by the Discourse adapter: first
posts, replies with their ``reply_to_user``, whispers, small actions and system users as the
webhook has them; a post and its later edits are one act there, so ids match. A user gives the
``user_created`` join (at ``created_at``); a like gives the ``post_liked`` react (id: post and
liker) at the like's time, which the webhook does not carry. The community is the instance:
``--community`` takes its URL (``invested.communities.discourse_community``). Posts of a
response are imported oldest first.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from invested.communities import discourse_community
from invested.contracts import Platform
from services.backfill.jsonstream import JsonStream, JsonStreamError
from services.backfill.source import (
    BadRecord,
    ByteCounter,
    InputFile,
    Outcome,
    UsageError,
    adapt,
    counting,
    file_input,
    outcome_of,
    record_time,
)
from services.ingest.adapters import discourse

LIKE_ACTIONS = (1, 2)  # UserAction::LIKE (given) and WAS_LIKED (received): the same like
UNKNOWN_RECORD = "unknown_record"

Record = tuple[str, dict[str, Any]]  # ("post" | "user" | "action" | "unknown", the record)


def _post_order(record: Record) -> tuple[str, int]:
    post = record[1]
    number = post.get("post_number")
    return (str(post.get("created_at") or ""), number if isinstance(number, int) else 0)


def records_of(response: Any) -> list[Record]:
    """The records of one API response, posts oldest first."""
    if isinstance(response, list):
        return [_classify(item) for item in response]
    if not isinstance(response, dict):
        return [("unknown", {})]
    if isinstance(response.get("latest_posts"), list):
        posts = [("post", post) for post in response["latest_posts"] if isinstance(post, dict)]
        return sorted(posts, key=_post_order)
    stream = response.get("post_stream")
    if isinstance(stream, dict) and isinstance(stream.get("posts"), list):
        topic = {
            "category_id": response.get("category_id"),
            "topic_archetype": response.get("archetype"),
        }
        posts = [
            ("post", {**{k: v for k, v in topic.items() if v is not None}, **post})
            for post in stream["posts"]
            if isinstance(post, dict)
        ]
        return sorted(posts, key=_post_order)
    if isinstance(response.get("user_actions"), list):
        return [_classify(item) for item in response["user_actions"]]
    if isinstance(response.get("user"), dict):
        return [("user", response["user"])]
    return [_classify(response)]


def _classify(item: Any) -> Record:
    if not isinstance(item, dict):
        return ("unknown", {})
    if "post_number" in item and "topic_id" in item and "action_type" not in item:
        return ("post", item)
    if "action_type" in item:
        return ("action", item)
    if "username" in item and "id" in item:
        return ("user", item)
    return ("unknown", item)


def _as_int(value: Any) -> Any:
    return int(value) if isinstance(value, str) and value.lstrip("-").isdigit() else value


class DiscourseApiFormat:
    name = "discourse"
    platform = Platform.DISCOURSE

    def __init__(self, files: list[Path], community: str | None) -> None:
        if not community:
            raise UsageError(
                "pass --community with the Discourse instance's URL (https://forum.example.com)"
            )
        try:
            self._community = discourse_community(community)
        except ValueError as exc:
            raise UsageError(f"--community {community!r}: {exc}") from None
        self._inputs = [file_input(path) for path in files]
        self._fallback = datetime.min

    def inputs(self) -> list[InputFile]:
        return self._inputs

    def prepare(self, pending: list[InputFile], started_at: datetime) -> None:
        self._fallback = started_at

    def close(self) -> None:
        return None

    def read(self, source: InputFile, start: int, counter: ByteCounter) -> Iterator[Outcome]:
        index = 0
        try:
            with io.TextIOWrapper(counting(source.path.open("rb"), counter), "utf-8") as text:
                for response, _line in JsonStream(text).values():
                    for kind, record in records_of(response):
                        if index >= start:
                            yield self._map(kind, record, index)
                        index += 1
        except JsonStreamError as exc:
            raise BadRecord(source.label, index, exc.detail, exc.line) from None
        except UnicodeDecodeError as exc:
            raise BadRecord(source.label, index, f"not UTF-8: {exc.reason}") from None

    def _webhook(self, event: str, payload: dict[str, Any], at: datetime) -> Any:
        headers = {"x-discourse-event": event}
        return adapt(discourse.ADAPTER, payload, at, headers, self._community)

    def _map(self, kind: str, record: dict[str, Any], index: int) -> Outcome:
        at = record_time(record.get("created_at"), self._fallback)
        if kind == "post":
            return outcome_of(index, [self._webhook("post_created", {"post": record}, at)])
        if kind == "user":
            return outcome_of(index, [self._webhook("user_created", {"user": record}, at)])
        if kind == "action":
            action = record.get("action_type")
            if action not in LIKE_ACTIONS:
                return Outcome(index, skipped=(f"user_action_not_a_like (type {action})",))
            post = {
                "id": record.get("post_id"),
                "username": record.get("username"),
                "user_id": record.get("user_id"),
                "topic_id": record.get("topic_id"),
                "category_id": record.get("category_id"),
                "post_type": _as_int(record.get("post_type")),
            }
            liker = {"id": record.get("acting_user_id"), "username": record.get("acting_username")}
            like = {"like": {"post": post, "user": liker}}
            return outcome_of(index, [self._webhook("post_liked", like, at)])
        return Outcome(index, skipped=(UNKNOWN_RECORD,))
