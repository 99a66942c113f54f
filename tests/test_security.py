"""Security review as tests: secrets and API keys never appear in logs or in responses.

Ingest and the API run as real processes at DEBUG log level; they are sent bad signatures,
unsigned and malformed requests, wrong keys and valid traffic. Neither their whole log output
nor any response body may contain a secret, a key, or the HMAC of the body under the secret.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from invested.devsecrets import DEV_ENV
from invested.stack import free_port
from tests.backends import Backend
from tests.processes import running, service_env
from tools.simulator.signing import Secrets, Signer

SECRETS = {
    "INVESTED_GITHUB_WEBHOOK_SECRET": "gh-secret-0d9f8e7c6b5a",
    "INVESTED_SLACK_SIGNING_SECRET": "slack-secret-4c3b2a19",
    # Two instances, each bound to its own secret (the development instance is one of them).
    "INVESTED_DISCOURSE_WEBHOOK_SECRET": (
        "https://forum.acme.dev=discourse-secret-77aa,https://forum.acme.dev/fr=discourse-fr-91cc"
    ),
    "INVESTED_API_KEYS": "api-key-old-5e4d3c,api-key-new-2b1a09",
}


def forbidden_strings() -> list[str]:
    skipped = ("INVESTED_API_KEYS", "INVESTED_DISCOURSE_WEBHOOK_SECRET")
    values = [v for name, v in SECRETS.items() if name not in skipped]
    values += SECRETS["INVESTED_API_KEYS"].split(",")
    values += ["discourse-secret-77aa", "discourse-fr-91cc"]
    values.append(DEV_ENV["INVESTED_STANDARD_WEBHOOKS_SECRET"])
    return values


def test_ingest_and_api_never_log_or_echo_secrets(backend: Backend, tmp_path: Path) -> None:
    ingest_port, api_port = free_port(), free_port()
    env = service_env(
        backend.kafka_bootstrap,
        backend.redis_url,
        INVESTED_LOG_LEVEL="DEBUG",
        INVESTED_INGEST_PORT=str(ingest_port),
        INVESTED_API_PORT=str(api_port),
        **SECRETS,
    )
    signer = Signer(Secrets.from_env(env))
    body = json.dumps({"zen": "Keep it logically awesome.", "hook_id": 1}).encode()
    good = signer.github(body, "ping", "sec-delivery-1")
    discourse = signer.discourse(
        b'{"ping": "OK"}', "ping", "ping", "https://forum.acme.dev/fr", "sec-event-1"
    )
    bodies: list[str] = []
    with (
        running(
            "services.ingest",
            env,
            f"http://127.0.0.1:{ingest_port}/healthz",
            tmp_path / "ingest.log",
        ),
        running("services.api", env, f"http://127.0.0.1:{api_port}/healthz", tmp_path / "api.log"),
        httpx.Client(timeout=10) as http,
    ):
        ingest = f"http://127.0.0.1:{ingest_port}"
        api = f"http://127.0.0.1:{api_port}"
        requests = [
            ("POST", f"{ingest}/webhooks/github", good.headers, good.body),
            ("POST", f"{ingest}/webhooks/github", {**good.headers, "X-Hub-Signature-256": "sha256=00"}, good.body),
            ("POST", f"{ingest}/webhooks/github", good.headers, good.body + b" "),
            ("POST", f"{ingest}/webhooks/slack", {"X-Slack-Signature": "v0=1", "X-Slack-Request-Timestamp": "1"}, b"{}"),
            ("POST", f"{ingest}/webhooks/discourse", {}, b"not json"),
            ("POST", f"{ingest}/webhooks/discourse", {**discourse.headers, "X-Discourse-Instance": "https://forum.acme.dev"}, discourse.body),
            ("POST", f"{ingest}/webhooks/discourse", discourse.headers, discourse.body),
            ("POST", f"{ingest}/webhooks/generic", {"webhook-id": "x", "webhook-timestamp": str(int(time.time())), "webhook-signature": "v1,AAAA"}, b"{}"),
            ("GET", f"{api}/v1/communities/acme/segments", {"Authorization": "Bearer api-key-old-5e4d3cX"}, b""),
            ("GET", f"{api}/v1/communities/acme/segments", {"Authorization": "Bearer api-key-new-2b1a09"}, b""),
            ("GET", f"{api}/v1/communities/acme/segments", {"Authorization": "Basic api-key-old-5e4d3c"}, b""),
            ("GET", f"{ingest}/metrics", {}, b""),
            ("GET", f"{api}/metrics", {}, b""),
        ]  # fmt: skip
        statuses = []
        for method, url, headers, content in requests:
            response = http.request(method, url, headers=headers, content=content)
            statuses.append(response.status_code)
            bodies.append(response.text + json.dumps(dict(response.headers)))
        assert statuses[1] == statuses[2] == 401 and statuses[8] == 401 and statuses[10] == 401
        assert statuses[5:7] == [401, 200]  # another instance's name refused; its own answered
        assert statuses[9] in (200, 404)  # authenticated (the community may be unknown)
    logs = (tmp_path / "ingest.log").read_text() + (tmp_path / "api.log").read_text()
    assert "DEBUG" in logs, "the services ran at DEBUG: the most they would ever log"
    for secret in forbidden_strings():
        assert secret not in logs, f"a secret appears in the logs: {secret[:6]}..."
        for text in bodies:
            assert secret not in text, f"a secret appears in a response: {secret[:6]}..."
    # The valid signature itself is not logged either (it would allow replays within the window).
    assert good.headers["X-Hub-Signature-256"] not in logs
