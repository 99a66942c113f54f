"""Discourse webhooks of the demo's forum (mirrors ``services/ingest/adapters/discourse.py``).

Payloads as ``WebHookPostSerializer``, ``WebHookLikeSerializer`` and ``WebHookUserSerializer``
send them (``tests/fixtures/discourse/``). Members open topics, reply (to a post, naming its author
in ``reply_to_user``, or to the topic as a whole), like posts and sign up (``user_created``, with
the account's e-mail). Some posts are edited minutes later: ``post_edited`` of the same post, one
act with its creation. Bots as Discourse shows them, by user ids ≤ 0: ``system`` opens the weekly
"What are you working on?" topic (a Discourse Automation) that members reply to, and ``discobot``
greets every new user in a private message (ignored by ingest) and answers members who ask it to
roll dice in a topic.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from invested.contracts import Platform
from tools.simulator.base import PlatformBuilder, iso_ms
from tools.simulator.cast import DISCOURSE_BOT_USER_IDS
from tools.simulator.model import Member, Message, Routine, weekly

CATEGORIES = {7: "hardware", 8: "software"}
SYSTEM_CATEGORY = (1, "uncategorized")
TOPICS = (
    "Small gearbox torque limit",
    "Calibrating the humidity sensor",
    "Firmware 2.1 release notes discussion",
    "Powering two boards from one supply",
)
REPLIES = (
    "4 Nm is the limit; the 5 Nm figure is for the large one.",
    "I had the same problem, updating the firmware fixed it.",
    "Thanks, that worked!",
)
TRUST_LEVELS = {"staff": 4, "core": 3, "regular": 2, "lurker": 1, "bot": 4}
DICE = "@discobot roll 2d6"


def slug(title: str) -> str:
    return "-".join("".join(c for c in word if c.isalnum()) for word in title.lower().split())


class DiscourseBuilder(PlatformBuilder):
    platform = Platform.DISCOURSE

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.user_ids: dict[int, int] = {}
        self.next_post_id = 118_000
        self.next_topic_id = 20_400

    # --- envelope -----------------------------------------------------------------------------

    def _send(
        self, at: datetime, act: str, label: str, event: str, kind: str, body: dict[str, Any]
    ) -> None:
        event_id = str(self.number())  # X-Discourse-Event-Id counts per instance
        instance = self.config.discourse_instance
        self.send(at, act, label, body, event_id, event=event, event_type=kind, instance=instance)

    def _user_id(self, member: Member) -> int:
        if member.role == "bot":
            return DISCOURSE_BOT_USER_IDS[member.id(self.platform)]
        if member.index not in self.user_ids:
            self.user_ids[member.index] = (
                2 + member.index if member.role == "staff" else 300 + member.index
            )
        return self.user_ids[member.index]

    def _avatar(self, member: Member) -> str:
        if member.role == "bot":
            return "/images/discourse-logo-sketch-small.png"
        username = member.handle(self.platform)
        host = self.config.discourse_instance.split("://", 1)[-1]
        return f"/user_avatar/{host}/{username}/{{size}}/{self._user_id(member)}_2.png"

    def _post(
        self, author: Member, at: datetime, ref: dict[str, Any], raw: str, reply_to: Member | None
    ) -> dict[str, Any]:
        username = author.handle(self.platform)
        staff = author.role in ("staff", "bot")
        post: dict[str, Any] = {
            "id": ref["post_id"],
            "name": author.name,
            "username": username,
            "avatar_template": self._avatar(author),
            "created_at": iso_ms(at),
            "cooked": f"<p>{raw}</p>",
            "post_number": ref["post_number"],
            "post_type": 1,
            "updated_at": iso_ms(at),
            "reply_count": 0,
            "reply_to_post_number": ref.get("reply_to_post_number"),
            "quote_count": 0,
            "incoming_link_count": 0,
            "reads": 1,
            "score": 0,
            "topic_id": ref["topic_id"],
            "topic_slug": slug(ref["title"]),
            "topic_title": ref["title"],
            "topic_html_title": ref["title"],
            "category_id": ref["category_id"],
            "display_username": author.name,
            "primary_group_name": None,
            "flair_name": None,
            "flair_group_id": None,
            "version": 1,
            "user_title": None,
            "bookmarked": False,
            "raw": raw,
            "moderator": staff,
            "admin": staff,
            "staff": staff,
            "user_id": self._user_id(author),
            "hidden": False,
            "trust_level": TRUST_LEVELS[author.role],
            "deleted_at": None,
            "user_deleted": False,
            "edit_reason": None,
            "wiki": False,
            "reviewable_id": None,
            "reviewable_score_count": 0,
            "reviewable_score_pending_count": 0,
            "topic_posts_count": ref["post_number"],
            "topic_filtered_posts_count": ref["post_number"],
            "topic_archetype": ref.get("archetype", "regular"),
            "category_slug": ref["category_slug"],
        }
        if reply_to is not None:
            post["reply_to_user"] = {
                "username": reply_to.handle(self.platform),
                "name": reply_to.name,
                "avatar_template": self._avatar(reply_to),
            }
        return post

    def _publish_post(self, post: dict[str, Any], at: datetime, label: str) -> None:
        act = self.sim.new_act("discourse:post")
        self._send(at, act, label, "post_created", "post", {"post": post})
        edited_at = at + timedelta(minutes=self.rng.uniform(1, 30))
        if self.rng.random() < 0.12 and self.in_window(edited_at) and post["user_id"] > 0:
            # An edit is the same act as the post: same post id, its own creation time.
            raw = post["raw"] + " (edited: typo)"
            edited = {
                **post,
                "raw": raw,
                "cooked": f"<p>{raw}</p>",
                "version": 2,
                "updated_at": iso_ms(edited_at),
            }
            edited_label = label.replace("post_created", "post_edited")
            self._send(edited_at, act, edited_label, "post_edited", "post", {"post": edited})

    def _new_post_id(self) -> int:
        self.next_post_id += 1
        return self.next_post_id

    # --- threads ------------------------------------------------------------------------------

    def post(self, message: Message) -> None:
        self.next_topic_id += 1
        title = message.ref.get("title") or self.rng.choice(TOPICS)
        category_id, category_slug = message.ref.get("category") or self.rng.choice(
            list(CATEGORIES.items())
        )
        message.ref = {
            "post_id": self._new_post_id(),
            "topic_id": self.next_topic_id,
            "post_number": 1,
            "title": title,
            "category_id": category_id,
            "category_slug": category_slug,
        }
        raw = (
            f"{title}: any experience with this?"
            if message.author.role != "bot"
            else "Share what you're building!"
        )
        post = self._post(message.author, message.at, message.ref, raw, None)
        self._publish_post(post, message.at, "post_created.topic")

    def reply(self, reply: Message, parent: Message, mention: Member | None) -> None:
        thread = reply.thread
        assert thread is not None
        # The reply button under the topic answers the topic as a whole: no replied-to user.
        to_topic = parent is thread and self.rng.random() < 0.3
        reply.ref = {
            **thread.ref,
            "post_id": self._new_post_id(),
            "post_number": len(thread.replies) + 2,
            "reply_to_post_number": None if to_topic else parent.ref["post_number"],
        }
        raw = self.rng.choice(REPLIES)
        if mention is not None:
            raw += f" @{mention.handle(self.platform)}"
        dice = self.rng.random() < 0.04 and "discobot" in self.sim.bots
        if dice:
            raw = DICE
        post = self._post(
            reply.author, reply.at, reply.ref, raw, None if to_topic else parent.author
        )
        self._publish_post(post, reply.at, "post_created.reply")
        if dice:
            self._roll(reply)

    def _roll(self, asked: Message) -> None:
        """discobot answers a member's dice roll in the topic."""
        discobot = self.sim.bots["discobot"]
        at = asked.at + timedelta(seconds=self.rng.uniform(2, 10))
        if not self.in_window(at):
            return
        assert asked.thread is not None
        ref = {
            **asked.ref,
            "post_id": self._new_post_id(),
            "post_number": asked.ref["post_number"] + 1,
            "reply_to_post_number": asked.ref["post_number"],
        }
        rolled = f":game_die: {self.rng.randrange(1, 7)}, {self.rng.randrange(1, 7)}"
        post = self._post(discobot, at, ref, rolled, asked.author)
        self._send(
            at,
            self.sim.new_act("discourse:post"),
            "post_created.reply",
            "post_created",
            "post",
            {"post": post},
        )

    def react(self, member: Member, message: Message | None, at: datetime) -> None:
        assert message is not None
        if not self.first_reaction(member, message):
            return  # one like per member and post
        liked = self._post(message.author, message.at, message.ref, "…", None)
        liked.pop("raw")  # the like serializer leaves the raw text out
        user = {
            "id": self._user_id(member),
            "username": member.handle(self.platform),
            "name": member.name,
            "avatar_template": self._avatar(member),
        }
        body = {"like": {"post": liked, "user": user}}
        self._send(at, self.sim.new_act("discourse:like"), "post_liked", "post_liked", "like", body)

    # --- membership ---------------------------------------------------------------------------

    def join(self, member: Member, at: datetime) -> None:
        account = member.accounts[self.platform]
        user = {
            "id": self._user_id(member),
            "username": account.handle,
            "name": member.name,
            "avatar_template": self._avatar(member),
            "email": account.email,
            "secondary_emails": [],
            "last_posted_at": None,
            "last_seen_at": None,
            "created_at": iso_ms(at),
            "ignored": False,
            "muted": False,
            "trust_level": 0,
            "moderator": False,
            "admin": False,
            "title": None,
            "badge_count": 0,
            "time_read": 0,
            "recent_time_read": 0,
            "primary_group_id": None,
            "primary_group_name": None,
            "timezone": "Europe/Berlin",
            "groups": [],
            "external_id": None,
        }
        self._send(
            at,
            self.sim.new_act("discourse:signup"),
            "user_created",
            "user_created",
            "user",
            {"user": user},
        )
        self._greet(member, at + timedelta(seconds=30))

    def _greet(self, member: Member, at: datetime) -> None:
        """discobot's welcome, a private message: ingest ignores it."""
        discobot = self.sim.bots.get("discobot")
        if discobot is None or not self.in_window(at):
            return
        self.next_topic_id += 1
        ref = {
            "post_id": self._new_post_id(),
            "topic_id": self.next_topic_id,
            "post_number": 1,
            "title": "Greetings!",
            "category_id": None,
            "category_slug": None,
            "archetype": "private_message",
        }
        raw = f"Hi @{member.handle(self.platform)}, welcome to the Acme forum!"
        post = self._post(discobot, at, ref, raw, None)
        act = self.sim.new_act("discourse:greeting")
        self._send(at, act, "post_created.private_message", "post_created", "post", {"post": post})

    # --- bots ---------------------------------------------------------------------------------

    def routines(self) -> list[Routine]:
        if "system" not in self.sim.bots:
            return []
        return [
            (at, self._weekly_topic)
            for at in weekly(self.sim.start, self.sim.end, timedelta(days=1, hours=8))
        ]

    def _weekly_topic(self, at: datetime) -> None:
        ref = {
            "title": f"What are you working on? (week of {at:%b %d})",
            "category": SYSTEM_CATEGORY,
        }
        self.sim.publish(Message(self.platform, self.sim.bots["system"], at, ref=ref))
