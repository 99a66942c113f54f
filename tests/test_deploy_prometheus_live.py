"""Monitoring proven live: a real Prometheus scrapes the real services and its alerts fire.

A private embedded stack (Tansu + redis-server, so no other test's records are in the topics)
runs ingest, classifier and API as processes; Debian's ``prometheus`` server runs with the
configuration of deploy/prometheus/ (the scrape config derived from the real prometheus.yml,
pointed at loopback, 1 s scrapes and evaluations; the real rule files with every ``for:``
shortened to 2 s: tests/prometheus_live.py). Simulated webhooks go through ingest, then every
check reads Prometheus' HTTP API:

* every target of every job is up, every rule evaluates without error, every recording rule
  returns data, every dashboard query is valid PromQL on the real server;
* undecodable records on ``engagement.events`` fire ``InvestedClassifierDeadLetters``;
* the classifier paused (SIGSTOP) while a backlog is produced is ``InvestedServiceDown`` (it
  answers no scrape), and once resumed, ``InvestedConsumerLagGrowing`` while it catches up;
* the API killed fires ``InvestedServiceDown`` and ``InvestedTargetDown`` for it.

Skips, saying why, only when no prometheus binary can be had (``make tools`` installs it).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from aiokafka import AIOKafkaProducer

from invested.connections import answers_ok
from invested.devsecrets import DEV_ENV
from invested.stack import EmbeddedStack, _die_with_parent, free_port, terminate
from invested.topics import ENGAGEMENT_EVENTS, TOPICS
from tests.factories import engagement_event
from tests.processes import ROOT, service_env
from tests.prometheus_live import (
    PROMETHEUS_DIR,
    PrometheusServer,
    loopback_config,
    shortened_rules,
    tool,
    write_test_setup,
)
from tests.test_deploy_metrics import DASHBOARDS, dashboard_expressions
from tools.simulator.community import generate
from tools.simulator.config import SimConfig
from tools.simulator.posting import post_all
from tools.simulator.signing import Secrets, Signer

INTERVAL = "1s"  # scrape and evaluation
ALERT_FOR = "2s"  # every `for:` of the rules, in the test's copy only
BACKLOG = 30_000  # events produced while the classifier is paused: lag > 1000 for seconds
PARTITIONS = next(t.partitions for t in TOPICS if t.name == ENGAGEMENT_EVENTS)
SERVICE_PORTS = {
    "ingest": "INVESTED_INGEST_PORT",
    "classifier": "INVESTED_CLASSIFIER_METRICS_PORT",
    "api": "INVESTED_API_PORT",
}
REAL_CONFIG = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())


# --- the derived configuration (no server needed) ----------------------------------------------


def test_loopback_config_keeps_the_real_jobs_rules_and_settings() -> None:
    targets = {
        job["job_name"]: f"127.0.0.1:{9000 + i}"
        for i, job in enumerate(REAL_CONFIG["scrape_configs"])
    }
    config = loopback_config(REAL_CONFIG, targets, "1s")
    assert config["rule_files"] == REAL_CONFIG["rule_files"]
    assert config["global"]["external_labels"] == REAL_CONFIG["global"]["external_labels"]
    assert [j["job_name"] for j in config["scrape_configs"]] == list(targets)
    for real, job in zip(REAL_CONFIG["scrape_configs"], config["scrape_configs"], strict=True):
        assert job["static_configs"] == [{"targets": [targets[job["job_name"]]]}]
        assert not [key for key in job if key.endswith("_sd_configs")]
        kept = {
            k: v for k, v in real.items() if not k.endswith("_sd_configs") and k != "static_configs"
        }
        assert {k: job[k] for k in kept} == kept  # relabelings, paths, params: the real ones
    with pytest.raises(KeyError, match="no test target"):
        loopback_config(REAL_CONFIG, {"ingest": "127.0.0.1:1"}, "1s")


def test_shortened_rules_change_only_the_durations() -> None:
    for path in sorted((PROMETHEUS_DIR / "rules").glob("*.yml")):
        real = yaml.safe_load(path.read_text())
        short = yaml.safe_load(shortened_rules(path.read_text(), "2s"))
        for real_group, group in zip(real["groups"], short["groups"], strict=True):
            for real_rule, rule in zip(real_group["rules"], group["rules"], strict=True):
                for key in ("for", "keep_firing_for"):
                    assert rule.pop(key, "2s") == "2s"
                    real_rule.pop(key, None)
                assert rule == real_rule


# --- the live system ---------------------------------------------------------------------------


@dataclass
class Live:
    prometheus: PrometheusServer
    services: dict[str, subprocess.Popen[bytes]]
    kafka_bootstrap: str
    targets_at_start: list[dict[str, Any]]


def start_services(
    env: dict[str, str], ports: dict[str, int], workdir: Path, stack: contextlib.ExitStack
) -> dict[str, subprocess.Popen[bytes]]:
    """All three at once (their start-ups overlap), each healthy within 90 s."""
    procs: dict[str, subprocess.Popen[bytes]] = {}
    for name in SERVICE_PORTS:
        with open(workdir / f"{name}.log", "wb") as log:
            procs[name] = subprocess.Popen(
                [sys.executable, "-m", f"services.{name}"],
                env=env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent,
            )
        stack.callback(terminate, procs[name], 15)
        stack.callback(_resume, procs[name])  # a test that failed mid-pause leaves none stopped
    deadline = time.monotonic() + 90
    for name, proc in procs.items():
        while not answers_ok(f"http://127.0.0.1:{ports[name]}/healthz"):
            tail = (workdir / f"{name}.log").read_text(errors="replace")[-3000:]
            assert proc.poll() is None, f"services.{name} exited:\n{tail}"
            assert time.monotonic() < deadline, f"services.{name} not healthy in 90 s:\n{tail}"
            time.sleep(0.2)
    return procs


def _resume(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGCONT)


async def _produce(bootstrap: str, records: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=1024 * 1024, acks=1
    )
    await producer.start()
    try:
        sent = [await producer.send(ENGAGEMENT_EVENTS, key=k, value=v) for k, v in records]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


def produce(bootstrap: str, records: list[tuple[bytes, bytes]]) -> None:
    asyncio.run(_produce(bootstrap, records))


def events(community: str, members: int, count: int) -> list[tuple[bytes, bytes]]:
    """``count`` valid events (views) of ``members`` members, keyed like ingest keys them."""
    now = datetime.now(UTC)
    built = (
        engagement_event(
            community, f"{community}-{i}", f"m{i % members}", "view", now - timedelta(seconds=i)
        )
        for i in range(count)
    )
    return [(event.key.encode(), event.to_json()) for event in built]


def send_traffic(live_ports: dict[str, int], bootstrap: str) -> None:
    """Signed webhooks through ingest, events on every partition, API lookups (found and not)."""
    _, simulated = generate(SimConfig(seed=11, members=60, days=7))
    signer = Signer(Secrets.from_env(DEV_ENV))
    base = f"http://127.0.0.1:{live_ports['ingest']}"
    summary = asyncio.run(post_all(simulated[:200], signer, base, concurrency=4, progress=False))
    assert summary.sent > 100 and summary.statuses[200] == summary.sent, summary
    produce(bootstrap, events("live-warmup", 8 * PARTITIONS, 8 * PARTITIONS))
    headers = {"Authorization": f"Bearer {DEV_ENV['INVESTED_API_KEYS']}"}
    with httpx.Client(base_url=f"http://127.0.0.1:{live_ports['api']}", headers=headers) as api:
        for member in ("m1", "m2", "nobody"):
            api.get(f"/v1/communities/live-warmup/members/{member}")
        api.get("/v1/communities/live-warmup/segments")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    binary = tool("prometheus")
    if binary is None:
        pytest.skip(
            "no prometheus server binary: `make tools` installs Debian's prometheus package "
            "(apt-get as root or with passwordless sudo, else the .deb unpacked into "
            ".invested/tools) and could not here"
        )
    workdir = tmp_path_factory.mktemp("prometheus-live")
    with contextlib.ExitStack() as stack:
        embedded = stack.enter_context(EmbeddedStack(workdir=workdir / "stack"))
        ports = {name: free_port() for name in (*SERVICE_PORTS, "prometheus")}
        settings = {variable: str(ports[name]) for name, variable in SERVICE_PORTS.items()}
        settings |= {
            "INVESTED_CLASSIFIER_DATA_DIR": str(workdir / "classifier-data"),
            "INVESTED_CLASSIFIER_GROUP": f"live-{uuid.uuid4().hex[:8]}",
            "INVESTED_SWEEP_INTERVAL_SECONDS": "2",  # sweep metrics get samples
        }
        env = service_env(embedded.kafka_bootstrap, embedded.redis_url, **settings)
        services = start_services(env, ports, workdir, stack)
        targets = {name: f"127.0.0.1:{port}" for name, port in ports.items()}
        config = write_test_setup(workdir / "config", targets, INTERVAL, ALERT_FOR)
        prometheus = PrometheusServer(binary, config, ports["prometheus"], workdir)
        stack.callback(prometheus.stop)
        prometheus.wait_ready()
        jobs = len(REAL_CONFIG["scrape_configs"])
        prometheus.wait_for("every target up", f"count(up == 1) == {jobs}", timeout=30)
        send_traffic(ports, embedded.kafka_bootstrap)
        # Caught up, and a lag sample of 0 on every partition: the lag alert compares with it.
        prometheus.wait_for(
            "classifier caught up on every partition",
            f"count(invested_classifier_consumer_lag == 0) == {PARTITIONS}",
            timeout=45,
        )
        # Segment sizes are counted every 5 s by the classifier's housekeeping.
        prometheus.wait_for("segment sizes", "invested_classifier_segment_members > 0", 20)
        # A few scrapes since the traffic, so range functions (rate, delta) have two samples.
        prometheus.wait_for(
            "three scrapes of every target", f"count(count_over_time(up[1m]) >= 3) == {jobs}", 15
        )
        yield Live(
            prometheus,
            services,
            embedded.kafka_bootstrap,
            prometheus.api("targets")["activeTargets"],
        )


def active(live: Live, alertname: str, **labels: str) -> list[dict[str, Any]]:
    """Alerts of that name (and labels) now pending or firing, from Prometheus' own API."""
    return [
        alert
        for alert in live.prometheus.api("alerts")["alerts"]
        if alert["labels"]["alertname"] == alertname
        and all(alert["labels"].get(k) == v for k, v in labels.items())
    ]


