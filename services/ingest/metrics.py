"""Ingest's Prometheus metrics, named in :mod:`invested.metric_defs` (dashboards use the names)."""

from __future__ import annotations

import functools

from prometheus_client import Counter, Gauge, Histogram

from invested import metric_defs as names

WEBHOOKS_RECEIVED = Counter(
    names.INGEST_WEBHOOKS_RECEIVED.removesuffix("_total"),
    "Webhook requests by platform and outcome (accepted, duplicate, ignored, deadlettered, "
    "handshake, interaction, unauthorized, bad_request, too_large, not_configured, "
    "broker_unavailable, internal_error).",
    ["platform", "outcome"],
)
SIGNATURE_FAILURES = Counter(
    names.INGEST_SIGNATURE_FAILURES.removesuffix("_total"),
    "Requests rejected as not authentic, by platform and reason.",
    ["platform", "reason"],
)
EVENTS_PUBLISHED = Counter(
    names.INGEST_EVENTS_PUBLISHED.removesuffix("_total"),
    "Engagement events acknowledged by Kafka, by platform and kind.",
    ["platform", "kind"],
)
PRODUCE_LATENCY = Histogram(
    names.INGEST_PRODUCE_LATENCY,
    "Time from handing a request's records to the producer to the last broker ack.",
    ["platform"],
    buckets=names.LATENCY_BUCKETS,
)
DEADLETTERED = Counter(
    names.INGEST_DEADLETTERED.removesuffix("_total"),
    "Authentic webhooks put on ingest.deadletter, by platform and reason.",
    ["platform", "reason"],
)
IGNORED = Counter(
    names.INGEST_IGNORED.removesuffix("_total"),
    "Authentic webhooks of events that carry nothing we count (answered 200, not dead-lettered), "
    "by platform and reason.",
    ["platform", "reason"],
)
CLOCK_ADJUSTED = Counter(
    names.INGEST_CLOCK_ADJUSTED.removesuffix("_total"),
    "Events whose time was moved to their receive time, by platform and reason (future: later "
    "than the receive time plus INVESTED_MAX_CLOCK_SKEW_SECONDS).",
    ["platform", "reason"],
)
DUPLICATES = Counter(
    names.INGEST_DUPLICATES.removesuffix("_total"),
    "Redeliveries recognised by their platform delivery id and not produced again.",
    ["platform"],
)
DEDUPE_ERRORS = Counter(
    names.INGEST_DEDUPE_ERRORS.removesuffix("_total"),
    "Redis errors of the delivery-id dedupe (ingest carries on; event ids stay deterministic).",
    ["operation"],
)
DEDUPE_UNWRITTEN = Gauge(
    names.INGEST_DEDUPE_UNWRITTEN,
    "Delivery ids Redis refused to store, held in memory (still detected) until written.",
)

# The per-request label children, looked up once per label set (every label value above comes
# from a fixed set: routes, outcomes, kinds, reason codes).
webhooks_received = functools.cache(WEBHOOKS_RECEIVED.labels)
events_published = functools.cache(EVENTS_PUBLISHED.labels)
produce_latency = functools.cache(PRODUCE_LATENCY.labels)
ignored = functools.cache(IGNORED.labels)
