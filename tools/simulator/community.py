"""The simulated community as webhooks: the model played through one builder per platform.

:func:`generate` is what ``make demo``, the ingest benchmark and the tests call. The same
``SimConfig`` (seed, size, window end) gives the same community and byte-identical payloads.
"""

from __future__ import annotations

from invested.contracts import Platform
from tools.simulator.base import Outbox, PlatformBuilder, SimEvent
from tools.simulator.config import SimConfig
from tools.simulator.discord import DiscordBuilder
from tools.simulator.discourse import DiscourseBuilder
from tools.simulator.generic import GenericBuilder
from tools.simulator.github import GitHubBuilder
from tools.simulator.model import Member, Simulation
from tools.simulator.slack import SlackBuilder

BUILDERS: dict[Platform, type[PlatformBuilder]] = {
    Platform.GITHUB: GitHubBuilder,
    Platform.SLACK: SlackBuilder,
    Platform.DISCOURSE: DiscourseBuilder,
    Platform.DISCORD: DiscordBuilder,
    Platform.GENERIC: GenericBuilder,
}


def generate(config: SimConfig) -> tuple[list[Member], list[SimEvent]]:
    """Everyone in the community (members, staff, bots) and their webhooks in time order."""
    sim = Simulation(config)
    outbox = Outbox(config)
    sim.run({platform: BUILDERS[platform](sim, outbox) for platform in config.platforms})
    return sim.everyone, outbox.in_time_order()
