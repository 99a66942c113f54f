"""Serving the app with uvicorn, in the foreground (``__main__``) or in a thread (tests, demos).

The server is :func:`invested.httpserver.server` (header/body deadlines, connection limit, JSON
400) with a bound on graceful shutdown: open SSE streams never end by themselves, so without it
a SIGTERM would wait for every client to hang up.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType

import uvicorn

from invested import httpserver
from invested.httpserver import HttpLimits

GRACEFUL_SHUTDOWN_SECONDS = 2


def server(
    app: object,
    host: str,
    port: int,
    log_level: str = "info",
    limits: HttpLimits | None = None,
) -> uvicorn.Server:
    # No access log (in the limits' options): request lines would carry ids; keep logs lean.
    return httpserver.server(
        app, host, port, limits or HttpLimits("api"), log_level, GRACEFUL_SHUTDOWN_SECONDS
    )


class ServerThread:
    """``with ServerThread(app, port) as base_url:`` serves on 127.0.0.1 until the block ends."""

    def __init__(
        self, app: object, port: int, host: str = "127.0.0.1", limits: HttpLimits | None = None
    ) -> None:
        self.server = server(app, host, port, "warning", limits)
        self.base_url = f"http://{host}:{port}"
        self._thread = threading.Thread(target=self.server.run, name="api-server", daemon=True)

    def __enter__(self) -> str:
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the API server did not start")
            time.sleep(0.02)
        return self.base_url

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.server.should_exit = True
        self._thread.join(GRACEFUL_SHUTDOWN_SECONDS + 10)
