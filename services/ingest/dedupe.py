"""Remembers platform delivery ids in Redis so a redelivered webhook is produced once.

A delivery is marked *after* the broker acknowledged its records: marking first would turn a
failed produce into a lost event (the platform's retry would look like a duplicate). Two
concurrent copies of one delivery can both get through; their events carry the same
deterministic ids, so the classifier still counts them once.

Lookups and marks of concurrent requests share round trips: whatever was asked while the
previous round trip was under way goes out as one script call (:data:`TRIP_SCRIPT`: the marks,
then the lookups), so a burst of webhooks costs one command, not two round trips each. A lookup
waits for its answer; a mark is queued (the webhook's answer does not wait for Redis) and goes
out before any lookup asked after it, so a redelivery reaching this process after the answer
always sees it.

Redis being down must not stop ingest: a failed lookup is treated as "not seen" and a failed
mark is only logged (both counted in ``invested_ingest_dedupe_errors_total``, one per webhook).

Keys: ``inv:ingest:seen:<platform>:<sha256 of the delivery id>``, value ``1``, TTL
``INVESTED_DEDUPE_TTL_SECONDS``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from invested.connections import LuaScript
from services.ingest.metrics import DEDUPE_ERRORS

log = logging.getLogger(__name__)

PREFIX = "inv:ingest:seen"
MAX_KEYS_PER_TRIP = 1000  # bounds one script call; the rest goes in the next trip
# ARGV: the TTL, the keys to mark, the keys to look up (each list one string, "\n" between keys:
# three arguments to pack however many keys, which is most of a call's client-side cost). SET ...
# EX for each mark; the answer is one string of "0"/"1", a character per lookup (one bulk reply
# parses faster than an array). One command, so Redis runs it in one go and a mark precedes the
# lookups after it. (The keys are not declared in KEYS: one Redis, not a cluster, as elsewhere.)
TRIP_SCRIPT = r"""
for key in string.gmatch(ARGV[2], "[^\n]+") do
  redis.call('SET', key, '1', 'EX', ARGV[1])
end
local found = {}
for key in string.gmatch(ARGV[3], "[^\n]+") do
  found[#found + 1] = redis.call('EXISTS', key)
end
return table.concat(found)
"""
TRIP = LuaScript(TRIP_SCRIPT)
_FOUND = ord("1")


def dedupe_key(platform: str, delivery_id: str) -> str:
    """The Redis key remembering one platform delivery id."""
    digest = hashlib.sha256(delivery_id.encode("utf-8", errors="surrogatepass")).hexdigest()
    return f"{PREFIX}:{platform}:{digest}"


class Dedupe:
    """``seen`` before producing, ``mark`` after the acks; both batched across requests."""

    def __init__(self, client: aioredis.Redis, ttl_seconds: int, timeout: float = 1.0) -> None:
        self._client = client
        self._ttl = ttl_seconds
        self._timeout = timeout  # a whole round trip, whatever the client retries inside it
        self._lookups: list[tuple[str, asyncio.Future[bool]]] = []
        self._marks: list[str] = []
        self._flusher: asyncio.Task[None] | None = None

    def seen(self, key: str) -> asyncio.Future[bool]:
        """Was this delivery (its :func:`dedupe_key`) marked before? Await the answer; False
        when Redis cannot tell. (A future, not a coroutine: one level less to resume.)"""
        waiter: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._lookups.append((key, waiter))
        self._wake()
        return waiter

    def mark(self, key: str) -> None:
        """Remember this delivery (call only once its records were acked). Queued, not awaited:
        it is written before any lookup that comes after it; failures are logged and counted."""
        self._marks.append(key)
        self._wake()

    async def drain(self, timeout: float = 5.0) -> None:
        """Wait until the queued marks are written (or failed); for shutdown."""
        flusher = self._flusher
        if flusher is not None and not flusher.done():
            await asyncio.wait([flusher], timeout=timeout)

    def _wake(self) -> None:
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        """Round trips until nothing is queued; one at a time, so requests gather meanwhile."""
        while self._lookups or self._marks:
            marks = self._marks[:MAX_KEYS_PER_TRIP]
            del self._marks[: len(marks)]
            lookups = self._lookups[: MAX_KEYS_PER_TRIP - len(marks)]
            del self._lookups[: len(lookups)]
            try:
                async with asyncio.timeout(self._timeout):
                    found = await self._trip(marks, [key for key, _ in lookups])
            except (RedisError, OSError, TimeoutError) as exc:
                self._failed(marks, lookups, exc)
            except BaseException as exc:  # cancelled (shutdown) or a bug: nobody waits forever
                self._failed(marks, lookups, exc)
                raise
            else:
                for index, (_, waiter) in enumerate(lookups):
                    if not waiter.done():
                        waiter.set_result(index < len(found) and found[index] == _FOUND)

    async def _trip(self, marks: list[str], lookups: list[str]) -> bytes:
        """One script call; the script is loaded on first use (and after a Redis restart)."""
        args = (str(self._ttl), "\n".join(marks), "\n".join(lookups))
        reply = await TRIP(self._client, *args)
        return reply if isinstance(reply, bytes) else str(reply).encode()

    @staticmethod
    def _failed(
        marks: list[str], lookups: list[tuple[str, asyncio.Future[bool]]], exc: BaseException
    ) -> None:
        if marks:
            DEDUPE_ERRORS.labels("mark").inc(len(marks))
            log.warning(
                "dedupe mark failed for %d deliveries (a redelivery may produce again): %s",
                len(marks),
                type(exc).__name__,
            )
        if lookups:
            DEDUPE_ERRORS.labels("check").inc(len(lookups))
            log.warning(
                "dedupe lookup failed for %d deliveries, carrying on without it: %s",
                len(lookups),
                type(exc).__name__,
            )
        for _, waiter in lookups:
            if not waiter.done():
                waiter.set_result(False)
