"""Every metric the dashboards and alert rules query is exported by the running services.

The Grafana dashboards (deploy/grafana/dashboards/*.json) and the Prometheus alert rules
(deploy/prometheus/rules/*.yml) are parsed, the metric names are extracted from every PromQL
expression, and each one is looked up in the real ``/metrics`` output of ingest, classifier and
API, started here as subprocesses on the session broker and Redis. A renamed or dropped metric
breaks the build instead of a dashboard panel going blank in production.

Exported names are derived from the exposition's ``# TYPE`` lines, so a labelled metric that has
no sample yet still counts, and the suffixes are the real ones: a counter ``x`` is queried as
``x_total``, a histogram ``h`` as ``h_bucket``/``h_sum``/``h_count`` (never bare ``h``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from invested import metric_defs
from invested.devsecrets import DEV_ENV
from invested.stack import _die_with_parent, free_port, terminate
from tests.backends import Backend

ROOT = Path(__file__).resolve().parent.parent
DASHBOARDS = sorted((ROOT / "deploy/grafana/dashboards").glob("*.json"))
RULE_FILES = sorted((ROOT / "deploy/prometheus/rules").glob("*.yml"))
RULE_TESTS = sorted((ROOT / "deploy/prometheus/tests").glob("*.yml"))

# Series Prometheus makes itself for every target; no service exports them.
PROMETHEUS_SYNTHETIC = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}

# --- a small, honest PromQL metric-name extractor ----------------------------------------------

_STRING = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')
_PLACEHOLDER = re.compile(r"\x00(\d+)\x00")
_NAME_MATCHER = re.compile(r"__name__\s*=\s*\x00(\d+)\x00")
_GRAFANA_VARIABLE = re.compile(r"\$\{[^}]*\}|\$\w+|\[\[\w+\]\]")
_GROUPING = re.compile(
    r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", re.IGNORECASE
)
_BRACES = re.compile(r"\{[^{}]*\}")
_BRACKETS = re.compile(r"\[[^\[\]]*\]")
# numbers, hex, durations (5m, 1h30m, 250ms) and the at-modifier's timestamps
_NUMBER = re.compile(
    r"(?<![A-Za-z0-9_:.])(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
    r"(?:(?:ms|[smhdwy])(?:\d+(?:ms|[smhdwy]))*)?)"
)
_IDENTIFIER = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_KEYWORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "offset",
    "bool",
    "and",
    "or",
    "unless",
    "atan2",
    "inf",
    "nan",
}


def promql_metric_names(expr: str) -> set[str]:
    """Metric names an expression selects: what is left once everything that is not one goes.

    Strings (they may hold anything, e.g. label_replace regexes), Grafana variables, label
    matchers, range/subquery brackets, grouping label lists, numbers and durations are removed;
    an identifier followed by ``(`` is a function or an aggregation, and the operators and
    modifiers (``and``, ``offset``, ``bool`` ...) are keywords. ``{__name__="x"}`` selects ``x``.
    """
    strings: list[str] = []

    def stash(match: re.Match[str]) -> str:
        strings.append(match.group(0)[1:-1])
        return f"\x00{len(strings) - 1}\x00"

    text = _STRING.sub(stash, expr)
    names = {strings[int(i)] for i in _NAME_MATCHER.findall(text)}
    text = _PLACEHOLDER.sub(" ", text)
    text = _GRAFANA_VARIABLE.sub(" 0 ", text)
    for pattern in (_BRACES, _BRACKETS):  # innermost first, until none is left
        while pattern.search(text):
            text = pattern.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    text = _NUMBER.sub(" ", text)
    for match in _IDENTIFIER.finditer(text):
        word = match.group(0)
        if word.lower() in _KEYWORDS or re.match(r"\s*\(", text[match.end() :]):
            continue
        names.add(word)
    return names


_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(.+?)\s*,\s*[A-Za-z_]\w*\s*\)\s*$", re.DOTALL)
_QUERY_RESULT = re.compile(r"^\s*query_result\((.*)\)\s*$", re.DOTALL)


def variable_query_names(query: str) -> set[str]:
    """Metric names in a Grafana Prometheus variable query (label_values / query_result)."""
    if match := _LABEL_VALUES.match(query):
        return promql_metric_names(match.group(1))
    if match := _QUERY_RESULT.match(query):
        return promql_metric_names(match.group(1))
    return set()


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("up", {"up"}),
        ('sum by (job) (up{job=~"ingest|api"})', {"up"}),
        (
            'histogram_quantile(0.99, sum by (le) (rate(x_seconds_bucket{a="b"}[$__rate_interval])))',
            {"x_seconds_bucket"},
        ),
        (
            'sum(rate(a_total{route=~"/v1/{id}"}[5m])) by (route) / on() group_left sum(b)',
            {"a_total", "b"},
        ),
        ("rate(c_total[1h30m] offset 5m) > bool 3e2 and d unless e", {"c_total", "d", "e"}),
        ("max_over_time(deriv(g[10m])[1h:5m]) @ end()", {"g"}),
        ('label_replace(m, "dst", "$1", "src", "(.*)") or vector(0)', {"m"}),
        ('{__name__="via_name", job="x"}', {"via_name"}),
        ('count_values("version", build_info) without (instance)', {"build_info"}),
        ('sum by (community, segment) (s{community=~"$community", x="${y}"})', {"s"}),
        ("topk(5, q) + 0x1F - 1.5e-3 * -inf", {"q"}),
        ("job:rate5m:sum", {"job:rate5m:sum"}),
    ],
)
def test_extractor(expr: str, expected: set[str]) -> None:
    assert promql_metric_names(expr) == expected


def test_variable_queries() -> None:
    assert variable_query_names("label_values(m_total, platform)") == {"m_total"}
    assert variable_query_names('label_values(s{segment="x"}, community)') == {"s"}
    assert variable_query_names("label_values(community)") == set()
    assert variable_query_names("query_result(topk(3, a))") == {"a"}


# --- where the expressions are -----------------------------------------------------------------


def dashboard_expressions(path: Path) -> list[tuple[str, str]]:
    """(where, expr) for every panel target (rows and nested panels too) and variable query."""
    board = json.loads(path.read_text())
    found: list[tuple[str, str]] = []

    def walk(panels: list[dict]) -> None:
        for panel in panels:
            for target in panel.get("targets", []):
                if target.get("expr"):
                    found.append((f"{path.name}: {panel.get('title')!r}", target["expr"]))
            walk(panel.get("panels", []))

    walk(board.get("panels", []))
    for var in board.get("templating", {}).get("list", []):
        if var.get("type") == "query":
            query = var.get("query")
            query = query.get("query", "") if isinstance(query, dict) else query or ""
            found.append((f"{path.name}: variable ${var['name']}", f"\x01{query}"))
    return found


def rule_expressions(path: Path) -> list[tuple[str, str]]:
    doc = yaml.safe_load(path.read_text())
    return [
        (f"{path.name}: {rule.get('alert') or rule.get('record')}", rule["expr"])
        for group in doc["groups"]
        for rule in group["rules"]
    ]


def names_in(expressions: list[tuple[str, str]]) -> dict[str, set[str]]:
    """metric name -> where it is used."""
    used: dict[str, set[str]] = {}
    for where, expr in expressions:
        if expr.startswith("\x01"):
            names = variable_query_names(expr[1:])
        else:
            names = promql_metric_names(expr)
        for name in names:
            used.setdefault(name, set()).add(where)
    return used


def all_used() -> dict[str, set[str]]:
    expressions = [e for p in DASHBOARDS for e in dashboard_expressions(p)]
    expressions += [e for p in RULE_FILES for e in rule_expressions(p)]
    return names_in(expressions)


def metric_defs_series() -> set[str]:
    """Series names the metric_defs names can appear as (histograms as _bucket/_sum/_count)."""
    series: set[str] = set()
    for name, value in vars(metric_defs).items():
        if not (name.isupper() and isinstance(value, str) and value.startswith("invested_")):
            continue
        series.add(value)
        series.update(value + suffix for suffix in ("_bucket", "_sum", "_count"))
    return series


def test_dashboards_and_rules_exist_and_use_metrics() -> None:
    assert {p.name for p in DASHBOARDS} >= {"pipeline-health.json", "community.json"}
    assert RULE_FILES
    used = all_used()
    # Sanity: the extractor found the core metrics, so an empty result cannot pass vacuously.
    assert {
        "invested_ingest_webhooks_received_total",
        "invested_classifier_consumer_lag",
        "invested_classifier_processing_latency_seconds_bucket",
        "invested_classifier_segment_members",
        "invested_classifier_transitions_total",
        "up",
    } <= set(used)


def test_every_metric_used_is_defined_in_metric_defs() -> None:
    """Static: names come from invested/metric_defs.py (plus Prometheus' own `up`)."""
    known = metric_defs_series() | PROMETHEUS_SYNTHETIC
    unknown = {name: sorted(where) for name, where in all_used().items() if name not in known}
    assert not unknown, f"metric names not in invested/metric_defs.py: {unknown}"


def test_rule_unit_tests_use_real_metric_names() -> None:
    """The promtool rule tests feed series of the metrics the services really export."""
    known = metric_defs_series() | PROMETHEUS_SYNTHETIC
    unknown = set()
    for path in RULE_TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for series in case.get("input_series", []):
                unknown |= promql_metric_names(series["series"]) - known
    assert not unknown, f"rule tests use series no service exports: {sorted(unknown)}"


def test_dashboards_match_their_generator() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "deploy/grafana/generate.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr


def test_dashboards_are_provisionable() -> None:
    """Unique uids, the datasource variable on every target, a community variable where needed."""
    uids = set()
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        assert board["uid"] not in uids
        uids.add(board["uid"])
        variables = {v["name"]: v for v in board["templating"]["list"]}
        assert variables["datasource"]["type"] == "datasource"
        assert variables["datasource"]["query"] == "prometheus"
        ids = []
        for panel in board["panels"]:
            ids.append(panel["id"])
            for target in panel.get("targets", []):
                assert target["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert len(ids) == len(set(ids)), f"{path.name}: duplicate panel ids"
        text = path.read_text()
        for name in re.findall(r"\$(?!__)(\w+)", text):
            assert name in variables, f"{path.name} uses ${name}, which is not a variable"
    community = json.loads((ROOT / "deploy/grafana/dashboards/community.json").read_text())
    assert any(v["name"] == "community" for v in community["templating"]["list"])


# --- the running services ----------------------------------------------------------------------


@dataclass
class Running:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path


SERVICES = {
    "ingest": "INVESTED_INGEST_PORT",
    "classifier": "INVESTED_CLASSIFIER_METRICS_PORT",
    "api": "INVESTED_API_PORT",
}


def _scrape(port: int, timeout: float = 2.0) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=timeout) as reply:
        assert reply.status == 200
        return reply.read().decode()


@pytest.fixture(scope="module")
def scraped(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Start ingest, classifier and API; yield service -> its /metrics text; stop them."""
    workdir = tmp_path_factory.mktemp("deploy-metrics")
    ports = {name: free_port() for name in SERVICES}
    env = {k: v for k, v in os.environ.items() if not k.startswith("INVESTED_")}
    env.update(DEV_ENV)
    env.update(
        {
            "INVESTED_KAFKA_BOOTSTRAP": backend.kafka_bootstrap,
            "INVESTED_REDIS_URL": backend.redis_url,
            "INVESTED_BIND_HOST": "127.0.0.1",
            "INVESTED_CLASSIFIER_GROUP": f"deploy-metrics-{uuid.uuid4().hex[:10]}",
            # No inactivity sweep while it runs: it must not touch other tests' members.
            "INVESTED_SWEEP_INTERVAL_SECONDS": "3600",
            "INVESTED_LOG_LEVEL": "WARNING",
            "INVESTED_CLASSIFIER_DATA_DIR": str(workdir / "classifier-data"),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update({variable: str(ports[name]) for name, variable in SERVICES.items()})
    running: dict[str, Running] = {}
    try:
        for name in SERVICES:
            log = workdir / f"{name}.log"
            with open(log, "wb") as out:
                proc = subprocess.Popen(
                    [sys.executable, "-m", f"services.{name}"],
                    cwd=ROOT,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    preexec_fn=_die_with_parent,  # never outlives a killed test run
                )
            running[name] = Running(name, ports[name], proc, log)
        texts: dict[str, str] = {}
        deadline = time.monotonic() + 45
        while len(texts) < len(running) and time.monotonic() < deadline:
            for name, service in running.items():
                if name in texts:
                    continue
                if service.proc.poll() is not None:
                    pytest.fail(
                        f"services.{name} exited with {service.proc.returncode}:\n"
                        + service.log.read_text()[-3000:]
                    )
                with contextlib.suppress(OSError):
                    texts[name] = _scrape(service.port)
            time.sleep(0.2)
        missing = sorted(set(running) - set(texts))
        if missing:
            logs = "\n".join(f"--- {n}\n{running[n].log.read_text()[-2000:]}" for n in missing)
            pytest.fail(f"no /metrics from {missing} within 45 s\n{logs}")
        # One more scrape each, a moment later: metrics registered at start-up are all there.
        time.sleep(1.0)
        yield {name: _scrape(service.port) for name, service in running.items()}
    finally:
        for service in running.values():  # all at once: their shutdowns overlap
            if service.proc.poll() is None:
                service.proc.terminate()
        for service in running.values():
            terminate(service.proc, timeout=10)


def exported_series(text: str) -> set[str]:
    """Series names a /metrics text makes queryable, by metric type (samples or not)."""
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names.update(sample.name for sample in family.samples)
        if family.type == "counter":
            names.add(family.name + "_total")
        elif family.type == "histogram":
            names.update(family.name + s for s in ("_bucket", "_sum", "_count"))
        elif family.type == "gaugehistogram":
            names.update(family.name + s for s in ("_bucket", "_gsum", "_gcount"))
        elif family.type == "summary":
            names.update(family.name + s for s in ("", "_sum", "_count"))
        else:
            names.add(family.name)
    return names


def test_exported_series_handles_types() -> None:
    text = (
        "# HELP a_total h\n# TYPE a_total counter\n"
        "# HELP h_seconds h\n# TYPE h_seconds histogram\n"
        "# HELP g h\n# TYPE g gauge\n"
    )
    assert exported_series(text) == {
        "a_total",
        "h_seconds_bucket",
        "h_seconds_sum",
        "h_seconds_count",
        "g",
    }


def _owner(metric: str) -> str:
    for service in SERVICES:
        if metric.startswith(f"invested_{service}_"):
            return service
    return "?"


def _check_exported(used: dict[str, set[str]], scraped: dict[str, str]) -> None:
    exported = {name: exported_series(text) for name, text in scraped.items()}
    everything = set().union(*exported.values()) | PROMETHEUS_SYNTHETIC
    missing = {name: where for name, where in used.items() if name not in everything}
    if missing:
        lines = [
            f"  {_owner(name)} does not export {name} (used by {', '.join(sorted(where))})"
            for name, where in sorted(missing.items(), key=lambda kv: (_owner(kv[0]), kv[0]))
        ]
        pytest.fail(
            "metrics queried but not exported by the running services:\n" + "\n".join(lines)
        )


def test_every_dashboard_metric_is_exported(scraped: dict[str, str]) -> None:
    used = names_in([e for p in DASHBOARDS for e in dashboard_expressions(p)])
    _check_exported(used, scraped)


def test_every_alert_rule_metric_is_exported(scraped: dict[str, str]) -> None:
    used = names_in([e for p in RULE_FILES for e in rule_expressions(p)])
    _check_exported(used, scraped)


def test_each_service_exports_only_its_own_metrics(scraped: dict[str, str]) -> None:
    """ingest exports invested_ingest_*, and so on: the owner table above is true."""
    for name, text in scraped.items():
        foreign = {
            s
            for s in exported_series(text)
            if s.startswith("invested_") and not s.startswith(f"invested_{name}_")
        }
        assert not foreign, f"{name} exports another service's metrics: {sorted(foreign)}"
