"""Discourse API responses give the events of Discourse's webhooks.

The real samples are the responses published in discourse/discourse_api_docs
(``tests/fixtures/backfill/discourse/``: ``/posts.json``, ``/t/{id}.json``, ``/posts/{id}.json``,
``/u/{username}.json``, ``/admin/users/list/active.json``); ``user_actions.likes.json`` is built
from the documented schema of ``/user_actions.json`` with posts of the ``/posts.json`` sample,
as none is published. The webhook examples (``tests/fixtures/discourse/``) are built from
Discourse's serializers; each pair puts the webhook's ``post`` (``user``) in the API response
that lists it, and the tests say what they add.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from invested.contracts import Kind, Role, email_digest
from services.backfill.source import UsageError
from tests.backfill_support import FIXTURES, act, imported, webhook, write_json
from tests.test_ingest_support import fixture

SAMPLES = FIXTURES / "discourse"
FORUM = "https://forum.acme.dev"  # the instance the ingest tests bind their secret to


def test_the_published_responses(tmp_path: Path) -> None:
    events, result = imported(
        "discourse", [SAMPLES], tmp_path, community="https://try.discourse.org/"
    )
    counts = result.this_run
    # 25 latest posts, a topic's post, a single post; 4 + 1 users; 2 likes (and a reply action).
    assert counts.events == {"post": 11, "reply": 16, "join": 5, "react": 2}
    assert counts.skipped == {"user_action_not_a_like (type 5)": 1}
    assert {event.community for event in events} == {"try.discourse.org"}
    by_system = {event.member for event in events if event.member_role is Role.BOT}
    assert by_system == {"system"}  # user id -1
    [with_email] = [event for event in events if event.member_email_sha256]
    assert with_email.member_email_sha256 == email_digest("user@example.com")
    likes = [event for event in events if event.kind is Kind.REACT]
    assert [(e.member, e.target_member, e.thread) for e in likes] == [
        ("discourse1", "ukilfqevjozbcgxrhnp", "8"),
        ("discourse1", "waxjveyzhrpgkqbmion", "8"),
    ]
    # /posts.json lists the newest first: imported oldest first.
    posts = [e.occurred_at for e in events if e.kind in (Kind.POST, Kind.REPLY)][:25]
    assert posts == sorted(posts)


def latest_posts(tmp_path: Path, *posts: dict[str, Any]) -> Path:
    return write_json(tmp_path / "posts.json", {"latest_posts": list(posts)})


def topic(tmp_path: Path, post: dict[str, Any]) -> Path:
    """``/t/{id}.json``: its posts lack the category and archetype, which the topic has."""
    inner = {k: v for k, v in post.items() if k not in ("category_id", "topic_archetype")}
    response = {
        "post_stream": {"posts": [inner], "stream": [post["id"]]},
        "id": post["topic_id"],
        "archetype": post["topic_archetype"],
        "category_id": post["category_id"],
    }
    return write_json(tmp_path / "t.json", response)


POSTS = [
    "post_created.topic",
    "post_created.reply",
    "post_created.reply_to_topic",
    "post_edited",
    "post_created.system",
]
NOT_COUNTED = {
    "post_created.whisper": "whisper",
    "post_created.small_action": "small_action",
    "post_created.private_message": "private_message",
}


@pytest.mark.parametrize("name", POSTS)
@pytest.mark.parametrize("response", [latest_posts, topic])
def test_a_listed_post_gives_the_webhooks_event(tmp_path: Path, name: str, response: Any) -> None:
    path = response(tmp_path, fixture("discourse", name)["post"])
    events, _ = imported("discourse", [path], tmp_path, community=FORUM)
    assert [act(e) for e in events] == [act(e) for e in webhook("discourse", name)]


@pytest.mark.parametrize(("name", "reason"), sorted(NOT_COUNTED.items()))
@pytest.mark.parametrize("response", [latest_posts, topic])
def test_posts_the_webhook_ignores_are_not_counted(
    tmp_path: Path, name: str, reason: str, response: Any
) -> None:
    path = response(tmp_path, fixture("discourse", name)["post"])
    events, result = imported("discourse", [path], tmp_path, community=FORUM)
    assert events == []
    assert [key.split(" ")[0] for key in result.this_run.skipped] == [reason]


def test_a_listed_user_gives_the_webhooks_join(tmp_path: Path) -> None:
    user = fixture("discourse", "user_created")["user"]
    path = write_json(tmp_path / "users.json", [user])
    events, _ = imported("discourse", [path], tmp_path, community=FORUM)
    assert [act(e) for e in events] == [act(e) for e in webhook("discourse", "user_created")]
    profile = write_json(tmp_path / "u.json", {"user_badges": [], "user": user})
    events, _ = imported("discourse", [profile], tmp_path, community=FORUM)
    assert [act(e) for e in events] == [act(e) for e in webhook("discourse", "user_created")]


def test_a_liked_post_gives_the_webhooks_react(tmp_path: Path) -> None:
    like = fixture("discourse", "post_liked")["like"]
    post, liker = like["post"], like["user"]
    # The like in /user_actions.json?filter=1 (strings where the schema says so).
    action = {
        "action_type": 1,
        "created_at": "2024-05-06T12:00:00.000Z",
        "post_id": str(post["id"]),
        "post_number": post["post_number"],
        "topic_id": post["topic_id"],
        "category_id": post["category_id"],
        "post_type": str(post["post_type"]),
        "username": post["username"],
        "user_id": post["user_id"],
        "acting_username": liker["username"],
        "acting_user_id": liker["id"],
    }
    path = write_json(tmp_path / "likes.json", {"user_actions": [action]})
    events, _ = imported("discourse", [path], tmp_path, community=FORUM)
    # The like webhook carries no time; the user action does.
    [received] = webhook("discourse", "post_liked")
    assert [act(e, times=False) for e in events] == [act(received, times=False)]
    assert events[0].occurred_at.isoformat() == "2024-05-06T12:00:00+00:00"


def test_responses_back_to_back_in_one_file(tmp_path: Path) -> None:
    topic_post = fixture("discourse", "post_created.topic")["post"]
    reply = fixture("discourse", "post_created.reply")["post"]
    path = tmp_path / "pages.json"
    path.write_text(
        (SAMPLES / "latest_posts.json").read_text()
        + "\n"
        + latest_posts(tmp_path, reply, topic_post).read_text()
    )
    events, result = imported("discourse", [path], tmp_path, community=FORUM)
    assert result.this_run.records == 27
    assert [e.kind for e in events][-2:] == [Kind.POST, Kind.REPLY]  # oldest first


def test_the_instance_url_is_required(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--community"):
        imported("discourse", [SAMPLES], tmp_path)
    with pytest.raises(UsageError, match="http"):
        imported("discourse", [SAMPLES], tmp_path, community="forum.acme.dev")
