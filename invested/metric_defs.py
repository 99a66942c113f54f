"""Every Prometheus metric name, defined once (dashboards and alerts refer to these).

Each service creates its metric objects from these names in its own ``metrics.py``, so a
service's ``/metrics`` shows only what it exports. Naming follows Prometheus conventions:
``_total`` for counters, ``_seconds`` for durations, base units.
"""

from __future__ import annotations

# --- ingest --------------------------------------------------------------------------------------
INGEST_WEBHOOKS_RECEIVED = "invested_ingest_webhooks_received_total"  # platform, outcome
INGEST_SIGNATURE_FAILURES = "invested_ingest_signature_failures_total"  # platform, reason
INGEST_EVENTS_PUBLISHED = "invested_ingest_events_published_total"  # platform, kind
INGEST_PRODUCE_LATENCY = "invested_ingest_produce_latency_seconds"  # platform (histogram)
INGEST_DEADLETTERED = "invested_ingest_deadlettered_total"  # platform, reason
INGEST_DUPLICATES = "invested_ingest_duplicates_total"  # platform
INGEST_DEDUPE_ERRORS = "invested_ingest_dedupe_errors_total"  # operation (Redis unreachable)
INGEST_IGNORED = "invested_ingest_ignored_total"  # platform, reason (authentic, nothing we count)
INGEST_CLOCK_ADJUSTED = "invested_ingest_clock_adjusted_total"  # platform, reason (future)
INGEST_DEDUPE_UNWRITTEN = "invested_ingest_dedupe_unwritten"  # gauge: ids Redis refused, in memory

# --- classifier ----------------------------------------------------------------------------------
CLASSIFIER_EVENTS_PROCESSED = "invested_classifier_events_processed_total"  # kind
CLASSIFIER_DUPLICATES = "invested_classifier_duplicate_events_total"
CLASSIFIER_LATE_EVENTS = "invested_classifier_late_events_total"
CLASSIFIER_DEADLETTERED = "invested_classifier_deadlettered_total"  # reason
CLASSIFIER_TRANSITIONS = "invested_classifier_transitions_total"  # from, to
CLASSIFIER_SEGMENT_MEMBERS = "invested_classifier_segment_members"  # community, segment (gauge)
CLASSIFIER_PROCESSING_LATENCY = "invested_classifier_processing_latency_seconds"  # histogram
CLASSIFIER_BATCH_SIZE = "invested_classifier_batch_size"  # histogram of events per batch
CLASSIFIER_SWEEP_DURATION = "invested_classifier_sweep_duration_seconds"  # histogram
CLASSIFIER_SWEPT_MEMBERS = "invested_classifier_swept_members_total"
CLASSIFIER_CONSUMER_LAG = "invested_classifier_consumer_lag"  # partition (gauge, records)
# operation, error: a Redis/Kafka call failed and is retried (or skipped until the next tick)
CLASSIFIER_DEPENDENCY_RETRIES = "invested_classifier_dependency_retries_total"
CLASSIFIER_HEALTHY = "invested_classifier_healthy"  # gauge: 1 while /healthz would answer 200

# --- api -----------------------------------------------------------------------------------------
API_REQUESTS = "invested_api_requests_total"  # route, method, status
API_REQUEST_DURATION = "invested_api_request_duration_seconds"  # route (histogram)
API_SSE_CLIENTS = "invested_api_sse_clients"  # gauge
API_SSE_REJECTED = "invested_api_sse_rejected_total"  # reason: per_key | total (over the caps)
API_SSE_DROPPED = "invested_api_sse_dropped_total"  # reason: slow | redis_unavailable

# --- every HTTP server (service = ingest, api, classifier) ---------------------------------------
HTTP_CONNECTIONS_CLOSED = "invested_{service}_http_connections_closed_total"  # reason

# Latency buckets shared by every *_seconds histogram: sub-millisecond to several seconds.
LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
BATCH_SIZE_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000)
