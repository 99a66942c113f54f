"""The delivery-id dedupe against a real Redis: batched lookups and marks keep their meaning.

Lookups and marks of concurrent requests share one script call per round trip; each caller must
still get its own answer, a mark must be visible to any lookup asked after it, and Redis being
unreachable degrades to "not seen" without raising, and ids Redis refused to store (out of memory)
are still recognised.
"""

from __future__ import annotations

import asyncio

import redis
import redis.asyncio as aioredis

from invested.stack import EmbeddedStack, free_port
from services.ingest.dedupe import Dedupe, dedupe_key
from services.ingest.metrics import DEDUPE_ERRORS
from tests.backends import Backend

TTL = 600


async def test_concurrent_lookups_and_marks_get_their_own_answers(
    backend: Backend, unique: str
) -> None:
    client = aioredis.Redis.from_url(backend.redis_url)
    try:
        dedupe = Dedupe(client, TTL)
        ids = [f"{unique}-{n}" for n in range(300)]
        marked = set(ids[::3])
        for delivery in marked:
            dedupe.mark(dedupe_key("github", delivery))
        # A lookup asked after the marks sees them, even though nothing awaited the marks.
        answers = await asyncio.gather(*(dedupe.seen(dedupe_key("github", d)) for d in ids))
        assert {d for d, seen in zip(ids, answers, strict=True) if seen} == marked
        # Same ids on another platform are other deliveries.
        assert not any(await asyncio.gather(*(dedupe.seen(dedupe_key("slack", d)) for d in ids)))

        # Interleaved: each mark precedes the lookup of the same id asked after it.
        async def deliver(delivery: str) -> tuple[bool, bool]:
            first = await dedupe.seen(dedupe_key("discord", delivery))
            dedupe.mark(dedupe_key("discord", delivery))
            return first, await dedupe.seen(dedupe_key("discord", delivery))

        results = await asyncio.gather(*(deliver(d) for d in ids))
        assert all(result == (False, True) for result in results)
        await dedupe.drain()

        key = dedupe_key("github", ids[0])
        assert await client.get(key) == b"1"
        assert 0 < await client.ttl(key) <= TTL
    finally:
        await client.aclose()


async def test_unreachable_redis_means_not_seen_and_is_counted(unique: str) -> None:
    client = aioredis.Redis.from_url(
        f"redis://127.0.0.1:{free_port()}/0", socket_timeout=0.5, socket_connect_timeout=0.5
    )
    before_check = DEDUPE_ERRORS.labels("check")._value.get()
    before_mark = DEDUPE_ERRORS.labels("mark")._value.get()
    try:
        dedupe = Dedupe(client, TTL)
        dedupe.mark(dedupe_key("github", f"{unique}-a"))
        answers = await asyncio.gather(
            *(dedupe.seen(dedupe_key("github", f"{unique}-{n}")) for n in "abc")
        )
        await dedupe.drain()
        # "a" was marked (its records were acked) but Redis could not store it: remembered here.
        assert answers == [True, False, False]
        assert DEDUPE_ERRORS.labels("check")._value.get() - before_check == 3
        assert DEDUPE_ERRORS.labels("mark")._value.get() - before_mark == 1
    finally:
        await client.aclose()


async def test_a_hung_redis_costs_a_lookup_the_trip_timeout_not_more(unique: str) -> None:
    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(-1)  # accepts the connection, never answers

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = aioredis.Redis.from_url(f"redis://127.0.0.1:{port}/0")  # no socket timeout
    try:
        dedupe = Dedupe(client, TTL, timeout=0.3)
        started = asyncio.get_running_loop().time()
        assert await dedupe.seen(dedupe_key("github", unique)) is False
        assert asyncio.get_running_loop().time() - started < 1.0
    finally:
        await client.aclose()
        server.close()


async def test_out_of_memory_redis_keeps_detecting_duplicates_and_writes_marks_later(
    unique: str,
) -> None:
    """Under ``maxmemory`` Redis refuses the marks but still answers lookups: delivery ids it
    refused are remembered in memory (still duplicates), retried, and written once it has room;
    beyond the in-memory bound the oldest are dropped and counted."""
    own = EmbeddedStack()
    own.start_redis()
    client = aioredis.Redis.from_url(own.redis_url)
    admin = redis.Redis.from_url(own.redis_url)
    before_mark = DEDUPE_ERRORS.labels("mark")._value.get()
    before_dropped = DEDUPE_ERRORS.labels("mark_dropped")._value.get()
    try:
        dedupe = Dedupe(client, TTL, unwritten_limit=3, retry_seconds=0.2)
        stored = dedupe_key("github", f"{unique}-stored")
        dedupe.mark(stored)
        await dedupe.drain()
        admin.config_set("maxmemory", 1)
        refused = [dedupe_key("github", f"{unique}-refused-{n}") for n in range(4)]
        for key in refused:
            dedupe.mark(key)
            await dedupe.drain()
        answers = await asyncio.gather(
            dedupe.seen(stored),  # in Redis: lookups still work under the limit
            *(dedupe.seen(key) for key in refused),
            dedupe.seen(dedupe_key("github", f"{unique}-new")),
        )
        # The oldest refused mark fell out of the bound of 3: the degradation is bounded.
        assert answers == [True, False, True, True, True, False]
        assert DEDUPE_ERRORS.labels("mark")._value.get() - before_mark >= 4
        assert DEDUPE_ERRORS.labels("mark_dropped")._value.get() - before_dropped == 1
        assert not admin.exists(*refused)

        admin.config_set("maxmemory", 0)
        deadline = asyncio.get_running_loop().time() + 10
        while admin.exists(*refused[1:]) != 3:  # retried by itself, no new traffic needed
            assert asyncio.get_running_loop().time() < deadline, "refused marks never written"
            await asyncio.sleep(0.1)
        assert 0 < admin.ttl(refused[1]) <= TTL
    finally:
        admin.config_set("maxmemory", 0)
        await client.aclose()
        own.stop()
