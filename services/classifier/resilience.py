"""Retry with backoff for the classifier's I/O, and the health it reports meanwhile.

A failing Redis or broker must neither crash the Faust agent (a crashed agent stops consuming)
nor skip a batch (its offsets would be committed unprocessed): the batch is retried with
exponential backoff until it succeeds, and ``/healthz`` answers 503 with the reason meanwhile.
Retrying a half-done batch is safe: the Lua step dedupes by event id, and transitions already
committed wait in the outbox.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from kafka.errors import KafkaError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)
T = TypeVar("T")

# What a dependency outage looks like from here; anything else is a bug and should be loud.
TRANSIENT: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    KafkaError,
    ConnectionError,
    asyncio.TimeoutError,
)


@dataclass
class Health:
    failing: str = ""  # empty when healthy

    @property
    def ok(self) -> bool:
        return not self.failing


async def retry_forever(
    operation: Callable[[], Awaitable[T]],
    what: str,
    health: Health,
    first_delay: float = 0.1,
    max_delay: float = 5.0,
) -> T:
    delay = first_delay
    while True:
        try:
            result = await operation()
        except TRANSIENT as exc:
            if not health.failing:
                log.warning("%s failed (%s); retrying with backoff", what, type(exc).__name__)
            health.failing = f"{what}: {type(exc).__name__}"
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay)
        else:
            if health.failing:
                log.warning("%s recovered", what)
            health.failing = ""
            return result
