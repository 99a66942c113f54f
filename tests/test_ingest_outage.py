"""Broker outage: 503 with Retry-After while it is down, and the retried delivery lands once.

Uses its own embedded stack (its broker is stopped mid-test). Tansu keeps everything in memory,
so a restart starts empty and ``start_broker`` recreates the topics: after the restart the topic
holds exactly what was produced since, which is what "exactly once" is counted on. A batch in the
producer expires by the deadline of the first request in it and is then never sent, so the copy
that failed during the outage cannot turn up later next to the retried one.

A broker that hangs (stopped with SIGSTOP: connections accepted, nothing answered) must cost the
waiting requests their produce timeout and nothing more: 503 in time, the service answering
everything else meanwhile.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from invested.stack import EmbeddedStack
from tests.test_ingest_support import IngestServer, Tap, events_of, prepare, resign

PRODUCE_TIMEOUT = 2.0


@pytest.fixture
def stack() -> Iterator[EmbeddedStack]:
    with EmbeddedStack() as value:  # its own temporary workdir, removed on stop
        yield value


def test_broker_outage_gives_503_and_the_retry_lands_exactly_once(
    stack: EmbeddedStack, tmp_path: Path, unique: str
) -> None:
    with IngestServer(
        stack.kafka_bootstrap,
        stack.redis_url,
        tmp_path,
        INVESTED_PRODUCE_TIMEOUT_SECONDS=str(PRODUCE_TIMEOUT),
    ) as server:
        before = prepare("slack", "message.thread_reply", unique)
        assert server.post(before.request).status_code == 200

        stack.stop_broker()
        during = prepare("slack", "message.thread_reply", unique, variant=1)
        started = time.monotonic()
        response = server.post(during.request)
        assert response.status_code == 503
        assert response.json() == {"error": "broker_unavailable"}
        assert response.headers["Retry-After"].isdigit()
        assert time.monotonic() - started < PRODUCE_TIMEOUT + 5  # fails fast, no hang
        ready = httpx.get(server.url + "/readyz")
        assert ready.status_code == 503 and ready.json()["kafka"] == "unreachable"

        stack.start_broker()  # empty (memory storage), topics recreated
        # The platform retries the delivery (same event id, fresh signature) until it is taken.
        deadline = time.monotonic() + 30
        while True:
            retry = server.post(resign(during, during.request.body))
            if retry.status_code == 200 or time.monotonic() > deadline:
                break
            assert retry.status_code == 503 and retry.json()["error"] == "broker_unavailable"
            time.sleep(0.2)
        assert retry.status_code == 200, retry.text
        assert retry.json()["status"] == "accepted"  # not "duplicate": the 503 marked nothing
        again = server.post(resign(during, during.request.body))
        assert again.json()["status"] == "duplicate"

        # A later message by the same member (same partition) is the end marker.
        after = server.post(prepare("slack", "message.thread_reply", unique, variant=2).request)
        assert after.status_code == 200
        community = before.community
        with Tap(stack.kafka_bootstrap) as tap:
            tap.wait_for(
                lambda r: events_of(community)(r) and r.event().id in after.json()["ids"],
                timeout=30,
            )
            ids = Counter(r.event().id for r in tap.matching(events_of(community)))
    log = server.log()
    [retried_id] = retry.json()["ids"]
    assert ids[retried_id] == 1, (ids, log[-3000:])
    # The retried delivery and the marker; the failed attempt added nothing.
    assert sum(ids.values()) == 2, (ids, retry.json(), after.json(), log[-3000:])
    assert "broker unavailable" in log
    assert "Traceback" not in log, log[-5000:]


def test_a_hung_broker_gives_503_in_time_and_blocks_nothing_else(
    stack: EmbeddedStack, tmp_path: Path, unique: str
) -> None:
    assert stack.broker is not None
    with IngestServer(
        stack.kafka_bootstrap,
        stack.redis_url,
        tmp_path,
        INVESTED_PRODUCE_TIMEOUT_SECONDS=str(PRODUCE_TIMEOUT),
    ) as server:
        assert server.post(prepare("slack", "message.thread_reply", unique).request).is_success
        os.kill(stack.broker.pid, signal.SIGSTOP)
        try:
            with ThreadPoolExecutor(4) as pool:
                started = time.monotonic()
                pending = [
                    pool.submit(
                        server.post, prepare("slack", "message.thread_reply", unique, n).request
                    )
                    for n in range(1, 5)
                ]
                # Meanwhile the event loop is free: health answers at once, again and again.
                while not all(future.done() for future in pending):
                    asked = time.monotonic()
                    assert httpx.get(server.url + "/healthz", timeout=2).status_code == 200
                    assert time.monotonic() - asked < 0.5
                    time.sleep(0.1)
                answers = [future.result() for future in pending]
                elapsed = time.monotonic() - started
        finally:
            os.kill(stack.broker.pid, signal.SIGCONT)
        assert [a.status_code for a in answers] == [503] * 4, [a.text for a in answers]
        assert all(a.json() == {"error": "broker_unavailable"} for a in answers)
        assert elapsed < PRODUCE_TIMEOUT + 1.5
        # Once the broker answers again, so does ingest (a fresh delivery is accepted).
        deadline = time.monotonic() + 30
        while True:
            fresh = server.post(prepare("slack", "message.thread_reply", unique, 9).request)
            if fresh.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert fresh.status_code == 200, fresh.text
    assert "Traceback" not in server.log(), server.log()[-5000:]
