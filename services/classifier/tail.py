"""Downstream example: follow ``member.transitions`` live with a consumer group and print them.

This is what a downstream team copies: an aiokafka group consumer (so several instances share
the partitions), values parsed with the published contract, dedupe on the CloudEvents ``id``
(delivery is at-least-once), offsets committed after handling.

    python -m services.classifier.tail [--group my-service] [--from-beginning] [--max N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections import OrderedDict

from aiokafka import AIOKafkaConsumer
from pydantic import ValidationError

from invested.contracts import MemberTransition
from invested.settings import ConfigError, load_settings
from invested.topics import MEMBER_TRANSITIONS


def describe(transition: MemberTransition) -> str:
    data = transition.data
    return (
        f"{data.at:%Y-%m-%d %H:%M:%S} {data.community}/{data.member} "
        f"{data.from_segment.value} -> {data.to_segment.value} (seq {data.seq}, cause {data.cause}): "
        f"{data.evidence.reason}"
    )


async def follow(bootstrap: str, group: str, from_beginning: bool, limit: int | None) -> int:
    consumer = AIOKafkaConsumer(
        MEMBER_TRANSITIONS,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest" if from_beginning else "latest",
        enable_auto_commit=False,
    )
    seen: OrderedDict[str, None] = OrderedDict()  # recent ids: redeliveries are skipped
    printed = 0
    await consumer.start()
    try:
        async for record in consumer:
            try:
                transition = MemberTransition.from_json(record.value or b"")
            except ValidationError as exc:
                print(
                    f"skipping malformed record at offset {record.offset}: {exc.error_count()} errors"
                )
                continue
            if transition.id not in seen:
                seen[transition.id] = None
                if len(seen) > 100_000:
                    seen.popitem(last=False)
                print(describe(transition), flush=True)
                printed += 1
            await consumer.commit()
            if limit is not None and printed >= limit:
                break
    finally:
        await consumer.stop()
    return printed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--group", default="invested-tail", help="consumer group id")
    parser.add_argument(
        "--from-beginning", action="store_true", help="start at the earliest offset"
    )
    parser.add_argument("--max", type=int, default=None, help="stop after N transitions")
    args = parser.parse_args()
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(follow(settings.kafka_bootstrap, args.group, args.from_beginning, args.max))
    return 0


if __name__ == "__main__":
    sys.exit(main())
