"""Compact Redis records of the classifier, and the contract JSON they expand to.

The classifier's Lua step stores numbers, never prose: a transition is one ``␟``-separated
record (history, live stream, outbox) and a member's state hash holds its window counters and a
reason code. This module is the one place that turns them into what readers get: the
``MemberTransition`` CloudEvents envelope and the ``Evidence`` with its one-line reason. Both the
classifier (publishing to Kafka) and the API (reading Redis) call it, so they cannot disagree.

Keeping prose out of Redis halves the memory per member and takes the JSON work off Redis's
single thread (README "Performance").

Transition record fields, in order: ``seq``, ``from``, ``to``, ``at`` (ms), ``cause``,
``rules_version``, ``why`` (reason code), ``investment`` and ``interest`` (hundredths),
``peers``, ``active_days``, ``events_in_window``, ``kind=count,...``, ``standing,...``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from invested.contracts import TRANSITION_EVENT_TYPE, Evidence, MemberTransition, Thresholds
from invested.wording import counted, kind_listing

SEP = "\x1f"
TRANSITION_SOURCE = "/invested/classifier"


def iso_ms(ms: int) -> str:
    """``2026-11-25T14:03:00.123Z``: the contract's timestamps, from epoch milliseconds."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def centi_text(centi: int) -> str:
    """Hundredths as a person writes them: ``12`` or ``12.50``."""
    return f"{centi // 100}" if centi % 100 == 0 else f"{centi / 100:.2f}"


def _centi_number(centi: int) -> int | float:
    return centi // 100 if centi % 100 == 0 else centi / 100


@dataclass(frozen=True)
class WindowSummary:
    """The window's numbers at one evaluation, as the Lua step left them."""

    why: str
    investment_centi: int
    interest_centi: int
    peers: int
    active_days: int
    events: int
    kind_counts: dict[str, int]
    standing: list[str]


def reason(summary: WindowSummary, thresholds: Thresholds) -> str:
    """The one-line reason of a reason code (the codes are set by store.lua's evaluate)."""
    s, t = summary, thresholds
    inv = centi_text(s.investment_centi)
    stay_inv = centi_text(round(t.stay_investment * 100))
    enter_inv = centi_text(round(t.enter_investment * 100))
    texts = {
        "stay": f"stays in community: investment {inv} >= {stay_inv}, "
        f"peers {s.peers} >= {t.stay_peers}",
        "dwell": f"held in community by the minimum dwell (investment {inv}, peers {s.peers} "
        f"below stay {stay_inv}/{t.stay_peers})",
        "enter": f"entered community: investment {inv} >= {enter_inv}, "
        f"peers {s.peers} >= {t.enter_peers}, active days {s.active_days} >= {t.enter_active_days}",
        "left": f"left community: investment {inv} / peers {s.peers} "
        f"below stay {stay_inv}/{t.stay_peers}",
        "standing": f"audience: standing interest ({', '.join(s.standing)})",
        "audience": f"audience: {counted(s.events, 'own event')} in the window, below community "
        f"(investment {inv}, peers {s.peers}, active days {s.active_days})",
        "held": "held in audience by the minimum dwell (window empty)",
        "dormant": "dormant: no own events in the window and no standing interest",
    }
    text = texts.get(s.why, s.why)
    # Decisions about community cite what the member did, in words (invested.wording).
    kinds = kind_listing(s.kind_counts)  # counters kept at 0 are left out
    if kinds and s.why in ("stay", "dwell", "enter", "left"):
        text += (
            f" ({kinds}, with {counted(s.peers, 'member')}"
            f" on {counted(s.active_days, 'day')} in the last {counted(t.window_days, 'day')})"
        )
    return text


def evidence(summary: WindowSummary, thresholds: Thresholds) -> dict[str, object]:
    """The ``Evidence`` of the contract as a JSON-ready dict (key order as in the model)."""
    return {
        "investment": _centi_number(summary.investment_centi),
        "interest": _centi_number(summary.interest_centi),
        "peers": summary.peers,
        "active_days": summary.active_days,
        "standing": summary.standing,
        "events_in_window": summary.events,
        "kind_counts": summary.kind_counts,
        "thresholds": thresholds.model_dump(mode="json"),
        "reason": reason(summary, thresholds),
    }


# ------------------------------------------------------------------------------ transitions


@dataclass(frozen=True)
class TransitionRecord:
    seq: int
    from_segment: str
    to_segment: str
    at_ms: int
    cause: str
    rules_version: str
    summary: WindowSummary

    @classmethod
    def parse(cls, record: str) -> TransitionRecord:
        f = record.split(SEP)
        kinds = {}
        for pair in filter(None, f[12].split(",")):
            kind, _, count = pair.partition("=")
            kinds[kind] = int(count)
        return cls(
            seq=int(f[0]),
            from_segment=f[1],
            to_segment=f[2],
            at_ms=int(f[3]),
            cause=f[4],
            rules_version=f[5],
            summary=WindowSummary(
                why=f[6],
                investment_centi=int(f[7]),
                interest_centi=int(f[8]),
                peers=int(f[9]),
                active_days=int(f[10]),
                events=int(f[11]),
                kind_counts=kinds,
                standing=[s for s in f[13].split(",") if s],
            ),
        )


def rules_version_of(record: str) -> str:
    return record.split(SEP, 6)[5]


def transition_json(community: str, member: str, record: str, thresholds: Thresholds) -> str:
    """The ``MemberTransition`` envelope of a stored record (id: ``MemberTransition.make_id``)."""
    r = TransitionRecord.parse(record)
    at = iso_ms(r.at_ms)
    envelope = {
        "specversion": "1.0",
        "type": TRANSITION_EVENT_TYPE,
        "source": TRANSITION_SOURCE,
        "id": MemberTransition.make_id(community, member, r.seq, r.rules_version),
        "time": at,
        "subject": f"{community}/{member}",
        "datacontenttype": "application/json",
        "data": {
            "community": community,
            "member": member,
            "from": r.from_segment,
            "to": r.to_segment,
            "at": at,
            "cause": r.cause,
            "evidence": evidence(r.summary, thresholds),
            "rules_version": r.rules_version,
            "seq": r.seq,
        },
    }
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False)


# ------------------------------------------------------------------------------ state


def state_summary(raw: Mapping[str, str]) -> WindowSummary:
    """The window numbers of a member's state hash (``inv:{c/m}:state``)."""
    kinds: dict[str, int] = {}
    standing: list[str] = []
    peers = days = 0
    for field, value in raw.items():
        prefix = field[:2]
        if prefix == "k:":
            kinds[field[2:]] = int(value)
        elif prefix == "p:":
            peers += 1
        elif prefix == "d:":
            days += 1
        elif prefix == "s:" and value.endswith("1"):
            standing.append(field[2:])
    return WindowSummary(
        why=raw.get("why", ""),
        investment_centi=int(raw.get("inv") or 0),
        interest_centi=int(raw.get("int") or 0),
        peers=peers,
        active_days=days,
        events=int(raw.get("n") or 0),
        kind_counts=dict(sorted(kinds.items())),
        standing=sorted(standing),
    )


def state_evidence(raw: Mapping[str, str], thresholds: Thresholds) -> Evidence:
    return Evidence.model_validate(evidence(state_summary(raw), thresholds))
