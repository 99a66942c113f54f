"""Hostile input the fuzzers are unlikely to find, each with its documented answer.

Over real HTTP to ingest (real broker, real Redis): deeply nested JSON, invalid UTF-8, huge
member ids, all correctly signed (authentic but hostile). On Kafka: an event of an unknown kind
reaches the classifier, which dead-letters it instead of stalling its partition. Nothing is
lost: whatever is not an event is on a dead-letter topic with the reason.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kafka import KafkaProducer

from invested.topics import CLASSIFIER_DEADLETTER, ENGAGEMENT_EVENTS
from tests.backends import Backend
from tests.processes import classifier
from tests.test_classifier_e2e import collect
from tests.test_ingest_support import SIGNER, IngestServer, Tap, deadletters_with, prepare


@pytest.fixture(scope="module")
def server(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[IngestServer]:
    with IngestServer(
        backend.kafka_bootstrap, backend.redis_url, tmp_path_factory.mktemp("hostile")
    ) as value:
        yield value
    assert "Traceback" not in value.log(), value.log()[-4000:]


@pytest.fixture(scope="module")
def tap(backend: Backend) -> Iterator[Tap]:
    with Tap(backend.kafka_bootstrap) as value:
        yield value


def test_deeply_nested_json_is_a_clean_400(server: IngestServer) -> None:
    # 100,000 levels (~700 KB, under the size limit): the parser's recursion limit is hit.
    body = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
    response = server.post(SIGNER.github(body, "issues", str(uuid.uuid4())))
    assert response.status_code == 400, response.text
    assert response.json() == {"error": "malformed_json"}


def test_invalid_utf8_is_a_clean_400(server: IngestServer) -> None:
    body = b'{"action": "opened", "issue": {"title": "\xff\xfe bad \xc3\x28"}}'
    response = server.post(SIGNER.github(body, "issues", str(uuid.uuid4())))
    assert response.status_code == 400, response.text
    assert response.json() == {"error": "malformed_json"}


def test_huge_member_id_is_dead_lettered_not_produced(
    server: IngestServer, tap: Tap, unique: str
) -> None:
    prepared = prepare("github", "issue_comment/created.payload", unique)
    payload = json.loads(prepared.request.body)
    payload["comment"]["user"]["id"] = "9" * 5000  # no platform has such ids
    payload["comment"]["user"]["login"] = "x" * 5000
    body = json.dumps(payload).encode()
    response = server.post(SIGNER.github(body, "issue_comment", str(uuid.uuid4())))
    assert response.status_code == 202, response.text
    assert tap.wait_for(deadletters_with(prepared.community))


def test_unknown_kind_on_kafka_is_dead_lettered_and_the_partition_moves_on(
    backend: Backend, unique: str, tmp_path: Path
) -> None:
    community = f"poison-{unique}"
    now = datetime.now(UTC).isoformat()
    good = {
        "schema": "invested.engagement_event.v1",
        "id": f"{unique}-ok",
        "community": community,
        "platform": "generic",
        "member": "ann",
        "kind": "follow",
        "occurred_at": now,
        "received_at": now,
    }
    bad = good | {"id": f"{unique}-bad", "kind": "teleport"}
    key = f"{community}/ann".encode()
    producer = KafkaProducer(bootstrap_servers=backend.kafka_bootstrap, acks="all")
    for value in (bad, b"\xff\xfe not json at all", good):
        raw = value if isinstance(value, bytes) else json.dumps(value).encode()
        producer.send(ENGAGEMENT_EVENTS, key=key, value=raw)
    producer.flush()
    producer.close()
    with classifier(backend.kafka_bootstrap, backend.redis_url, tmp_path):
        transitions = asyncio.run(
            collect(backend, "member.transitions", f"p-{unique}", community, 1)
        )
        dead = asyncio.run(collect(backend, CLASSIFIER_DEADLETTER, f"pd-{unique}", "teleport", 1))
    assert len(transitions) == 1  # the valid event behind the poison was processed
    assert any(f"{unique}-bad" in d.decode() for d in dead)
