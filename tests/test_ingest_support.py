"""Helpers for the ingest tests (this module holds no tests).

- :class:`IngestServer` runs ``python -m services.ingest`` as a subprocess on a free port, with
  the development secrets and the given broker/Redis, and keeps its log for assertions.
- :class:`Tap` is one aiokafka *group* consumer in a background thread that keeps every record of
  ``engagement.events`` and ``ingest.deadletter``; tests wait on it for what they expect. One
  group join per test module (Tansu takes ~3 s to settle a new group).
- :func:`prepare` turns a payload fixture into a signed request isolated by a unique community
  (Discourse: unique usernames, since its community is the configured instance) and delivery id,
  since the session broker and Redis are shared by every test.

Fixtures are the platforms' published examples (``tests/fixtures/README.md``); a fixture is named
by its path under ``tests/fixtures/<platform>/``, without ``.json`` (``issue_comment/created.payload``,
``post_created.reply``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer

from invested.communities import discourse_community
from invested.contracts import DeadLetter, EngagementEvent, Platform
from invested.devsecrets import DEV_ENV
from invested.stack import free_port
from invested.topics import ENGAGEMENT_EVENTS, INGEST_DEADLETTER
from tools.simulator.signing import Secrets, SignedRequest, Signer

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def fixture(platform: str, name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / platform / f"{name}.json").read_text())


def fixture_names(platform: str) -> list[str]:
    """Every fixture of a platform, as :func:`fixture` names them."""
    root = FIXTURES / platform
    return sorted(str(path.relative_to(root))[: -len(".json")] for path in root.rglob("*.json"))


def event_name(platform: str, name: str) -> str:
    """The platform's event name header for a fixture: GitHub's is the folder
    (``pull_request/closed.payload``), Discourse's the first part (``post_created.reply``)."""
    if platform == "github":
        return name.split("/")[0]
    return name.split(".")[0]


