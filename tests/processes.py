"""Run the real services as child processes against the test broker and Redis."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

from invested.connections import answers_ok as healthy
from invested.devsecrets import service_env as local_service_env
from invested.stack import _die_with_parent, free_port, terminate

ROOT = Path(__file__).resolve().parent.parent


def service_env(kafka_bootstrap: str, redis_url: str, **overrides: str) -> dict[str, str]:
    """A service's environment for tests; ``TEST_SERVICE_LOG_LEVEL`` raises its log level."""
    level = os.environ.get("TEST_SERVICE_LOG_LEVEL", "WARNING")
    return local_service_env(kafka_bootstrap, redis_url, level, **overrides)


def answers(url: str) -> bool:
    """True when ``url`` answers HTTP at all (a 503 included)."""
    try:
        with urllib.request.urlopen(url, timeout=1.0):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


@contextlib.contextmanager
def running(
    module: str,
    env: dict[str, str],
    health_url: str,
    log_path: Path,
    timeout: float = 60,
    ready: Callable[[str], bool] = healthy,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``python -m module``, wait until ``ready(health_url)`` (by default: it answers
    200), stop it afterwards."""
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", module],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
    try:
        deadline = time.monotonic() + timeout
        while not ready(health_url):
            if proc.poll() is not None:
                raise AssertionError(f"{module} exited: {log_path.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{module} not healthy in {timeout} s: {log_path.read_text()[-3000:]}"
                )
            time.sleep(0.1)
        yield proc
    finally:
        terminate(proc, timeout=15)


@contextlib.contextmanager
def classifier(
    kafka_bootstrap: str,
    redis_url: str,
    workdir: Path,
    ready: Callable[[str], bool] = healthy,
    **overrides: str,
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """A real classifier worker; yields (process, metrics port) once ``ready`` (by default:
    healthy; :func:`answers` for a worker that is expected to start unhealthy)."""
    port = free_port()
    settings = {
        "INVESTED_CLASSIFIER_METRICS_PORT": str(port),
        "INVESTED_CLASSIFIER_DATA_DIR": str(workdir / f"classifier-{port}"),
        "INVESTED_SWEEP_INTERVAL_SECONDS": "1",
    }
    env = service_env(kafka_bootstrap, redis_url, **(settings | overrides))
    workdir.mkdir(parents=True, exist_ok=True)
    with running(
        "services.classifier",
        env,
        f"http://127.0.0.1:{port}/healthz",
        workdir / "classifier.log",
        ready=ready,
    ) as proc:
        yield proc, port
