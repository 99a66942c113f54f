"""Broker outage seen from the classifier: it neither crashes nor loses what it committed.

The embedded broker keeps its log in memory, so a restart comes back empty (topics recreated,
committed offsets gone): the test checks what must hold anyway — the worker survives the outage, keeps
the state it had, and processes what arrives once the broker is back. Resuming from committed
offsets is proven by cutting the network path to a broker that stays up (its log and offsets
survive), with a loopback proxy.
"""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path

from invested.connections import ensure_topics, wait_for_kafka
from invested.stack import EmbeddedStack, free_port, spawn, tansu_binary
from tests.processes import classifier, healthy
from tests.tcp_proxy import CuttableProxy
from tests.test_reliability_classifier import WORKER, outcome, produce, wait_for_sentinel, workload


def test_classifier_survives_a_broker_outage_and_processes_new_events(tmp_path: Path) -> None:
    with EmbeddedStack() as stack:
        with classifier(stack.kafka_bootstrap, stack.redis_url, tmp_path, **WORKER) as (proc, port):
            produce(stack.kafka_bootstrap, workload(3, "before", n_events=300))
            wait_for_sentinel(stack.redis_url, "before")
            before = outcome(stack, "before")
            stack.stop_broker()
            time.sleep(3)
            assert proc.poll() is None, "the worker died with the broker"
            stack.start_broker()
            produce(stack.kafka_bootstrap, workload(4, "after", n_events=300))
            wait_for_sentinel(stack.redis_url, "after", timeout=120)
            assert healthy(f"http://127.0.0.1:{port}/healthz")
            assert outcome(stack, "before").segments == before.segments


def metric(port: int, name: str) -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name) and not line.startswith("#")
    )


def test_classifier_resumes_from_committed_offsets_after_losing_the_broker(tmp_path: Path) -> None:
    """The broker stays up (its log and offsets survive); the network path to it is cut for a
    while. Afterwards the worker continues exactly where it committed: every event is processed
    once and none twice (no duplicate seen, so nothing was re-read from an earlier offset)."""
    proxy_port = free_port()
    stack = EmbeddedStack()
    stack.broker_port = free_port()
    try:
        stack.start_redis()
        url = f"tcp://127.0.0.1:{stack.broker_port}"
        advertised = f"tcp://127.0.0.1:{proxy_port}"  # every client goes through the proxy
        stack.broker = spawn(
            [str(tansu_binary()), "broker", "--listener-url", url,
             "--advertised-listener-url", advertised, "--storage-engine", "memory://tansu/"],
            stack.workdir / "tansu.log",
        )  # fmt: skip
        with CuttableProxy(proxy_port, stack.broker_port) as proxy:
            bootstrap = f"127.0.0.1:{proxy_port}"
            wait_for_kafka(bootstrap, 30)
            ensure_topics(bootstrap)
            first, second = workload(5, "path-a", n_events=300), workload(6, "path-b", n_events=300)
            with classifier(bootstrap, stack.redis_url, tmp_path, **WORKER) as (_, port):
                produce(bootstrap, first)
                wait_for_sentinel(stack.redis_url, "path-a")
                time.sleep(4)  # past Faust's commit interval: the offsets are committed
                proxy.cut()
                time.sleep(5)  # the outage: no fetch, no commit, no heartbeat
                proxy.restore()
                produce(bootstrap, second)
                wait_for_sentinel(stack.redis_url, "path-b", timeout=120)
                processed = metric(port, "invested_classifier_events_processed_total")
                duplicates = metric(port, "invested_classifier_duplicate_events_total")
            assert processed == len(first) + len(second)
            assert duplicates == 0
    finally:
        stack.stop()