def ingest_env(bootstrap: str, redis_url: str, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INVESTED_")}
    env.update({k: v for k, v in DEV_ENV.items() if k != "INVESTED_API_KEYS"})
    env.update(
        INVESTED_KAFKA_BOOTSTRAP=bootstrap,
        INVESTED_REDIS_URL=redis_url,
        INVESTED_INGEST_PORT=str(port),
        INVESTED_STARTUP_TIMEOUT_SECONDS="10",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


class IngestServer:
    """``python -m services.ingest`` on a free port; stopped (and waited for) on exit."""

    def __init__(self, bootstrap: str, redis_url: str, workdir: Path, **extra_env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = ingest_env(bootstrap, redis_url, self.port, **extra_env)
        self.log_path = workdir / f"ingest-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> IngestServer:
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "services.ingest"],
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"ingest exited at start:\n{self.log()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            time.sleep(0.05)
        self.__exit__()
        raise AssertionError(f"ingest did not answer /healthz within 30 s:\n{self.log()}")

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def post(self, request: SignedRequest, **kwargs: Any) -> httpx.Response:
        return httpx.post(
            self.url + request.path,
            headers=request.headers,
            content=request.body,
            timeout=kwargs.pop("timeout", 30),
            **kwargs,
        )


@dataclass(frozen=True)
class Seen:
    topic: str
    key: bytes | None
    value: bytes
    partition: int
    offset: int

    def event(self) -> EngagementEvent:
        return EngagementEvent.from_json(self.value)

    def deadletter(self) -> DeadLetter:
        return DeadLetter.model_validate_json(self.value)


class Tap:
    """A background aiokafka group consumer that keeps every record it reads."""

    def __init__(
        self, bootstrap: str, topics: tuple[str, ...] = (ENGAGEMENT_EVENTS, INGEST_DEADLETTER)
    ) -> None:
        self.bootstrap = bootstrap
        self.topics = topics
        self.records: list[Seen] = []
        self._offsets: set[tuple[str, int, int]] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="kafka-tap", daemon=True)

    def __enter__(self) -> Tap:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(15)

    def _run(self) -> None:
        try:
            asyncio.run(self._consume())
        except BaseException as exc:  # reported to the waiting test
            self._error = exc

    async def _consume(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=f"ingest-tests-{uuid.uuid4().hex[:8]}",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            session_timeout_ms=6000,
            heartbeat_interval_ms=500,
        )
        consumer.subscribe(list(self.topics))
        await consumer.start()
        try:
            while not self._stop.is_set():
                batches = await consumer.getmany(timeout_ms=100)
                if consumer.assignment():
                    self._ready.set()
                with self._lock:
                    for records in batches.values():
                        for r in records:
                            # A rebalance re-reads from the start (nothing is committed): what
                            # counts is what is on the topic, one entry per offset.
                            if (r.topic, r.partition, r.offset) not in self._offsets:
                                self._offsets.add((r.topic, r.partition, r.offset))
                                self.records.append(
                                    Seen(r.topic, r.key, r.value, r.partition, r.offset)
                                )
        finally:
            await consumer.stop()

    def matching(self, predicate: Callable[[Seen], bool]) -> list[Seen]:
        with self._lock:
            return [record for record in self.records if predicate(record)]

    def wait_for(
        self, predicate: Callable[[Seen], bool], count: int = 1, timeout: float = 20
    ) -> list[Seen]:
        """At least ``count`` matching records (fails with what was seen otherwise)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._error is not None:
                raise AssertionError(f"the Kafka tap failed: {self._error!r}")
            found = self.matching(predicate)
            if len(found) >= count:
                return found
            time.sleep(0.02)
        found = self.matching(predicate)
        raise AssertionError(
            f"expected {count} matching records within {timeout} s, saw {len(found)}"
        )


def events_of(*communities: str) -> Callable[[Seen], bool]:
    # Other suites share the broker and put poison records on the topic on purpose: skip those.
    def predicate(record: Seen) -> bool:
        if record.topic != ENGAGEMENT_EVENTS:
            return False
        try:
            return record.event().community in communities
        except ValueError:
            return False

    return predicate


def deadletters_with(marker: str) -> Callable[[Seen], bool]:
    def predicate(record: Seen) -> bool:
        if record.topic != INGEST_DEADLETTER:
            return False
        try:
            return marker in record.deadletter().payload
        except ValueError:
            return False

    return predicate


SIGNER = Signer(Secrets.from_env(DEV_ENV))


@dataclass(frozen=True)
class Prepared:
    request: SignedRequest
    community: str
    payload: dict[str, Any]
    marker: str  # a string only this request's payload and events carry

    def events(self, record: Seen) -> bool:
        """A record on engagement.events produced by this request (or its variants)."""
        if not events_of(self.community)(record):
            return False
        if self.request.platform is not Platform.DISCOURSE:
            return True
        event = record.event()  # one community for every test: the usernames tell them apart
        return event.member.endswith(self.marker)

    def deadletters(self) -> Callable[[Seen], bool]:
        return deadletters_with(self.marker)


# Where each platform's fixture keeps the id of the object an event is about.
_OBJECT_IDS = {
    "github": ("comment", "issue", "pull_request", "discussion", "review", "forkee", "release"),
    "discourse": ("post",),
}
DISCOURSE_INSTANCE = DEV_ENV["INVESTED_DISCOURSE_INSTANCE_URL"]


def _suffix_usernames(node: Any, suffix: str) -> None:
    """Every ``username`` in a Discourse payload gets ``suffix`` (members are usernames)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "username" and isinstance(value, str):
                node[key] = value + suffix
            else:
                _suffix_usernames(value, suffix)
    elif isinstance(node, list):
        for value in node:
            _suffix_usernames(value, suffix)


def _bump(platform: str, payload: dict[str, Any], variant: int) -> None:
    """Give the payload's object a different id (another comment, message, post...)."""
    if platform in _OBJECT_IDS:
        for key in _OBJECT_IDS[platform]:
            if isinstance(payload.get(key), dict) and "id" in payload[key]:
                payload[key]["id"] += variant
                return
    elif platform == "slack":
        ts = payload["event"]["ts"]
        payload["event"]["ts"] = f"{ts[:-4]}{int(ts[-4:]) + variant:04d}"
        return
    elif platform == "discord":
        payload["d"]["id"] = str(int(payload["d"]["id"]) + variant)
        return
    elif platform == "generic":
        payload["data"]["id"] = f"{payload['data'].get('id', 'x')}-{variant}"
        return
    raise ValueError(f"no object id to vary in this {platform} fixture")


def prepare(
    platform: str, name: str, unique: str, variant: int = 0, signer: Signer = SIGNER
) -> Prepared:
    """A fixture as a signed request, isolated by a community derived from ``unique`` and a
    fresh delivery id; ``variant`` > 0 makes it another object (e.g. another comment) in the
    same community, by the same member: its events land in the same partition, after."""
    payload = fixture(platform, name)
    if variant:
        _bump(platform, payload, variant)
    marker = ""
    if platform == "github":
        community = f"acme-{unique}"
        payload.setdefault("organization", {})["login"] = community
        body = json.dumps(payload).encode()
        request = signer.github(body, event_name(platform, name), str(uuid.uuid4()))
    elif platform == "slack":
        community = f"T{unique.upper()}"
        payload["team_id"] = community
        payload["event_id"] = f"Ev{unique}{uuid.uuid4().hex[:6]}"
        request = signer.slack(json.dumps(payload).encode())
    elif platform == "discourse":
        community = discourse_community(DISCOURSE_INSTANCE)
        marker = f"-{unique}"
        _suffix_usernames(payload, marker)
        event = event_name(platform, name)
        event_type = event.split("_")[0]
        request = signer.discourse(
            json.dumps(payload).encode(), event, event_type, DISCOURSE_INSTANCE, uuid.uuid4().hex
        )
    elif platform == "discord":
        community = f"9{int(unique, 16)}"
        if "d" in payload:
            payload["d"]["guild_id"] = community
        payload["id"] = f"brg-{uuid.uuid4()}"
        request = signer.discord(json.dumps(payload).encode())
    elif platform == "generic":
        community = f"meetups-{unique}"
        payload["data"]["community"] = community
        request = signer.generic(json.dumps(payload).encode(), f"msg_{uuid.uuid4().hex}")
    else:
        raise ValueError(platform)
    return Prepared(request, community, payload, marker or community)


def resign(prepared: Prepared, body: bytes, signer: Signer = SIGNER) -> SignedRequest:
    """The same delivery (same ids and event headers) with another body, correctly signed."""
    request = prepared.request
    headers = request.headers
    if request.platform is Platform.GITHUB:
        return signer.github(body, headers["X-GitHub-Event"], headers["X-GitHub-Delivery"])
    if request.platform is Platform.SLACK:
        return signer.slack(body)
    if request.platform is Platform.DISCOURSE:
        return signer.discourse(
            body,
            headers["X-Discourse-Event"],
            headers["X-Discourse-Event-Type"],
            headers["X-Discourse-Instance"],
            headers["X-Discourse-Event-Id"],
        )
    if request.platform is Platform.DISCORD:
        return signer.discord(body)
    return signer.generic(body, headers["webhook-id"])
