"""What to simulate: the seed, the community's size and window, and the brand's tenants.

The tenants are the demo brand's (``deploy/demo/brands.yaml`` lists the same ones).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from invested.communities import discourse_community
from invested.contracts import Platform

ALL_PLATFORMS = tuple(Platform)


@dataclass(frozen=True)
class SimConfig:
    """What to simulate. ``end`` None means now (rounded down to the minute); ``members`` counts
    the community's members (the cast's included), not staff or bots. ``redelivery_rate`` is the
    share of webhooks a platform sends twice under the same delivery id."""

    seed: int = 7
    members: int = 150
    days: int = 28
    end: datetime | None = None
    platforms: tuple[Platform, ...] = ALL_PLATFORMS
    github_org: str = "acme-oss"
    slack_team: str = "T0ACME0001"
    discourse_instance: str = "https://forum.acme.dev"
    discord_guild: str = "910000000000000001"
    meetup_community: str = "acme-meetups"
    redelivery_rate: float = 0.02

    def community(self, platform: Platform) -> str:
        """The community id ingest derives for this platform's payloads."""
        return {
            Platform.GITHUB: self.github_org,
            Platform.SLACK: self.slack_team,
            Platform.DISCOURSE: discourse_community(self.discourse_instance),
            Platform.DISCORD: self.discord_guild,
            Platform.GENERIC: self.meetup_community,
        }[platform]
