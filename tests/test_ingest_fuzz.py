"""Hypothesis posts arbitrary bodies and headers to the running ingest: never a 5xx.

Half of the requests are correctly signed, so arbitrary input also gets past the signature into
parsing, handshakes, the mapping tables and dead-lettering. The server's log must show no
traceback and no unexpected error afterwards. (Its own module: a background Kafka consumer
using ``random`` in another thread would trip Hypothesis' global-random check.)
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.ingest.adapters.github import TABLE as GITHUB_TABLE
from tests.backends import Backend
from tests.test_ingest_support import (
    DISCOURSE_INSTANCE,
    SIGNER,
    IngestServer,
    event_name,
    fixture,
    fixture_names,
)

PLATFORMS = ["github", "slack", "discourse", "discord", "generic"]


@pytest.fixture(scope="module")
def server(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[IngestServer]:
    workdir = tmp_path_factory.mktemp("ingest-fuzz")
    with IngestServer(backend.kafka_bootstrap, backend.redis_url, workdir) as value:
        yield value
    log = value.log()
    assert "Traceback" not in log, log[-4000:]
    assert "unexpected error" not in log, log[-4000:]


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=16,
)
_fixtures = [(platform, name) for platform in PLATFORMS for name in fixture_names(platform)]
_header_names = st.sampled_from(
    [
        "X-GitHub-Event",
        "X-GitHub-Delivery",
        "X-Hub-Signature-256",
        "X-Slack-Signature",
        "X-Slack-Request-Timestamp",
        "X-Discourse-Event",
        "X-Discourse-Instance",
        "X-Discourse-Event-Id",
        "X-Discourse-Event-Signature",
        "X-Signature-Ed25519",
        "X-Signature-Timestamp",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "Content-Type",
        "X-Anything",
    ]
)
_header_values = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=60
)


@st.composite
def _webhooks(draw: st.DrawFn) -> tuple[str, bytes, str, str]:
    """(platform, body, event name, delivery id): arbitrary bytes or JSON, or a real fixture
    with some values replaced by arbitrary JSON, sent to its own platform's route."""
    delivery = str(draw(st.uuids()))  # fresh ids: redeliveries would stop at the dedupe step
    if draw(st.booleans()):
        platform = draw(st.sampled_from(PLATFORMS))
        body = draw(st.one_of(st.binary(max_size=200), _json.map(lambda v: json.dumps(v).encode())))
        event = draw(st.sampled_from(sorted({k.split(".")[0] for k in GITHUB_TABLE}) + ["ping"]))
        return platform, body, event, delivery
    platform, name = draw(st.sampled_from(_fixtures))
    payload = fixture(platform, name)

    def mutate(node: object) -> object:
        if isinstance(node, dict):
            return {
                key: draw(_json) if draw(st.integers(0, 11)) == 0 else mutate(value)
                for key, value in node.items()
            }
        if isinstance(node, list):
            return [mutate(value) for value in node]
        return node

    payload = mutate(payload)
    if isinstance(payload, dict) and platform in ("slack", "discord"):
        payload["event_id" if platform == "slack" else "id"] = delivery
    return platform, json.dumps(payload).encode(), event_name(platform, name), delivery


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(
    webhook=_webhooks(),
    extra=st.dictionaries(_header_names, _header_values, max_size=4),
    signed=st.booleans(),
)
def test_fuzz_arbitrary_bodies_and_headers_never_get_a_5xx(
    server: IngestServer,
    webhook: tuple[str, bytes, str, str],
    extra: dict[str, str],
    signed: bool,
) -> None:
    platform, body, event, delivery = webhook
    headers: dict[str, str] = {}
    if signed:  # authentic arbitrary input: exercises parsing, handshakes, adapters, dead letters
        if platform == "github":
            request = SIGNER.github(body, event, delivery)
        elif platform == "slack":
            request = SIGNER.slack(body)
        elif platform == "discourse":
            request = SIGNER.discourse(body, event, "post", DISCOURSE_INSTANCE, delivery)
        elif platform == "discord":
            request = SIGNER.discord(body)
        else:
            request = SIGNER.generic(body, delivery)
        headers.update(request.headers)
        extra = {k: v for k, v in extra.items() if k.lower() not in {h.lower() for h in headers}}
    headers.update(extra)
    response = httpx.post(f"{server.url}/webhooks/{platform}", headers=headers, content=body)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert isinstance(response.json()["error"], str)
