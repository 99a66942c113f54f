"""Retry with backoff for the classifier's I/O, the health it reports meanwhile, and when to stop.

A failing Redis or broker must neither crash the Faust agent (a crashed agent stops consuming)
nor skip a batch (its offsets would be committed unprocessed): the batch is retried with
exponential backoff until it succeeds, ``/healthz`` answers 503 naming the operation and the
error meanwhile, and every failed attempt is counted in
``invested_classifier_dependency_retries_total{operation,error}``. Retrying a half-done batch is
safe: the Lua step dedupes by event id, and transitions already committed wait in the outbox.

A dependency error is anything Redis or Kafka can answer while it is unwell: unreachable, slow
(socket timeout), out of memory (``OOM``, also inside a script), busy, loading, read-only,
refusing to persist. Anything else (a Lua runtime error, ``WRONGTYPE``, a bad argument) is a bug:
retrying cannot help, so it is raised, loudly, and health stays failing.

The retry gives up (:class:`GaveUp`) when the worker is stopping or rebalancing: Faust waits for
in-flight events before it commits and hands partitions over, so a batch retried forever would
hold a SIGTERM and a rebalance hostage. The abandoned batch is not acknowledged, so its events are
redelivered (to this worker after the rebalance, or to whichever worker gets the partition).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import redis.exceptions as rx
from kafka.errors import KafkaError

from services.classifier import metrics

log = logging.getLogger(__name__)
T = TypeVar("T")

# Redis error codes that describe the server's condition, not the request: retrying can succeed.
# Inside a script they appear after a "-" (``... @user_script: 3: -OOM command not allowed ...``).
RETRYABLE_CODES = frozenset(
    {"OOM", "BUSY", "LOADING", "MASTERDOWN", "READONLY", "TRYAGAIN", "CLUSTERDOWN", "MISCONF"}
    | {"NOREPLICAS", "NOTBUSY", "UNBLOCKED"}
)
_CODE = re.compile(r"(?:^|[\s-])([A-Z]{3,})\b")
_CODE_OF_CLASS: dict[type[BaseException], str] = {
    rx.OutOfMemoryError: "OOM",  # redis-py strips the code from these messages
    rx.ReadOnlyError: "READONLY",
    rx.BusyLoadingError: "LOADING",
    rx.TryAgainError: "TRYAGAIN",
    rx.ClusterDownError: "CLUSTERDOWN",
}
# Client-side problems of a healthy dependency's connection: the next attempt may well work.
_UNREACHABLE = (rx.ConnectionError, ConnectionError, KafkaError)
_SLOW = (rx.TimeoutError, TimeoutError, asyncio.TimeoutError)


def _server_code(exc: BaseException) -> str | None:
    for cls, code in _CODE_OF_CLASS.items():
        if isinstance(exc, cls):
            return code
    if isinstance(exc, rx.ResponseError):
        for code in _CODE.findall(str(exc)):
            if code in RETRYABLE_CODES:
                return code
        match = _CODE.match(str(exc))
        return match.group(1) if match else None
    return None


def is_retryable(exc: BaseException) -> bool:
    """A dependency that is unwell (retry with backoff), rather than a bug (raise)."""
    if isinstance(exc, _SLOW + _UNREACHABLE):
        return True
    return _server_code(exc) in RETRYABLE_CODES


def error_label(exc: BaseException) -> str:
    """A short, bounded label for health and metrics: the Redis code, else the kind of error."""
    code = _server_code(exc)
    if code is not None:
        return code
    if isinstance(exc, _SLOW):
        return "timeout"
    if isinstance(exc, rx.ConnectionError | ConnectionError):
        return "connection"
    return type(exc).__name__


@dataclass
class Health:
    """What ``/healthz`` reports: every operation that is failing now, with its error."""

    failures: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def failing(self) -> str:  # empty when healthy
        return "; ".join(f"{what}: {why}" for what, why in sorted(self.failures.items()))

    def report(self, what: str, exc: BaseException) -> None:
        label = error_label(exc)
        if what not in self.failures:
            log.warning("%s failed (%s); retrying with backoff", what, label)
        self.failures[what] = label if is_retryable(exc) else f"bug: {label}"
        metrics.HEALTHY.set(0)

    def clear(self, what: str) -> None:
        if self.failures.pop(what, None) is not None:
            log.warning("%s recovered", what)
            metrics.HEALTHY.set(1 if self.ok else 0)


class GaveUp(Exception):
    """The worker is stopping or rebalancing: the operation was abandoned, not completed."""


STOP_GRACE_SECONDS = 2.0  # an attempt under way when the stop begins may finish within this
_POLL_SECONDS = 0.1


async def _attempt(
    operation: Callable[[], Awaitable[T]], stopping: Callable[[], bool], stop_grace: float
) -> T:
    """One attempt, abandoned ``stop_grace`` seconds after ``stopping()`` turned true (a frozen
    Redis would otherwise hold it for a whole socket timeout)."""
    task = asyncio.ensure_future(operation())
    grace_ends: float | None = None
    loop = asyncio.get_running_loop()
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=_POLL_SECONDS)
            if done:
                return task.result()
            if stopping():
                grace_ends = grace_ends or loop.time() + stop_grace
                if loop.time() >= grace_ends:
                    raise GaveUp
    finally:
        if not task.done():
            task.cancel()


async def retry(
    operation: Callable[[], Awaitable[T]],
    what: str,
    health: Health,
    stopping: Callable[[], bool],
    first_delay: float = 0.1,
    max_delay: float = 5.0,
    stop_grace: float = STOP_GRACE_SECONDS,
) -> T:
    """``operation()`` until it succeeds; dependency errors are retried with backoff, reported in
    ``health`` and counted; a bug is raised; :class:`GaveUp` once ``stopping()``."""
    delay = first_delay
    while True:
        try:
            result = await _attempt(operation, stopping, stop_grace)
        except GaveUp:
            raise
        except Exception as exc:
            health.report(what, exc)
            if not is_retryable(exc):
                log.exception("%s failed with an error retrying cannot fix", what)
                raise
            metrics.DEPENDENCY_RETRIES.labels(what, error_label(exc)).inc()
            slept = 0.0
            while slept < delay:  # back off, but notice a stop meanwhile
                if stopping():
                    raise GaveUp from exc
                step = min(_POLL_SECONDS, delay - slept)
                await asyncio.sleep(step)
                slept += step
            delay = min(delay * 2, max_delay)
        else:
            health.clear(what)
            return result


async def run_once(operation: Callable[[], Awaitable[T]], what: str, health: Health) -> T | None:
    """One timer tick: its failure is reported and counted like a retry (the next tick is the
    retry), a bug is logged with its traceback; the timer itself never dies. None on failure."""
    try:
        result = await operation()
    except Exception as exc:
        health.report(what, exc)
        if is_retryable(exc):
            metrics.DEPENDENCY_RETRIES.labels(what, error_label(exc)).inc()
        else:
            log.exception("%s failed with an error retrying cannot fix", what)
        return None
    health.clear(what)
    return result