def alert_series(alertname: str, state: str = "", **labels: str) -> str:
    matchers = [f'alertname="{alertname}"'] + [f'{k}="{v}"' for k, v in labels.items()]
    if state:
        matchers.append(f'alertstate="{state}"')
    return "ALERTS{" + ", ".join(matchers) + "}"


def test_every_target_is_up_and_every_rule_evaluates(live: Live) -> None:
    jobs = {target["labels"]["job"] for target in live.targets_at_start}
    assert jobs == {job["job_name"] for job in REAL_CONFIG["scrape_configs"]}
    assert all(t["health"] == "up" for t in live.targets_at_start), live.targets_at_start
    groups = live.prometheus.api("rules")["groups"]
    loaded = {rule["name"] for group in groups for rule in group["rules"]}
    real = {
        rule.get("alert") or rule.get("record")
        for path in sorted((PROMETHEUS_DIR / "rules").glob("*.yml"))
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
    }
    assert loaded == real  # the real rule files, all of them
    broken = [
        f"{rule['name']}: {rule.get('lastError')}"
        for group in groups
        for rule in group["rules"]
        if rule["health"] != "ok"
    ]
    assert not broken, f"rules failing to evaluate on the live server: {broken}"


def test_every_recording_rule_returns_data(live: Live) -> None:
    recorded = [
        rule["name"]
        for group in live.prometheus.api("rules")["groups"]
        for rule in group["rules"]
        if rule["type"] == "recording"
    ]
    empty = [name for name in recorded if not live.prometheus.query(name)]
    assert not empty, f"recording rules without data after traffic: {empty}"


