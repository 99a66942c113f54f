"""Baseline: the classifier without batching, one Redis round trip per event.

Same Faust settings (captured from ``services/classifier/app.py``), same Lua step, same parsing,
metrics and transition publishing (the real :class:`~services.classifier.processor.Classifier`),
but the agent takes events one by one and the store calls the Lua script with one plain
``EVALSHA`` per step, no pipeline (an event aimed at another member has a second step, the
target's ``received`` one, so a second round trip); transitions, if any, are then produced and
acknowledged. It is what the classifier would be without ``take_events`` batching and pipelines.
Run: ``python -m bench.baselines.naive`` with the classifier's ``INVESTED_*`` settings.
"""

from __future__ import annotations

import sys
from typing import Any

import faust
import redis.asyncio as aioredis

from invested.service import boot, main_guarded
from invested.settings import Settings
from invested.topics import CLASSIFIER_DEADLETTER, ENGAGEMENT_EVENTS, MEMBER_TRANSITIONS
from services.classifier.app import add_metrics_page, kafka_publisher
from services.classifier.processor import Classifier
from services.classifier.rules import load_rules
from services.classifier.store import Step, StepResult, Store


class NaiveStore(Store):
    """The classifier's store and Lua step, one ``EVALSHA`` round trip per step instead of one
    per batch."""

    async def run(self, steps: list[Step]) -> list[StepResult]:
        results = []
        for step in steps:
            results.extend(self._parse([step], await self._call([self.encode(step)])))
        return results


def create_app(settings: Settings) -> faust.App:
    from bench.faustconf import classifier_faust_kwargs

    app_id, kwargs = classifier_faust_kwargs(settings)
    app = faust.App(app_id, **kwargs)
    rules = load_rules(settings.rules_file)
    store = NaiveStore(aioredis.Redis.from_url(settings.redis_url), rules, settings.history_limit)
    topic = app.topic(ENGAGEMENT_EVENTS, key_serializer="raw", value_serializer="raw")

    classifier = Classifier(store, kafka_publisher(app), MEMBER_TRANSITIONS, CLASSIFIER_DEADLETTER)

    @app.agent(topic)
    async def naive(stream: Any) -> None:
        async for value in stream:
            await classifier.process_batch([value])

    @app.task
    async def on_start() -> None:
        await store.publish_rules()

    add_metrics_page(app)

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        assigned = bool(app.consumer.assignment()) if app.consumer else False
        return web.json({"assigned": assigned}, status=200 if assigned else 503)

    return app


def main() -> None:
    settings = boot("bench-naive")
    app = create_app(settings)
    sys.argv = [sys.argv[0], "worker", "--loglevel", "warn"]
    app.main()


if __name__ == "__main__":
    main_guarded(main)
