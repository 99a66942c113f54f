"""Child processes of a benchmark run (services, baselines) and scraping their ``/metrics``.

Every child is started with :func:`invested.stack.spawn` (``PR_SET_PDEATHSIG``: it dies with the
bench even on SIGKILL) on a port from :func:`invested.stack.free_port`, bound to 127.0.0.1, and
stopped with :func:`invested.stack.terminate` when its block ends.
"""

from __future__ import annotations

import contextlib
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from subprocess import Popen

from prometheus_client.parser import text_string_to_metric_families

from invested.devsecrets import service_env as local_service_env
from invested.stack import spawn, terminate

ROOT = Path(__file__).resolve().parent.parent


def service_env(kafka_bootstrap: str, redis_url: str, **overrides: str) -> dict[str, str]:
    """The shared local-service environment, importable from the repository root (baselines)."""
    base = {"INVESTED_BIND_HOST": "127.0.0.1", "PYTHONPATH": str(ROOT)}
    return local_service_env(kafka_bootstrap, redis_url, **(base | overrides))


def http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()
    except OSError:
        return 0, b""


@dataclass
class Child:
    name: str
    proc: Popen[bytes]
    port: int
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


@contextlib.contextmanager
def running(
    name: str,
    argv: list[str],
    env: dict[str, str],
    port: int,
    log_path: Path,
    ready_path: str | None = "/healthz",
    timeout: float = 90.0,
) -> Iterator[Child]:
    """Start ``argv`` (python modules: ``[sys.executable, "-m", ...]``), wait until
    ``ready_path`` answers 200 (None: until the port answers at all), stop it afterwards."""
    proc = spawn(argv, log_path, env=env)
    child = Child(name, proc, port, log_path)
    try:
        deadline = time.monotonic() + timeout
        while True:
            status, _ = http_get(child.base_url + (ready_path or "/"), timeout=1.0)
            if (ready_path and status == 200) or (ready_path is None and status):
                break
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited ({proc.returncode}):\n{child.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} not ready within {timeout:.0f} s:\n{child.log_tail()}")
            time.sleep(0.1)
        yield child
    finally:
        terminate(proc, timeout=15)


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float


def scrape(url: str, timeout: float = 2.0) -> list[Sample]:
    status, body = http_get(url, timeout)
    if status != 200:
        return []
    samples = []
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            samples.append(Sample(s.name, dict(s.labels), float(s.value)))
    return samples


def total(samples: list[Sample], *names: str) -> float:
    """Sum of every sample of the named series (all label values)."""
    wanted = set(names)
    return sum(s.value for s in samples if s.name in wanted)


def buckets(samples: list[Sample], histogram: str) -> dict[float, float]:
    """Cumulative bucket counts of a histogram: upper bound (``inf`` included) → count."""
    out: dict[float, float] = {}
    for s in samples:
        if s.name == histogram + "_bucket":
            out[float(s.labels["le"])] = out.get(float(s.labels["le"]), 0.0) + s.value
    return dict(sorted(out.items()))


def quantile_from_buckets(delta: dict[float, float], q: float) -> float | None:
    """Prometheus ``histogram_quantile``: linear interpolation inside the bucket holding ``q``."""
    if not delta:
        return None
    bounds = sorted(delta)
    count = delta[bounds[-1]]
    if count <= 0:
        return None
    rank = q * count
    previous_bound, previous_count = 0.0, 0.0
    for bound in bounds:
        cumulative = delta[bound]
        if cumulative >= rank:
            if bound == float("inf"):
                return previous_bound  # beyond the last finite bucket: report its bound
            in_bucket = cumulative - previous_count
            if in_bucket <= 0:
                return bound
            return previous_bound + (bound - previous_bound) * (rank - previous_count) / in_bucket
        previous_bound, previous_count = bound, cumulative
    return bounds[-1]


def bucket_bound(delta: dict[float, float], q: float) -> float | None:
    """The smallest bucket bound holding the ``q`` quantile (an upper bound, no interpolation)."""
    if not delta:
        return None
    count = delta[max(delta)]
    for bound in sorted(delta):
        if delta[bound] >= q * count:
            return bound
    return None
