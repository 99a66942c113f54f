"""Live transition streams (SSE) at scale: capped, and sharing one Redis reader per API process.

The API runs in-process (uvicorn in a thread) on its own redis-server; transitions are written by
the classifier's own store code (in process, no Kafka), so each stream entry is a real one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import redis
import redis.asyncio as aioredis

from invested.contracts import Kind
from invested.settings import load_settings
from invested.stack import EmbeddedStack, free_port
from services.api.app import create_app
from services.api.server import ServerThread
from services.classifier.processor import Classifier
from services.classifier.rules import load_rules
from services.classifier.store import Store
from tests.factories import engagement_event

KEYS = ("streams-key-one", "streams-key-two")


def auth(key: str = KEYS[0]) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def own_redis() -> Iterator[EmbeddedStack]:
    stack = EmbeddedStack()
    stack.start_redis()
    try:
        yield stack
    finally:
        stack.stop()


def serve(redis_url: str, **settings: str) -> ServerThread:
    values = {"INVESTED_REDIS_URL": redis_url, "INVESTED_API_KEYS": ",".join(KEYS), **settings}
    return ServerThread(create_app(load_settings(values), sse_heartbeat_seconds=0.3), free_port())


async def _make_audience(redis_url: str, community: str, member: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    store = Store(client, load_rules(None))

    async def publish(topic: str, records: list[tuple[str, bytes]]) -> None:
        return None

    await store.publish_rules()
    event = engagement_event(
        community,
        f"{community}-{member}",
        member,
        Kind.VIEW,
        datetime.now(UTC) - timedelta(hours=1),
    )
    await Classifier(store, publish, "t", "d").process_batch([event.to_json()])
    await client.aclose()


def make_audience(redis_url: str, community: str, member: str) -> None:
    """One real transition (dormant -> audience) on the community's live stream."""
    asyncio.run(_make_audience(redis_url, community, member))


class Stream:
    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.lines = response.iter_lines()

    def next_transition(self, timeout: float = 15) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        event: dict[str, str] = {}
        for line in self.lines:
            assert time.monotonic() < deadline, "no transition arrived"
            if not line:
                if event.get("event") == "transition":
                    return event
                assert event.get("event") != "error", event
                event = {}
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(": ")
            event[name] = value
        raise AssertionError("the stream ended")


def xread_clients(redis_url: str) -> int:
    clients = redis.Redis.from_url(redis_url).client_list()
    return sum(1 for client in clients if client.get("cmd") == "xread")


def test_streams_are_capped_per_key_and_overall_while_other_requests_go_on(
    own_redis: EmbeddedStack,
) -> None:
    caps = {"INVESTED_SSE_MAX_STREAMS": "3", "INVESTED_SSE_MAX_STREAMS_PER_KEY": "2"}
    with (
        serve(own_redis.redis_url, **caps) as base_url,
        httpx.Client(base_url=base_url, timeout=10) as client,
        contextlib.ExitStack() as streams,
    ):
        readers = []  # a dropped line iterator would close its stream

        def open_stream(key: str) -> httpx.Response:
            response = streams.enter_context(
                client.stream("GET", "/v1/communities/capped/transitions/stream", headers=auth(key))
            )
            if response.status_code == 200:
                readers.append(response.iter_lines())
                assert next(readers[-1]) == "retry: 3000"
            else:
                response.read()
            return response

        assert open_stream(KEYS[0]).status_code == 200
        assert open_stream(KEYS[0]).status_code == 200
        over_key = open_stream(KEYS[0])
        assert over_key.status_code == 503
        assert over_key.headers["content-type"] == "application/json"
        assert over_key.json()["error"] == "too_many_streams"
        assert open_stream(KEYS[1]).status_code == 200  # another key, under the total
        over_total = open_stream(KEYS[1])
        assert over_total.status_code == 503 and over_total.json()["error"] == "too_many_streams"
        # Ordinary requests are not streams: never refused by the caps.
        for _ in range(10):
            assert client.get("/v1/communities/capped/segments", headers=auth()).status_code == 404
            assert client.get("/healthz").status_code == 200
        metrics = client.get("/metrics").text
        assert "invested_api_sse_rejected_total" in metrics


