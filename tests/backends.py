"""Where tests get a real broker and a real Redis: embedded (default) or testcontainers (Docker).

``TEST_BACKEND=embedded|docker|auto`` picks; ``auto`` (the default) uses Docker when an engine
answers and the embedded Tansu + redis-server otherwise. Same test bodies on both.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

from invested.connections import ensure_topics, wait_for_kafka, wait_for_redis
from invested.stack import EmbeddedStack, free_port

KAFKA_IMAGE = "apache/kafka:3.8.0"
REDIS_IMAGE = "redis:7.2"


@dataclass
class Backend:
    kind: str
    kafka_bootstrap: str
    redis_url: str
    stack: EmbeddedStack | None = None
    extra: dict[str, object] = field(default_factory=dict)


def docker_available() -> tuple[bool, str]:
    try:
        import docker

        client = docker.from_env(timeout=3)
        client.ping()
        return True, "Docker engine answers"
    except Exception as exc:  # any failure means: no usable engine here
        return False, f"no Docker engine answers ({type(exc).__name__})"


@contextlib.contextmanager
def embedded_backend() -> Iterator[Backend]:
    with EmbeddedStack() as stack:
        yield Backend("embedded", stack.kafka_bootstrap, stack.redis_url, stack=stack)


@contextlib.contextmanager
def docker_backend() -> Iterator[Backend]:
    """Apache Kafka (official image, KRaft, one node) and Redis 7 through testcontainers."""
    from testcontainers.core.container import DockerContainer
    from testcontainers.redis import RedisContainer

    port = free_port()
    kafka = (
        DockerContainer(KAFKA_IMAGE)
        .with_bind_ports(9092, port)
        .with_env("KAFKA_NODE_ID", "1")
        .with_env("KAFKA_PROCESS_ROLES", "broker,controller")
        .with_env("KAFKA_LISTENERS", "PLAINTEXT://:9092,CONTROLLER://:9093")
        .with_env("KAFKA_ADVERTISED_LISTENERS", f"PLAINTEXT://127.0.0.1:{port}")
        .with_env("KAFKA_CONTROLLER_LISTENER_NAMES", "CONTROLLER")
        .with_env(
            "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
        )
        .with_env("KAFKA_CONTROLLER_QUORUM_VOTERS", "1@localhost:9093")
        .with_env("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "1")
        .with_env("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "1")
        .with_env("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "1")
        .with_env("KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS", "0")
    )
    redis_container = RedisContainer(REDIS_IMAGE)
    with kafka, redis_container:
        bootstrap = f"127.0.0.1:{port}"
        host = redis_container.get_container_host_ip()
        redis_port = redis_container.get_exposed_port(6379)
        redis_url = f"redis://{host}:{redis_port}/0"
        wait_for_kafka(bootstrap, 90)
        wait_for_redis(redis_url, 30)
        ensure_topics(bootstrap, with_config=True)
        yield Backend("docker", bootstrap, redis_url)


def chosen_backend() -> str:
    choice = os.environ.get("TEST_BACKEND", "auto")
    if choice == "auto":
        return "docker" if docker_available()[0] else "embedded"
    return choice
