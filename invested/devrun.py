"""``make run``: the whole pipeline on this machine, on embedded defaults.

Starts the embedded broker and Redis, then ingest, classifier and API as child processes with
prefixed, coloured logs, prints the URLs and development secrets, and stops everything on
Ctrl-C (or when any service exits). A taken port fails fast naming the variable to change.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from invested.connections import answers_ok
from invested.devsecrets import DEV_ENV
from invested.redact import MASK, mask_url
from invested.settings import ConfigError, Settings, load_settings
from invested.stack import EmbeddedStack, _die_with_parent, check_port_free, terminate

COLOURS = itertools.cycle(["\033[36m", "\033[35m", "\033[33m", "\033[32m"])
RESET = "\033[0m"


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    module: str
    port_field: str
    health_path: str


SERVICES = (
    ServiceSpec("ingest", "services.ingest", "ingest_port", "/healthz"),
    ServiceSpec("classifier", "services.classifier", "classifier_metrics_port", "/healthz"),
    ServiceSpec("api", "services.api", "api_port", "/healthz"),
)


def _pump(name: str, colour: str, stream: object, tty: bool) -> None:
    prefix = f"{colour}{name:>10} |{RESET} " if tty else f"{name:>10} | "
    for raw in iter(stream.readline, b""):  # type: ignore[attr-defined]
        sys.stdout.write(prefix + raw.decode(errors="replace"))
        sys.stdout.flush()


def run(
    settings: Settings, environ: dict[str, str], generated: dict[str, str] | None = None
) -> int:
    """``generated``: the development values this launcher filled in (the only ones it prints)."""
    checks = [(s.port_field, getattr(settings, s.port_field)) for s in SERVICES]
    checks += [("broker_port", settings.broker_port), ("redis_port", settings.redis_port)]
    for field, port in checks:
        check_port_free(port, "INVESTED_" + field.upper())

    workdir = Path(".invested/stack")
    workdir.mkdir(parents=True, exist_ok=True)
    tty = sys.stdout.isatty()
    print(
        f"starting embedded broker (Tansu) on :{settings.broker_port} and Redis on :{settings.redis_port}"
    )
    stack = EmbeddedStack(settings.broker_port, settings.redis_port, workdir=workdir).start()
    child_env = {
        **environ,
        "INVESTED_KAFKA_BOOTSTRAP": stack.kafka_bootstrap,
        "INVESTED_REDIS_URL": stack.redis_url,
        "PYTHONUNBUFFERED": "1",
    }
    procs: dict[str, subprocess.Popen[bytes]] = {}
    stopping = threading.Event()

    def stop(*_: object) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        for spec in SERVICES:
            proc = subprocess.Popen(
                [sys.executable, "-m", spec.module],
                env=child_env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent,
                # Own session: Ctrl-C reaches only this launcher, which stops children in order.
                start_new_session=True,
            )
            procs[spec.name] = proc
            threading.Thread(
                target=_pump, args=(spec.name, next(COLOURS), proc.stdout, tty), daemon=True
            ).start()
        urls = {
            s.name: f"http://{settings.bind_host}:{getattr(settings, s.port_field)}"
            for s in SERVICES
        }
        deadline = time.monotonic() + 60
        pending = set(urls)
        while pending and time.monotonic() < deadline and not stopping.is_set():
            for spec in SERVICES:
                if spec.name in pending and answers_ok(urls[spec.name] + spec.health_path):
                    pending.discard(spec.name)
            if any(p.poll() is not None for p in procs.values()):
                break
            time.sleep(0.2)
        _banner(settings, stack, urls, generated or {}, pending)
        while not stopping.is_set():
            dead = [name for name, p in procs.items() if p.poll() is not None]
            if dead:
                print(f"service {', '.join(dead)} exited; stopping the stack", file=sys.stderr)
                return 1
            time.sleep(0.3)
        return 0
    finally:
        print("stopping services, broker and Redis ...")
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            terminate(proc, timeout=10)
        stack.stop()


def _banner(
    settings: Settings,
    stack: EmbeddedStack,
    urls: dict[str, str],
    generated: dict[str, str],
    pending: set[str],
) -> None:
    lines = ["", "Invested is running (Ctrl-C stops everything):"]
    lines += [f"  API         {urls['api']}  (docs: {urls['api']}/docs)"]
    lines += [f"  ingest      {urls['ingest']}/webhooks/<github|slack|discourse|discord|generic>"]
    lines += [f"  classifier  {urls['classifier']}/metrics"]
    lines += [f"  Kafka       {stack.kafka_bootstrap}    Redis {mask_url(stack.redis_url)}"]
    lines += secret_lines(generated)
    if pending:
        lines.append(f"  not healthy yet: {', '.join(sorted(pending))} (see their logs above)")
    print("\n".join(lines) + "\n", flush=True)


def secret_lines(generated: dict[str, str]) -> list[str]:
    """The banner's secrets: the development values this launcher generated, and for every
    variable the user set only that it is theirs (never its value)."""
    lines = ["  development secrets (override with the variables):"]
    for name in DEV_ENV:
        if name in generated:
            lines.append(f"    {name}={generated[name]}")
        else:
            lines.append(f"    {name}: set by you ({MASK})")
    return lines


def main() -> int:
    generated = {name: value for name, value in DEV_ENV.items() if name not in os.environ}
    environ = {**generated, **os.environ}
    try:
        settings = load_settings(environ)
        return run(settings, environ, generated)
    except ConfigError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