def test_every_stream_of_a_process_shares_one_redis_reader(own_redis: EmbeddedStack) -> None:
    """30 streams on a Redis that takes 20 clients: all open, ordinary requests keep working, each
    stream gets its own community's transitions, and resuming with Last-Event-ID still works."""
    admin = redis.Redis.from_url(own_redis.redis_url)
    admin.config_set("maxclients", 20)
    communities = [f"shared-{n}" for n in range(3)]
    with (
        serve(own_redis.redis_url) as base_url,
        httpx.Client(base_url=base_url, timeout=10) as client,
        contextlib.ExitStack() as stack,
    ):
        streams: list[tuple[str, Stream]] = []
        for n in range(30):
            community = communities[n % 3]
            response = stack.enter_context(
                client.stream(
                    "GET",
                    f"/v1/communities/{community}/transitions/stream",
                    headers=auth(KEYS[n % 2]),
                )
            )
            assert response.status_code == 200, response.read()
            streams.append((community, Stream(response)))
        for _ in range(20):
            answer = client.get(f"/v1/communities/{communities[0]}/segments", headers=auth())
            assert answer.status_code in (200, 404), answer.text
        deadline = time.monotonic() + 10
        while xread_clients(own_redis.redis_url) != 1:
            assert time.monotonic() < deadline, "streams must share one blocking reader"
            time.sleep(0.1)

        for community in communities:
            make_audience(own_redis.redis_url, community, "first")
            make_audience(own_redis.redis_url, community, "second")
        firsts: dict[str, dict[str, str]] = {}
        for community, stream in streams:
            first, second = stream.next_transition(), stream.next_transition()
            for event, member in ((first, "first"), (second, "second")):
                data = json.loads(event["data"])["data"]
                assert (data["community"], data["member"]) == (community, member)
            firsts[community] = first
        # Resume on top of the live streams: right after the given event, from the start.
        for community, first in firsts.items():
            with client.stream(
                "GET",
                f"/v1/communities/{community}/transitions/stream",
                headers={**auth(), "Last-Event-ID": first["id"]},
            ) as response:
                resumed = Stream(response).next_transition()
                assert json.loads(resumed["data"])["data"]["member"] == "second"
            with client.stream(
                "GET",
                f"/v1/communities/{community}/transitions/stream",
                headers=auth(),
                params={"last_event_id": "0"},
            ) as response:
                assert Stream(response).next_transition()["id"] == first["id"]


# --- the fan-out, in process -------------------------------------------------------------------


class FakeSource:
    """Streams in memory, behind the same interface as the Redis reader."""

    def __init__(self) -> None:
        self.entries: dict[str, list[tuple[str, dict[str, str]]]] = {}
        self.changed = asyncio.Event()
        self.reads = 0

    def add(self, community: str, entry_id: str, member: str) -> None:
        self.entries.setdefault(community, []).append((entry_id, {"m": member, "t": member}))
        self.changed.set()

    async def read(
        self, after: dict[str, str], block_ms: int, count: int
    ) -> list[tuple[str, list[tuple[str, dict[str, str]]]]]:
        from services.api.live import parse_id

        self.reads += 1
        found = []
        for community, position in after.items():
            newer = [
                e for e in self.entries.get(community, []) if parse_id(e[0]) > parse_id(position)
            ]
            if newer:
                found.append((community, newer[:count]))
        if not found:
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), block_ms / 1000)
        return found

    async def wake(self) -> bool:
        self.changed.set()
        return True


async def test_the_fan_out_filters_by_position_and_drops_a_subscriber_that_cannot_keep_up() -> None:
    from services.api.live import LiveTransitions, TooManyStreams

    source = FakeSource()

    async def render(community: str, entry_id: str, fields: dict[str, str]) -> bytes:
        return f"{entry_id}:{fields['m']}".encode()

    live = LiveTransitions(source, render, max_streams=3, max_per_key=2, queue_size=4)
    try:
        for n in range(1, 4):
            source.add("c", f"{n}-0", f"m{n}")
        late = live.subscribe("c", "2-0", key="k1")
        early = live.subscribe("c", "0", key="k1")
        slow = live.subscribe("d", "0", key="k2")
        with pytest.raises(TooManyStreams):
            live.subscribe("c", "0", key="k1")
        with pytest.raises(TooManyStreams):
            live.subscribe("c", "0", key="k3")
        assert [await late.next(1) for _ in range(1)] == [b"3-0:m3"]
        assert [await early.next(1) for _ in range(3)] == [b"1-0:m1", b"2-0:m2", b"3-0:m3"]
        source.add("c", "4-0", "m4")
        assert await late.next(1) == await early.next(1) == b"4-0:m4"
        for n in range(10):  # never read by `slow`: its queue overflows
            source.add("d", f"{n + 1}-0", f"d{n}")
        deadline = asyncio.get_running_loop().time() + 5
        while not slow.dropped:
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.01)
        late.close()
        live.subscribe("c", "0", key="k1").close()  # the slot freed by `late` is usable again
    finally:
        await live.close()
