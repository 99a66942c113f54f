"""The ingest producer's promises, without a broker: deadlines, partitions, expired batches.

``EventProducer.publish`` runs against a stub producer whose acks the test controls; the expiry
hook runs on aiokafka's real ``MessageAccumulator`` (the object the producer's sender drains).
The end-to-end outage behaviour is in ``test_ingest_outage.py``.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError, NotLeaderForPartitionError
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import MessageAccumulator
from aiokafka.structs import TopicPartition

from invested.settings import load_settings
from services.ingest.producer import (
    BrokerUnavailable,
    EventProducer,
    Record,
    _expire_before_drain,
    key_hash,
)

TIMEOUT = 0.6
PARTITIONS = {0, 1, 2, 3, 4, 5, 6, 7}


class StubProducer:
    """``send`` hands out futures the test resolves; ``block`` makes a send never return."""

    def __init__(self, block_after: int | None = None, known: bool = True) -> None:
        # aiokafka's ClusterMetadata keeps topic -> {partition: metadata} in _partitions
        self.client = SimpleNamespace(
            cluster=SimpleNamespace(
                _partitions={"engagement.events": dict.fromkeys(PARTITIONS)} if known else {},
                partitions_for_topic=lambda topic: PARTITIONS if known else None,
            )
        )
        self.sent: list[tuple[str, bytes | None, int | None, asyncio.Future[Any]]] = []
        self.block_after = block_after

    async def send(
        self, topic: str, value: bytes, key: bytes | None = None, partition: int | None = None
    ) -> asyncio.Future[Any]:
        if self.block_after is not None and len(self.sent) >= self.block_after:
            await asyncio.Event().wait()  # a full buffer that never drains
        ack: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.sent.append((topic, key, partition, ack))
        return ack


def producer_with(stub: StubProducer) -> EventProducer:
    producer = EventProducer(load_settings({"INVESTED_PRODUCE_TIMEOUT_SECONDS": str(TIMEOUT)}))
    producer._producer = stub  # type: ignore[assignment]
    return producer


RECORDS = [Record("engagement.events", f"c/m{n}".encode(), b"{}") for n in range(3)]


async def test_answers_once_every_record_is_acked_on_the_default_partition() -> None:
    stub = StubProducer()
    producer = producer_with(stub)
    publish = asyncio.create_task(producer.publish(RECORDS))
    await asyncio.sleep(0.01)
    assert len(stub.sent) == 3
    for _, _, _, ack in stub.sent[:2]:
        ack.set_result(None)
    await asyncio.sleep(0.01)
    assert not publish.done()  # one record is not acked yet
    stub.sent[2][3].set_result(None)
    await publish
    assert producer._unsettled == 0  # the bytes in flight, which decide if appending may wait
    partitioner = DefaultPartitioner()
    for record, (_, key, partition, _) in zip(RECORDS, stub.sent, strict=True):
        assert key == record.key
        assert partition == partitioner(key, sorted(PARTITIONS), sorted(PARTITIONS))


def test_key_hash_is_the_default_partitioners() -> None:
    partitioner = DefaultPartitioner()
    for n in range(500):
        key = f"community-{n % 7}/member-{n * 7919}".encode()
        for count in (1, 3, 8, 12):
            partitions = list(range(count))
            assert key_hash(key) % count == partitioner(key, partitions, partitions)


async def test_no_ack_means_broker_unavailable_at_the_deadline() -> None:
    producer = producer_with(StubProducer())
    started = asyncio.get_running_loop().time()
    with pytest.raises(BrokerUnavailable, match="no ack"):
        await producer.publish(RECORDS)
    assert producer._unsettled == 0
    assert TIMEOUT - 0.05 <= asyncio.get_running_loop().time() - started < TIMEOUT + 0.3


async def test_a_failed_record_is_answered_only_once_the_others_settled() -> None:
    stub = StubProducer()
    producer = producer_with(stub)
    publish = asyncio.create_task(producer.publish(RECORDS))
    await asyncio.sleep(0.01)
    stub.sent[0][3].set_exception(NotLeaderForPartitionError())
    stub.sent[1][3].set_result(None)
    await asyncio.sleep(0.05)
    assert not publish.done()  # the third record might still be written: no 503 yet
    stub.sent[2][3].set_result(None)
    with pytest.raises(BrokerUnavailable, match="NotLeaderForPartitionError"):
        await publish
    assert producer._unsettled == 0


async def test_a_producer_that_takes_no_records_fails_within_the_produce_timeout() -> None:
    stub = StubProducer(block_after=1, known=False)  # metadata to fetch: appending may wait
    producer = producer_with(stub)
    started = asyncio.get_running_loop().time()
    with pytest.raises(BrokerUnavailable, match="not taken"):
        await producer.publish(RECORDS)
    # The first record was taken: its outcome is awaited up to the deadline, never beyond.
    elapsed = asyncio.get_running_loop().time() - started
    assert producer.append_timeout <= elapsed < TIMEOUT + 0.3
    assert len(stub.sent) == 1 and producer._unsettled == 0


async def test_appending_is_limited_when_the_producer_may_have_to_wait() -> None:
    # Unknown metadata, or more than a batch of records in flight: send() may suspend, and the
    # records must be in before append_timeout (their batches then expire by the deadline).
    for stub in (StubProducer(block_after=0, known=False), StubProducer(block_after=0)):
        producer = producer_with(stub)
        if stub.client.cluster.partitions_for_topic("t"):
            producer._unsettled = 10 * 1024 * 1024
        started = asyncio.get_running_loop().time()
        with pytest.raises(BrokerUnavailable, match="not taken"):
            await producer.publish(RECORDS)
        elapsed = asyncio.get_running_loop().time() - started
        assert producer.append_timeout - 0.02 <= elapsed < producer.append_timeout + 0.2
        assert producer._unsettled in (0, 10 * 1024 * 1024)


# --- expiry before every send ---------------------------------------------------------------


TP = TopicPartition("engagement.events", 0)


def accumulator(ttl: float, idempotent: bool = False) -> MessageAccumulator:
    cluster = SimpleNamespace(leader_for_partition=lambda tp: 0)
    acc = MessageAccumulator(cluster, 16384, 0, ttl)
    acc.drain_by_nodes = _expire_before_drain(acc, acc.drain_by_nodes, idempotent)  # type: ignore[method-assign]
    return acc


async def test_an_expired_batch_waiting_for_the_connection_is_failed_not_sent() -> None:
    acc = accumulator(ttl=0.05)
    late = await acc.add_message(TP, b"k", b"late", timeout=1)
    await asyncio.sleep(0.08)  # e.g. behind a produce request that hung until the deadline
    nodes, _ = acc.drain_by_nodes(ignore_nodes=set())
    assert nodes == {}
    assert isinstance(late.exception(), KafkaTimeoutError)
    fresh = await acc.add_message(TP, b"k", b"fresh", timeout=1)
    nodes, _ = acc.drain_by_nodes(ignore_nodes=set())
    assert TP in nodes[0] and not fresh.done()  # unexpired batches leave as usual


async def test_an_expired_retry_is_failed_with_aiokafkas_bookkeeping() -> None:
    errors: list[dict[str, Any]] = []
    asyncio.get_running_loop().set_exception_handler(lambda loop, context: errors.append(context))
    acc = accumulator(ttl=0.05)
    ack = await acc.add_message(TP, b"k", b"v", timeout=1)
    nodes, _ = acc.drain_by_nodes(ignore_nodes=set())
    acc.reenqueue(nodes[0][TP])  # the send failed with a retriable error
    await asyncio.sleep(0.08)
    nodes, _ = acc.drain_by_nodes(ignore_nodes=set())
    assert nodes == {} and isinstance(ack.exception(), KafkaTimeoutError)
    await asyncio.sleep(0)
    assert not acc._pending_batches and not errors


async def test_idempotent_retries_keep_their_sequence_and_are_sent() -> None:
    acc = accumulator(ttl=0.05, idempotent=True)
    ack = await acc.add_message(TP, b"k", b"v", timeout=1)
    nodes, _ = acc.drain_by_nodes(ignore_nodes=set())
    acc.reenqueue(nodes[0][TP])
    await asyncio.sleep(0.08)
    nodes, _ = acc.drain_by_nodes(ignore_nodes=set())
    assert TP in nodes[0] and not ack.done()  # dropping it would break the sequence numbers
