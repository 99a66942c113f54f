"""Redis out of memory and Redis frozen, seen by the classifier (and the API) on a real stack.

Each scenario runs a real worker on its own embedded stack, breaks Redis in the middle of a burst
(``CONFIG SET maxmemory 1``, or SIGSTOP of redis-server), checks that the worker says so
(``/healthz`` 503 naming the failing operation, a retry counter in ``/metrics``), that a SIGTERM
and a rebalance are not held up by the stuck batch, then heals Redis and checks that the final
state equals a recount: the same events applied in process, in the same order, to another Redis
database (every hash, sorted set and list, compared whole), so nothing was lost or counted twice.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import redis.asyncio as aioredis

from invested.contracts import EngagementEvent
from invested.settings import load_settings
from invested.stack import EmbeddedStack, free_port
from services.api.app import create_app as create_api
from services.api.server import ServerThread
from services.classifier.processor import Classifier
from services.classifier.rules import load_rules
from services.classifier.store import Store
from tests.processes import answers, classifier
from tests.test_reliability_classifier import (
    WORKER,
    produce,
    wait_for_sentinel,
    wait_outbox_drained,
    workload,
)

RECOUNT_DB = 1
API_KEY = "exhaustion-key"


def health(port: int) -> tuple[int, dict[str, Any]]:
    """Status and JSON body of the worker's /healthz (0 when it does not answer)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=3) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")
    except OSError:
        return 0, {}


def metrics(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=3) as response:
        return str(response.read().decode())


def counted(port: int) -> float:
    """Events the worker has applied, seen again or found late (all it took from Kafka)."""
    total = 0.0
    for line in metrics(port).splitlines():
        if line.startswith(
            (
                "invested_classifier_events_processed_total",
                "invested_classifier_duplicate_events_total ",
                "invested_classifier_late_events_total ",
            )
        ):
            total += float(line.rsplit(" ", 1)[1])
    return total