GRAFANA_VARIABLES = {"$__rate_interval": "10s", "$platform": ".*", "$community": ".*"}
# Panels that must show data once webhooks have flowed (others show only when their condition
# exists: errors, late events, signature failures...).
PANELS_WITH_DATA = {
    "pipeline-health.json": [
        "Replicas up",
        "Webhooks / s",
        "Consumer lag",
        "Events processed by kind",
    ],
    "community.json": ["Audience members", "Audience, community and dormant members per community"],
}


def test_every_dashboard_query_runs_on_the_live_server(live: Live) -> None:
    """Valid PromQL for the real engine (variables as Grafana fills them), and the core panels
    show data."""
    failures, showing = [], set()
    for path in DASHBOARDS:
        for where, expr in dashboard_expressions(path):
            if expr.startswith("\x01"):  # a variable: label_values(metric, label)
                inner, label = expr[1:].removeprefix("label_values(").rstrip(")").rsplit(",", 1)
                expr = f"count by ({label.strip()}) ({inner})"
            for variable, value in GRAFANA_VARIABLES.items():
                expr = expr.replace(variable, value)
            try:
                if live.prometheus.query(expr):
                    showing.add(where)
            except AssertionError as exc:
                failures.append(f"{where}: {exc}")
    assert not failures, "dashboard queries the server rejects:\n" + "\n".join(failures)
    expected = {
        f"{board}: {title!r}" for board, titles in PANELS_WITH_DATA.items() for title in titles
    }
    assert expected <= showing, f"panels without data: {sorted(expected - showing)}"


