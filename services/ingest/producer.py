"""aiokafka's AIOKafkaProducer (acks=all) on the service's event loop, with a deadline per request.

``publish(records)`` returns once the broker acknowledged *every* record of one webhook, or raises
:class:`BrokerUnavailable` (ingest answers 503 and the platform retries). Records of concurrent
requests share the producer's batches: while one produce request is on the wire, the records of
every request that arrives meanwhile gather in one batch per partition and leave together, so the
broker sees one request per round trip however many webhooks are waiting. Nothing runs on a
thread; a dead broker costs the waiting requests their deadline and never blocks the loop.

What holds for a request with produce timeout ``T`` (``INVESTED_PRODUCE_TIMEOUT_SECONDS``):

* it is answered only once every one of its records was acked (2xx), or after a failure or at the
  latest its deadline ``T`` (503). Appending its records to the producer's batches may take at
  most ``APPEND_SHARE`` of ``T``; past that, no further record of the request is appended. (The
  usual case needs no timer for that: with the topic's metadata known and less than a batch of
  records in flight, appending cannot wait at all; see ``publish``.)
* **no record is sent to the broker, nor re-sent, after its request's deadline.** A batch lives
  ``T`` minus the append allowance (``request_timeout_ms``), counted from its creation, which is
  no earlier than the start of the first request in it: so it has expired when the earliest of
  its requests reaches its deadline. aiokafka checks expiry before retrying a failed batch, and
  :func:`_expire_before_drain` makes its sender check it before *every* send too (aiokafka alone
  only does so for partitions without a leader): an expired batch still waiting for the
  connection — behind a produce request that hangs — is failed instead of sent late. The
  platform's retry of a 503 is then the only copy of such records.
* what the client cannot know: a produce request already on the wire when the deadline passes
  may still be written by the broker (any Kafka producer has this window). Neither can a request
  with records on several partitions be all-or-nothing: one partition may ack while another
  fails. Event ids are deterministic, so such a copy next to the platform's retry is counted once
  by the classifier.
* with ``INVESTED_KAFKA_IDEMPOTENT_PRODUCER`` (``enable_idempotence``) a batch that was sent once
  holds a sequence number; aiokafka retries it until the broker answers (dropping it would
  break the sequence) and the broker writes it at most once. Such a batch may land after its
  request's deadline. Batches never sent still expire as above.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, KafkaTimeoutError
from aiokafka.partitioner import murmur2

from invested.settings import Settings
from services.ingest.deadlines import Deadlines

log = logging.getLogger(__name__)

LINGER_MS = 5  # after each produce request, wait this long for more records to batch
MAX_BATCH_BYTES = 512 * 1024  # per partition and request: room for every concurrent webhook
# What a record may add to a batch beyond its key and value (format v2: ~20 bytes, v0/v1: 34), and
# a batch's own header (61): under QUICK_APPEND_BYTES of records, no batch can be full.
RECORD_OVERHEAD_BYTES = 64
QUICK_APPEND_BYTES = MAX_BATCH_BYTES - 128
MAX_REQUEST_BYTES = 4 * 1024 * 1024  # dead letters carry raw bodies (up to max_body_bytes)
APPEND_SHARE = 0.15  # of the produce timeout: metadata lookup and a free batch slot
MAX_APPEND_SECONDS = 1.5  # a dead broker must fail a request fast
MIN_TIMEOUT_MS = 100


class BrokerUnavailable(Exception):
    """The broker did not acknowledge in time; answer 503 so the platform retries."""


class Record(NamedTuple):
    """One Kafka record: topic, partition key (murmur2 partitioner), value."""

    topic: str
    key: bytes | None
    value: bytes


@functools.lru_cache(maxsize=1 << 16)
def key_hash(key: bytes) -> int:
    """The default partitioner's hash of a key (Java's, kafka-python's, aiokafka's): the
    partition is this modulo the partition count. Cached: murmur2 is pure Python here and the
    keys (``community/member``) repeat."""
    return int(murmur2(key)) & 0x7FFFFFFF


def append_seconds(settings: Settings) -> float:
    """How long a request may take to get its records into the producer's batches."""
    return min(MAX_APPEND_SECONDS, settings.produce_timeout_seconds * APPEND_SHARE)


def producer_config(settings: Settings) -> dict[str, Any]:
    """AIOKafkaProducer keyword arguments (see the module docstring for the timeouts)."""
    timeout_ms = settings.produce_timeout_seconds * 1000
    # Batch lifetime, produce request timeout and metadata wait: expired by the deadline of the
    # earliest request in a batch (created at most append_seconds after that request started).
    request_ms = max(int(timeout_ms - append_seconds(settings) * 1000), MIN_TIMEOUT_MS)
    config: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "client_id": "invested-ingest",
        "acks": "all",
        "linger_ms": LINGER_MS,
        "max_batch_size": MAX_BATCH_BYTES,
        "max_request_size": MAX_REQUEST_BYTES,
        "request_timeout_ms": request_ms,
        "retry_backoff_ms": 100,
        "enable_idempotence": settings.kafka_idempotent_producer,
    }
    return config


