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

Redis being down must not stop ingest: a failed lookup is treated as "not seen" (counted in
``invested_ingest_dedupe_errors_total{operation="check"}``). A mark Redis refuses (unreachable,
or out of memory: then it still answers lookups, which are retried on their own) is counted
(``operation="mark"``) and held in memory: lookups of it answer "seen" from there, and it is
written on a later trip, at least every ``retry_seconds``. At most ``unwritten_limit`` ids are
held (gauge ``invested_ingest_dedupe_unwritten``); past it the oldest are dropped and counted
(``operation="mark_dropped"``), so the degradation is bounded: a redelivery of a dropped id may be
produced again, and the classifier still counts its events once (same event ids).

Keys: ``inv:ingest:seen:<platform>:<sha256 of the delivery id>``, value ``1``, TTL
``INVESTED_DEDUPE_TTL_SECONDS``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import OrderedDict
from itertools import islice

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from invested.connections import LuaScript
from services.ingest.metrics import DEDUPE_ERRORS, DEDUPE_UNWRITTEN

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

    def __init__(
        self,
        client: aioredis.Redis,
        ttl_seconds: int,
        timeout: float = 1.0,
        unwritten_limit: int = 100_000,
        retry_seconds: float = 5.0,
    ) -> None:
        self._client = client
        self._ttl = ttl_seconds
        self._timeout = timeout  # a whole round trip, whatever the client retries inside it
        self._lookups: list[tuple[str, asyncio.Future[bool]]] = []
        self._marks: list[str] = []
        self._flusher: asyncio.Task[None] | None = None
        # Marks Redis refused, oldest first: answered here and written again later.
        self._unwritten: OrderedDict[str, None] = OrderedDict()
        self._unwritten_limit = unwritten_limit
        self._retry_seconds = retry_seconds
        self._next_retry = 0.0
        self._retry_timer: asyncio.TimerHandle | None = None

    def seen(self, key: str) -> asyncio.Future[bool]:
        """Was this delivery (its :func:`dedupe_key`) marked before? Await the answer; False
        when Redis cannot tell. (A future, not a coroutine: one level less to resume.)"""
        waiter: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        if key in self._unwritten:  # marked, but Redis has not stored it yet
            waiter.set_result(True)
            return waiter
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
        if self._unwritten and self._retry_timer is None:
            log.warning("%d refused dedupe marks were never written", len(self._unwritten))

    def _wake(self) -> None:
        self._retry_timer = None
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush())

    def _retry_due(self) -> bool:
        return bool(self._unwritten) and asyncio.get_running_loop().time() >= self._next_retry

    async def _flush(self) -> None:
        """Round trips until nothing is queued; one at a time, so requests gather meanwhile."""
        while self._lookups or self._marks or self._retry_due():
            marks = self._marks[:MAX_KEYS_PER_TRIP]
            del self._marks[: len(marks)]
            if self._retry_due():
                marks += islice(self._unwritten, MAX_KEYS_PER_TRIP - len(marks))
                self._next_retry = asyncio.get_running_loop().time() + self._retry_seconds
            lookups = self._lookups[: MAX_KEYS_PER_TRIP - len(marks)]
            del self._lookups[: len(lookups)]
            keys = [key for key, _ in lookups]
            try:
                async with asyncio.timeout(self._timeout):
                    found: bytes | None = await self._trip(marks, keys)
            except (RedisError, OSError, TimeoutError) as exc:
                self._refused(marks, exc)
                found = await self._lookups_alone(keys, exc) if keys and marks else None
                if found is None and lookups:
                    DEDUPE_ERRORS.labels("check").inc(len(lookups))
                    log.warning(
                        "dedupe lookup failed for %d deliveries, carrying on without it: %s",
                        len(lookups),
                        type(exc).__name__,
                    )
            except BaseException as exc:  # cancelled (shutdown) or a bug: nobody waits forever
                self._refused(marks, exc)
                self._answer(lookups, None)
                raise
            else:
                for key in marks:
                    self._unwritten.pop(key, None)
                DEDUPE_UNWRITTEN.set(len(self._unwritten))
            self._answer(lookups, found)
        if self._unwritten and self._retry_timer is None:
            delay = max(0.0, self._next_retry - asyncio.get_running_loop().time())
            self._retry_timer = asyncio.get_running_loop().call_later(delay, self._wake)

    async def _trip(self, marks: list[str], lookups: list[str]) -> bytes:
        """One script call; the script is loaded on first use (and after a Redis restart)."""
        args = (str(self._ttl), "\n".join(marks), "\n".join(lookups))
        reply = await TRIP(self._client, *args)
        return reply if isinstance(reply, bytes) else str(reply).encode()

    async def _lookups_alone(self, keys: list[str], exc: BaseException) -> bytes | None:
        """Redis answered but refused the trip (out of memory refuses the writes in it): the
        lookups, which write nothing, are asked again without the marks."""
        if not isinstance(exc, ResponseError):
            return None
        try:
            async with asyncio.timeout(self._timeout):
                return await self._trip([], keys)
        except (RedisError, OSError, TimeoutError):
            return None

    def _answer(self, lookups: list[tuple[str, asyncio.Future[bool]]], found: bytes | None) -> None:
        for index, (key, waiter) in enumerate(lookups):
            if waiter.done():
                continue
            if key in self._unwritten:
                waiter.set_result(True)
            elif found is None:
                waiter.set_result(False)
            else:
                waiter.set_result(index < len(found) and found[index] == _FOUND)

    def _refused(self, marks: list[str], exc: BaseException) -> None:
        """Hold marks Redis did not store, within the bound; count what is new or dropped."""
        new = [key for key in marks if key not in self._unwritten]
        for key in marks:
            self._unwritten[key] = None
        dropped = 0
        while len(self._unwritten) > self._unwritten_limit:
            self._unwritten.popitem(last=False)
            dropped += 1
        DEDUPE_UNWRITTEN.set(len(self._unwritten))
        if new:
            DEDUPE_ERRORS.labels("mark").inc(len(new))
            log.warning(
                "dedupe mark failed for %d deliveries (held in memory, %d in all; retried): %s",
                len(new),
                len(self._unwritten),
                type(exc).__name__,
            )
        if dropped:
            DEDUPE_ERRORS.labels("mark_dropped").inc(dropped)
            log.warning(
                "dropped %d refused dedupe marks over the limit of %d (a redelivery of them may "
                "be produced again)",
                dropped,
                self._unwritten_limit,
            )
