"""The classification rules: configuration model and the pure decision function.

Everything here is plain Python without I/O. The same decision runs atomically inside Redis
(``store.lua``); ``tests/test_classifier_rules.py`` pins both to the same boundaries.

Decision at event time ``T`` for a member whose current segment is ``prev`` (since ``since``):

* community: *enter* when investment ≥ enter.investment, peers ≥ enter.peers and
  active_days ≥ enter.active_days; *stay* while investment ≥ stay.investment and
  peers ≥ stay.peers (hysteresis);
* audience: not community, but a standing interest is held or any own event is in the window;
* dormant: known, neither;
* no demotion before ``since + min_dwell`` (a member who just entered is not flapped out).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from invested.contracts import STANDING_END_KINDS, Kind, Segment, Thresholds

DEFAULT_RULES_FILE = Path(__file__).with_name("rules.yaml")
DAY_MS = 86_400_000


class EnterThresholds(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    investment: float = Field(12, ge=0)
    peers: int = Field(2, ge=0)
    active_days: int = Field(2, ge=0)


class StayThresholds(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    investment: float = Field(6, ge=0)
    peers: int = Field(1, ge=0)


class CommunityRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    enter: EnterThresholds = EnterThresholds()
    stay: StayThresholds = StayThresholds()

    @model_validator(mode="after")
    def _stay_not_harder_than_enter(self) -> CommunityRules:
        if self.stay.investment > self.enter.investment or self.stay.peers > self.enter.peers:
            raise ValueError("stay thresholds must not exceed enter thresholds (hysteresis)")
        return self


class Rules(BaseModel):
    """The rules file, validated. Weights are kept in hundredths inside Redis (exact sums)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rules_version: str = Field(min_length=1, max_length=64)
    window_days: float = Field(28, gt=0, le=366)
    min_dwell_days: float = Field(7, ge=0, le=366)
    community: CommunityRules = CommunityRules()
    weights: dict[Kind, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_weights(self) -> Rules:
        for kind, weight in self.weights.items():
            if weight < 0:
                raise ValueError(f"weight of {kind} must be >= 0")
            if kind in STANDING_END_KINDS and weight:
                raise ValueError(f"{kind} ends a standing interest and carries no weight")
            if round(weight * 100) != weight * 100:
                raise ValueError(f"weight of {kind} has more than two decimals")
        return self

    @property
    def window_ms(self) -> int:
        return int(self.window_days * DAY_MS)

    @property
    def dwell_ms(self) -> int:
        return int(self.min_dwell_days * DAY_MS)

    def weight_centi(self, kind: Kind) -> int:
        """Weight in hundredths: integer sums in Redis never drift."""
        return round(self.weights.get(kind, 0.0) * 100)

    def thresholds(self) -> Thresholds:
        return Thresholds(
            enter_investment=self.community.enter.investment,
            enter_peers=self.community.enter.peers,
            enter_active_days=self.community.enter.active_days,
            stay_investment=self.community.stay.investment,
            stay_peers=self.community.stay.peers,
            min_dwell_days=self.min_dwell_days,
            window_days=self.window_days,
        )


def load_rules(path: Path | None = None) -> Rules:
    path = path or DEFAULT_RULES_FILE
    return Rules.model_validate(yaml.safe_load(path.read_text()))


@dataclass(frozen=True)
class WindowNumbers:
    """A member's window at one instant (event time)."""

    investment: float
    interest: float
    peers: int
    active_days: int
    standing: int  # standing interests held
    own_events: int  # the member's own events in the window


def decide(
    prev: Segment, since_ms: int | None, at_ms: int, numbers: WindowNumbers, rules: Rules
) -> Segment:
    """The segment at ``at_ms``, given the previous one. Pure; mirrored by store.lua."""
    enter, stay = rules.community.enter, rules.community.stay
    in_dwell = since_ms is not None and at_ms - since_ms < rules.dwell_ms
    active = numbers.standing > 0 or numbers.own_events > 0
    if prev is Segment.COMMUNITY:
        if (numbers.investment >= stay.investment and numbers.peers >= stay.peers) or in_dwell:
            return Segment.COMMUNITY
    elif (
        numbers.investment >= enter.investment
        and numbers.peers >= enter.peers
        and numbers.active_days >= enter.active_days
    ):
        return Segment.COMMUNITY
    if active:
        return Segment.AUDIENCE
    if prev is Segment.AUDIENCE and in_dwell:
        return Segment.AUDIENCE
    return Segment.DORMANT
