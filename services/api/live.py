"""One Redis reader per API process for every live transition stream, fanned out in memory.

A stream per client with its own blocking ``XREAD`` costs a Redis connection per client: enough
open streams exhaust Redis's ``maxclients`` and the ordinary requests fail. Here one task per
process reads every watched community with one blocking ``XREAD`` on one connection, from the
oldest position any subscriber of a community still needs, and hands each entry (rendered once)
to the subscribers that have not seen it. A new subscription interrupts the blocked read
(``CLIENT UNBLOCK``) so its community is read at once.

Open streams are capped per process and per API key (:class:`TooManyStreams`, a 503 for the
stream only). A subscriber that does not keep up (its queue is full) is dropped with a reason,
as is everyone when Redis fails; the client reconnects with ``Last-Event-ID`` and resumes.

Stream reads stay behind :class:`StreamSource`: :class:`RedisStreamSource` maps a community to
its key with one function (``invested.state.transitions_stream_key``), so a new Redis layout (a
cluster reads per node) changes the source, not the fan-out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from invested.state import transitions_stream_key
from services.api.metrics import SSE_CLIENTS, SSE_DROPPED, SSE_REJECTED

log = logging.getLogger(__name__)

Entry = tuple[str, dict[str, str]]  # (stream id, fields)
Position = tuple[int, int]
# Bytes to send for an entry (rendered once for all subscribers), None to skip it.
Render = Callable[[str, str, dict[str, str]], Awaitable[bytes | None]]

BLOCK_MS = 5000  # longest blocked read; new subscriptions interrupt it
READ_COUNT = 100  # entries per community per read
QUEUE_SIZE = 1000  # entries a subscriber may have unsent before it is dropped


def parse_id(value: str) -> Position:
    """A stream id as a comparable pair; ``5`` means ``5-0`` as in XREAD."""
    ms, _, seq = value.partition("-")
    return int(ms), int(seq or 0)


def format_id(position: Position) -> str:
    return f"{position[0]}-{position[1]}"


class StreamSource(Protocol):
    async def read(
        self, after: dict[str, str], block_ms: int, count: int
    ) -> list[tuple[str, list[Entry]]]:
        """Entries after each community's position, blocking up to ``block_ms`` for any."""
        ...

    async def wake(self) -> bool:
        """Interrupt a blocked :meth:`read` (True if one was interrupted)."""
        ...


class RedisStreamSource:
    """One dedicated connection for the blocking reads; ``waker`` (an ordinary client) sends
    ``CLIENT UNBLOCK`` to it."""

    def __init__(
        self,
        url: str,
        waker: aioredis.Redis,
        stream_key: Callable[[str], str] = transitions_stream_key,
    ) -> None:
        self.reader = aioredis.Redis.from_url(
            url,
            decode_responses=True,
            single_connection_client=True,
            socket_connect_timeout=1.0,
            socket_timeout=BLOCK_MS / 1000 + 10,  # a blocked read must not time out
        )
        self.waker = waker
        self.stream_key = stream_key
        self._client_id: int | None = None

    async def read(
        self, after: dict[str, str], block_ms: int, count: int
    ) -> list[tuple[str, list[Entry]]]:
        keys = {self.stream_key(community): community for community in after}
        try:
            if self._client_id is None:
                self._client_id = int(await self.reader.client_id())
            reply = await self.reader.xread(
                {key: after[community] for key, community in keys.items()},
                count=count,
                block=block_ms,
            )
        except RedisError:
            self._client_id = None  # a new connection has a new id
            raise
        return [
            (keys[key], [(str(entry_id), fields) for entry_id, fields in entries])
            for key, entries in reply or ()
        ]

    async def wake(self) -> bool:
        if self._client_id is None:
            return False
        return bool(await self.waker.client_unblock(self._client_id))

    async def close(self) -> None:
        await self.reader.aclose()


