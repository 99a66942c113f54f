"""Kafka and Redis connection helpers shared by the services, the launcher and the tests.

Waiting helpers turn "nothing listens there" into one clear :class:`ConfigError` naming the
setting to change, instead of a wall of client retries.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import socket
import time
import urllib.request
from collections.abc import Iterable
from typing import Any

import redis
import redis.asyncio as aioredis
from kafka import KafkaAdminClient, KafkaConsumer
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError
from redis.exceptions import NoScriptError

from invested.redact import mask_url, mask_urls
from invested.settings import ConfigError
from invested.topics import TOPICS, TopicSpec

log = logging.getLogger(__name__)


def _tcp_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for_kafka(
    bootstrap: str, timeout: float, variable: str = "INVESTED_KAFKA_BOOTSTRAP"
) -> None:
    """Block until a broker answers a metadata request, else raise ConfigError."""
    deadline = time.monotonic() + timeout
    last_error = "no answer"
    servers = [s.strip() for s in bootstrap.split(",")]
    while time.monotonic() < deadline:
        if any(_tcp_open(*_split(server)) for server in servers):
            try:
                list_topics(bootstrap)
                return
            except KafkaError as exc:  # broker up but not ready yet
                last_error = repr(exc)
        else:
            last_error = "connection refused"
        time.sleep(0.2)
    raise ConfigError(
        f"cannot reach Kafka at {bootstrap} ({last_error}) within {timeout:.0f} s; "
        f"check {variable} or start the broker"
    )


def wait_for_redis(url: str, timeout: float, variable: str = "INVESTED_REDIS_URL") -> None:
    deadline = time.monotonic() + timeout
    last_error = "no answer"
    while time.monotonic() < deadline:
        try:
            client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=1)
            client.ping()
            client.close()
            return
        except redis.RedisError as exc:
            last_error = mask_urls(str(exc))
        time.sleep(0.1)
    raise ConfigError(
        f"cannot reach Redis at {mask_url(url)} ({last_error}) within {timeout:.0f} s; "
        f"check {variable}"
    )


def ensure_topics(
    bootstrap: str,
    specs: Iterable[TopicSpec] = TOPICS,
    with_config: bool = False,
    replication_factor: int = 1,
) -> None:
    """Create the topics that do not exist yet (idempotent).

    ``with_config`` also sends retention/cleanup configs; the embedded broker is given none.
    """
    admin = KafkaAdminClient(bootstrap_servers=bootstrap.split(","), client_id="invested-topics")
    try:
        existing = list_topics(bootstrap)
        new = [
            NewTopic(
                spec.name,
                num_partitions=spec.partitions,
                replication_factor=replication_factor,
                topic_configs=spec.config if with_config else {},
            )
            for spec in specs
            if spec.name not in existing
        ]
        if new:
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(new, timeout_ms=10_000)
    finally:
        admin.close()
    _wait_topics_visible(bootstrap, [spec.name for spec in specs])


def list_topics(bootstrap: str) -> set[str]:
    """Topic names from a metadata request.

    Not ``KafkaAdminClient.list_topics``: kafka-python 2.3 rejects the authorized-operations
    bitfield some brokers (Tansu) return there; a group-less consumer's metadata path works.
    """
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap.split(","),
        request_timeout_ms=5000,
        client_id="invested-probe",
        enable_auto_commit=False,
    )
    try:
        return set(consumer.topics())
    finally:
        consumer.close()


def _wait_topics_visible(bootstrap: str, names: list[str], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if set(names) <= list_topics(bootstrap):
            return
        time.sleep(0.1)
    raise ConfigError(f"topics {names} did not appear on the broker within {timeout:.0f} s")


def _split(server: str) -> tuple[str, int]:
    host, _, port = server.rpartition(":")
    return host, int(port)


def answers_ok(url: str, timeout: float = 1.0) -> bool:
    """True when ``url`` answers HTTP 200 (health probes of the launcher and the tests)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return bool(response.status == 200)
    except OSError:
        return False


class LuaScript:
    """A Lua script run with ``EVALSHA``, loaded on first use and again after a Redis restart
    (``NOSCRIPT``). redis-py's ``Script`` sends a ``SCRIPT EXISTS`` before every pipelined call;
    this costs one round trip per call."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    async def __call__(self, client: aioredis.Redis, *args: Any) -> Any:
        try:
            return await client.evalsha(self.sha, 0, *args)  # type: ignore[misc]
        except NoScriptError:
            await client.script_load(self.source)  # type: ignore[misc]
            return await client.evalsha(self.sha, 0, *args)  # type: ignore[misc]


def redis_client(url: str, **kwargs: object) -> redis.Redis:
    return redis.Redis.from_url(url, **kwargs)  # type: ignore[arg-type]


if __name__ == "__main__":
    import sys

    from invested.settings import load_settings

    if sys.argv[1:] != ["--create-topics"]:
        raise SystemExit("usage: python -m invested.connections --create-topics")
    try:
        settings = load_settings()
        wait_for_kafka(settings.kafka_bootstrap, settings.startup_timeout_seconds)
        ensure_topics(
            settings.kafka_bootstrap,
            with_config=True,
            replication_factor=settings.topic_replication_factor,
        )
        print("topics ready: " + ", ".join(spec.name for spec in TOPICS))
    except ConfigError as exc:
        raise SystemExit(f"error: {exc.message}") from None
