"""Slow consumer / backpressure: a burst is absorbed within a memory bound and the lag drains.

A classifier worker sees a steady trickle, then a burst of 20,000 events produced as fast as the
broker takes them (far above 10x its normal rate). Faust's stream buffer
(``stream_buffer_maxsize``) and the fetch sizes bound what sits in memory, so the worker's
resident memory may not grow by more than ``BOUND_MB`` above its warmed-up level, whatever the
size of the burst; the burst is then fully processed and the consumer lag gauge returns to 0.
"""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path

import psutil

from invested.stack import EmbeddedStack
from tests.processes import classifier
from tests.test_reliability_classifier import WORKER, produce, wait_for_sentinel, workload

BOUND_MB = 150


def lag(port: int) -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    values = [
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("invested_classifier_consumer_lag{")
    ]
    return max(values, default=0.0)


def test_burst_is_absorbed_within_a_memory_bound_and_lag_drains(tmp_path: Path) -> None:
    with (
        EmbeddedStack() as stack,
        classifier(stack.kafka_bootstrap, stack.redis_url, tmp_path, **WORKER) as (proc, port),
    ):
        worker = psutil.Process(proc.pid)
        produce(stack.kafka_bootstrap, workload(1, "trickle", n_events=500), seconds=2.0)
        wait_for_sentinel(stack.redis_url, "trickle")
        baseline = worker.memory_info().rss
        burst = workload(2, "burst", n_events=20_000)
        produce(stack.kafka_bootstrap, burst)  # as fast as the broker acknowledges
        peak = baseline
        deadline = time.monotonic() + 240
        import redis

        from invested import state as keys
        from tests.test_reliability_classifier import SENTINEL

        client = redis.Redis.from_url(stack.redis_url, decode_responses=True)
        while client.hget(keys.state_key("burst", SENTINEL), "segment") != "audience":
            assert time.monotonic() < deadline, "the burst did not drain in time"
            peak = max(peak, worker.memory_info().rss)
            time.sleep(0.1)
        wait_for_sentinel(stack.redis_url, "burst")
        grown_mb = (peak - baseline) / 1e6
        print(
            f"burst of {len(burst)} events: resident memory +{grown_mb:.1f} MB (bound {BOUND_MB} MB)"
        )
        assert grown_mb < BOUND_MB, f"resident memory grew {grown_mb:.0f} MB during the burst"
        time.sleep(0.5)
        assert lag(port) == 0
