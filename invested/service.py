"""What every service's ``__main__`` does: load settings, log, check dependencies, serve.

Configuration and connectivity problems end the process with one clear line and exit code 2
(:class:`~invested.settings.ConfigError`), never a traceback wall.
"""

from __future__ import annotations

import gc
import logging
import sys
from collections.abc import Callable

from invested.connections import wait_for_kafka, wait_for_redis
from invested.logs import configure_logging
from invested.settings import ConfigError, Settings, load_settings

log = logging.getLogger(__name__)


def boot(service: str, *, kafka: bool = True, redis: bool = True) -> Settings:
    """Load settings and wait for the dependencies this service needs; fail fast otherwise."""
    settings = load_settings()
    configure_logging(settings.log_level, service)
    if kafka:
        wait_for_kafka(settings.kafka_bootstrap, settings.startup_timeout_seconds)
    if redis:
        wait_for_redis(settings.redis_url, settings.startup_timeout_seconds)
    return settings


def main_guarded(main: Callable[[], None]) -> None:
    """Run a service's main; ConfigError → one line on stderr and exit 2."""
    try:
        main()
    except ConfigError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        pass


GC_GEN0_THRESHOLD = 5000


def tune_gc_for_requests(gen0_threshold: int = GC_GEN0_THRESHOLD) -> None:
    """Garbage collection for a request-serving process, called once start-up is done: everything
    alive by then (modules, settings, verifiers) is frozen out of the collector's scans, and the
    young generation is collected every ``gen0_threshold`` allocations instead of 700 (a request
    allocates a few hundred objects; at the default, objects of requests in flight were promoted
    and rescanned by older-generation collections, about 5% of ingest's CPU under load)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(gen0_threshold, 10, 10)


def serve_http(app: object, settings: Settings, port: int, service: str) -> None:
    """Serve ``app`` in the foreground with the HTTP limits of ``settings``
    (:mod:`invested.httpserver`: header/body deadlines, connection limit, JSON 400)."""
    from invested.httpserver import HttpLimits, server

    log.info("%s listening on http://%s:%d", service, settings.bind_host, port)
    limits = HttpLimits.from_settings(settings, service)
    server(app, settings.bind_host, port, limits, settings.log_level).run()
