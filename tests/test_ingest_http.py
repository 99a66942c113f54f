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
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from invested.contracts import DeadLetter, Kind, Platform
from invested.devsecrets import DEV_ENV
from invested.settings import load_settings
from invested.stack import free_port
from invested.topics import member_key
from services.ingest.app import create_app
from tests.backends import Backend
from tests.test_ingest_support import (
    DISCOURSE_INSTANCE,
    FIXTURES,
    ROOT,
    SIGNER,
    IngestServer,
    Prepared,
    Tap,
    events_of,
    ingest_env,
    prepare,
    resign,
)
from tests.tools import simulated
from tools.simulator.community import generate
from tools.simulator.config import SimConfig
from tools.simulator.posting import post_all
from tools.simulator.signing import Secrets, Signer

PLATFORMS = ["github", "slack", "discourse", "discord", "generic"]

# One realistic interaction per platform: (fixture, [(kind, member, target_member)]).
# (Discourse members are usernames: ``prepare`` suffixes them with the test's marker.)
ROUND_TRIPS: dict[str, tuple[str, list[tuple[Kind, str, str | None]]]] = {
    "github": ("issue_comment/created.payload", [(Kind.COMMENT, "21031067", None)]),
    "slack": ("message.thread_reply", [(Kind.REPLY, "U0442AB12CD", "U043H11ES4V")]),
    "discourse": ("post_created.reply", [(Kind.REPLY, "octocat", "monalisa")]),
    "discord": (
        "message_create",
        [
            (Kind.MENTION, "53908099506183680", "80351110224678912"),
            (Kind.POST, "53908099506183680", None),
        ],
    ),
    "generic": ("engagement.feedback", [(Kind.FEEDBACK, "attendee-4411", "host-17")]),
}


def expected_triples(
    prepared: Prepared, expected: list[tuple[Kind, str, str | None]]
) -> list[tuple[Kind, str, str | None]]:
    if prepared.request.platform is not Platform.DISCOURSE:
        return sorted(expected, key=str)
    suffix = prepared.marker
    return sorted(
        ((kind, member + suffix, target and target + suffix) for kind, member, target in expected),
        key=str,
    )


@pytest.fixture(scope="module")
def tap(backend: Backend) -> Iterator[Tap]:
    with Tap(backend.kafka_bootstrap) as value:
        yield value


