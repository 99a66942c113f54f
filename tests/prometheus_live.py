"""A real Prometheus server for the tests, configured from deploy/prometheus/ itself.

The test configuration is *derived* from the real ``prometheus.yml``, never written by hand: the
jobs, relabelings, external labels and ``rule_files`` stay as they are; only what cannot work on
a test machine changes, and each change is listed in :func:`loopback_config`. The rule files are
copied beside it with every ``for:`` shortened (:func:`shortened_rules`): an alert then goes
pending and firing within seconds of its fault, through the real expressions.

The server is Debian's ``prometheus`` package (``make tools`` installs or unpacks it, the same
package as promtool).
"""

from __future__ import annotations

import copy
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from invested.stack import _die_with_parent, terminate

ROOT = Path(__file__).resolve().parent.parent
PROMETHEUS_DIR = ROOT / "deploy/prometheus"
LOCAL_TOOLS = ROOT / ".invested/tools/usr/bin"  # where make tools unpacks the .deb without root


def tool(name: str) -> Path | None:
    """``prometheus`` or ``promtool``: from PATH, else from the unpacked package."""
    found = shutil.which(name)
    if found:
        return Path(found)
    local = LOCAL_TOOLS / name
    return local if local.exists() else None


def loopback_config(real: dict[str, Any], targets: dict[str, str], interval: str) -> dict[str, Any]:
    """``real`` (a parsed prometheus.yml) pointed at loopback, with test timing.

    Changed, and only this: every job's service discovery (compose DNS names, which do not
    resolve here) becomes one static target from ``targets`` (job name -> host:port; a job
    without one is an error, so a new job cannot go unchecked); the global and per-job scrape
    interval, scrape timeout and evaluation interval become ``interval``; ``alerting`` is
    dropped (no Alertmanager here: alerts are read from Prometheus' own API).
    """
    config = copy.deepcopy(real)
    timing = {"scrape_interval": interval, "scrape_timeout": interval}
    config.setdefault("global", {}).update(timing, evaluation_interval=interval)
    config.pop("alerting", None)
    missing = [
        job["job_name"] for job in config["scrape_configs"] if job["job_name"] not in targets
    ]
    if missing:
        raise KeyError(f"jobs of prometheus.yml with no test target: {missing}")
    for job in config["scrape_configs"]:
        for key in [k for k in job if k.endswith("_sd_configs") or k == "static_configs"]:
            del job[key]
        job["static_configs"] = [{"targets": [targets[job["job_name"]]]}]
        job.update({key: interval for key in timing if key in job})
    return config


def shortened_rules(text: str, duration: str) -> str:
    """A rules file with every ``for:`` (and ``keep_firing_for:``) set to ``duration``.

    The real durations are minutes, to ride out blips in production; the expressions, labels
    and annotations are untouched. For the tests only, never for deploy/.
    """
    document = yaml.safe_load(text)
    for group in document.get("groups", []):
        for rule in group.get("rules", []):
            for key in ("for", "keep_firing_for"):
                if key in rule:
                    rule[key] = duration
    return yaml.safe_dump(document, sort_keys=False)


def write_test_setup(
    directory: Path, targets: dict[str, str], interval: str, alert_for: str
) -> Path:
    """prometheus.yml and its rule files for the test in ``directory``; returns the config path.

    The rule files keep their names and their place relative to the config, so the real
    ``rule_files`` patterns select them.
    """
    real = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    for path in sorted((PROMETHEUS_DIR / "rules").glob("*")):
        target = directory / path.relative_to(PROMETHEUS_DIR)
        target.parent.mkdir(parents=True, exist_ok=True)
        text = path.read_text()
        rules = path.suffix in (".yml", ".yaml")
        target.write_text(shortened_rules(text, alert_for) if rules else text)
    config = directory / "prometheus.yml"
    config.write_text(yaml.safe_dump(loopback_config(real, targets, interval), sort_keys=False))
    return config


class PrometheusServer:
    """``prometheus`` on a loopback port with a fresh TSDB; its HTTP API through :attr:`http`."""

    def __init__(self, binary: Path, config: Path, port: int, workdir: Path) -> None:
        self.address = f"127.0.0.1:{port}"
        self.log = workdir / "prometheus.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [
                    str(binary),
                    f"--config.file={config}",
                    f"--storage.tsdb.path={workdir / 'tsdb'}",
                    f"--web.listen-address={self.address}",
                    "--log.level=warn",
                ],
                cwd=workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent,  # never outlives a killed test run
            )
        self.http = httpx.Client(base_url=f"http://{self.address}", timeout=10)

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"prometheus exited:\n{self.log_tail()}")
            try:
                if self.http.get("/-/ready").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"prometheus not ready in {timeout} s:\n{self.log_tail()}")

    def api(self, path: str, **params: str) -> Any:
        """``data`` of a ``/api/v1`` answer; an error answer fails with Prometheus' message."""
        reply = self.http.get(f"/api/v1/{path}", params=params)
        body = reply.json()
        if body.get("status") != "success":
            raise AssertionError(f"{path} {params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Instant query: the result vector (a scalar result comes back as one sample)."""
        data = self.api("query", query=expr)
        return data["result"] if data["resultType"] == "vector" else [{"value": data["result"]}]

    def wait_for(self, what: str, expr: str, timeout: float) -> list[dict[str, Any]]:
        """Poll ``expr`` until it returns samples; fail naming ``what`` at the deadline."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.query(expr)
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: no result for {expr!r} within {timeout} s")
            time.sleep(0.25)

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        self.http.close()
        terminate(self.proc, timeout=10)
