"""Ingest over real HTTP (``python -m services.ingest`` subprocess), real broker, real Redis.

Per platform: a signed webhook yields the expected normalized events on ``engagement.events``
(read back with an aiokafka group consumer), a tampered body yields 401 and nothing on Kafka, a
redelivery yields one set of events. Plus handshakes, the replay window, bad input, dead letters,
health, metrics and the simulator end to end. (The fuzz test is ``test_ingest_fuzz.py``.)

"Nothing arrived" is shown without sleeping: a later delivery by the same member (same key, so
the same partition, so read after) is awaited first, then the absence is checked.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from starlette.testclient import TestClient

from invested.contracts import DeadLetter, Kind, Platform
from invested.settings import load_settings
from invested.stack import free_port
from invested.topics import member_key
from services.ingest.app import create_app
from services.ingest.simulator import SimConfig, generate, post_all
from tests.backends import Backend
from tests.test_ingest_support import (
    FIXTURES,
    ROOT,
    SIGNER,
    IngestServer,
    Tap,
    deadletters_with,
    events_of,
    ingest_env,
    prepare,
    resign,
)

PLATFORMS = ["github", "slack", "discourse", "discord", "generic"]

# One realistic interaction per platform: (fixture, [(kind, member, target_member)]).
ROUND_TRIPS: dict[str, tuple[str, list[tuple[Kind, str, str | None]]]] = {
    "github": ("issue_comment.created", [(Kind.COMMENT, "583231", "2154")]),
    "slack": ("message.thread_reply", [(Kind.REPLY, "U0G9QF9C6", "U061F7AUR")]),
    "discourse": ("post_created.reply", [(Kind.REPLY, "octocat", "monalisa")]),
    "discord": (
        "message_create",
        [
            (Kind.MENTION, "53908232506183680", "80351110224678912"),
            (Kind.POST, "53908232506183680", None),
        ],
    ),
    "generic": ("engagement.feedback", [(Kind.FEEDBACK, "attendee-4411", "host-17")]),
}


@pytest.fixture(scope="module")
def tap(backend: Backend) -> Iterator[Tap]:
    with Tap(backend.kafka_bootstrap) as value:
        yield value


@pytest.fixture(scope="module")
def server(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[IngestServer]:
    workdir = tmp_path_factory.mktemp("ingest")
    with IngestServer(backend.kafka_bootstrap, backend.redis_url, workdir) as value:
        yield value
    log = value.log()
    # Every request of the module was answered on an explicit path: no bug, no traceback.
    assert "Traceback" not in log, log[-4000:]
    assert "unexpected error" not in log, log[-4000:]


def triples(records: list) -> list[tuple[Kind, str, str | None]]:
    events = [record.event() for record in records]
    return sorted(((e.kind, e.member, e.target_member) for e in events), key=str)


# --- acceptance: per platform -------------------------------------------------------------------


@pytest.mark.parametrize("platform", PLATFORMS)
def test_signed_webhook_yields_the_normalized_events_on_kafka(
    platform: str, server: IngestServer, tap: Tap, unique: str
) -> None:
    name, expected = ROUND_TRIPS[platform]
    prepared = prepare(platform, name, unique)
    response = server.post(prepared.request)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["status"] == "accepted" and answer["events"] == len(expected)

    records = tap.wait_for(events_of(prepared.community), count=len(expected))
    assert triples(records) == sorted(expected, key=str)
    for record in records:
        event = record.event()
        assert event.id in answer["ids"]
        assert event.platform is Platform(platform)
        assert event.community == prepared.community
        assert record.key == member_key(event.community, event.member).encode()
        assert event.occurred_at < event.received_at  # the event time comes from the payload


@pytest.mark.parametrize("platform", PLATFORMS)
def test_tampered_body_is_401_and_nothing_reaches_kafka(
    platform: str, server: IngestServer, tap: Tap, unique: str
) -> None:
    name, expected = ROUND_TRIPS[platform]
    prepared = prepare(platform, name, unique)
    tampered = prepared.request.body[:-1] + b',"tampered":1}'
    response = httpx.post(
        server.url + prepared.request.path, headers=prepared.request.headers, content=tampered
    )
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_signature"}

    # The authentic delivery, sent afterwards by the same member, is read; the tampered is not.
    assert server.post(prepared.request).status_code == 200
    tap.wait_for(events_of(prepared.community), count=len(expected))
    records = tap.matching(events_of(prepared.community))
    assert len(records) == len(expected)
    assert all(b"tampered" not in record.value for record in records)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_redelivery_yields_one_set_of_events(
    platform: str, server: IngestServer, tap: Tap, unique: str
) -> None:
    name, expected = ROUND_TRIPS[platform]
    prepared = prepare(platform, name, unique)
    first = server.post(prepared.request)
    assert first.status_code == 200, first.text
    # The platform retries the same delivery (re-signed: Slack/Discord/Standard sign the time).
    for _ in range(2):
        again = server.post(resign(prepared, prepared.request.body))
        assert again.status_code == 200, again.text
        assert again.json()["status"] == "duplicate"

    # Another message by the same member lands after; by then any duplicate would be visible.
    later = prepare(platform, name, unique, variant=1)
    second = server.post(later.request)
    assert second.status_code == 200, second.text
    tap.wait_for(
        lambda r: events_of(prepared.community)(r) and r.event().id in second.json()["ids"]
    )
    ids = Counter(record.event().id for record in tap.matching(events_of(prepared.community)))
    assert {event_id: ids[event_id] for event_id in first.json()["ids"]} == {
        event_id: 1 for event_id in first.json()["ids"]
    }
    assert sum(ids.values()) == 2 * len(expected)


# --- handshakes, replay window, bad input -------------------------------------------------------


def test_handshakes_are_answered_as_each_platform_expects(server: IngestServer) -> None:
    ping = json.loads((FIXTURES / "github" / "ping.json").read_text())
    response = server.post(SIGNER.github(json.dumps(ping).encode(), "ping", str(uuid.uuid4())))
    assert response.status_code == 200 and response.json() == {"status": "pong"}

    challenge = (FIXTURES / "slack" / "url_verification.json").read_bytes()
    response = server.post(SIGNER.slack(challenge))
    assert response.json() == {"challenge": json.loads(challenge)["challenge"]}

    response = server.post(SIGNER.discord((FIXTURES / "discord" / "ping.json").read_bytes()))
    assert response.status_code == 200 and response.json() == {"type": 1}
    response = server.post(SIGNER.discord(b'{"version":1,"application_id":"1","type":0}'))
    assert response.status_code == 204

    response = server.post(
        SIGNER.discourse(b'{"ping":"OK"}', "ping", "ping", "https://forum.example", "1")
    )
    assert response.status_code == 200 and response.json() == {"status": "pong"}


@pytest.mark.parametrize("platform", ["slack", "discord", "generic"])
# Well past the 300 s window: signatures carry whole seconds, so 301 could round back in.
@pytest.mark.parametrize("skew", [-310, 310])
def test_signed_timestamp_outside_the_replay_window_is_401(
    platform: str, skew: int, server: IngestServer, unique: str
) -> None:
    import time

    from services.ingest.signing import Signer

    shifted = Signer(SIGNER.secrets, clock=lambda: time.time() + skew)
    prepared = prepare(platform, ROUND_TRIPS[platform][0], unique, signer=shifted)
    response = server.post(prepared.request)
    assert response.status_code == 401
    assert response.json() == {"error": "stale_timestamp"}


@pytest.mark.parametrize("platform", PLATFORMS)
def test_missing_signature_is_401(platform: str, server: IngestServer, unique: str) -> None:
    prepared = prepare(platform, ROUND_TRIPS[platform][0], unique)
    headers = {
        name: value
        for name, value in prepared.request.headers.items()
        if "signature" not in name.lower()
    }
    response = httpx.post(
        server.url + prepared.request.path, headers=headers, content=prepared.request.body
    )
    assert response.status_code == 401
    assert response.json() == {"error": "missing_signature"}


@pytest.mark.parametrize("platform", PLATFORMS)
def test_malformed_json_is_400(platform: str, server: IngestServer, unique: str) -> None:
    prepared = prepare(platform, ROUND_TRIPS[platform][0], unique)
    response = server.post(resign(prepared, b'{"truncated": '))
    assert response.status_code == 400
    assert response.json() == {"error": "malformed_json"}


def test_body_over_the_limit_is_413_even_without_content_length(server: IngestServer) -> None:
    limit = load_settings({}).max_body_bytes
    big = b"[" + b"0," * (limit // 2) + b"0]"
    request = SIGNER.generic(big, "msg_big")
    response = server.post(request)
    assert response.status_code == 413 and response.json()["error"] == "body_too_large"

    def chunks() -> Iterator[bytes]:  # chunked transfer: no Content-Length to trust
        for start in range(0, len(big), 65536):
            yield big[start : start + 65536]

    response = httpx.post(server.url + request.path, headers=request.headers, content=chunks())
    assert response.status_code == 413 and response.json()["error"] == "body_too_large"


def test_unknown_routes_and_methods_answer_json(server: IngestServer) -> None:
    response = httpx.get(server.url + "/webhooks/github")
    assert response.status_code == 405 and response.json() == {"error": "method_not_allowed"}
    response = httpx.post(server.url + "/webhooks/myspace", content=b"{}")
    assert response.status_code == 404 and response.json() == {"error": "not_found"}


# --- dead letters -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "name", "reason"),
    [
        ("github", "issues.labeled", "unknown_event"),
        ("github", "pull_request.closed.unmerged", "unmapped_event"),
        ("slack", "message.message_changed", "unknown_event"),
        ("generic", "invoice.paid", "unknown_event"),
    ],
)
def test_authentic_but_unmappable_is_202_and_dead_lettered_with_the_raw_payload(
    platform: str, name: str, reason: str, server: IngestServer, tap: Tap, unique: str
) -> None:
    prepared = prepare(platform, name, unique)
    response = server.post(prepared.request)
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "deadlettered" and response.json()["reason"] == reason

    [record] = tap.wait_for(deadletters_with(prepared.community))
    letter = record.deadletter()
    assert letter.source == f"ingest/{platform}"
    assert letter.reason == reason
    assert letter.payload == prepared.request.body.decode()
    assert letter.extra["delivery_id"] == response.json()["delivery_id"]
    assert not any("signature" in header for header in letter.headers)


# --- operations ---------------------------------------------------------------------------------


def test_health_readiness_and_metrics(server: IngestServer, unique: str) -> None:
    assert httpx.get(server.url + "/healthz").json()["status"] == "ok"
    ready = httpx.get(server.url + "/readyz")
    assert ready.status_code == 200 and ready.json() == {
        "status": "ready",
        "kafka": "ok",
        "redis": "ok",
    }
    prepared = prepare("github", "issue_comment.created", unique)
    server.post(prepared.request)
    server.post(prepared.request)  # a duplicate
    bad = httpx.post(server.url + "/webhooks/github", headers={"X-Hub-Signature-256": "sha256=0"})
    assert bad.status_code == 401
    metrics = httpx.get(server.url + "/metrics").text
    for line in (
        'invested_ingest_webhooks_received_total{outcome="accepted",platform="github"}',
        'invested_ingest_webhooks_received_total{outcome="duplicate",platform="github"}',
        'invested_ingest_signature_failures_total{platform="github",reason="invalid_signature"}',
        'invested_ingest_events_published_total{kind="comment",platform="github"}',
        'invested_ingest_produce_latency_seconds_bucket{le="0.5",platform="github"}',
        'invested_ingest_duplicates_total{platform="github"}',
    ):
        assert line in metrics, line
    assert "# TYPE invested_ingest_deadlettered_total counter" in metrics
    assert "dev-github-secret" not in metrics


def test_unset_secret_answers_503_not_configured(backend: Backend) -> None:
    settings = load_settings(
        {
            "INVESTED_KAFKA_BOOTSTRAP": backend.kafka_bootstrap,
            "INVESTED_REDIS_URL": backend.redis_url,
        }
    )
    with TestClient(create_app(settings)) as client:
        for platform in PLATFORMS:
            response = client.post(f"/webhooks/{platform}", content=b"{}")
            assert response.status_code == 503
            assert response.json() == {"error": "not_configured", "platform": platform}


def test_malformed_secret_stops_the_service_naming_the_variable(backend: Backend) -> None:
    env = ingest_env(
        backend.kafka_bootstrap,
        backend.redis_url,
        free_port(),
        INVESTED_DISCORD_PUBLIC_KEY="not-hex-at-all",
        INVESTED_STANDARD_WEBHOOKS_SECRET="whsec_c2VjcmV0",
    )
    result = subprocess.run(
        [sys.executable, "-m", "services.ingest"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    assert "INVESTED_DISCORD_PUBLIC_KEY" in result.stderr and "not hex" in result.stderr
    assert "not-hex-at-all" not in result.stderr and "Traceback" not in result.stderr


# --- the simulator, end to end ----------------------------------------------------------------


def test_simulated_community_lands_every_event(server: IngestServer, tap: Tap, unique: str) -> None:
    config = SimConfig(
        seed=3,
        members=30,
        days=5,
        github_org=f"sim-{unique}",
        slack_team=f"TSIM{unique.upper()}",
        discourse_instance=f"https://sim-{unique}.example",
        discord_guild=f"8{int(unique, 16)}",
        meetup_community=f"sim-meetups-{unique}",
    )
    _, events = generate(config)
    result = asyncio.run(post_all(events, SIGNER, server.url, concurrency=4, progress=False))
    assert result.statuses == Counter({200: len(events)}), result.errors
    communities = {config.community(p) for p in config.platforms}
    records = tap.wait_for(
        events_of(*communities),
        count=result.events_accepted,
    )
    assert len({r.event().id for r in records}) == result.events_accepted
    kinds = Counter(r.event().kind for r in records)
    assert kinds[Kind.REPLY] > 0 and kinds[Kind.POST] > 0 and kinds[Kind.REACT] > 0


def test_simulator_cli_dry_run_is_deterministic() -> None:
    args = [sys.executable, "-m", "services.ingest.simulator", "--dry-run", "--seed", "11"]
    args += [
        "--members",
        "40",
        "--days",
        "7",
        "--end",
        datetime(2024, 6, 1, tzinfo=UTC).isoformat(),
    ]
    env = ingest_env("127.0.0.1:1", "redis://127.0.0.1:1/0", 1)
    first = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    second = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout and "webhooks:" in first.stdout


# --- units of the app -------------------------------------------------------------------------


def test_dead_letters_keep_the_raw_body_and_no_signatures() -> None:
    from services.ingest.app import DEADLETTER_PAYLOAD_LIMIT, deadletter_record

    headers = {
        "x-github-event": "issues",
        "x-github-delivery": "d-1",
        "x-hub-signature-256": "sha256=abc",
        "x-slack-signature": "v0=abc",
        "x-discourse-event-signature": "sha256=abc",
        "webhook-signature": "v1,abc",
        "x-signature-ed25519": "ab",
        "x-signature-timestamp": "1700000000",
        "authorization": "Bearer secret",
        "cookie": "session=secret",
    }
    record = deadletter_record(
        Platform.GITHUB, "unknown_event", "x", headers, b'{"a": 1}', "d-1", "k", datetime.now(UTC)
    )
    letter = DeadLetter.model_validate_json(record.value)
    assert letter.payload == '{"a": 1}' and letter.extra["truncated"] is False
    assert set(letter.headers) == {"x-github-event", "x-github-delivery", "x-signature-timestamp"}

    big = b'"' + b"x" * (DEADLETTER_PAYLOAD_LIMIT + 10) + b'"'
    record = deadletter_record(
        Platform.GITHUB, "unknown_event", "x", {}, big, "d-2", "k", datetime.now(UTC)
    )
    letter = DeadLetter.model_validate_json(record.value)
    assert letter.extra["truncated"] is True and letter.extra["body_bytes"] == len(big)
    assert len(record.value) < 1_000_000  # under Kafka's default message size limit


def test_producer_gives_up_on_a_record_when_ingest_answers_503() -> None:
    from services.ingest.producer import MAX_REQUEST_BYTES, append_seconds, producer_config

    settings = load_settings({"INVESTED_PRODUCE_TIMEOUT_SECONDS": "3"})
    config = producer_config(settings)
    assert config["acks"] == "all" and config["max_request_size"] == MAX_REQUEST_BYTES
    # A batch expires (never sent again) by the deadline of the first request in it, which had
    # at most append_seconds to put its records in.
    assert 0 < append_seconds(settings) <= 1.5
    assert config["request_timeout_ms"] + append_seconds(settings) * 1000 <= 3000
    assert config["enable_idempotence"] is False
    idempotent = load_settings({"INVESTED_KAFKA_IDEMPOTENT_PRODUCER": "true"})
    assert producer_config(idempotent)["enable_idempotence"] is True
