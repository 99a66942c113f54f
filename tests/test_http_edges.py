"""The edges of every HTTP server: malformed requests, HEAD, unknown paths, offline docs.

Real servers over loopback: the API (uvicorn in a thread), ingest and a classifier worker (real
processes). Malformed HTTP gets a JSON 400 with a stable code (not uvicorn's plain text); HEAD
works wherever GET does, without a body; the classifier serves only ``/metrics`` and
``/healthz``; ``/docs`` loads every asset from the API itself.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from invested.settings import load_settings
from invested.stack import free_port
from services.api.app import create_app
from services.api.server import ServerThread
from tests.backends import Backend
from tests.processes import classifier
from tests.rawhttp import exchange
from tests.test_ingest_support import IngestServer

KEY = "edges-key"
MALFORMED = [
    b"GARBAGE\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n",
]


@pytest.fixture(scope="module")
def api(backend: Backend) -> Iterator[tuple[str, int]]:
    settings = load_settings({"INVESTED_REDIS_URL": backend.redis_url, "INVESTED_API_KEYS": KEY})
    port = free_port()
    with ServerThread(create_app(settings, sse_heartbeat_seconds=0.3), port) as base_url:
        yield base_url, port


@pytest.fixture(scope="module")
def ingest(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[IngestServer]:
    with IngestServer(
        backend.kafka_bootstrap, backend.redis_url, tmp_path_factory.mktemp("edges")
    ) as server:
        yield server


def assert_json_400(port: int, request: bytes) -> None:
    answer = exchange(port, request)
    assert answer.status == 400, answer
    assert answer.headers["content-type"] == "application/json"
    assert json.loads(answer.body)["error"] == "malformed_request"


@pytest.mark.parametrize("request_bytes", MALFORMED)
def test_malformed_http_gets_a_json_400_from_the_api_and_ingest(
    api: tuple[str, int], ingest: IngestServer, request_bytes: bytes
) -> None:
    assert_json_400(api[1], request_bytes)
    assert_json_400(ingest.port, request_bytes)


def test_head_works_like_get_without_a_body_on_the_api(api: tuple[str, int]) -> None:
    base_url, _ = api
    auth = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=base_url, timeout=10) as client:
        for path, headers in [
            ("/healthz", {}),
            ("/readyz", {}),
            ("/metrics", {}),
            ("/docs", {}),
            ("/openapi.json", {}),
            ("/v1/communities/edges/members/nobody", auth),
            ("/v1/communities/edges/segments", auth),
            ("/v1/communities/edges/members", auth),
            ("/v1/communities/edges/segments", {}),
            ("/v1/communities/edges/transitions/stream", auth),
        ]:
            head = client.head(path, headers=headers)
            if path.endswith("/stream"):
                assert head.status_code == 200
                assert head.headers["content-type"].startswith("text/event-stream")
            else:
                get = client.get(path, headers=headers)
                assert head.status_code == get.status_code, path
                assert head.headers["content-type"] == get.headers["content-type"], path
            assert head.content == b"", path


def test_head_works_like_get_without_a_body_on_ingest(ingest: IngestServer) -> None:
    head = httpx.head(ingest.url + "/healthz", timeout=10)
    assert head.status_code == 200 and head.content == b""
    assert httpx.head(ingest.url + "/metrics", timeout=10).status_code == 200
    not_allowed = httpx.head(ingest.url + "/webhooks/github", timeout=10)
    assert not_allowed.status_code == 405 and not_allowed.content == b""


def test_docs_load_every_asset_from_the_api_itself(api: tuple[str, int]) -> None:
    base_url, _ = api
    with httpx.Client(base_url=base_url, timeout=10) as client:
        page = client.get("/docs")
        assert page.status_code == 200
        assets = re.findall(r"""(?:src|href)\s*=\s*['"]([^'"]+)['"]""", page.text)
        assets += re.findall(r"""url:\s*['"]([^'"]+)['"]""", page.text)
        assert assets, page.text
        for asset in assets:
            assert not re.match(r"^(https?:)?//", asset), f"/docs loads {asset} from elsewhere"
            loaded = client.get(asset)
            assert loaded.status_code == 200 and loaded.content, asset
        assert "http://" not in page.text.replace(base_url, "")
        assert "https://" not in page.text


def test_the_classifier_serves_only_metrics_and_health(backend: Backend, tmp_path: Path) -> None:
    with classifier(
        backend.kafka_bootstrap,
        backend.redis_url,
        tmp_path,
        INVESTED_CLASSIFIER_GROUP=f"edges-{free_port()}",
    ) as (_, port):
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=10) as client:
            assert client.get("/metrics").status_code == 200
            assert "invested_classifier" in client.get("/metrics").text
            assert client.get("/healthz").status_code == 200
            head = client.head("/healthz")
            assert head.status_code == 200 and head.content == b""
            for path in ("/router/", "/router/classify/", "/", "/stats/", "/nothing"):
                for answer in (client.get(path), client.post(path, content=b"{}")):
                    assert answer.status_code in (404, 405), (path, answer.text)
                    assert "Traceback" not in answer.text
                    if answer.content:
                        assert json.loads(answer.text)["error"] in (
                            "not_found",
                            "method_not_allowed",
                        )
        assert_json_400(port, MALFORMED[0])
