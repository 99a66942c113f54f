"""The API when Redis is away, and the real ``python -m services.api`` process.

Redis down is a 503 JSON error on every data route (never a 500 or a traceback), readiness says
so, liveness does not; a Redis restart heals without restarting the API. The service process needs
no Kafka, never logs a key, and stops promptly on SIGTERM even with an SSE client connected.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from invested.settings import load_settings
from invested.stack import EmbeddedStack, free_port
from services.api.app import create_app
from services.api.server import ServerThread
from tests.backends import Backend

ROOT = Path(__file__).resolve().parent.parent
KEY = "resilience-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
DATA_ROUTES = [
    "/v1/communities/acme/members/alice",
    "/v1/communities/acme/members",
    "/v1/communities/acme/members?segment=community&limit=5",
    "/v1/communities/acme/segments",
    "/v1/communities/acme/members/alice/transitions",
    "/v1/communities/acme/transitions/stream",
]


def app_for(redis_url: str, heartbeat: float = 15.0) -> FastAPI:
    settings = load_settings({"INVESTED_REDIS_URL": redis_url, "INVESTED_API_KEYS": KEY})
    return create_app(settings, sse_heartbeat_seconds=heartbeat)


@pytest.fixture
async def unreachable() -> AsyncIterator[httpx.AsyncClient]:
    """The app in-process (ASGI), its Redis URL pointing at a port where nothing listens."""
    app = app_for(f"redis://127.0.0.1:{free_port()}/0")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        yield client
    await app.state.store.close()


@pytest.mark.parametrize("path", DATA_ROUTES)
async def test_redis_down_is_a_503_json_error_on_every_data_route(
    unreachable: httpx.AsyncClient, path: str
) -> None:
    started = time.monotonic()
    response = await unreachable.get(path, headers=AUTH)
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"] == "redis_unavailable"
    assert "Traceback" not in response.text
    assert time.monotonic() - started < 5  # fails fast, no retry storm


async def test_redis_down_readiness_fails_liveness_and_metrics_do_not(
    unreachable: httpx.AsyncClient,
) -> None:
    ready = await unreachable.get("/readyz")
    assert ready.status_code == 503 and ready.json()["error"] == "redis_unavailable"
    assert (await unreachable.get("/healthz")).json() == {"status": "ok"}
    metrics = await unreachable.get("/metrics")
    assert metrics.status_code == 200
    assert 'route="/readyz",status="503"' in metrics.text
    # Auth comes first: without a key, a Redis outage is not even revealed.
    assert (await unreachable.get(DATA_ROUTES[0])).status_code == 401


@pytest.fixture
def own_redis() -> Iterator[EmbeddedStack]:
    """A redis-server of this test only (it gets stopped and restarted)."""
    stack = EmbeddedStack()
    stack.start_redis()
    try:
        yield stack
    finally:
        stack.stop()


def test_redis_restart_heals_without_restarting_the_api(own_redis: EmbeddedStack) -> None:
    with (
        ServerThread(app_for(own_redis.redis_url, heartbeat=0.2), free_port()) as base_url,
        httpx.Client(base_url=base_url, headers=AUTH, timeout=10) as client,
    ):
        assert client.get("/readyz").status_code == 200
        assert client.get(DATA_ROUTES[0]).json()["error"] == "member_not_found"
        with client.stream("GET", "/v1/communities/acme/transitions/stream") as stream:
            lines = stream.iter_lines()
            assert next(lines) == "retry: 3000"
            own_redis.stop_redis()
            # The open stream tells the client why it ends; EventSource then reconnects.
            rest = list(lines)
            assert "event: error" in rest
            assert 'data: {"error":"redis_unavailable"}' in rest
        for path in DATA_ROUTES:
            assert client.get(path).status_code == 503, path
        assert client.get("/readyz").status_code == 503
        own_redis.start_redis()
        deadline = time.monotonic() + 10
        while client.get("/readyz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.get(DATA_ROUTES[0]).json()["error"] == "member_not_found"
        assert client.get(DATA_ROUTES[3]).json()["error"] == "community_not_found"


# --- the service process -----------------------------------------------------------------------


def service_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INVESTED_")}
    env.update(PYTHONUNBUFFERED="1", **extra)
    return env


def test_service_needs_no_kafka_never_logs_keys_and_stops_promptly(
    backend: Backend, tmp_path: Path
) -> None:
    port = free_port()
    keys = ("first-secret-key-4e1d", "second-secret-key-9a7c")
    log = tmp_path / "api.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "services.api"],
            cwd=ROOT,
            env=service_env(
                INVESTED_API_PORT=str(port),
                INVESTED_REDIS_URL=backend.redis_url,
                INVESTED_API_KEYS=",".join(keys),
                INVESTED_LOG_LEVEL="DEBUG",
                # Nothing listens there: the API must not need Kafka at all.
                INVESTED_KAFKA_BOOTSTRAP=f"127.0.0.1:{free_port()}",
                INVESTED_STARTUP_TIMEOUT_SECONDS="5",
            ),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "API did not start"
            time.sleep(0.05)
        for key in keys:
            response = httpx.get(
                f"{base}/v1/communities/nobody-here/segments",
                headers={"Authorization": f"Bearer {key}"},
            )
            assert response.status_code == 404
        assert httpx.get(f"{base}/v1/communities/x/segments", headers=AUTH).status_code == 401
        with (
            httpx.Client(timeout=10) as client,
            client.stream(
                "GET",
                f"{base}/v1/communities/x/transitions/stream",
                headers={"Authorization": f"Bearer {keys[1]}"},
            ) as stream,
        ):
            assert next(stream.iter_lines()) == "retry: 3000"
            stopping = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            # uvicorn shuts down gracefully, then re-raises the signal it caught (exit -15).
            assert proc.wait(15) in (0, -signal.SIGTERM)
        assert time.monotonic() - stopping < 10  # bounded, although a stream was open
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    text = log.read_text()
    assert "2 API key(s) configured" in text
    assert "Application shutdown complete" in text  # graceful, within the bound
    assert "Traceback" not in text
    for key in keys:
        assert key not in text


def test_service_without_redis_fails_fast_with_one_clear_message() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "services.api"],
        cwd=ROOT,
        env=service_env(
            INVESTED_API_PORT=str(free_port()),
            INVESTED_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
            INVESTED_STARTUP_TIMEOUT_SECONDS="1",
        ),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    assert "cannot reach Redis" in result.stderr and "INVESTED_REDIS_URL" in result.stderr
    assert "Traceback" not in result.stderr
