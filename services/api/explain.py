"""One line a person can read about a member, built from the evidence the classifier stored.

``community since 2026-11-02: 5 replies and 1 post, with 3 members on 4 days in the last 28
days``. Investment kinds come first (they decide community), then interest, then standing
interest, which is held regardless of the window. Counts come from ``evidence.kind_counts``; data
written without them falls back to the classifier's own ``evidence.reason``.
"""

from __future__ import annotations

from invested.contracts import INVESTMENT_KINDS, Kind
from invested.state import MemberState

# (singular, plural) noun of each kind in a sentence.
NOUNS: dict[str, tuple[str, str]] = {
    "post": ("post", "posts"),
    "reply": ("reply", "replies"),
    "comment": ("comment", "comments"),
    "mention": ("mention", "mentions"),
    "answer": ("answer", "answers"),
    "review": ("review", "reviews"),
    "contribute": ("contribution", "contributions"),
    "feedback": ("piece of feedback", "pieces of feedback"),
    "attend": ("event attended", "events attended"),
    "host": ("event hosted", "events hosted"),
    "view": ("view", "views"),
    "react": ("reaction", "reactions"),
    "star": ("star", "stars"),
    "fork": ("fork", "forks"),
    "download": ("download", "downloads"),
    "follow": ("follow", "follows"),
    "unfollow": ("unfollow", "unfollows"),
    "join": ("join", "joins"),
    "leave": ("leave", "leaves"),
    "subscribe": ("subscription", "subscriptions"),
    "unsubscribe": ("unsubscription", "unsubscriptions"),
    "unstar": ("unstar", "unstars"),
}
_INVESTMENT = {kind.value for kind in INVESTMENT_KINDS}
_ORDER = {kind.value: index for index, kind in enumerate(Kind)}


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    return f"{count} {singular if count == 1 else (plural_form or singular + 's')}"


def _listing(counts: dict[str, int]) -> str:
    """``5 replies, 2 comments and 1 post``: most frequent first, ties in contract order."""
    items = sorted(
        ((kind, n) for kind, n in counts.items() if n > 0),
        key=lambda item: (-item[1], _ORDER.get(item[0], len(_ORDER)), item[0]),
    )
    words = [plural(n, *NOUNS.get(kind, (kind, kind))) for kind, n in items]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def explain(state: MemberState) -> str:
    evidence = state.evidence
    head = f"{state.segment.value} since {state.since.date().isoformat()}"
    window = f"in the last {evidence.thresholds.window_days:g} days"
    standing = (
        f"; standing interest: {', '.join(sorted(evidence.standing))}" if evidence.standing else ""
    )
    counts = evidence.kind_counts
    if not counts and evidence.events_in_window and evidence.reason:
        return f"{head}: {evidence.reason}"  # written without per-kind counts
    parts = []
    invested = {k: n for k, n in counts.items() if k in _INVESTMENT}
    if any(invested.values()):
        part = _listing(invested)
        if evidence.peers:
            part += f", with {plural(evidence.peers, 'member')}"
        if evidence.active_days:
            part += f" on {plural(evidence.active_days, 'day')}"
        parts.append(part)
    elif evidence.peers:  # only received interactions (replied to, mentioned)
        parts.append(f"interactions with {plural(evidence.peers, 'member')}")
    interest = {k: n for k, n in counts.items() if k not in _INVESTMENT}
    if any(interest.values()):
        parts.append(_listing(interest))
    if not parts and evidence.events_in_window:
        parts.append(plural(evidence.events_in_window, "event"))
    activity = "; ".join(parts) if parts else "no activity"
    return f"{head}: {activity} {window}{standing}"