@pytest.fixture(scope="module")
def server(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[IngestServer]:
    workdir = tmp_path_factory.mktemp("ingest")
    with IngestServer(
        backend.kafka_bootstrap,
        backend.redis_url,
        workdir,
        INVESTED_DISCOURSE_WEBHOOK_SECRET=DISCOURSE_PAIRS,
    ) as value:
        yield value
    log = value.log()
    # Every request of the module was answered on an explicit path: no bug, no traceback.
    assert "Traceback" not in log, log[-4000:]
    assert "unexpected error" not in log, log[-4000:]


# Two Discourse instances under one host (path-based communities), each with its own secret: the
# development instance every test signs for, and one the simulator test posts as.
SIM_INSTANCE = f"{DISCOURSE_INSTANCE}/sim-{uuid.uuid4().hex[:8]}"
DISCOURSE_PAIRS = (
    f"{DISCOURSE_INSTANCE}={DEV_ENV['INVESTED_DISCOURSE_WEBHOOK_SECRET']},"
    f"{SIM_INSTANCE}=sim-discourse-secret"
)
PAIRS_SIGNER = Signer(
    Secrets.from_env({**DEV_ENV, "INVESTED_DISCOURSE_WEBHOOK_SECRET": DISCOURSE_PAIRS})
)


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

    records = tap.wait_for(prepared.events, count=len(expected))
    assert triples(records) == expected_triples(prepared, expected)
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
    tap.wait_for(prepared.events, count=len(expected))
    records = tap.matching(prepared.events)
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
    tap.wait_for(lambda r: prepared.events(r) and r.event().id in second.json()["ids"])
    ids = Counter(record.event().id for record in tap.matching(prepared.events))
    assert {event_id: ids[event_id] for event_id in first.json()["ids"]} == {
        event_id: 1 for event_id in first.json()["ids"]
    }
    assert sum(ids.values()) == 2 * len(expected)


# --- handshakes, replay window, bad input -------------------------------------------------------


def test_handshakes_are_answered_as_each_platform_expects(server: IngestServer) -> None:
    ping = json.loads((FIXTURES / "github" / "ping" / "payload.json").read_text())
    response = server.post(SIGNER.github(json.dumps(ping).encode(), "ping", str(uuid.uuid4())))
    assert response.status_code == 200 and response.json() == {"status": "pong"}

    challenge = (FIXTURES / "slack" / "url_verification.json").read_bytes()
    response = server.post(SIGNER.slack(challenge))
    assert response.json() == {"challenge": json.loads(challenge)["challenge"]}

    response = server.post(
        SIGNER.discord((FIXTURES / "discord" / "interaction.ping.json").read_bytes())
    )
    assert response.status_code == 200 and response.json() == {"type": 1}
    response = server.post(SIGNER.discord(b'{"version":1,"application_id":"1","type":0}'))
    assert response.status_code == 204

    response = server.post(
        SIGNER.discourse(b'{"ping":"OK"}', "ping", "ping", DISCOURSE_INSTANCE, "1")
    )
    assert response.status_code == 200 and response.json() == {"status": "pong"}


@pytest.mark.parametrize("platform", ["slack", "discord", "generic"])
# Well past the 300 s window: signatures carry whole seconds, so 301 could round back in.
@pytest.mark.parametrize("skew", [-310, 310])
def test_signed_timestamp_outside_the_replay_window_is_401(
    platform: str, skew: int, server: IngestServer, unique: str
) -> None:
    import time

    from tools.simulator.signing import Signer

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


# --- replays, instances, clocks, interactions ---------------------------------------------------


@pytest.mark.parametrize(
    "name", ["star/deleted.payload", "member/added.payload", "organization/member_added.payload"]
)
def test_a_replayed_github_body_with_new_delivery_ids_gives_the_same_event_ids(
    name: str, server: IngestServer, tap: Tap, unique: str
) -> None:
    # GitHub signs no time and no delivery id: a captured body can be sent again at any time.
    prepared = prepare("github", name, unique)
    ids = []
    for _ in range(3):
        replay = SIGNER.github(prepared.request.body, name.split("/")[0], str(uuid.uuid4()))
        response = server.post(replay)
        assert response.status_code == 200 and response.json()["status"] == "accepted"
        ids.append(response.json()["ids"])
    assert ids[0] == ids[1] == ids[2] and len(ids[0]) == 1


def test_a_replayed_discourse_body_with_new_event_ids_gives_the_same_event_ids(
    server: IngestServer, unique: str
) -> None:
    prepared = prepare("discourse", "post_created.reply", unique)
    ids = []
    for _ in range(2):
        replay = SIGNER.discourse(
            prepared.request.body, "post_created", "post", DISCOURSE_INSTANCE, uuid.uuid4().hex
        )
        response = server.post(replay)
        assert response.status_code == 200 and response.json()["status"] == "accepted"
        ids.append(response.json()["ids"])
    assert ids[0] == ids[1]


@pytest.mark.parametrize(
    "instance", ["https://forum.other.example", SIM_INSTANCE, f"{DISCOURSE_INSTANCE}/fr"]
)
def test_a_discourse_body_replayed_under_another_instance_is_refused(
    instance: str, server: IngestServer, tap: Tap, unique: str
) -> None:
    # Signed with the development instance's secret (SIGNER knows no other), claiming another
    # instance: an unknown one, a configured one, another path on the same host.
    prepared = prepare("discourse", "post_created.reply", unique)
    replay = SIGNER.discourse(
        prepared.request.body, "post_created", "post", instance, uuid.uuid4().hex
    )
    response = server.post(replay)
    assert response.status_code == 401 and response.json() == {"error": "instance_mismatch"}
    assert server.post(prepared.request).json()["status"] == "accepted"
    [record] = tap.wait_for(prepared.events)
    assert record.event().community == "forum.acme.dev"


def test_a_future_event_time_is_set_to_the_receive_time_and_counted(
    server: IngestServer, tap: Tap, unique: str
) -> None:
    prepared = prepare("github", "issues/opened.payload", unique)
    prepared.payload["issue"]["created_at"] = "2099-01-01T00:00:00Z"
    prepared = resigned(prepared, prepared.payload)
    before = datetime.now(UTC)
    response = server.post(prepared.request)
    assert response.status_code == 200, response.text
    [record] = tap.wait_for(prepared.events)
    event = record.event()
    assert event.occurred_at == event.received_at and before <= event.received_at
    metrics = httpx.get(server.url + "/metrics").text
    assert 'invested_ingest_clock_adjusted_total{platform="github",reason="future"}' in metrics


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (2, {"type": 4, "data": {"flags": 64}}),
        (3, {"type": 6}),
        (4, {"type": 8, "data": {"choices": []}}),
        (5, {"type": 4, "data": {"flags": 64}}),
    ],
)
def test_discord_interactions_are_answered_as_discord_expects(
    kind: int, expected: dict[str, Any], server: IngestServer
) -> None:
    interaction = json.loads((FIXTURES / "discord" / "interaction.slash_command.json").read_text())
    interaction["type"] = kind
    started = datetime.now(UTC)
    response = server.post(SIGNER.discord(json.dumps(interaction).encode()))
    assert (datetime.now(UTC) - started).total_seconds() < 3  # Discord's limit
    assert response.status_code == 200
    body = response.json()
    assert body["type"] == expected["type"]
    for key, value in expected.get("data", {}).items():
        assert body["data"][key] == value
    if kind in (2, 5):
        assert body["data"]["content"]
    metrics = httpx.get(server.url + "/metrics").text
    assert 'invested_ingest_webhooks_received_total{outcome="interaction",platform="discord"}' in (
        metrics
    )


