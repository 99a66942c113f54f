"""Building blocks of the Grafana dashboards: panel layout, variables, the dashboard envelope.

:mod:`generate` (``make dashboards``) composes the Invested dashboards from these; the JSON they
make is validated against Grafana's published dashboard schema
(``deploy/grafana/schema/``, ``tests/test_deploy_dashboards.py``).
"""

from __future__ import annotations

from typing import Any

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
        # The string form, which Grafana's Prometheus variable editor reads (and upgrades) like
        # its object form. The published JSON Schema narrows the kind's `string | {...}` to
        # objects of objects, so `{"query": ..., "refId": ...}` fails it (schema/README.md).
        "query": query,
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
                # Required by the schema; Grafana writes them for every link it saves.
                "icon": "external link",
                "tooltip": "",
                "url": "",
                "targetBlank": False,
                "asDropdown": True,
                "includeVars": True,
                "keepTime": True,
            }
        ],
        "panels": board.panels,
    }
