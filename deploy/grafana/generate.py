"""Generate the Grafana dashboards in deploy/grafana/dashboards/ (``make dashboards``).

The JSON files are committed (Grafana provisions them from disk); this script is their source, so
panels share one layout and one datasource convention, and a test fails when the two drift.
Every metric name comes from :mod:`invested.metric_defs`; a test scrapes the running services and
checks that each name used here is really exported, and another validates the JSON against
Grafana's published dashboard schema (deploy/grafana/schema/). The panel layout and variables are
in ``layout.py``, the Community dashboard in ``community_board.py``, Pipeline health here.

    python deploy/grafana/generate.py          # rewrite the JSON files
    python deploy/grafana/generate.py --check  # exit 1 if they are not what this script makes
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # invested; layout and community_board sit beside this script

from community_board import community  # noqa: E402
from layout import (  # noqa: E402
    RATE,
    SERVICES,
    Board,
    bucket,
    dashboard,
    datasource_variable,
    quantiles,
    query_variable,
)

from invested import metric_defs as m  # noqa: E402

OUT = Path(__file__).resolve().parent / "dashboards"


def pipeline_health() -> dict[str, Any]:
    plat = 'platform=~"$platform"'
    b = Board()
    b.row("Overview")
    b.stat(
        "Replicas up",
        [(f"sum by (job) (up{{{SERVICES}}})", "{{job}}")],
        description="Scraped targets answering per service (classifier: one per replica).",
        thresholds=[(None, "red"), (1, "green")],
    )
    b.stat(
        "Webhooks / s",
        [(f"sum(rate({m.INGEST_WEBHOOKS_RECEIVED}{{{plat}}}{RATE}))", "webhooks")],
        unit="reqps",
    )
    b.stat(
        "Consumer lag",
        [(f"sum(max by (partition) ({m.CLASSIFIER_CONSUMER_LAG}))", "records")],
        description="Records on engagement.events not yet processed, all partitions.",
        thresholds=[(None, "green"), (1000, "orange"), (100000, "red")],
    )
    b.stat(
        "Processing p99",
        quantiles(m.CLASSIFIER_PROCESSING_LATENCY)[2:],
        unit="s",
        description="Webhook received to state committed in Redis.",
        thresholds=[(None, "green"), (1, "orange"), (5, "red")],
    )

    b.row("Ingest")
    b.timeseries(
        "Webhooks received by platform and outcome",
        [
            (
                f"sum by (platform, outcome) (rate({m.INGEST_WEBHOOKS_RECEIVED}{{{plat}}}{RATE}))",
                "{{platform}} {{outcome}}",
            )
        ],
        unit="reqps",
        stack=True,
    )
    b.timeseries(
        "Events published to Kafka by platform",
        [
            (
                f"sum by (platform) (rate({m.INGEST_EVENTS_PUBLISHED}{{{plat}}}{RATE}))",
                "{{platform}}",
            )
        ],
        unit="ops",
        stack=True,
    )
    b.timeseries(
        "Events published by kind",
        [
            (
                f"sum by (kind) (rate({m.INGEST_EVENTS_PUBLISHED}{{{plat}}}{RATE}))",
                "{{kind}}",
            )
        ],
        unit="ops",
        stack=True,
    )
    b.timeseries(
        "Kafka produce latency (acks=all) p50 / p95 / p99",
        quantiles(m.INGEST_PRODUCE_LATENCY, plat),
        unit="s",
        description="From send to broker acknowledgement; a webhook is answered 2xx only after it.",
    )
    b.timeseries(
        "Signature failures by platform and reason",
        [
            (
                f"sum by (platform, reason) (rate({m.INGEST_SIGNATURE_FAILURES}{{{plat}}}{RATE}))",
                "{{platform}} {{reason}}",
            )
        ],
        unit="reqps",
    )
    b.timeseries(
        "Duplicates",
        [
            (
                f"sum by (platform) (rate({m.INGEST_DUPLICATES}{{{plat}}}{RATE}))",
                "ingest redeliveries {{platform}}",
            ),
            (f"sum(rate({m.CLASSIFIER_DUPLICATES}{RATE}))", "classifier duplicate events"),
        ],
        unit="ops",
        description="Ingest: platform redeliveries dropped by delivery id. Classifier: events "
        "already counted (event-id dedupe in the window update).",
    )

    b.row("Classifier")
    b.timeseries(
        "Kafka consumer lag by partition",
        [(f"max by (partition) ({m.CLASSIFIER_CONSUMER_LAG})", "partition {{partition}}")],
        unit="short",
        description="Records behind the end of each engagement.events partition.",
        stack=True,
    )
    b.timeseries(
        "Processing latency p50 / p95 / p99",
        quantiles(m.CLASSIFIER_PROCESSING_LATENCY),
        unit="s",
        description="Webhook received (received_at) to the window update committed in Redis.",
    )
    b.timeseries(
        "Events processed by kind",
        [(f"sum by (kind) (rate({m.CLASSIFIER_EVENTS_PROCESSED}{RATE}))", "{{kind}}")],
        unit="ops",
        stack=True,
    )
    b.timeseries(
        "Events processed per replica",
        [(f"sum by (instance) (rate({m.CLASSIFIER_EVENTS_PROCESSED}{RATE}))", "{{instance}}")],
        unit="ops",
        description="How the partitions' load spreads over classifier replicas.",
    )
    b.timeseries(
        "Batch size p50 / p99",
        [
            (
                f"histogram_quantile({q}, sum by (le) (rate({bucket(m.CLASSIFIER_BATCH_SIZE)}{RATE})))",
                f"p{int(q * 100)}",
            )
            for q in (0.5, 0.99)
        ],
        unit="short",
        description="Events per Redis round trip (INVESTED_BATCH_SIZE caps it).",
    )
    b.timeseries(
        "Inactivity sweep",
        [
            (
                f"histogram_quantile(0.95, sum by (le) (rate({bucket(m.CLASSIFIER_SWEEP_DURATION)}{RATE})))",
                "duration p95",
            ),
            (f"sum(rate({m.CLASSIFIER_SWEPT_MEMBERS}{RATE}))", "members swept / s"),
        ],
        unit="short",
    )

    b.row("Dead letters and errors")
    b.timeseries(
        "Dead letters",
        [
            (
                f"sum by (platform, reason) (rate({m.INGEST_DEADLETTERED}{{{plat}}}{RATE}))",
                "ingest {{platform}} {{reason}}",
            ),
            (
                f"sum by (reason) (rate({m.CLASSIFIER_DEADLETTERED}{RATE}))",
                "classifier {{reason}}",
            ),
        ],
        unit="ops",
        description="ingest.deadletter: authentic webhooks of mapped events that could not be "
        "mapped. classifier.deadletter: records on engagement.events that could not be parsed.",
    )
    b.timeseries(
        "Ignored webhooks and adjusted event times",
        [
            (
                f"sum by (platform, reason) (rate({m.INGEST_IGNORED}{{{plat}}}{RATE}))",
                "ignored {{platform}} {{reason}}",
            ),
            (
                f"sum by (platform, reason) (rate({m.INGEST_CLOCK_ADJUSTED}{{{plat}}}{RATE}))",
                "time adjusted {{platform}} {{reason}}",
            ),
        ],
        unit="ops",
        description="Authentic webhooks of events not counted (a label added, an edit, a "
        "whisper: answered 200, not dead-lettered), and events whose time lay in the future "
        "(set to their receive time).",
    )
    b.timeseries(
        "Late events dropped",
        [(f"sum(rate({m.CLASSIFIER_LATE_EVENTS}{RATE}))", "older than the window")],
        unit="ops",
    )
    b.timeseries(
        "Errors",
        [
            (
                f'sum by (route) (rate({m.API_REQUESTS}{{status=~"5.."}}{RATE}))',
                "api 5xx {{route}}",
            ),
            (
                f"sum by (outcome) (rate({m.INGEST_WEBHOOKS_RECEIVED}"
                f'{{outcome=~"broker_unavailable|internal_error"}}{RATE}))',
                "ingest 503 {{outcome}}",
            ),
            (
                f"sum by (operation) (rate({m.INGEST_DEDUPE_ERRORS}{RATE}))",
                "ingest dedupe {{operation}} (Redis)",
            ),
            (f"sum by (job, instance) (1 - up{{{SERVICES}}})", "scrape failing {{instance}}"),
        ],
        unit="ops",
        description="Server errors of the API, webhooks ingest answered 503 (platforms retry "
        "them), ingest's Redis dedupe failures, and replicas that do not answer scrapes.",
    )

    b.row("API")
    b.timeseries(
        "API requests by route and status",
        [
            (
                f"sum by (route, status) (rate({m.API_REQUESTS}{RATE}))",
                "{{route}} {{status}}",
            )
        ],
        unit="reqps",
    )
    b.timeseries(
        "API latency p95 by route",
        [
            (
                f"histogram_quantile(0.95, sum by (le, route) (rate({bucket(m.API_REQUEST_DURATION)}{RATE})))",
                "{{route}}",
            )
        ],
        unit="s",
    )
    b.timeseries(
        "Open SSE transition streams",
        [(f"sum({m.API_SSE_CLIENTS})", "clients")],
        unit="short",
        w=24,
        h=6,
    )
    return dashboard(
        "invested-pipeline-health",
        "Invested / Pipeline health",
        "Webhooks in, events through Kafka, classification latency and lag, dead letters, "
        "duplicates and errors.",
        b,
        [
            datasource_variable(),
            query_variable("platform", "Platform", m.INGEST_WEBHOOKS_RECEIVED, "platform"),
        ],
    )


DASHBOARDS = {
    "pipeline-health.json": pipeline_health,
    "community.json": community,
}


def render() -> dict[str, str]:
    return {
        name: json.dumps(build(), indent=2, ensure_ascii=False) + "\n"
        for name, build in DASHBOARDS.items()
    }


def main(argv: list[str]) -> int:
    rendered = render()
    if argv == ["--check"]:
        stale = [n for n, text in rendered.items() if (OUT / n).read_text() != text]
        if stale:
            print(f"out of date: {', '.join(stale)}; run make dashboards", file=sys.stderr)
            return 1
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    for name, text in rendered.items():
        (OUT / name).write_text(text)
        print(f"wrote {OUT.relative_to(ROOT) / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