# --- dead letters -------------------------------------------------------------------------------


def _drop(*path: str) -> Callable[[dict[str, Any]], None]:
    def mutate(payload: dict[str, Any]) -> None:
        node = payload
        for part in path[:-1]:
            node = node[part]
        del node[path[-1]]

    return mutate


# Mapped events whose payload lacks what the mapping needs: the only dead letters.
BROKEN: list[tuple[str, str, Callable[[dict[str, Any]], None], str]] = [
    ("github", "issues/opened.payload", _drop("issue", "user"), "missing_field"),
    ("github", "pull_request/closed.payload", _drop("pull_request", "merged"), "missing_field"),
    ("slack", "messageExample", _drop("event", "user"), "missing_field"),
    ("discourse", "post_created.reply", _drop("post", "id"), "missing_field"),
    ("discord", "message_reaction_add", _drop("d", "emoji"), "missing_field"),
    ("generic", "engagement.attend", _drop("data", "member"), "missing_field"),
]


def resigned(prepared: Prepared, payload: dict[str, Any]) -> Prepared:
    body = json.dumps(payload).encode()
    return Prepared(resign(prepared, body), prepared.community, payload, prepared.marker)


@pytest.mark.parametrize(("platform", "name", "mutate", "reason"), BROKEN)
def test_authentic_but_unmappable_is_202_and_dead_lettered_with_the_raw_payload(
    platform: str,
    name: str,
    mutate: Callable[[dict[str, Any]], None],
    reason: str,
    server: IngestServer,
    tap: Tap,
    unique: str,
) -> None:
    prepared = prepare(platform, name, unique)
    mutate(prepared.payload)
    prepared = resigned(prepared, prepared.payload)
    response = server.post(prepared.request)
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "deadlettered" and response.json()["reason"] == reason

    [record] = tap.wait_for(prepared.deadletters())
    letter = record.deadletter()
    assert letter.source == f"ingest/{platform}"
    assert letter.reason == reason
    assert letter.payload == prepared.request.body.decode()
    assert letter.extra["delivery_id"] == response.json()["delivery_id"]
    # Signatures are dropped (Discord's signed timestamp is no secret and kept).
    assert not any("signature" in h for h in letter.headers if h != "x-signature-timestamp")


