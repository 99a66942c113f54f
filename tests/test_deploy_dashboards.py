"""Every Grafana dashboard validates against Grafana's published dashboard schema.

The schemas are vendored in deploy/grafana/schema/ (Grafana Foundation SDK, generated from the
dashboard kind in grafana/grafana; README there). Each dashboard in deploy/grafana/dashboards/ is
checked whole against the dashboard schema, and each panel target against the Prometheus data
source's query schema (the dashboard schema leaves targets open to the data source plugin).
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_DIR = ROOT / "deploy/grafana/schema"
DASHBOARD_SCHEMA = SCHEMA_DIR / "dashboard.jsonschema.json"
PROMETHEUS_QUERY_SCHEMA = SCHEMA_DIR / "prometheus.jsonschema.json"
DASHBOARDS = sorted((ROOT / "deploy/grafana/dashboards").glob("*.json"))


def validator(path: Path) -> jsonschema.protocols.Validator:
    schema = json.loads(path.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def problems(validator: jsonschema.protocols.Validator, document: Any) -> list[str]:
    """One line per violation, with the JSON path of the offending value."""
    return [
        f"/{'/'.join(map(str, error.absolute_path))}: {error.message[:300]}"
        for error in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    ]


def targets(board: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    def walk(panels: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
        for panel in panels:
            for target in panel.get("targets", []):
                yield f"{panel.get('title')!r} {target.get('refId')}", target
            yield from walk(panel.get("panels", []))

    yield from walk(board.get("panels", []))


def test_the_vendored_schemas_are_the_ones_the_readme_names() -> None:
    readme = (SCHEMA_DIR / "README.md").read_text()
    for path in (DASHBOARD_SCHEMA, PROMETHEUS_QUERY_SCHEMA):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert f"`{path.name}`" in readme and digest in readme, (
            f"{path.name} (sha256 {digest}) differs from what deploy/grafana/schema/README.md "
            "names: update the table when you update the file"
        )
    assert (SCHEMA_DIR / "LICENSE").read_text().lstrip().startswith("Apache License")


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_validates_against_grafanas_dashboard_schema(path: Path) -> None:
    found = problems(validator(DASHBOARD_SCHEMA), json.loads(path.read_text()))
    assert not found, f"{path.name} fails Grafana's dashboard schema:\n" + "\n".join(found)


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_every_target_validates_against_the_prometheus_query_schema(path: Path) -> None:
    query_schema = validator(PROMETHEUS_QUERY_SCHEMA)
    board = json.loads(path.read_text())
    found = []
    for where, target in targets(board):
        assert target["datasource"]["type"] == "prometheus", where
        found += [f"{where} {line}" for line in problems(query_schema, target)]
    assert not found, f"{path.name}: targets fail the Prometheus query schema:\n" + "\n".join(found)


def test_the_schema_catches_what_grafana_would_not_load() -> None:
    """Not vacuous: typical mistakes in a generated dashboard are rejected."""
    dashboards = validator(DASHBOARD_SCHEMA)
    board = json.loads(DASHBOARDS[0].read_text())
    assert not problems(dashboards, board)
    mistakes = {
        "unknown top-level key": lambda b: b.update(pannels=[]),
        "panel key misspelt": lambda b: b["panels"][1].update(gridpos=b["panels"][1]["gridPos"]),
        "grid wider than 24": lambda b: b["panels"][1]["gridPos"].update(w=25),
        "variable of no type": lambda b: b["templating"]["list"][0].update(type="dropdown"),
        "no annotations": lambda b: b.pop("annotations"),
    }
    for name, mutate in mistakes.items():
        broken = copy.deepcopy(board)
        mutate(broken)
        assert problems(dashboards, broken), f"the schema accepted: {name}"
    query = validator(PROMETHEUS_QUERY_SCHEMA)
    target = next(targets(board))[1]
    assert problems(query, {**target, "legendformat": "{{job}}"})  # misspelt option
    assert problems(query, {k: v for k, v in target.items() if k != "expr"})
