"""Session fixtures: a real broker and a real Redis for every integration test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import redis
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from tests.backends import (
    Backend,
    chosen_backend,
    docker_available,
    docker_backend,
    embedded_backend,
)

# No wall-clock deadlines (2-core CI machines stall); CI derandomizes so a run is reproducible.
hypothesis_settings.register_profile(
    "dev", deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
hypothesis_settings.register_profile(
    "ci",
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
hypothesis_settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(scope="session")
def backend() -> Iterator[Backend]:
    """Embedded Tansu + redis-server, or testcontainers when a Docker engine answers."""
    factory = docker_backend if chosen_backend() == "docker" else embedded_backend
    with factory() as value:
        yield value


@pytest.fixture(scope="session")
def docker_only_backend() -> Iterator[Backend]:
    """Always the testcontainers path (Apache Kafka KRaft, Redis 7); skips without Docker."""
    ok, reason = docker_available()
    if not ok:
        pytest.skip(f"testcontainers path skipped: {reason}")
    with docker_backend() as value:
        yield value


@pytest.fixture
def redis_client(backend: Backend) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(backend.redis_url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def unique() -> str:
    """A short unique suffix so tests sharing the session broker/Redis never collide."""
    return uuid.uuid4().hex[:10]
