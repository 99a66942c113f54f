"""One line a person can read about a member, built from the evidence the classifier stored.

``community since 2026-11-02: 5 replies and 1 post, with 3 members on 4 days in the last 28
days``. Investment kinds come first (they decide community), then interest, then standing
interest, which is held regardless of the window. Counts come from ``evidence.kind_counts``, in
the nouns of :mod:`invested.wording` (shared with the classifier's reasons); data written without
them falls back to the classifier's own ``evidence.reason``.
"""

from __future__ import annotations

from invested.contracts import INVESTMENT_KINDS
from invested.state import MemberState
from invested.wording import counted, kind_listing

_INVESTMENT = {kind.value for kind in INVESTMENT_KINDS}


def explain(state: MemberState) -> str:
    evidence = state.evidence
    head = f"{state.segment.value} since {state.since.date().isoformat()}"
    window = f"in the last {counted(evidence.thresholds.window_days, 'day')}"
    standing = (
        f"; standing interest: {', '.join(sorted(evidence.standing))}" if evidence.standing else ""
    )
    counts = evidence.kind_counts
    if not counts and evidence.events_in_window and evidence.reason:
        return f"{head}: {evidence.reason}"  # written without per-kind counts
    parts = []
    invested = {k: n for k, n in counts.items() if k in _INVESTMENT}
    if any(invested.values()):
        part = kind_listing(invested)
        if evidence.peers:
            part += f", with {counted(evidence.peers, 'member')}"
        if evidence.active_days:
            part += f" on {counted(evidence.active_days, 'day')}"
        parts.append(part)
    elif evidence.peers:  # only received interactions (replied to, mentioned)
        parts.append(f"interactions with {counted(evidence.peers, 'member')}")
    interest = {k: n for k, n in counts.items() if k not in _INVESTMENT}
    if any(interest.values()):
        parts.append(kind_listing(interest))
    if not parts and evidence.events_in_window:
        parts.append(counted(evidence.events_in_window, "event"))
    activity = "; ".join(parts) if parts else "no activity"
    return f"{head}: {activity} {window}{standing}"