# Authentic webhooks of events we do not count (the platforms' own examples): ignored.
IGNORED = [
    ("github", "issues/labeled.payload", "event_not_mapped"),
    ("github", "pull_request/synchronize.payload", "event_not_mapped"),
    ("github", "pull_request/closed.payload", "pull_request_not_merged"),
    ("github", "watch/started.payload", "reported_by_star_event"),
    ("github", "push/payload", "no_new_commits"),
    ("slack", "messageChange", "event_not_mapped"),
    ("discourse", "post_created.whisper", "whisper"),
    ("discourse", "post_created.private_message", "private_message"),
    ("discourse", "topic_created", "event_not_mapped"),
    ("generic", "invoice.paid", "event_not_mapped"),
]


@pytest.mark.parametrize(("platform", "name", "reason"), IGNORED)
def test_ignored_is_200_and_reaches_neither_topic(
    platform: str, name: str, reason: str, server: IngestServer, tap: Tap, unique: str
) -> None:
    prepared = prepare(platform, name, unique)
    response = server.post(prepared.request)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ignored" and response.json()["reason"] == reason

    # A dead letter of the same marker sent afterwards lands on the one-partition topic after
    # anything the ignored webhook could have put there: once it is read, absence is proven.
    platform_broken = next(case for case in BROKEN if case[0] == platform)
    broken = prepare(platform, platform_broken[1], unique)
    platform_broken[2](broken.payload)
    broken = resigned(broken, broken.payload)
    assert server.post(broken.request).status_code == 202
    [letter] = tap.wait_for(broken.deadletters())
    assert letter.deadletter().payload == broken.request.body.decode()
    assert not tap.matching(prepared.events)

    metrics = httpx.get(server.url + "/metrics").text
    assert (
        f'invested_ingest_webhooks_received_total{{outcome="ignored",platform="{platform}"}}'
        in (metrics)
    )
    assert f'invested_ingest_ignored_total{{platform="{platform}",reason="{reason}"}}' in metrics


# --- operations ---------------------------------------------------------------------------------


def test_health_readiness_and_metrics(server: IngestServer, unique: str) -> None:
    assert httpx.get(server.url + "/healthz").json()["status"] == "ok"
    ready = httpx.get(server.url + "/readyz")
    assert ready.status_code == 200 and ready.json() == {
        "status": "ready",
        "kafka": "ok",
        "redis": "ok",
    }
    prepared = prepare("github", "issue_comment/created.payload", unique)
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
        discourse_instance=SIM_INSTANCE,
        discord_guild=f"8{int(unique, 16)}",
        meetup_community=f"sim-meetups-{unique}",
    )
    _, events = generate(config)
    result = asyncio.run(post_all(events, PAIRS_SIGNER, server.url, concurrency=4, progress=False))
    assert result.statuses == Counter({200: len(events)}), result.errors
    # A redelivery is sent once its first attempt was answered: ingest knows its delivery id
    # (a redelivered event ingest does not count is answered "ignored" again, before the lookup).
    counted = [e for e in events if e.attempt > 1 and simulated.adapt(e, config).events]
    assert result.outcomes["duplicate"] == len(counted) > 0
    communities = {config.community(p) for p in config.platforms}
    # The instance URL with its path is the community; the secret that verified decided it.
    assert config.community(Platform.DISCOURSE) == f"forum.acme.dev~{SIM_INSTANCE.rsplit('/')[-1]}"
    records = tap.wait_for(
        events_of(*communities),
        count=result.events_accepted,
    )
    # Paired notifications of one act reach Kafka under one id: the ids are those of the acts.
    acts = {e.id for event in events for e in simulated.adapt(event, config).events}
    assert {r.event().id for r in records} == acts
    assert len(acts) < result.events_accepted  # some acts arrived twice
    kinds = Counter(r.event().kind for r in records)
    assert kinds[Kind.REPLY] > 0 and kinds[Kind.POST] > 0 and kinds[Kind.REACT] > 0


# --- units of the app -------------------------------------------------------------------------


def test_dead_letters_keep_the_raw_body_and_no_signatures() -> None:
    from services.ingest.wire import DEADLETTER_PAYLOAD_LIMIT, deadletter_record

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
