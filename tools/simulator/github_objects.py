"""GitHub's objects as its webhooks show them: users, the repository, issues, pull requests.

Shaped like the published examples (``tests/fixtures/github/``, octokit/webhooks): the same
field names, nesting and types for who, what and when (ids, ``node_id``\\ s, logins, ``type``,
times, states, numbers), without most of the API URL templates the examples also carry.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from invested.contracts import Platform
from tools.simulator.base import iso
from tools.simulator.config import SimConfig
from tools.simulator.model import Member

API = "https://api.github.com"
WEB = "https://github.com"
REPOSITORY_NAME = "widgets"
REPOSITORY_ID = 186853002
ORGANIZATION_ID = 98414217
REPOSITORY_CREATED = "2021-03-02T10:11:12Z"


def node_id(kind: str, number: int) -> str:
    """GitHub's legacy global ids: base64 of ``<len>:<Type><id>`` (``MDQ6VXNlcjIxMDMxMDY3``)."""
    return base64.b64encode(f"{len(kind):02d}:{kind}{number}".encode()).decode()


def user(member: Member) -> dict[str, Any]:
    account = member.accounts[Platform.GITHUB]
    login, user_id = account.handle, int(account.id)
    is_app = login.endswith("[bot]")
    kind = "Bot" if is_app else "User"
    quoted = login.replace("[", "%5B").replace("]", "%5D")
    return {
        "login": login,
        "id": user_id,
        "node_id": node_id(kind, user_id),
        "avatar_url": f"https://avatars.githubusercontent.com/u/{user_id}?v=4",
        "gravatar_id": "",
        "url": f"{API}/users/{quoted}",
        # An app's account page is its app page.
        "html_url": f"{WEB}/apps/{login[: -len('[bot]')]}" if is_app else f"{WEB}/{login}",
        "type": kind,
        "site_admin": False,
    }


def association(member: Member) -> str:
    """``author_association``: the brand's people are organization members."""
    return (
        "MEMBER" if member.role == "staff" else "CONTRIBUTOR" if member.role == "core" else "NONE"
    )


def organization(config: SimConfig) -> dict[str, Any]:
    org = config.github_org
    return {
        "login": org,
        "id": ORGANIZATION_ID,
        "node_id": node_id("Organization", ORGANIZATION_ID),
        "url": f"{API}/orgs/{org}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{ORGANIZATION_ID}?v=4",
        "description": "Acme's open-source widgets",
    }


def repository(config: SimConfig, at: datetime, stars: int) -> dict[str, Any]:
    org = config.github_org
    full_name = f"{org}/{REPOSITORY_NAME}"
    return {
        "id": REPOSITORY_ID,
        "node_id": node_id("Repository", REPOSITORY_ID),
        "name": REPOSITORY_NAME,
        "full_name": full_name,
        "private": False,
        "owner": {
            "login": org,
            "id": ORGANIZATION_ID,
            "node_id": node_id("Organization", ORGANIZATION_ID),
            "url": f"{API}/users/{org}",
            "html_url": f"{WEB}/{org}",
            "type": "Organization",
            "site_admin": False,
        },
        "html_url": f"{WEB}/{full_name}",
        "description": "Gearboxes, sensors and the firmware that drives them",
        "fork": False,
        "url": f"{API}/repos/{full_name}",
        "created_at": REPOSITORY_CREATED,
        "updated_at": iso(at),
        "pushed_at": iso(at),
        "stargazers_count": stars,
        "watchers_count": stars,
        "language": "Python",
        "forks_count": 0,
        "open_issues_count": 0,
        "default_branch": "main",
        "visibility": "public",
    }


def issue(
    config: SimConfig, ref: dict[str, Any], author: Member, at: datetime, comments: int = 0
) -> dict[str, Any]:
    """An issue, or a pull request seen as an issue (its comments are issue comments)."""
    full_name = f"{config.github_org}/{REPOSITORY_NAME}"
    number, pull = ref["number"], ref.get("pull", False)
    found: dict[str, Any] = {
        "url": f"{API}/repos/{full_name}/issues/{number}",
        "html_url": f"{WEB}/{full_name}/{'pull' if pull else 'issues'}/{number}",
        "id": ref["issue_id"],
        "node_id": node_id("Issue", ref["issue_id"]),
        "number": number,
        "title": ref["title"],
        "user": user(author),
        "labels": [],
        "state": "open",
        "locked": False,
        "assignee": None,
        "assignees": [],
        "comments": comments,
        "created_at": iso(ref["created"]),
        "updated_at": iso(at),
        "closed_at": None,
        "author_association": association(author),
        "active_lock_reason": None,
        "body": ref["body"],
    }
    if pull:
        found["pull_request"] = {
            "url": f"{API}/repos/{full_name}/pulls/{number}",
            "html_url": f"{WEB}/{full_name}/pull/{number}",
            "merged_at": None,
        }
    return found


