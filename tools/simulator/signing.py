"""Sending side of each platform's webhook: headers and signature for a body, as the platform does.

The simulator (``make demo``, benchmarks) and the tests build requests with :class:`Signer`;
ingest verifies them with :mod:`services.ingest.signatures`. Signatures always use the current
time (the replay window rejects anything else); simulated event times go in the payload.
:func:`sign` signs one simulated webhook, a redelivery with the platform's retry headers.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from invested.communities import discourse_community
from invested.contracts import Platform
from invested.devsecrets import DEV_ENV, discord_dev_private_key, discord_dev_public_key_hex
from services.ingest.signatures import (
    parse_whsec,
    sign_discord,
    sign_discourse,
    sign_github,
    sign_slack,
    sign_standard,
)
from services.ingest.verifiers import parse_discourse_instances
from tools.simulator.base import SimEvent

JSON = "application/json"


@dataclass(frozen=True)
class SignedRequest:
    """One webhook as the platform would POST it to ingest."""

    platform: Platform
    path: str
    headers: dict[str, str]
    body: bytes
    label: str = ""  # what it represents (event key), for summaries


@dataclass(frozen=True)
class Secrets:
    """What the senders sign with. ``discord`` is None when no private key matches the service's
    configured public key (only the development key pair is known to the simulator).
    ``discourse`` maps each configured instance's community id to its secret."""

    github: bytes
    slack: bytes
    discourse: dict[str, bytes]
    standard_key: bytes
    discord: Ed25519PrivateKey | None = field(default=None, repr=False)

    def discourse_secret(self, instance: str) -> bytes:
        """The secret of an instance URL; an unknown instance gets the first configured one (as
        a forger holding that secret would sign)."""
        try:
            return self.discourse.get(discourse_community(instance)) or next(
                iter(self.discourse.values())
            )
        except ValueError:
            return next(iter(self.discourse.values()))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Secrets:
        """The ``INVESTED_*`` secrets of the environment, development values where unset."""
        env = {**DEV_ENV, **(os.environ if environ is None else environ)}
        discord_keys = env["INVESTED_DISCORD_PUBLIC_KEY"].lower().split(",")
        discord = (
            discord_dev_private_key()
            if discord_dev_public_key_hex() in [key.strip() for key in discord_keys]
            else None
        )
        return cls(
            github=env["INVESTED_GITHUB_WEBHOOK_SECRET"].encode(),
            slack=env["INVESTED_SLACK_SIGNING_SECRET"].encode(),
            discourse={
                instance.community: instance.secret
                for instance in parse_discourse_instances(
                    env["INVESTED_DISCOURSE_WEBHOOK_SECRET"],
                    env.get("INVESTED_DISCOURSE_INSTANCE_URL") or None,
                )
            },
            standard_key=parse_whsec(env["INVESTED_STANDARD_WEBHOOKS_SECRET"]),
            discord=discord,
        )


class Signer:
    """Builds signed requests; ``clock`` gives Unix seconds (tests move it to test the window)."""

    def __init__(self, secrets: Secrets, clock: Callable[[], float] = time.time) -> None:
        self.secrets = secrets
        self.clock = clock

    def _now(self) -> str:
        return str(int(self.clock()))

    def github(self, body: bytes, event: str, delivery: str, label: str = "") -> SignedRequest:
        headers = {
            "Content-Type": JSON,
            "User-Agent": "GitHub-Hookshot/invested-sim",
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery,
            "X-GitHub-Hook-ID": "472115882",
            "X-Hub-Signature-256": sign_github(self.secrets.github, body),
        }
        return SignedRequest(Platform.GITHUB, "/webhooks/github", headers, body, label or event)

    def slack(self, body: bytes, label: str = "", retry: int = 0) -> SignedRequest:
        """``retry`` > 0: Slack's retry headers (the body, and its ``event_id``, are the same)."""
        timestamp = self._now()
        headers = {
            "Content-Type": JSON,
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": sign_slack(self.secrets.slack, timestamp, body),
        }
        if retry:
            headers.update(
                {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
            )
        return SignedRequest(Platform.SLACK, "/webhooks/slack", headers, body, label)

    def discourse(
        self,
        body: bytes,
        event: str,
        event_type: str,
        instance: str,
        event_id: str,
        label: str = "",
    ) -> SignedRequest:
        headers = {
            "Content-Type": JSON,
            "User-Agent": "Discourse/3.3.0",
            "X-Discourse-Instance": instance,
            "X-Discourse-Event-Id": event_id,
            "X-Discourse-Event-Type": event_type,
            "X-Discourse-Event": event,
            "X-Discourse-Event-Signature": sign_discourse(
                self.secrets.discourse_secret(instance), body
            ),
        }
        return SignedRequest(
            Platform.DISCOURSE, "/webhooks/discourse", headers, body, label or event
        )

    def discord(self, body: bytes, label: str = "") -> SignedRequest:
        if self.secrets.discord is None:
            raise ValueError("no Discord private key matches INVESTED_DISCORD_PUBLIC_KEY")
        timestamp = self._now()
        headers = {
            "Content-Type": JSON,
            "User-Agent": "invested-discord-bridge/1",
            "X-Signature-Timestamp": timestamp,
            "X-Signature-Ed25519": sign_discord(self.secrets.discord, timestamp, body),
        }
        return SignedRequest(Platform.DISCORD, "/webhooks/discord", headers, body, label)

    def generic(self, body: bytes, msg_id: str, label: str = "") -> SignedRequest:
        timestamp = self._now()
        headers = {
            "Content-Type": JSON,
            "webhook-id": msg_id,
            "webhook-timestamp": timestamp,
            "webhook-signature": sign_standard(self.secrets.standard_key, msg_id, timestamp, body),
        }
        return SignedRequest(Platform.GENERIC, "/webhooks/generic", headers, body, label)


def sign(event: SimEvent, signer: Signer) -> SignedRequest:
    """The signed HTTP request for one simulated webhook, signed now."""
    body, meta = event.body(), event.meta
    if event.platform is Platform.GITHUB:
        return signer.github(body, meta["event"], event.delivery, label=event.label)
    if event.platform is Platform.SLACK:
        return signer.slack(body, label=event.label, retry=event.attempt - 1)
    if event.platform is Platform.DISCOURSE:
        return signer.discourse(
            body,
            meta["event"],
            meta["event_type"],
            meta["instance"],
            event.delivery,
            label=event.label,
        )
    if event.platform is Platform.DISCORD:
        return signer.discord(body, label=event.label)
    return signer.generic(body, event.delivery, label=event.label)


def signed_requests(events: Iterable[SimEvent], signer: Signer) -> Iterator[SignedRequest]:
    """Sign lazily, at send time: the replay window needs fresh timestamps."""
    for event in events:
        yield sign(event, signer)
