"""GitHub webhooks of the demo's organization (mirrors ``services/ingest/adapters/github.py``).

Members open issues, discussions and pull requests, comment, review, answer, star and fork. Around
them, what a real repository sends: ``github-actions[bot]`` comments coverage on every pull
request; a maintainer (staff) triages new issues with a label (ignored by ingest), reviews pull
requests (often with one inline comment, which GitHub sends twice: as
``pull_request_review_comment.created`` and as the ``pull_request_review.submitted`` of the review
holding it, state ``commented``) and merges them (``pull_request.closed``, the same act as the
opening, then a ``push`` of the squashed commit authored by the contributor); ``dependabot[bot]``
opens a dependency bump every week, which a maintainer approves and merges; and the machine user
``acme-release-bot`` (typed ``User``: only the roles file says it is a bot) pushes a version bump
and publishes the weekly release.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from invested.contracts import Platform
from tools.simulator import github_objects as gh
from tools.simulator.base import PlatformBuilder, iso
from tools.simulator.cast import GITHUB_ACTIONS_APP
from tools.simulator.model import RELEASES, Member, Message, Routine, release_version, weekly

ISSUE_TITLES = (
    "Gearbox slips above 4 Nm",
    "Sensor readings drift after an hour",
    "Firmware 2.1 fails to flash on macOS",
    "Docs: wiring diagram for the v3 board",
    "Crash when the config file is empty",
)
PULL_TITLES = (
    "Fix typo in the calibration guide",
    "Add retry to the serial reader",
    "Support the v3 board's second sensor",
    "Speed up torque curve fitting",
    "Clarify the install steps for Windows",
)
DISCUSSION_TITLES = (
    "Best way to mount the sensor outdoors?",
    "Share your builds!",
    "How do you calibrate for cold weather?",
)
LABELS = ("bug", "question", "enhancement", "documentation")
DEPENDENCIES = ("pyserial", "numpy", "pydantic", "pytest", "ruff")


class GitHubBuilder(PlatformBuilder):
    platform = Platform.GITHUB

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        # Issues, pull requests and discussions share the repository's numbers.
        self.issue_number = 400
        self.stars = 120
        self.starred: set[int] = set()

    # --- envelopes ----------------------------------------------------------------------------

    def _send(
        self, at: datetime, act: str, event: str, sender: Member, body: dict[str, Any]
    ) -> None:
        action = body.get("action")
        payload = {
            **body,
            "repository": gh.repository(self.config, at, self.stars),
            "organization": gh.organization(self.config),
            "sender": gh.user(sender),
        }
        label = f"{event}.{action}" if action else event
        delivery = self.uuid()  # X-GitHub-Delivery; a redelivery keeps it
        self.send(at, act, label, payload, delivery, event=event)

    def _sha(self) -> str:
        return f"{self.rng.getrandbits(160):040x}"

    def _new_ref(self, title: str, at: datetime, **extra: Any) -> dict[str, Any]:
        self.issue_number += 1
        number = self.issue_number
        return {
            "number": number,
            "issue_id": 2_100_000_000 + number,
            "title": title,
            "body": f"{title}. Details below.",
            "created": at,
            **extra,
        }

    # --- threads ------------------------------------------------------------------------------

    def post(self, message: Message) -> None:
        author, at = message.author, message.at
        act = self.sim.new_act(f"github:{message.kind}")
        if message.kind == "issue":
            message.ref = self._new_ref(self.rng.choice(ISSUE_TITLES), at)
            issue = gh.issue(self.config, message.ref, author, at)
            self._send(at, act, "issues", author, {"action": "opened", "issue": issue})
            self._triage(message)
        elif message.kind == "discussion":
            message.ref = self._new_ref(self.rng.choice(DISCUSSION_TITLES), at)
            message.ref["discussion_id"] = 4_000_000 + message.ref["number"]
            found = gh.discussion(self.config, message.ref, author, at)
            self._send(at, act, "discussion", author, {"action": "created", "discussion": found})
        else:
            self.open_pull(message, act, self.rng.choice(PULL_TITLES))
            self._maintain(message, inline_chance=0.6, merge_chance=0.75)

    def open_pull(self, pull: Message, act: str, title: str, labels: tuple[str, ...] = ()) -> None:
        at = pull.at
        pull.ref = self._new_ref(
            title,
            at,
            pull=True,
            act=act,  # opened and merged are one act
            head_sha=self._sha(),
            base_sha=self._sha(),
            merge_sha=self._sha(),
            additions=self.rng.randrange(1, 120),
            deletions=self.rng.randrange(0, 40),
            labels=labels,
        )
        number = pull.ref["number"]
        pull.ref.update(pull_id=1_800_000_000 + number, branch=f"patch-{number}")
        found = gh.pull_request(self.config, pull.ref, pull.author, at)
        body = {"action": "opened", "number": pull.ref["number"], "pull_request": found}
        self._send(at, act, "pull_request", pull.author, body)
        self._coverage(pull)

    def reply(self, reply: Message, parent: Message, mention: Member | None) -> None:
        thread, member, at = reply.thread, reply.author, reply.at
        assert thread is not None
        comment_id = 2_400_000_000 + self.number()
        reply.ref = {"comment_id": comment_id}
        if thread.kind == "pull":
            inline = self.rng.random() < 0.5
            state = "commented" if inline else self.rng.choice(["approved", "changes_requested"])
            self._review(member, thread, at, state, inline)
            return
        act = self.sim.new_act(f"github:{thread.kind}-comment")
        text = "Same here: it happens with the v3 board too."
        if mention is not None:
            text += f" cc @{mention.handle(self.platform)}"
        comment: dict[str, Any] = {
            "id": comment_id,
            "node_id": gh.node_id("IssueComment", comment_id),
            "user": gh.user(member),
            "created_at": iso(at),
            "updated_at": iso(at),
            "author_association": gh.association(member),
            "body": text,
        }
        comments = len(thread.replies) + 1
        if thread.kind == "issue":
            comment["performed_via_github_app"] = None
            issue = gh.issue(self.config, thread.ref, thread.author, at, comments)
            body = {"action": "created", "issue": issue, "comment": comment}
            self._send(at, act, "issue_comment", member, body)
            return
        parent_id = parent.ref.get("comment_id") if parent is not thread else None
        comment.update(
            parent_id=parent_id, child_comment_count=0, discussion_id=thread.ref["discussion_id"]
        )
        found = gh.discussion(self.config, thread.ref, thread.author, at)
        body = {"action": "created", "comment": comment, "discussion": found}
        self._send(at, act, "discussion_comment", member, body)
        if member is not thread.author and "answered" not in thread.ref and self.rng.random() < 0.3:
            self._mark_answer(thread, comment, at + timedelta(hours=self.rng.uniform(1, 48)))

    def _mark_answer(self, thread: Message, answer: dict[str, Any], at: datetime) -> None:
        if not self.in_window(at):
            return
        thread.ref["answered"] = True
        found = gh.discussion(self.config, thread.ref, thread.author, at)
        found.update(
            answer_chosen_at=iso(at),
            answer_chosen_by=gh.user(thread.author),
            answer_html_url=f"{found['html_url']}#discussioncomment-{answer['id']}",
        )
        act = self.sim.new_act("github:answer")
        body = {"action": "answered", "discussion": found, "answer": answer}
        self._send(at, act, "discussion", thread.author, body)

    # --- reviews and merges -------------------------------------------------------------------

    def _review(
        self, reviewer: Member, pull: Message, at: datetime, state: str, inline: bool
    ) -> None:
        review_id = 2_000_000_000 + self.number()
        act = self.sim.new_act("github:review")
        found = gh.pull_request(self.config, pull.ref, pull.author, at)
        if inline:
            # One comment on the diff: GitHub makes a review (state "commented") holding it and
            # sends both; the comment names the review in pull_request_review_id.
            comment_id = 1_600_000_000 + self.number()
            comment = {
                "pull_request_review_id": review_id,
                "id": comment_id,
                "node_id": gh.node_id("PullRequestReviewComment", comment_id),
                "diff_hunk": "@@ -10,7 +10,7 @@ def read(port):",
                "path": "src/widgets/serial.py",
                "commit_id": pull.ref["head_sha"],
                "user": gh.user(reviewer),
                "body": "Could this read time out instead of blocking?",
                "created_at": iso(at),
                "updated_at": iso(at),
                "author_association": gh.association(reviewer),
                "line": 14,
                "side": "RIGHT",
            }
            body = {"action": "created", "comment": comment, "pull_request": found}
            self._send(at, act, "pull_request_review_comment", reviewer, body)
            at += timedelta(seconds=1)
        review = {
            "id": review_id,
            "node_id": gh.node_id("PullRequestReview", review_id),
            "user": gh.user(reviewer),
            "body": None if inline else "Looks good, thanks!",
            "commit_id": pull.ref["head_sha"],
            "submitted_at": iso(at),
            "state": state,
            "author_association": gh.association(reviewer),
        }
        body = {"action": "submitted", "review": review, "pull_request": found}
        self._send(at, act, "pull_request_review", reviewer, body)

    def _maintain(self, pull: Message, inline_chance: float, merge_chance: float) -> None:
        """A maintainer reviews the pull request within a day and a half and may merge it."""
        maintainers = self.sim.staff_on(self.platform)
        if not maintainers:
            return
        maintainer = self.rng.choice(maintainers)
        review_at = pull.at + timedelta(hours=self.rng.uniform(2, 30))
        inline = self.rng.random() < inline_chance
        merge = self.rng.random() < merge_chance
        merge_at = review_at + timedelta(minutes=self.rng.uniform(5, 90))
        if not self.in_window(review_at):
            return
        self._review(maintainer, pull, review_at, "commented" if inline else "approved", inline)
        if merge and self.in_window(merge_at):
            self._merge(pull, maintainer, merge_at)

    def _merge(self, pull: Message, maintainer: Member, at: datetime) -> None:
        found = gh.pull_request(self.config, pull.ref, pull.author, at, merged_by=maintainer)
        body = {"action": "closed", "number": pull.ref["number"], "pull_request": found}
        self._send(at, pull.ref["act"], "pull_request", maintainer, body)
        # The squashed commit lands on main, authored by the contributor.
        message = f"{pull.ref['title']} (#{pull.ref['number']})"
        self._push(
            maintainer,
            at + timedelta(seconds=2),
            message,
            gh.noreply(pull.author),
            pull.ref["merge_sha"],
        )

    def _push(
        self, pusher: Member, at: datetime, message: str, author: dict[str, str], sha: str
    ) -> None:
        url = f"{gh.WEB}/{self.config.github_org}/{gh.REPOSITORY_NAME}"
        pushed = gh.commit(sha, message, author, at, url)
        before = self._sha()
        login = pusher.handle(self.platform)
        body = {
            "ref": "refs/heads/main",
            "before": before,
            "after": sha,
            "created": False,
            "deleted": False,
            "forced": False,
            "base_ref": None,
            "compare": f"{url}/compare/{before[:12]}...{sha[:12]}",
            "commits": [pushed],
            "head_commit": pushed,
            "pusher": {"name": login, "email": gh.noreply(pusher)["email"]},
        }
        self._send(at, self.sim.new_act("github:commit"), "push", pusher, body)

    def _coverage(self, pull: Message) -> None:
        """``github-actions[bot]`` comments the coverage once CI has run."""
        bot = self.sim.bots.get("github-actions")
        at = pull.at + timedelta(minutes=self.rng.uniform(4, 9))
        if bot is None or not self.in_window(at):
            return
        comment_id = 2_400_000_000 + self.number()
        covered = self.rng.uniform(80, 95)
        comment = {
            "id": comment_id,
            "node_id": gh.node_id("IssueComment", comment_id),
            "user": gh.user(bot),
            "created_at": iso(at),
            "updated_at": iso(at),
            "author_association": "NONE",
            "performed_via_github_app": GITHUB_ACTIONS_APP,
            "body": f"Coverage: {covered:.1f}% ({self.rng.uniform(-0.5, 0.5):+.1f}%)",
        }
        issue = gh.issue(self.config, pull.ref, pull.author, at, comments=1)
        body = {"action": "created", "issue": issue, "comment": comment}
        self._send(at, self.sim.new_act("github:coverage"), "issue_comment", bot, body)

    def _triage(self, issue: Message) -> None:
        """A maintainer labels the issue: an event ingest ignores."""
        maintainers = self.sim.staff_on(self.platform)
        at = issue.at + timedelta(hours=self.rng.uniform(1, 20))
        if not maintainers or self.rng.random() < 0.5 or not self.in_window(at):
            return
        name = self.rng.choice(LABELS)
        label = {
            "id": 1_362_934_000 + LABELS.index(name),
            "name": name,
            "color": "d73a4a",
            "default": True,
        }
        found = gh.issue(self.config, issue.ref, issue.author, at)
        found["labels"] = [label]
        body = {"action": "labeled", "issue": found, "label": label}
        self._send(
            at, self.sim.new_act("github:label"), "issues", self.rng.choice(maintainers), body
        )

    # --- interest -----------------------------------------------------------------------------

    def react(self, member: Member, message: Message | None, at: datetime) -> None:
        if member.index not in self.starred:
            self.starred.add(member.index)
            self.stars += 1
            body = {"action": "created", "starred_at": iso(at)}
            self._send(at, self.sim.new_act("github:star"), "star", member, body)
        elif self.rng.random() < 0.08:
            fork_id = 700_000_000 + self.number()
            login = member.handle(self.platform)
            forkee = {
                "id": fork_id,
                "node_id": gh.node_id("Repository", fork_id),
                "name": gh.REPOSITORY_NAME,
                "full_name": f"{login}/{gh.REPOSITORY_NAME}",
                "private": False,
                "owner": gh.user(member),
                "html_url": f"{gh.WEB}/{login}/{gh.REPOSITORY_NAME}",
                "fork": True,
                "created_at": iso(at),
                "updated_at": iso(at),
                "pushed_at": iso(at),
                "public": True,
            }
            self._send(at, self.sim.new_act("github:fork"), "fork", member, {"forkee": forkee})

    # --- bots ---------------------------------------------------------------------------------

    def routines(self) -> list[Routine]:
        found: list[Routine] = []
        if "dependabot" in self.sim.bots:
            found += [
                (at, self._dependency_bump)
                for at in weekly(self.sim.start, self.sim.end, timedelta(days=1, hours=5))
            ]
        if "release-bot" in self.sim.bots:
            found += [(at, self._release) for at in weekly(self.sim.start, self.sim.end, RELEASES)]
        return found

    def _dependency_bump(self, at: datetime) -> None:
        bot = self.sim.bots["dependabot"]
        package = self.rng.choice(DEPENDENCIES)
        minor = self.rng.randrange(1, 30)
        title = f"Bump {package} from 1.{minor}.0 to 1.{minor}.1"
        pull = Message(self.platform, bot, at, kind="pull")
        self.open_pull(pull, self.sim.new_act("github:pull"), title, labels=("dependencies",))
        self._maintain(pull, inline_chance=0.0, merge_chance=0.9)

    def _release(self, at: datetime) -> None:
        bot = self.sim.bots["release-bot"]
        version = release_version(self.sim.start, at)
        login = bot.handle(self.platform)
        author = {"name": login, "email": "release-bot@acme.dev", "username": login}
        self._push(bot, at, f"Release {version}", author, self._sha())
        published = at + timedelta(minutes=3)
        release_id = 17_000_000 + self.number()
        release = {
            "url": f"{gh.API}/repos/{self.config.github_org}/{gh.REPOSITORY_NAME}/releases/{release_id}",
            "html_url": f"{gh.WEB}/{self.config.github_org}/{gh.REPOSITORY_NAME}/releases/tag/{version}",
            "id": release_id,
            "node_id": gh.node_id("Release", release_id),
            "tag_name": version,
            "target_commitish": "main",
            "name": version,
            "draft": False,
            "author": gh.user(bot),
            "prerelease": False,
            "created_at": iso(at),
            "published_at": iso(published),
            "assets": [],
            "body": f"What's new in {version}",
        }
        act = self.sim.new_act("github:release")
        self._send(published, act, "release", bot, {"action": "published", "release": release})
