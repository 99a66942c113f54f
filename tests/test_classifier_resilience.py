"""The classifier's retry policy: which errors are retried, what health says, when it gives up.

Fast and in process; the real-Redis scenarios (out of memory, frozen) are in
``tests/test_redis_exhaustion.py``.
"""

from __future__ import annotations

import asyncio

import pytest
import redis.exceptions as rx
from kafka.errors import KafkaTimeoutError

from services.classifier import metrics
from services.classifier.resilience import GaveUp, Health, error_label, is_retryable, retry

SCRIPT_OOM = rx.ResponseError(
    "Error running script (call to f_0): @user_script:3: @user_script: 3: "
    "-OOM command not allowed when used memory > 'maxmemory'."
)
SCRIPT_BUG = rx.ResponseError(
    "Error running script (call to f_0): @user_script:9: attempt to compare nil with number"
)


@pytest.mark.parametrize(
    ("error", "retryable", "label"),
    [
        (rx.OutOfMemoryError("command not allowed when used memory > 'maxmemory'."), True, "OOM"),
        (SCRIPT_OOM, True, "OOM"),
        (rx.ResponseError("BUSY Redis is busy running a script"), True, "BUSY"),
        (rx.ReadOnlyError("You can't write against a read only replica."), True, "READONLY"),
        (rx.ResponseError("MISCONF Redis is configured to save RDB snapshots"), True, "MISCONF"),
        (rx.BusyLoadingError("Redis is loading the dataset in memory"), True, "LOADING"),
        (rx.ConnectionError("Error 111 connecting"), True, "connection"),
        (rx.TimeoutError("Timeout reading from socket"), True, "timeout"),
        (TimeoutError(), True, "timeout"),
        (ConnectionResetError(), True, "connection"),
        (KafkaTimeoutError(), True, "KafkaTimeoutError"),
        (SCRIPT_BUG, False, "ResponseError"),
        (
            rx.ResponseError("WRONGTYPE Operation against a key holding the wrong kind"),
            False,
            "WRONGTYPE",
        ),
        (rx.DataError("Invalid input of type: 'dict'"), False, "DataError"),
        (ValueError("bug"), False, "ValueError"),
    ],
)
def test_dependency_errors_are_retried_and_bugs_are_not(
    error: BaseException, retryable: bool, label: str
) -> None:
    assert is_retryable(error) is retryable
    assert error_label(error) == label


async def test_retry_reports_health_and_counts_until_the_dependency_recovers() -> None:
    health = Health()
    attempts = 0
    before = metrics.DEPENDENCY_RETRIES.labels("batch", "OOM")._value.get()

    async def flaky() -> str:
        nonlocal attempts
        attempts += 1
        if attempts < 4:
            raise rx.OutOfMemoryError("command not allowed")
        return "done"

    seen_failing = []

    async def watch() -> None:
        while attempts < 4:
            seen_failing.append(health.failing)
            await asyncio.sleep(0.001)

    watcher = asyncio.create_task(watch())
    assert await retry(flaky, "batch", health, lambda: False, first_delay=0.001) == "done"
    await watcher
    assert "batch: OOM" in seen_failing and health.ok
    assert metrics.DEPENDENCY_RETRIES.labels("batch", "OOM")._value.get() - before == 3


async def test_retry_gives_up_when_the_app_stops_even_during_a_hung_attempt() -> None:
    health = Health()
    stopping = False

    async def hangs() -> None:
        await asyncio.sleep(3600)

    task = asyncio.create_task(retry(hangs, "batch", health, lambda: stopping, stop_grace=0.05))
    await asyncio.sleep(0.05)
    stopping = True
    with pytest.raises(GaveUp):
        await asyncio.wait_for(task, 5)


async def test_a_bug_is_raised_loudly_and_leaves_the_worker_unhealthy() -> None:
    health = Health()

    async def broken() -> None:
        raise SCRIPT_BUG

    with pytest.raises(rx.ResponseError):
        await retry(broken, "batch", health, lambda: False)
    assert not health.ok and "batch" in health.failing


def test_health_tracks_each_operation_on_its_own() -> None:
    health = Health()
    health.report("housekeeping", rx.TimeoutError())
    health.report("batch", rx.OutOfMemoryError())
    assert health.failing == "batch: OOM; housekeeping: timeout"
    health.clear("housekeeping")
    assert health.failing == "batch: OOM"
    health.clear("batch")
    assert health.ok and health.failing == ""
