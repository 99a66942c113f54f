"""Remembers platform delivery ids in Redis so a redelivered webhook is produced once.

A delivery is marked *after* the broker acknowledged its records: marking first would turn a
failed produce into a lost event (the platform's retry would look like a duplicate). Two
concurrent copies of one delivery can both get through; their events carry the same
deterministic ids, so the classifier still counts them once.

Redis being down must not stop ingest: a failed lookup is treated as "not seen" (and counted in
``invested_ingest_dedupe_errors_total``).

Keys: ``inv:ingest:seen:<platform>:<sha256 of the delivery id>``, value ``1``, TTL
``INVESTED_DEDUPE_TTL_SECONDS``.
"""

from __future__ import annotations

import hashlib
import logging

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from services.ingest.metrics import DEDUPE_ERRORS

log = logging.getLogger(__name__)

PREFIX = "inv:ingest:seen"


def dedupe_key(platform: str, delivery_id: str) -> str:
    digest = hashlib.sha256(delivery_id.encode("utf-8", errors="surrogatepass")).hexdigest()
    return f"{PREFIX}:{platform}:{digest}"


class Dedupe:
    def __init__(self, client: aioredis.Redis, ttl_seconds: int) -> None:
        self._client = client
        self._ttl = ttl_seconds

    async def seen(self, platform: str, delivery_id: str) -> bool:
        try:
            return bool(await self._client.exists(dedupe_key(platform, delivery_id)))
        except (RedisError, OSError) as exc:
            DEDUPE_ERRORS.labels("check").inc()
            log.warning("dedupe lookup failed, carrying on without it: %s", type(exc).__name__)
            return False

    async def mark(self, platform: str, delivery_id: str) -> None:
        try:
            await self._client.set(dedupe_key(platform, delivery_id), 1, ex=self._ttl)
        except (RedisError, OSError) as exc:
            DEDUPE_ERRORS.labels("mark").inc()
            log.warning(
                "dedupe mark failed (a redelivery may produce again): %s", type(exc).__name__
            )