def pull_request(
    config: SimConfig,
    ref: dict[str, Any],
    author: Member,
    at: datetime,
    merged_by: Member | None = None,
) -> dict[str, Any]:
    """A pull request as of ``at``: open, or merged by ``merged_by`` at ``at``."""
    full_name = f"{config.github_org}/{REPOSITORY_NAME}"
    number = ref["number"]
    merged = merged_by is not None
    return {
        "url": f"{API}/repos/{full_name}/pulls/{number}",
        "id": ref["pull_id"],
        "node_id": node_id("PullRequest", ref["pull_id"]),
        "html_url": f"{WEB}/{full_name}/pull/{number}",
        "number": number,
        "state": "closed" if merged else "open",
        "locked": False,
        "title": ref["title"],
        "user": user(author),
        "body": ref["body"],
        "labels": [{"name": label} for label in ref.get("labels", ())],
        "created_at": iso(ref["created"]),
        "updated_at": iso(at),
        "closed_at": iso(at) if merged else None,
        "merged_at": iso(at) if merged else None,
        "merge_commit_sha": ref["merge_sha"] if merged else None,
        "draft": False,
        "head": {
            "label": f"{user(author)['login']}:{ref['branch']}",
            "ref": ref["branch"],
            "sha": ref["head_sha"],
        },
        "base": {"label": f"{config.github_org}:main", "ref": "main", "sha": ref["base_sha"]},
        "author_association": association(author),
        "merged": merged,
        "merged_by": user(merged_by) if merged_by is not None else None,
        "comments": 0,
        "review_comments": 0,
        "commits": 1,
        "additions": ref["additions"],
        "deletions": ref["deletions"],
        "changed_files": 1,
    }


def discussion(
    config: SimConfig, ref: dict[str, Any], author: Member, at: datetime
) -> dict[str, Any]:
    full_name = f"{config.github_org}/{REPOSITORY_NAME}"
    number = ref["number"]
    return {
        "repository_url": f"{API}/repos/{full_name}",
        "category": {
            "id": 31415926,
            "node_id": node_id("DiscussionCategory", 31415926),
            "repository_id": REPOSITORY_ID,
            "emoji": ":pray:",
            "name": "Q&A",
            "description": "Ask the community for help",
            "is_answerable": True,
        },
        "answer_html_url": None,
        "answer_chosen_at": None,
        "answer_chosen_by": None,
        "html_url": f"{WEB}/{full_name}/discussions/{number}",
        "id": ref["discussion_id"],
        "node_id": node_id("Discussion", ref["discussion_id"]),
        "number": number,
        "title": ref["title"],
        "user": user(author),
        "state": "open",
        "locked": False,
        "comments": 0,
        "created_at": iso(ref["created"]),
        "updated_at": iso(at),
        "author_association": association(author),
        "active_lock_reason": None,
        "body": ref["body"],
    }


def commit(
    sha: str, message: str, author: dict[str, str], at: datetime, url: str
) -> dict[str, Any]:
    """A commit of a push; ``author`` as git records it (name, e-mail, the matched username)."""
    return {
        "id": sha,
        "tree_id": sha[::-1],
        "distinct": True,
        "message": message,
        "timestamp": iso(at),
        "url": f"{url}/commit/{sha}",
        "author": author,
        "committer": {"name": "GitHub", "email": "noreply@github.com", "username": "web-flow"},
        "added": [],
        "removed": [],
        "modified": ["src/widgets/__init__.py"],
    }


def noreply(member: Member) -> dict[str, str]:
    """A commit author by the account's noreply address (how squash merges record the author)."""
    account = member.accounts[Platform.GITHUB]
    return {
        "name": member.name,
        "email": f"{account.id}+{account.handle}@users.noreply.github.com",
        "username": account.handle,
    }
