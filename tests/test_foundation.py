"""Foundation: settings fail fast, the embedded stack is real and leaves nothing behind."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from aiokafka import AIOKafkaConsumer
from kafka import KafkaProducer

from invested.connections import answers_ok
from invested.contracts import EngagementEvent, utcnow
from invested.devsecrets import DEV_ENV
from invested.settings import ConfigError, load_settings, settings_markdown_table
from invested.stack import free_port
from invested.topics import ENGAGEMENT_EVENTS
from tests.backends import Backend

ROOT = Path(__file__).resolve().parent.parent


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INVESTED_")}
    env.update(extra)
    return env


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purpose (its parent has not reaped it yet).
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


# --- settings --------------------------------------------------------------------------------


def test_settings_defaults_match_the_conventions() -> None:
    settings = load_settings({})
    assert settings.kafka_bootstrap == "127.0.0.1:9092"
    assert (settings.api_port, settings.ingest_port, settings.classifier_metrics_port) == (
        8000,
        8001,
        8002,
    )
    assert (settings.broker_port, settings.redis_port) == (9092, 6379)
    assert settings.max_body_bytes == 1024 * 1024


def test_api_keys_are_comma_separated_and_secret() -> None:
    settings = load_settings({"INVESTED_API_KEYS": "old-key, new-key"})
    assert [k.get_secret_value() for k in settings.api_keys] == ["old-key", "new-key"]
    assert "old-key" not in repr(settings) and "old-key" not in settings.model_dump_json()


def test_bad_values_and_unknown_variables_give_one_message_naming_them() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(
            {
                "INVESTED_LOG_LEVEL": "LOUD",
                "INVESTED_API_PORT": "eighty",
                "INVESTED_KAFKA_BOOTSTRP": "x:1",
            }
        )
    message = caught.value.message
    assert "INVESTED_LOG_LEVEL='LOUD'" in message
    assert "INVESTED_API_PORT='eighty'" in message
    assert "did you mean INVESTED_KAFKA_BOOTSTRAP" in message


def test_readme_configuration_table_is_generated_from_the_settings() -> None:
    readme = (ROOT / "README.md").read_text()
    assert settings_markdown_table() in readme, "regenerate: python -m invested.settings --markdown"


def run_module(
    module: str, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("module", ["services.ingest", "services.classifier", "services.api"])
def test_service_with_bad_value_fails_fast_without_traceback(module: str) -> None:
    result = run_module(module, clean_env(INVESTED_LOG_LEVEL="LOUD"))
    assert result.returncode == 2
    assert "INVESTED_LOG_LEVEL='LOUD'" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_broker_fails_fast_with_one_clear_message() -> None:
    env = clean_env(
        INVESTED_KAFKA_BOOTSTRAP=f"127.0.0.1:{free_port()}", INVESTED_STARTUP_TIMEOUT_SECONDS="1"
    )
    started = time.monotonic()
    result = run_module("services.ingest", env)
    assert result.returncode == 2
    assert time.monotonic() - started < 30
    assert "cannot reach Kafka" in result.stderr and "INVESTED_KAFKA_BOOTSTRAP" in result.stderr
    assert "Traceback" not in result.stderr


def test_make_run_names_the_variable_of_a_taken_port() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_module("invested.devrun", clean_env(INVESTED_API_PORT=str(port)))
    assert result.returncode == 2
    assert f"port {port}" in result.stderr and "INVESTED_API_PORT" in result.stderr
    assert "Traceback" not in result.stderr


# --- the real broker and Redis -------------------------------------------------------------------


def test_round_trip_kafka_python_producer_to_aiokafka_group_consumer(
    backend: Backend, unique: str
) -> None:
    assert_round_trip(backend, unique)


@pytest.mark.docker
def test_round_trip_on_testcontainers_apache_kafka_and_redis(
    docker_only_backend: Backend, unique: str
) -> None:
    assert_round_trip(docker_only_backend, unique)


def assert_round_trip(backend: Backend, unique: str) -> None:
    sent = EngagementEvent.model_validate(
        {
            "id": f"roundtrip-{unique}",
            "community": f"c-{unique}",
            "platform": "github",
            "member": "alice",
            "kind": "star",
            "occurred_at": utcnow(),
            "received_at": utcnow(),
        }
    )
    producer = KafkaProducer(bootstrap_servers=backend.kafka_bootstrap, acks="all")
    metadata = producer.send(ENGAGEMENT_EVENTS, key=sent.key.encode(), value=sent.to_json()).get(10)
    producer.close()

    async def read_back() -> EngagementEvent:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=backend.kafka_bootstrap,
            group_id=f"roundtrip-{unique}",
            auto_offset_reset="earliest",
        )
        consumer.subscribe([ENGAGEMENT_EVENTS])
        await consumer.start()
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                batches = await consumer.getmany(timeout_ms=500)
                for records in batches.values():
                    for record in records:
                        if record.key == sent.key.encode():
                            assert record.partition == metadata.partition
                            return EngagementEvent.from_json(record.value)
            raise AssertionError("event not read back within 30 s")
        finally:
            await consumer.stop()

    assert asyncio.run(read_back()) == sent


def test_redis_write_and_read(redis_client: object, unique: str) -> None:
    redis_client.set(f"foundation:{unique}", "ok", ex=60)  # type: ignore[attr-defined]
    assert redis_client.get(f"foundation:{unique}") == "ok"  # type: ignore[attr-defined]


# --- no orphans --------------------------------------------------------------------------------

HOLD_PIDFILE = os.environ.get("HOLD_STACK_PIDFILE")


@pytest.mark.skipif(not HOLD_PIDFILE, reason="helper: run by test_sigint_leaves_no_processes")
def test_hold_stack(backend: Backend) -> None:
    assert backend.stack is not None and HOLD_PIDFILE
    Path(HOLD_PIDFILE).write_text(" ".join(map(str, backend.stack.pids)))
    time.sleep(120)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_interrupted_test_run_leaves_no_broker_or_redis(
    tmp_path: Path, sig: signal.Signals
) -> None:
    pidfile = tmp_path / "pids"
    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/test_foundation.py::test_hold_stack",
        ],
        cwd=ROOT,
        env={**clean_env(HOLD_STACK_PIDFILE=str(pidfile)), "TEST_BACKEND": "embedded"},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not (pidfile.exists() and pidfile.read_text()) and time.monotonic() < deadline:
            time.sleep(0.1)
        pids = [int(p) for p in pidfile.read_text().split()]
        assert len(pids) == 2 and all(pid_alive(p) for p in pids)
        run.send_signal(sig)
        run.wait(30)
        deadline = time.monotonic() + 10
        while any(pid_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [p for p in pids if pid_alive(p)], "broker or redis-server outlived the run"
    finally:
        if run.poll() is None:
            run.kill()


USER_SECRETS = {
    "INVESTED_GITHUB_WEBHOOK_SECRET": "users-own-github-secret-5f1e",
    "INVESTED_API_KEYS": "users-own-api-key-9c2d",
}


def test_make_run_launcher_brings_up_every_service_and_stops_cleanly(tmp_path: Path) -> None:
    """What `make run` runs: all health endpoints answer, Ctrl-C leaves no process behind, and the
    banner prints the development secrets it generated but never a value the user set."""
    ports = {
        name: free_port() for name in ("API", "INGEST", "CLASSIFIER_METRICS", "BROKER", "REDIS")
    }
    env = clean_env(**{f"INVESTED_{name}_PORT": str(port) for name, port in ports.items()})
    # The user's own secrets: the banner must not print them (it prints only what it generated).
    env.update(USER_SECRETS, PYTHONPATH=str(ROOT))  # this checkout's code, not the installed one
    launcher = subprocess.Popen(
        [sys.executable, "-m", "invested.devrun"],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    try:
        deadline = time.monotonic() + 90
        while not any("Invested is running" in line for line in output):
            assert time.monotonic() < deadline and launcher.poll() is None, "".join(output)[-3000:]
            output.append(launcher.stdout.readline())  # type: ignore[union-attr]
        for name in ("API", "INGEST", "CLASSIFIER_METRICS"):
            url = f"http://127.0.0.1:{ports[name]}/healthz"
            while not answers_ok(url):
                assert time.monotonic() < deadline, f"{url} never answered"
                time.sleep(0.2)
        children = psutil.Process(launcher.pid).children(recursive=True)
        assert len(children) >= 5  # broker, redis-server, three services
        while output[-1] != "\n":  # the banner is printed in one piece and ends with a blank line
            assert time.monotonic() < deadline and launcher.poll() is None, "".join(output)[-3000:]
            output.append(launcher.stdout.readline())  # type: ignore[union-attr]
        banner = "".join(output)
        for value in USER_SECRETS.values():
            assert value not in banner, "make run printed a secret the user set"
        assert "INVESTED_GITHUB_WEBHOOK_SECRET: set by you" in banner
        assert f"INVESTED_SLACK_SIGNING_SECRET={DEV_ENV['INVESTED_SLACK_SIGNING_SECRET']}" in banner
        launcher.send_signal(signal.SIGINT)
        assert launcher.wait(60) == 0
        gone, alive = psutil.wait_procs(children, timeout=15)
        assert not alive, f"left behind: {[p.pid for p in alive]}"
    finally:
        if launcher.poll() is None:
            launcher.kill()


def test_an_empty_secret_means_not_configured() -> None:
    settings = load_settings(
        {"INVESTED_GITHUB_WEBHOOK_SECRET": "", "INVESTED_SLACK_SIGNING_SECRET": " "}
    )
    assert settings.github_webhook_secret is None and settings.slack_signing_secret is None
