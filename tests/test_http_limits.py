"""Slow and idle connections cannot exhaust an HTTP server, and running out of descriptors
floods no log.

A real ``python -m services.ingest`` (the unauthenticated surface) with short timeouts receives
slow-loris clients (headers byte by byte, bodies that never finish, connections that say nothing)
while ``/healthz`` is probed: every slow connection is closed after its timeout, health answers
throughout. A second ingest runs under a low file-descriptor limit and is sent more connections
than it has descriptors. Loopback only; every client gives up by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from invested.logs import configure_logging
from invested.stack import free_port
from tests.backends import Backend
from tests.rawhttp import SlowOutcome, dribble
from tests.test_ingest_support import ROOT, IngestServer, ingest_env

TIMEOUTS = {
    "INVESTED_HTTP_HEADER_TIMEOUT_SECONDS": "1",
    "INVESTED_HTTP_BODY_TIMEOUT_SECONDS": "1",
    "INVESTED_HTTP_KEEP_ALIVE_SECONDS": "1",
}
HEAD = b"POST /webhooks/github HTTP/1.1\r\nHost: ingest\r\nX-Padding: "
BODY_HEAD = (
    b"POST /webhooks/github HTTP/1.1\r\nHost: ingest\r\nContent-Type: application/json\r\n"
    b"Content-Length: 100000\r\n\r\n"
)


@pytest.fixture(scope="module")
def ingest(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[IngestServer]:
    with IngestServer(
        backend.kafka_bootstrap, backend.redis_url, tmp_path_factory.mktemp("limits"), **TIMEOUTS
    ) as server:
        yield server


async def probe_health(url: str, until: asyncio.Event) -> list[int]:
    """/healthz on a fresh connection every 0.2 s until ``until`` is set."""
    statuses = []
    while not until.is_set():
        async with httpx.AsyncClient(timeout=3) as client:
            try:
                statuses.append((await client.get(url + "/healthz")).status_code)
            except httpx.HTTPError:
                statuses.append(0)
        await asyncio.sleep(0.2)
    return statuses


async def slow_loris(port: int, url: str) -> tuple[list[SlowOutcome], list[SlowOutcome], list[int]]:
    done = asyncio.Event()
    probes = asyncio.create_task(probe_health(url, done))
    heads = [dribble(port, HEAD, b"abcdefgh") for _ in range(40)]
    bodies = [dribble(port, BODY_HEAD, b'{"a":1}') for _ in range(40)]
    idle = [dribble(port, b"", b"") for _ in range(20)]
    outcomes = await asyncio.gather(*heads, *bodies, *idle)
    done.set()
    return outcomes[:40] + outcomes[80:], outcomes[40:80], await probes


def test_slow_loris_connections_are_closed_after_the_timeout_and_health_answers_throughout(
    ingest: IngestServer,
) -> None:
    heads_and_idle, bodies, health = asyncio.run(slow_loris(ingest.port, ingest.url))
    assert health and all(status == 200 for status in health), health
    for outcome in heads_and_idle + bodies:
        assert outcome.closed_after is not None, "a slow connection was held open"
    # A client that sent something gets a JSON 408 before the connection closes.
    for outcome in bodies:
        assert b" 408 " in outcome.answer and b'"error":"request_timeout"' in outcome.answer
    assert "Traceback" not in ingest.log()


def test_connections_beyond_the_descriptor_limit_neither_block_health_nor_flood_the_log(
    backend: Backend, tmp_path: Path
) -> None:
    port = free_port()
    env = ingest_env(backend.kafka_bootstrap, backend.redis_url, port)
    env["INVESTED_HTTP_HEADER_TIMEOUT_SECONDS"] = "60"  # idle connections stay until displaced
    log_path = tmp_path / "ingest.log"

    def low_descriptor_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "services.ingest"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=low_descriptor_limit,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while not _answers(url):
            assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.1)
        health = asyncio.run(_flood_then_probe(port, url, connections=600))
        assert health and all(status == 200 for status in health), health
        time.sleep(2)  # what the server would log after the flood
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    text = log_path.read_text(errors="replace")
    assert len(text) < 20_000, text[-3000:]
    assert text.count("out of system resource") <= 3


def _answers(url: str) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return httpx.get(url + "/healthz", timeout=1).status_code == 200
    return False


async def _flood_then_probe(port: int, url: str, connections: int) -> list[int]:
    writers = []
    give_up = asyncio.get_running_loop().time() + 60
    for _ in range(connections):
        if asyncio.get_running_loop().time() > give_up:
            break
        with contextlib.suppress(OSError, TimeoutError):
            _, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 2)
            writers.append(writer)
    # Connections refused by a full accept queue retry their SYN for a while: let them land, so
    # the probes measure the server with 600 connections open, not the kernel's queue.
    await asyncio.sleep(2)
    statuses = []
    async with httpx.AsyncClient(timeout=5) as client:
        for _ in range(10):
            try:
                statuses.append((await client.get(url + "/healthz")).status_code)
            except httpx.HTTPError:
                statuses.append(0)
            await asyncio.sleep(0.1)
    for writer in writers:
        writer.close()
    return statuses


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_log_lines_a_flood_would_repeat_are_rate_limited() -> None:
    loggers = [logging.getLogger("asyncio"), logging.getLogger("uvicorn.error")]
    collect = Collect()
    for logger in loggers:
        logger.filters.clear()  # a fresh interval: other tests in this process logged these too
        logger.addHandler(collect)
    configure_logging("INFO", "test")
    try:
        for _ in range(500):
            loggers[0].error(
                "socket.accept() out of system resource\nsocket: <socket>",
                exc_info=OSError(24, "Too many open files"),
            )
            loggers[1].warning("Invalid HTTP request received.")
        loggers[0].error("something else")
    finally:
        for logger in loggers:
            logger.removeHandler(collect)
    text = "\n".join(collect.lines)
    assert text.count("socket.accept() out of system resource") == 1
    assert text.count("Invalid HTTP request received.") == 1
    assert "something else" in text
