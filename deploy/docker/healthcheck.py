"""Container health probe of the Invested image: GET /healthz of the service running here.

One image runs every service (a command each), so the image's HEALTHCHECK cannot hard-code a
port. This probe finds which ``services.<name>`` module this container runs (from /proc), takes
that service's port from the same ``INVESTED_*`` settings the service read, and asks
``http://127.0.0.1:<port>/healthz``. Exit 0 healthy, 1 unhealthy.

    python deploy/docker/healthcheck.py            # detect the service from the process table
    python deploy/docker/healthcheck.py ingest     # or name it (used by the tests)

A container that runs no service (the one-shot topic job) has nothing to probe and reports 0.
"""

from __future__ import annotations

import sys
import urllib.request
from pathlib import Path

# service name -> Settings field holding its HTTP port
PORT_FIELDS = {
    "ingest": "ingest_port",
    "classifier": "classifier_metrics_port",
    "api": "api_port",
}


def running_service(proc: Path = Path("/proc")) -> str | None:
    """The service whose ``-m services.<name>`` appears in a process command line here."""
    for entry in sorted(proc.iterdir(), key=lambda p: p.name):
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        for name in PORT_FIELDS:
            if f"services.{name}".encode() in argv:
                return name
    return None


def probe(service: str, timeout: float = 3.0) -> bool:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # /app in the image
    from invested.settings import load_settings

    port = getattr(load_settings(), PORT_FIELDS[service])
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=timeout) as reply:
            return bool(reply.status == 200)
    except OSError as exc:
        print(f"{service} on port {port}: {exc}", file=sys.stderr)
        return False


def main(argv: list[str]) -> int:
    service = argv[0] if argv else running_service()
    if service is None:
        return 0
    if service not in PORT_FIELDS:
        print(
            f"unknown service {service!r}; expected one of {sorted(PORT_FIELDS)}", file=sys.stderr
        )
        return 2
    return 0 if probe(service) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