def _expire_before_drain(
    accumulator: Any, drain: Callable[..., Any], idempotent: bool
) -> Callable[..., Any]:
    """Wrap ``MessageAccumulator.drain_by_nodes`` (what the sender calls right before it sends):
    fail expired batches instead of sending them (aiokafka only expires leaderless ones there)."""

    def drain_by_nodes(ignore_nodes: Any, muted_partitions: Any = frozenset()) -> Any:
        batches = accumulator._batches
        for tp in [tp for tp, queue in batches.items() if queue and queue[0].expired()]:
            queue = batches[tp]
            while queue and queue[0].expired():
                batch = queue[0]
                if batch.retry_count == 0:  # never sent: no sequence number, no bookkeeping yet
                    queue.popleft()
                elif idempotent:  # holds a sequence number: aiokafka retries it to the end
                    break
                else:  # sent before and re-enqueued: pop as aiokafka does, then fail
                    accumulator._pop_batch(tp)
                batch.failure(exception=KafkaTimeoutError("batch expired before it could be sent"))
            if not queue:
                batches.pop(tp, None)
        return drain(ignore_nodes, muted_partitions)

    return drain_by_nodes


class EventProducer:
    """One shared AIOKafkaProducer; :meth:`publish` is one webhook's records."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._producer: AIOKafkaProducer | None = None
        self.timeout = settings.produce_timeout_seconds
        self.append_timeout = append_seconds(settings)
        self._deadlines = Deadlines(self.timeout)
        self._unsettled = 0  # bytes of the records of requests waiting in publish()

    async def start(self) -> None:
        producer = AIOKafkaProducer(**producer_config(self._settings))
        accumulator = producer._message_accumulator
        accumulator.drain_by_nodes = _expire_before_drain(
            accumulator, accumulator.drain_by_nodes, self._settings.kafka_idempotent_producer
        )
        await producer.start()
        self._producer = producer

    async def stop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()  # flushes what is pending (each batch expires on its own)

    async def publish(self, records: Sequence[Record]) -> None:
        """Return once the broker acked every record; else raise :class:`BrokerUnavailable`."""
        producer = self._producer
        if producer is None:
            raise BrokerUnavailable("producer not started")
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + self.timeout
        # topic -> {partition: metadata}; ClusterMetadata.partitions_for_topic() copies it into a
        # new set on every call, and only the count matters here (pinned aiokafka < 0.13)
        topics = producer.client.cluster._partitions
        partitions: list[int | None] = []
        size = 0
        for record in records:
            known = topics.get(record.topic) if record.key else None
            # The default partitioner's choice; None (unknown topic): the producer picks, after
            # fetching the topic's metadata.
            partitions.append(key_hash(record.key) % len(known) if known else None)
            size += len(record.value) + len(record.key or b"") + RECORD_OVERHEAD_BYTES
        # producer.send() suspends only to fetch a topic's metadata or to wait for room in a
        # full batch. With every partition known and less than a batch of records in flight
        # (records of requests still in here: any other record in the accumulator is in an
        # expired batch), it cannot, so the append needs no time limit of its own.
        quick = None not in partitions and self._unsettled + size <= QUICK_APPEND_BYTES
        self._unsettled += size
        acks: list[asyncio.Future[Any]] = []
        appended = False
        # The usual case shares one timer with every other request (services.ingest.deadlines).
        scope = (
            self._deadlines.scope() if quick else asyncio.timeout_at(started + self.append_timeout)
        )
        try:
            async with scope as active:
                for record, partition in zip(records, partitions, strict=True):
                    acks.append(
                        await producer.send(
                            record.topic, record.value, key=record.key, partition=partition
                        )
                    )
                appended = True
                if isinstance(active, asyncio.Timeout):
                    active.reschedule(deadline)
                if len(acks) == 1:
                    await acks[0]
                else:
                    await asyncio.gather(*acks)
            self._unsettled -= size
            return
        except TimeoutError:
            if appended:  # the deadline: whatever is not acked now is never sent (module doc)
                self._unsettled -= size
                raise BrokerUnavailable(f"no ack within {self.timeout:g} s") from None
            failure = f"records not taken by the producer within {self.append_timeout:.2g} s"
        except KafkaError as exc:
            failure = f"{type(exc).__name__}: {exc}"
        except BaseException:
            self._unsettled -= size
            raise
        try:
            # A record failed or could not be appended. Answer only once the appended ones are
            # settled, or at the deadline (after which they are never sent): the 503 must not
            # race a write of this request's records.
            pending = [ack for ack in acks if not ack.done()]
            if pending and (remaining := deadline - loop.time()) > 0:
                await asyncio.wait(pending, timeout=remaining)
            for ack in acks:
                ack.add_done_callback(_consume)
        finally:
            self._unsettled -= size
        raise BrokerUnavailable(failure)


def _consume(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
