"""Baseline: a bare Faust agent that only iterates ``engagement.events`` (the ceiling).

Same Faust settings as the classifier (captured from ``services/classifier/app.py`` by
:mod:`bench.faustconf`), same topic and serializers, same batching (``take_events`` with
``INVESTED_BATCH_SIZE`` / ``INVESTED_BATCH_TIMEOUT_SECONDS``); it counts what it sees and does
nothing else, so no Faust-based processor of this stream can be faster on this machine.
``/metrics`` serves ``bench_bare_events_seen_total``; ``/healthz`` answers 200 once partitions
are assigned. Run: ``python -m bench.baselines.bare_faust`` with the classifier's ``INVESTED_*``.
"""

from __future__ import annotations

import sys
from typing import Any

import faust
from prometheus_client import Counter

from invested.service import boot, main_guarded
from invested.settings import Settings
from invested.topics import ENGAGEMENT_EVENTS
from services.classifier.app import add_metrics_page

SEEN = Counter("bench_bare_events_seen", "Records the bare agent iterated")
SEEN_METRIC = "bench_bare_events_seen_total"


def create_app(settings: Settings) -> faust.App:
    from bench.faustconf import classifier_faust_kwargs

    app_id, kwargs = classifier_faust_kwargs(settings)
    app = faust.App(app_id, **kwargs)
    topic = app.topic(ENGAGEMENT_EVENTS, key_serializer="raw", value_serializer="raw")

    @app.agent(topic)
    async def bare(stream: Any) -> None:
        async for batch in stream.take_events(
            settings.batch_size, within=settings.batch_timeout_seconds
        ):
            SEEN.inc(len(batch))

    add_metrics_page(app)

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        assigned = bool(app.consumer.assignment()) if app.consumer else False
        return web.json({"assigned": assigned}, status=200 if assigned else 503)

    return app


def main() -> None:
    settings = boot("bench-bare-faust", redis=False)
    app = create_app(settings)
    sys.argv = [sys.argv[0], "worker", "--loglevel", "warn"]
    app.main()


if __name__ == "__main__":
    main_guarded(main)
