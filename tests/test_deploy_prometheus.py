"""Prometheus config and alert rules pass promtool, and every alert has a rule unit test.

``promtool check config``, ``promtool check rules`` and ``promtool test rules`` run on
deploy/prometheus/. promtool comes from Debian's ``prometheus`` package; ``make test`` installs it
through ``make tools`` when missing. These tests skip, saying why, only when it is not there.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
PROM = ROOT / "deploy/prometheus"
RULE_FILES = sorted((PROM / "rules").glob("*.yml"))
RULE_TESTS = sorted((PROM / "tests").glob("*.yml"))


def promtool() -> str:
    found = shutil.which("promtool")
    if found:
        return found
    local = ROOT / ".invested/tools/usr/bin/promtool"
    if local.exists():
        return str(local)
    pytest.skip(
        "promtool is not installed and `make tools` could not install it "
        "(Debian package prometheus; needs apt-get as root or passwordless sudo)"
    )


def run_promtool(*args: str) -> str:
    result = subprocess.run(
        [promtool(), *args], cwd=PROM, capture_output=True, text=True, timeout=60
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"promtool {' '.join(args)} failed:\n{output}"
    return output


def alerts() -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    found.setdefault(rule["alert"], []).append(rule)
    return found


def test_promtool_check_config() -> None:
    output = run_promtool("check", "config", "prometheus.yml")
    assert "SUCCESS" in output
    # The config really loads the rule files (a wrong glob would check zero files and pass).
    assert f"{len(RULE_FILES)} rule files found" in output


def test_promtool_check_rules() -> None:
    output = run_promtool("check", "rules", *(str(p.relative_to(PROM)) for p in RULE_FILES))
    assert "SUCCESS" in output


def test_promtool_test_rules() -> None:
    assert RULE_TESTS
    output = run_promtool("test", "rules", *(str(p.relative_to(PROM)) for p in RULE_TESTS))
    assert "SUCCESS" in output and "FAILED" not in output


def test_the_issue_alerts_exist() -> None:
    """Lag growing, no events while webhooks arrive, dead letters, signature spike, transition
    anomaly, a service down."""
    assert {
        "InvestedConsumerLagGrowing",
        "InvestedNoEventsIngested",
        "InvestedIngestDeadLetterRate",
        "InvestedClassifierDeadLetters",
        "InvestedSignatureFailureSpike",
        "InvestedTransitionRateAnomaly",
        "InvestedServiceDown",
        "InvestedTargetDown",
    } <= set(alerts())


def test_every_alert_has_severity_summary_and_a_firing_unit_test() -> None:
    fired: set[str] = set()
    quiet: set[str] = set()
    for path in RULE_TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (fired if check.get("exp_alerts") else quiet).add(check["alertname"])
    for name, rules in alerts().items():
        for rule in rules:
            assert rule["labels"]["severity"] in {"warning", "critical"}, name
            assert rule["annotations"]["summary"], name
        assert name in fired, f"{name} has no unit test in which it fires"
        assert name in quiet, f"{name} has no unit test in which it stays quiet"


def test_every_service_is_scraped_by_dns_so_replicas_are_found() -> None:
    config = yaml.safe_load((PROM / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    for service in ("ingest", "classifier", "api"):
        (sd,) = jobs[service]["dns_sd_configs"]
        assert sd["names"] == [service] and sd["type"] == "A"
    assert config["rule_files"] == ["rules/*.yml"]
