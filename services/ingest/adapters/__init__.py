"""Per-platform adapters: mapping tables from platform payloads to ``EngagementEvent``\\ s.

``ADAPTERS`` maps each :class:`~invested.contracts.Platform` to its adapter; the tables themselves
live in ``github.py``, ``slack.py``, ``discourse.py``, ``discord.py`` and ``generic.py``.
"""

from __future__ import annotations

from invested.contracts import Platform
from services.ingest.adapters import discord, discourse, generic, github, slack
from services.ingest.adapters.common import Adapter, Delivery, Handshake, Ignored, Unmappable

ADAPTERS: dict[Platform, Adapter] = {
    Platform.GITHUB: github.ADAPTER,
    Platform.SLACK: slack.ADAPTER,
    Platform.DISCOURSE: discourse.ADAPTER,
    Platform.DISCORD: discord.ADAPTER,
    Platform.GENERIC: generic.ADAPTER,
}

__all__ = ["ADAPTERS", "Adapter", "Delivery", "Handshake", "Ignored", "Unmappable"]
