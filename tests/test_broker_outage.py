"""Broker outage seen from the classifier: it neither crashes nor loses what it committed.

The embedded broker keeps its log in memory, so a restart comes back empty (topics recreated,
committed offsets gone): the test checks what must hold anyway — the worker survives the outage, keeps
the state it had, and processes what arrives once the broker is back. Resuming from committed
offsets after a worker restart is proven by ``test_reliability_classifier.py`` (SIGKILL); a
durable-broker restart needs Apache Kafka (compose), which this machine cannot run.
"""

from __future__ import annotations

import time
from pathlib import Path

from invested.stack import EmbeddedStack
from tests.processes import classifier, healthy
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
