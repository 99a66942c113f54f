"""Generate the Grafana dashboards in deploy/grafana/dashboards/ (``make dashboards``).

The JSON files are committed (Grafana provisions them from disk); this script is their source, so
panels share one layout and one datasource convention, and a test fails when the two drift.
Every metric name comes from :mod:`invested.metric_defs`; a test scrapes the running services and
checks that each name used here is really exported.

    python deploy/grafana/generate.py          # rewrite the JSON files
    python deploy/grafana/generate.py --check  # exit 1 if they are not what this script makes
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from invested import metric_defs as m  # noqa: E402

OUT = Path(__file__).resolve().parent / "dashboards"
DS = {"type": "prometheus", "uid": "${datasource}"}
RATE = "[$__rate_interval]"
SERVICES = 'job=~"ingest|classifier|api"'


def bucket(histogram: str) -> str:
    return histogram + "_bucket"


def quantiles(histogram: str, matchers: str = "", by: str = "le") -> list[tuple[str, str]]:
    sel = f"{bucket(histogram)}{{{matchers}}}" if matchers else bucket(histogram)
    return [
        (f"histogram_quantile({q}, sum by ({by}) (rate({sel}{RATE})))", f"p{int(q * 100)}")
        for q in (0.5, 0.95, 0.99)
    ]


class Board:
    """Lays panels out left to right, 24 columns wide, wrapping rows."""

    def __init__(self) -> None:
        self.panels: list[dict[str, Any]] = []
        self.x = 0
        self.y = 0
        self.row_height = 0
        self.next_id = 1

    def _place(self, w: int, h: int) -> dict[str, int]:
        if self.x + w > 24:
            self.x, self.y = 0, self.y + self.row_height
            self.row_height = 0
        pos = {"x": self.x, "y": self.y, "w": w, "h": h}
        self.x += w
        self.row_height = max(self.row_height, h)
        return pos

    def row(self, title: str) -> None:
        if self.x:
            self.x, self.y = 0, self.y + self.row_height
        self.panels.append(
            {
                "type": "row",
                "id": self._id(),
                "title": title,
                "collapsed": False,
                "gridPos": {"x": 0, "y": self.y, "w": 24, "h": 1},
                "panels": [],
            }
        )
        self.y += 1
        self.row_height = 0

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def _targets(self, queries: list[tuple[str, str]]) -> list[dict[str, Any]]:
        return [
            {
                "datasource": DS,
                "expr": expr,
                "legendFormat": legend,
                "range": True,
                "refId": chr(ord("A") + i),
            }
            for i, (expr, legend) in enumerate(queries)
        ]

    def timeseries(
        self,
        title: str,
        queries: list[tuple[str, str]],
        unit: str = "short",
        description: str = "",
        w: int = 12,
        h: int = 8,
        stack: bool = False,
        **extra: Any,
    ) -> None:
        custom: dict[str, Any] = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10}
        if stack:
            custom["stacking"] = {"mode": "normal", "group": "A"}
        self.panels.append(
            {
                "type": "timeseries",
                "id": self._id(),
                "title": title,
                "description": description,
                "datasource": DS,
                "gridPos": self._place(w, h),
                "fieldConfig": {"defaults": {"unit": unit, "custom": custom}, "overrides": []},
                "options": {
                    "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                    "tooltip": {"mode": "multi", "sort": "desc"},
                },
                "targets": self._targets(queries),
                **extra,
            }
        )

    def stat(
        self,
        title: str,
        queries: list[tuple[str, str]],
        unit: str = "short",
        description: str = "",
        w: int = 6,
        h: int = 4,
        thresholds: list[tuple[float | None, str]] | None = None,
    ) -> None:
        steps = [{"color": c, "value": v} for v, c in (thresholds or [(None, "green")])]
        self.panels.append(
            {
                "type": "stat",
                "id": self._id(),
                "title": title,
                "description": description,
                "datasource": DS,
                "gridPos": self._place(w, h),
                "fieldConfig": {
                    "defaults": {
                        "unit": unit,
                        "thresholds": {"mode": "absolute", "steps": steps},
                    },
                    "overrides": [],
                },
                "options": {
                    "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                    "colorMode": "value",
                    "graphMode": "area",
                    "textMode": "auto",
                },
                "targets": self._targets(queries),
            }
        )


def datasource_variable() -> dict[str, Any]:
    return {
        "name": "datasource",
        "label": "Data source",
        "type": "datasource",
        "query": "prometheus",
        "current": {"selected": False, "text": "Prometheus", "value": "invested-prometheus"},
        "hide": 0,
        "refresh": 1,
        "options": [],
    }


def query_variable(name: str, label: str, metric: str, label_name: str) -> dict[str, Any]:
    query = f"label_values({metric}, {label_name})"
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DS,
        "definition": query,
        "query": {"query": query, "refId": f"{name}-values"},
        "multi": True,
        "includeAll": True,
        "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "refresh": 2,
        "sort": 1,
        "hide": 0,
        "options": [],
    }


def dashboard(
    uid: str, title: str, description: str, board: Board, variables: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["invested"],
        "timezone": "browser",
        "editable": False,
        "graphTooltip": 1,
        "refresh": "30s",
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": variables},
        "annotations": {"list": []},
        "links": [
            {
                "title": "Invested dashboards",
                "type": "dashboards",
                "tags": ["invested"],
                "asDropdown": True,
                "includeVars": True,
                "keepTime": True,
            }
        ],
        "panels": board.panels,
    }


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


def community() -> dict[str, Any]:
    sel = 'community=~"$community"'
    members = m.CLASSIFIER_SEGMENT_MEMBERS
    transitions = m.CLASSIFIER_TRANSITIONS
    # Every classifier replica reports the same Redis-wide segment counts: max, never sum.
    size = f"max by (community, segment) ({members}{{{sel}}})"
    b = Board()
    b.row("Now (selected communities)")
    for segment, colour in (("community", "green"), ("audience", "blue"), ("dormant", "text")):
        b.stat(
            f"{segment.capitalize()} members",
            [
                (
                    f'sum(max by (community) ({members}{{{sel}, segment="{segment}"}}))',
                    segment,
                )
            ],
            thresholds=[(None, colour)],
        )
    b.stat(
        "Community share",
        [
            (
                f'sum(max by (community) ({members}{{{sel}, segment="community"}})) / '
                f'sum(max by (community) ({members}{{{sel}, segment=~"community|audience"}}))',
                "community / (community + audience)",
            )
        ],
        unit="percentunit",
        description="Invested members among everyone interested (dormant members excluded).",
    )

    b.row("Segment sizes")
    b.timeseries(
        "Audience, community and dormant members per community",
        [(size, "{{community}} {{segment}}")],
        description="Current members per segment; one series per community and segment.",
        w=24,
        h=9,
    )
    b.timeseries(
        "$community",
        [(f'max by (segment) ({members}{{community=~"$community"}})', "{{segment}}")],
        description="Segment sizes of one community (a panel per selected community).",
        w=8,
        h=7,
        stack=True,
        repeat="community",
        repeatDirection="h",
        maxPerRow=3,
    )

    b.row("Transitions (all communities: the transition counter has no community label)")
    b.timeseries(
        "Transitions per hour by direction",
        [(f"sum by (from, to) (increase({transitions}[1h]))", "{{from}} → {{to}}")],
        description="Members that changed segment in the trailing hour, by direction.",
        interval="5m",
    )
    b.timeseries(
        "Promotions and demotions per hour",
        [
            (f'sum(increase({transitions}{{to="community"}}[1h]))', "into community"),
            (f'sum(increase({transitions}{{from="community"}}[1h]))', "out of community"),
        ],
        interval="5m",
    )
    b.timeseries(
        "Audience → community conversion (per day)",
        [
            (
                f'sum(increase({transitions}{{from="audience", to="community"}}[1d])) / '
                f'sum(max by (community) ({members}{{segment="audience"}}))',
                "share of the audience converted in the trailing day",
            )
        ],
        unit="percentunit",
        description="Audience members who became community in the last 24 h, over the current "
        "audience size.",
        interval="15m",
    )
    b.timeseries(
        "Community size change over 24 h",
        [
            (
                f'max by (community) (delta({members}{{{sel}, segment="community"}}[1d]))',
                "{{community}}",
            )
        ],
        description="Net change of each selected community's community segment (promotions "
        "minus demotions) over the trailing day.",
        interval="15m",
    )
    return dashboard(
        "invested-community",
        "Invested / Community",
        "Who is audience, who is community, how that changes: sizes per community, transitions "
        "by direction, audience → community conversion.",
        b,
        [
            datasource_variable(),
            query_variable("community", "Community", members, "community"),
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