def test_undecodable_events_fire_the_dead_letter_alert(live: Live) -> None:
    alertname = "InvestedClassifierDeadLetters"
    assert not active(live, alertname), "dead-letter alert active before any dead letter"
    key = b"live-poison/m0"
    produce(live.kafka_bootstrap, [(key, b"\xff\xfe not utf-8"), (key, b'{"not": "an event"}')])
    live.prometheus.wait_for("dead-letter alert firing", alert_series(alertname, "firing"), 30)
    reasons = live.prometheus.query("sum by (reason) (invested_classifier_deadlettered_total)")
    assert {r["metric"]["reason"] for r in reasons} >= {"invalid_json", "invalid_event"}


def test_paused_classifier_is_down_then_lags_behind_its_backlog(live: Live) -> None:
    """SIGSTOP: the classifier answers no scrape, so it is down; the lag gauge is its own, so
    the lag alert fires once it runs again and works through the backlog (a paused worker
    cannot report its lag: the service-down alert is what pages while it is paused)."""
    prometheus, classifier = live.prometheus, live.services["classifier"]
    lag_alert = "InvestedConsumerLagGrowing"
    assert not active(live, lag_alert)
    backlog = events("live-backlog", 2000, BACKLOG)  # built first: the pause stays short
    paused_at = time.monotonic()
    os.kill(classifier.pid, signal.SIGSTOP)
    try:
        produce(live.kafka_bootstrap, backlog)
        prometheus.wait_for(
            "classifier service down while paused",
            alert_series("InvestedServiceDown", service="classifier"),
            timeout=20,
        )
    finally:
        os.kill(classifier.pid, signal.SIGCONT)
    # Pending or firing at any evaluation since the pause: ALERTS is kept in the TSDB, so a
    # fast catch-up cannot slip between two polls.
    since = f"[{int(time.monotonic() - paused_at) + 60}s]"
    prometheus.wait_for(
        "consumer lag alert while the classifier catches up",
        f"max_over_time({alert_series(lag_alert)}{since})",
        timeout=60,
    )
    prometheus.wait_for("backlog worked off", "sum(invested_classifier_consumer_lag) == 0", 90)
    assert not active(live, "InvestedServiceDown", service="classifier")
    since = f"[{int(time.monotonic() - paused_at) + 5}s:1s]"
    peak = prometheus.query(f"max_over_time(sum(invested_classifier_consumer_lag){since})")
    assert float(peak[0]["value"][1]) > BACKLOG / 2  # the backlog, seen through the gauge


def test_killed_service_fires_service_down(live: Live) -> None:
    api = live.services["api"]
    assert not active(live, "InvestedServiceDown", service="api")
    api.kill()
    api.wait(10)
    live.prometheus.wait_for(
        "api service down firing",
        alert_series("InvestedServiceDown", "firing", service="api"),
        timeout=30,
    )
    live.prometheus.wait_for(
        "api target down firing", alert_series("InvestedTargetDown", "firing", job="api"), 15
    )
