"""Downstream example: print ``member.transitions`` as plain lines, replayed or followed live.

Three ways to read the topic, all with the published contract and a dedupe on the CloudEvents
``id`` (delivery is at-least-once):

    python -m services.classifier.tail --from-beginning   # make tail: the whole history, every run
    python -m services.classifier.tail                    # only what arrives from now on
    python -m services.classifier.tail --group my-service # a downstream service (consumer group)

Replay and live view assign every partition to themselves and commit nothing: no consumer group
remembers where they stopped, so ``--from-beginning`` prints the whole history each time it runs.
``--group`` is what a downstream team copies: an aiokafka group consumer (several instances
share the partitions), offsets committed after handling, a restart resumes where the group left
off, and a new group starts at the earliest transition. ``--max N`` stops after N lines.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections import OrderedDict

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError

from invested.contracts import MemberTransition
from invested.settings import ConfigError, load_settings
from invested.topics import MEMBER_TRANSITIONS

SEEN_IDS_KEPT = 100_000  # recent ids remembered for the dedupe: redeliveries are near each other


def describe(transition: MemberTransition) -> str:
    data = transition.data
    return (
        f"{data.at:%Y-%m-%d %H:%M:%S} {data.community}/{data.member} "
        f"{data.from_segment.value} -> {data.to_segment.value} (seq {data.seq}, cause {data.cause}): "
        f"{data.evidence.reason}"
    )


async def start_consumer(
    bootstrap: str, group: str | None, from_beginning: bool
) -> AIOKafkaConsumer:
    """A started consumer: a group member when ``group`` is set, else every partition assigned
    directly at the beginning (``from_beginning``) or the end of the topic."""
    if group is not None:
        consumer = AIOKafkaConsumer(
            MEMBER_TRANSITIONS,
            bootstrap_servers=bootstrap,
            group_id=group,
            auto_offset_reset="earliest",  # a new service sees the history once, then resumes
            enable_auto_commit=False,
        )
        await consumer.start()
        return consumer
    # No group: nothing is committed, so nothing is remembered between runs.
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(MEMBER_TRANSITIONS)
        if not partitions:
            raise ConfigError(f"topic {MEMBER_TRANSITIONS} does not exist on {bootstrap}")
        consumer.assign([TopicPartition(MEMBER_TRANSITIONS, p) for p in sorted(partitions)])
        if from_beginning:
            await consumer.seek_to_beginning()
        else:
            await consumer.seek_to_end()
    except BaseException:
        await consumer.stop()
        raise
    return consumer


async def follow(bootstrap: str, group: str | None, from_beginning: bool, limit: int | None) -> int:
    """Print transitions until ``limit`` lines (or forever); returns how many were printed."""
    consumer = await start_consumer(bootstrap, group, from_beginning)
    seen: OrderedDict[str, None] = OrderedDict()
    printed = 0
    try:
        async for record in consumer:
            try:
                transition = MemberTransition.from_json(record.value or b"")
            except ValidationError as exc:
                print(
                    f"skipping malformed record at partition {record.partition} offset "
                    f"{record.offset}: {exc.error_count()} errors",
                    flush=True,
                )
                transition = None
            if transition is not None and transition.id not in seen:
                seen[transition.id] = None
                if len(seen) > SEEN_IDS_KEPT:
                    seen.popitem(last=False)
                print(describe(transition), flush=True)
                printed += 1
            if group is not None:
                await consumer.commit()  # after handling: a crash redelivers, never skips
            if limit is not None and printed >= limit:
                break
    finally:
        await consumer.stop()
    return printed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--from-beginning",
        action="store_true",
        help="print the whole history first (every run: no consumer group), then follow",
    )
    mode.add_argument(
        "--group",
        default=None,
        help="consume as this consumer group: commit offsets, resume where the group left off",
    )
    parser.add_argument("--max", type=int, default=None, help="stop after N transitions")
    args = parser.parse_args()
    try:
        settings = load_settings()
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(follow(settings.kafka_bootstrap, args.group, args.from_beginning, args.max))
    except ConfigError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