class TooManyStreams(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # per_key | total


class StreamEnded(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # too_slow | redis_unavailable


class Subscription:
    """One open stream: what it has seen (``position``) and what waits to be sent."""

    def __init__(self, hub: LiveTransitions, community: str, after: str, key: str) -> None:
        self.hub = hub
        self.community = community
        self.key = key
        self.position = parse_id(after)
        self.dropped: str | None = None
        self._items: deque[bytes] = deque()
        self._ready = asyncio.Event()
        self._closed = False

    @property
    def last_id(self) -> str:
        return format_id(self.position)

    async def next(self, timeout: float) -> bytes | None:
        """The next entry's bytes; None after ``timeout`` without one (time for a heartbeat);
        :class:`StreamEnded` once dropped and drained."""
        while not self._items:
            if self.dropped:
                raise StreamEnded(self.dropped)
            self._ready.clear()
            try:
                await asyncio.wait_for(self._ready.wait(), timeout)
            except TimeoutError:
                return None
        return self._items.popleft()

    def deliver(self, position: Position, data: bytes | None) -> None:
        if self.dropped or position <= self.position:
            return
        self.position = position
        if data is None:
            return
        if len(self._items) >= self.hub.queue_size:
            self.drop("too_slow")
            return
        self._items.append(data)
        self._ready.set()

    def drop(self, reason: str) -> None:
        if not self.dropped:
            self.dropped = reason
            SSE_DROPPED.labels(reason).inc()
            self._items.clear()  # the client resumes from its last event, not from these
            self.hub.release(self)
            self._ready.set()

    def close(self) -> None:
        self.hub.release(self)


class LiveTransitions:
    """The fan-out: subscriptions, caps, and the one reading task (started on first use)."""

    def __init__(
        self,
        source: StreamSource,
        render: Render,
        max_streams: int,
        max_per_key: int,
        queue_size: int = QUEUE_SIZE,
        block_ms: int = BLOCK_MS,
    ) -> None:
        self.source = source
        self.render = render
        self.max_streams = max_streams
        self.max_per_key = max_per_key
        self.queue_size = queue_size
        self.block_ms = block_ms
        self._subscriptions: dict[str, set[Subscription]] = {}  # community -> open streams
        self._per_key: Counter[str] = Counter()
        self._count = 0
        self._changed = asyncio.Event()
        self._reading = False
        self._task: asyncio.Task[None] | None = None
        self._waking: asyncio.Task[None] | None = None

    def subscribe(self, community: str, after: str, key: str) -> Subscription:
        """A new stream after ``after``; :class:`TooManyStreams` over a cap."""
        if self._count >= self.max_streams:
            SSE_REJECTED.labels("total").inc()
            raise TooManyStreams("total")
        if self._per_key[key] >= self.max_per_key:
            SSE_REJECTED.labels("per_key").inc()
            raise TooManyStreams("per_key")
        subscription = Subscription(self, community, after, key)
        self._subscriptions.setdefault(community, set()).add(subscription)
        self._per_key[key] += 1
        self._count += 1
        SSE_CLIENTS.inc()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="sse-reader")
        self._changed.set()
        if self._reading and (self._waking is None or self._waking.done()):
            self._waking = asyncio.get_running_loop().create_task(self._wake())
        return subscription

    def release(self, subscription: Subscription) -> None:
        """Give back a subscription's slot (idempotent)."""
        if subscription._closed:
            return
        subscription._closed = True
        watching = self._subscriptions.get(subscription.community)
        if watching is not None:
            watching.discard(subscription)
            if not watching:
                del self._subscriptions[subscription.community]
        self._per_key[subscription.key] -= 1
        if self._per_key[subscription.key] <= 0:
            del self._per_key[subscription.key]
        self._count -= 1
        SSE_CLIENTS.dec()

    async def close(self) -> None:
        for task in (self._task, self._waking):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        for watching in list(self._subscriptions.values()):
            for subscription in list(watching):
                subscription.drop("shutdown")
        close = getattr(self.source, "close", None)
        if close is not None:
            await close()

    async def _wake(self) -> None:
        # The read may not be blocked in Redis yet when the subscription arrives: try a while.
        for _ in range(50):
            if not self._reading:
                return
            with contextlib.suppress(RedisError, OSError):
                if await self.source.wake():
                    return
            await asyncio.sleep(0.01)

    def _positions(self) -> dict[str, str]:
        return {
            community: format_id(min(s.position for s in watching))
            for community, watching in self._subscriptions.items()
        }

    async def _run(self) -> None:
        delay = 0.1
        while True:
            positions = self._positions()
            if not positions:
                self._changed.clear()
                await self._changed.wait()
                continue
            self._changed.clear()
            self._reading = True
            try:
                batches = await self.source.read(positions, self.block_ms, READ_COUNT)
                for community, entries in batches:
                    await self._fan_out(community, entries)
            except (RedisError, OSError, TimeoutError) as exc:
                log.warning("live transition streams ended: redis unavailable (%s)", exc)
                self._drop_everyone("redis_unavailable")
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            finally:
                self._reading = False
            delay = 0.1

    async def _fan_out(self, community: str, entries: list[Entry]) -> None:
        for entry_id, fields in entries:
            position = parse_id(entry_id)
            waiting = [s for s in self._subscriptions.get(community, ()) if position > s.position]
            if not waiting:
                continue
            try:
                data = await self.render(community, entry_id, fields)
            except (RedisError, OSError, TimeoutError):
                raise
            except Exception:  # one unreadable entry must not stop every stream
                log.warning("skipping unreadable transition %s of %s", entry_id, community)
                data = None
            for subscription in waiting:
                subscription.deliver(position, data)

    def _drop_everyone(self, reason: str) -> None:
        for watching in list(self._subscriptions.values()):
            for subscription in list(watching):
                subscription.drop(reason)