def wait_for(condition: Any, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def dump(client: redis.Redis) -> dict[str, Any]:
    """Every key but streams (their ids are arrival times), by type, decoded."""
    out: dict[str, Any] = {}
    for key in client.scan_iter(count=1000):
        kind = client.type(key)
        if kind == "hash":
            out[key] = client.hgetall(key)
        elif kind == "zset":
            out[key] = client.zrange(key, 0, -1, withscores=True)
        elif kind == "list":
            out[key] = client.lrange(key, 0, -1)
        elif kind == "set":
            out[key] = sorted(client.smembers(key))
        elif kind == "string":
            out[key] = client.get(key)
    return out


async def recount(redis_url: str, events: list[EngagementEvent]) -> None:
    """The same events, in order, through the classifier's own code into another database."""
    client = aioredis.Redis.from_url(redis_url.rsplit("/", 1)[0] + f"/{RECOUNT_DB}")
    store = Store(client, load_rules(None), load_settings({}).history_limit)

    async def publish(topic: str, records: list[tuple[str, bytes]]) -> None:
        return None

    classifier_ = Classifier(store, publish, "transitions", "deadletter")
    await store.publish_rules()
    values = [event.to_json() for event in events]
    for start in range(0, len(values), 20):
        await classifier_.process_batch(values[start : start + 20])
    await client.aclose()


def assert_equals_recount(stack: EmbeddedStack, events: list[EngagementEvent]) -> None:
    asyncio.run(recount(stack.redis_url, events))
    live = redis.Redis.from_url(stack.redis_url, decode_responses=True)
    again = redis.Redis.from_url(
        stack.redis_url.rsplit("/", 1)[0] + f"/{RECOUNT_DB}", decode_responses=True
    )
    expected, actual = dump(again), dump(live)
    assert expected, "the recount wrote nothing"
    assert actual.keys() == expected.keys()
    for key, value in expected.items():
        assert actual[key] == value, key


def api_for(redis_url: str) -> Any:
    settings = load_settings({"INVESTED_REDIS_URL": redis_url, "INVESTED_API_KEYS": API_KEY})
    return create_api(settings)


@pytest.mark.slow
def test_redis_out_of_memory_stalls_visibly_lets_go_on_sigterm_and_rebalance_and_resumes(
    tmp_path: Path,
) -> None:
    community = "oom-burst"
    events = workload(23, community, n_events=1200)
    first = 300
    with EmbeddedStack() as stack:
        admin = redis.Redis.from_url(stack.redis_url)
        with classifier(stack.kafka_bootstrap, stack.redis_url, tmp_path / "a", **WORKER) as (
            worker_a,
            port_a,
        ):
            produce(stack.kafka_bootstrap, events[:first])
            wait_for(lambda: counted(port_a) >= first, "the first events")
            admin.config_set("maxmemory", 1)  # every write is refused from here on
            try:
                produce(stack.kafka_bootstrap, events[first:])
                wait_for(
                    lambda: (
                        health(port_a)[0] == 503 and "OOM" in health(port_a)[1].get("failing", "")
                    ),
                    "the stuck worker to report the failing batch on /healthz",
                )
                assert 'error="OOM"' in metrics(port_a)
                assert "invested_classifier_dependency_retries_total" in metrics(port_a)

                # The API keeps answering: reads that still work answer, the rest is a 503 JSON.
                with (
                    ServerThread(api_for(stack.redis_url), free_port()) as base_url,
                    httpx.Client(base_url=base_url, timeout=10) as api,
                ):
                    auth = {"Authorization": f"Bearer {API_KEY}"}
                    counts = api.get(f"/v1/communities/{community}/segments", headers=auth)
                    assert counts.status_code in (200, 503), counts.text
                    if counts.status_code == 503:
                        assert counts.json()["error"] == "redis_unavailable"
                    member = api.get(f"/v1/communities/{community}/members/m000", headers=auth)
                    assert member.status_code in (200, 404), member.text

                # A second worker joins while the first is stuck: the group rebalances.
                with classifier(
                    stack.kafka_bootstrap, stack.redis_url, tmp_path / "b", answers, **WORKER
                ) as (_, port_b):
                    wait_for(lambda: health(port_b)[1].get("assigned") is True, "a rebalance")
                    # SIGTERM during the stuck retry: the batch is left for redelivery.
                    worker_a.send_signal(signal.SIGTERM)
                    assert worker_a.wait(45) is not None
                    admin.config_set("maxmemory", 0)
                    wait_for_sentinel(stack.redis_url, community)
                    wait_for(lambda: health(port_b)[0] == 200, "the worker to be healthy again")
                    wait_outbox_drained(stack.redis_url)
            finally:
                admin.config_set("maxmemory", 0)
        assert_equals_recount(stack, events)


@pytest.mark.slow
def test_frozen_redis_makes_the_worker_unhealthy_and_it_recovers_after_sigcont(
    tmp_path: Path,
) -> None:
    community = "frozen-redis"
    events = workload(31, community, n_events=600)
    half = len(events) // 2
    with EmbeddedStack() as stack:
        assert stack.redis is not None
        worker = {**WORKER, "INVESTED_CLASSIFIER_REDIS_TIMEOUT_SECONDS": "2"}
        with classifier(stack.kafka_bootstrap, stack.redis_url, tmp_path, **worker) as (_, port):
            produce(stack.kafka_bootstrap, events[:half])
            wait_for(lambda: counted(port) >= half, "the first half")
            os.kill(stack.redis.pid, signal.SIGSTOP)
            try:
                produce(stack.kafka_bootstrap, events[half:])
                wait_for(lambda: health(port)[0] == 503, "/healthz to report the frozen Redis")
                assert "timeout" in health(port)[1].get("failing", "")
            finally:
                os.kill(stack.redis.pid, signal.SIGCONT)
            wait_for_sentinel(stack.redis_url, community)
            wait_for(lambda: health(port)[0] == 200, "the worker to be healthy again")
            assert 'error="timeout"' in metrics(port)
            wait_outbox_drained(stack.redis_url)
        assert_equals_recount(stack, events)
