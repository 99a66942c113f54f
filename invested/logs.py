"""Logging set-up shared by the services: one line per record, level from settings.

Some records repeat once per connection or per event-loop tick when a server is under attack or
out of file descriptors (asyncio's "socket.accept() out of system resource" comes with a
traceback, many times a second); :func:`rate_limit_flood_logs` lets each such message through
once per interval, with the number held back.
"""

from __future__ import annotations

import logging
import sys
import time

FLOOD_INTERVAL_SECONDS = 30.0
# (logger, start of the message) of the records a flood repeats.
FLOOD_MESSAGES = {
    "asyncio": ("socket.accept() out of system resource",),
    "uvicorn.error": ("Invalid HTTP request received.", "Exceeded concurrency limit."),
}


class OncePerInterval(logging.Filter):
    """Lets a record whose message starts with one of ``prefixes`` through once per
    ``interval`` seconds; the next one that passes says how many were held back."""

    def __init__(self, prefixes: tuple[str, ...], interval: float = FLOOD_INTERVAL_SECONDS) -> None:
        super().__init__()
        self.prefixes = prefixes
        self.interval = interval
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        prefix = next((p for p in self.prefixes if message.startswith(p)), None)
        if prefix is None:
            return True
        now = time.monotonic()
        if now - self._last.get(prefix, -self.interval) < self.interval:
            self._held[prefix] = self._held.get(prefix, 0) + 1
            return False
        self._last[prefix] = now
        held = self._held.pop(prefix, 0)
        if held:
            record.msg = f"{record.msg} ({held} more like this in the last {self.interval:.0f} s)"
        return True


def rate_limit_flood_logs() -> None:
    """Install :class:`OncePerInterval` on the loggers a flood would fill (idempotent)."""
    for name, prefixes in FLOOD_MESSAGES.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, OncePerInterval) for f in logger.filters):
            logger.addFilter(OncePerInterval(prefixes))


def configure_logging(level: str, service: str) -> None:
    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        format=f"%(asctime)s %(levelname)-7s {service} %(name)s: %(message)s",
        force=True,
    )
    # Client libraries are chatty at INFO on every reconnect; keep their warnings only.
    for noisy in ("kafka", "aiokafka", "faust", "mode", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    rate_limit_flood_logs()
