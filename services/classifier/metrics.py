"""The classifier's Prometheus metrics (names from :mod:`invested.metric_defs`)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from invested import metric_defs as m

EVENTS_PROCESSED = Counter(
    m.CLASSIFIER_EVENTS_PROCESSED.removesuffix("_total"), "Events applied to windows", ["kind"]
)
DUPLICATES = Counter(m.CLASSIFIER_DUPLICATES.removesuffix("_total"), "Events seen before (by id)")
LATE_EVENTS = Counter(
    m.CLASSIFIER_LATE_EVENTS.removesuffix("_total"), "Events older than the window, dropped"
)
DEADLETTERED = Counter(
    m.CLASSIFIER_DEADLETTERED.removesuffix("_total"),
    "Unparseable records dead-lettered",
    ["reason"],
)
TRANSITIONS = Counter(
    m.CLASSIFIER_TRANSITIONS.removesuffix("_total"), "Segment transitions", ["from", "to"]
)
SEGMENT_MEMBERS = Gauge(
    m.CLASSIFIER_SEGMENT_MEMBERS, "Members per segment and community", ["community", "segment"]
)
PROCESSING_LATENCY = Histogram(
    m.CLASSIFIER_PROCESSING_LATENCY,
    "received_at to state committed in Redis",
    buckets=m.LATENCY_BUCKETS,
)
BATCH_SIZE = Histogram(m.CLASSIFIER_BATCH_SIZE, "Events per batch", buckets=m.BATCH_SIZE_BUCKETS)
SWEEP_DURATION = Histogram(
    m.CLASSIFIER_SWEEP_DURATION, "Duration of one inactivity sweep", buckets=m.LATENCY_BUCKETS
)
SWEPT_MEMBERS = Counter(
    m.CLASSIFIER_SWEPT_MEMBERS.removesuffix("_total"), "Members re-evaluated by sweeps"
)
CONSUMER_LAG = Gauge(
    m.CLASSIFIER_CONSUMER_LAG, "Records behind the end of the partition", ["partition"]
)
DEPENDENCY_RETRIES = Counter(
    m.CLASSIFIER_DEPENDENCY_RETRIES.removesuffix("_total"),
    "Failed Redis/Kafka calls that are retried, by operation and error (OOM, timeout, ...)",
    ["operation", "error"],
)
HEALTHY = Gauge(m.CLASSIFIER_HEALTHY, "1 while no Redis/Kafka operation is failing")
HEALTHY.set(1)
