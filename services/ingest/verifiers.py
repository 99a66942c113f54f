"""Per-platform request verifiers built from the settings, and Discourse instances bound to secrets.

:func:`build_verifiers` makes one :class:`Verifier` per platform whose secret is set; a platform
without one answers 503. ``verify`` raises :class:`SignatureError` when the request is not
authentic and returns the community the verifying secret is bound to (Discourse), else None.

Discourse signs the body only: ``X-Discourse-Instance``, ``X-Discourse-Event-Id`` and the event
name are plain headers, so a captured post could be replayed under another instance's name. The
community therefore comes from configuration bound to the secret (:func:`parse_discourse_instances`):
the secret that verifies the body decides the instance, and an instance header naming another
instance is refused (401 ``instance_mismatch``).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field

from nacl.signing import VerifyKey
from pydantic import SecretStr

from invested.communities import discourse_community
from invested.contracts import Platform
from invested.settings import ConfigError, Settings, env_name
from services.ingest.signatures import (
    INSTANCE_MISMATCH,
    INVALID,
    MISSING,
    SignatureError,
    parse_ed25519_public_keys,
    parse_whsec,
    raw_header,
    sign_sha256_hex,
    verify_discord,
    verify_github,
    verify_slack,
    verify_standard,
)

_URL_PREFIXES = ("http://", "https://")


@dataclass(frozen=True)
class DiscourseInstance:
    """One Discourse instance: its base URL, its community id and the secret it signs with."""

    url: str
    community: str
    secret: bytes = field(repr=False)


def parse_discourse_instances(secret: str, instance_url: str | None) -> list[DiscourseInstance]:
    """The instances of ``INVESTED_DISCOURSE_WEBHOOK_SECRET`` (+ ``..._INSTANCE_URL``).

    Either one secret, whose instance ``instance_url`` names, or comma-separated
    ``<instance url>=<secret>`` pairs (recognised by their ``http(s)://`` start). Raises ValueError
    saying what is wrong, never echoing a secret.
    """
    text = secret.strip()
    if not text.startswith(_URL_PREFIXES):
        if instance_url is None:
            raise ValueError(
                f"a single secret needs {env_name('discourse_instance_url')} (the instance it "
                "signs for), or give <instance url>=<secret> pairs"
            )
        return [DiscourseInstance(instance_url, discourse_community(instance_url), text.encode())]
    instances: list[DiscourseInstance] = []
    for number, item in enumerate((part.strip() for part in text.split(",")), start=1):
        if not item:
            continue
        url, sep, value = item.partition("=")
        if not sep or not value.strip():
            raise ValueError(f"pair {number} is not <instance url>=<secret>")
        try:
            community = discourse_community(url)
        except ValueError as exc:
            raise ValueError(f"pair {number}: {exc}") from None
        instances.append(DiscourseInstance(url.strip(), community, value.strip().encode()))
    if len({instance.community for instance in instances}) < len(instances):
        raise ValueError("an instance is listed twice")
    if len({instance.secret for instance in instances}) < len(instances):
        # The secret that verifies a body decides its instance: shared secrets could not.
        raise ValueError("two instances share one secret; give each instance its own")
    if instance_url is not None and discourse_community(instance_url) not in {
        instance.community for instance in instances
    }:
        raise ValueError(f"{env_name('discourse_instance_url')} is not one of the pairs")
    return instances


class Verifier:
    """Checks one platform's request headers and raw body (header names lower-case)."""

    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> str | None:
        """None, or the community the verifying secret is bound to; SignatureError if forged."""
        raise NotImplementedError


class GitHubVerifier(Verifier):
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> str | None:
        verify_github(self._secret, body, headers.get("x-hub-signature-256"))
        return None


class DiscourseVerifier(Verifier):
    def __init__(self, instances: list[DiscourseInstance]) -> None:
        self._instances = instances

    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> str | None:
        header = headers.get("x-discourse-event-signature")
        if not header:
            raise SignatureError(MISSING)
        given = raw_header(header.strip())
        for instance in self._instances:
            if hmac.compare_digest(sign_sha256_hex(instance.secret, body).encode(), given):
                break
        else:
            raise SignatureError(INVALID)
        claimed = headers.get("x-discourse-instance")
        if claimed:
            try:
                matches = discourse_community(claimed) == instance.community
            except ValueError:
                matches = False
            if not matches:
                raise SignatureError(INSTANCE_MISMATCH)
        return instance.community


class SlackVerifier(Verifier):
    def __init__(self, secret: bytes, window: float) -> None:
        self._secret = secret
        self._window = window

    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> str | None:
        verify_slack(
            self._secret,
            body,
            headers.get("x-slack-request-timestamp"),
            headers.get("x-slack-signature"),
            now,
            self._window,
        )
        return None


class DiscordVerifier(Verifier):
    def __init__(self, public_keys: list[VerifyKey], window: float) -> None:
        self._keys = public_keys
        self._window = window

    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> str | None:
        verify_discord(
            self._keys,
            body,
            headers.get("x-signature-timestamp"),
            headers.get("x-signature-ed25519"),
            now,
            self._window,
        )
        return None


class StandardVerifier(Verifier):
    def __init__(self, key: bytes, window: float) -> None:
        self._key = key
        self._window = window

    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> str | None:
        verify_standard(
            self._key,
            body,
            headers.get("webhook-id"),
            headers.get("webhook-timestamp"),
            headers.get("webhook-signature"),
            now,
            self._window,
        )
        return None


def build_verifiers(settings: Settings) -> dict[Platform, Verifier]:
    """A verifier per platform whose secret is set (and non-empty); others answer 503.

    A malformed Discord key, Standard Webhooks secret or Discourse secret/instance stops the
    service at start with a :class:`ConfigError` naming the variable (never the value).
    """
    window = float(settings.replay_window_seconds)
    verifiers: dict[Platform, Verifier] = {}

    def secret(value: SecretStr | None) -> str | None:
        text = value.get_secret_value().strip() if value is not None else ""
        return text or None

    if github := secret(settings.github_webhook_secret):
        verifiers[Platform.GITHUB] = GitHubVerifier(github.encode())
    if slack := secret(settings.slack_signing_secret):
        verifiers[Platform.SLACK] = SlackVerifier(slack.encode(), window)
    if discourse := secret(settings.discourse_webhook_secret):
        try:
            instances = parse_discourse_instances(discourse, settings.discourse_instance_url)
        except ValueError as exc:
            raise ConfigError(f"{env_name('discourse_webhook_secret')}: {exc}") from None
        verifiers[Platform.DISCOURSE] = DiscourseVerifier(instances)
    if discord := secret(settings.discord_public_key):
        try:
            keys = parse_ed25519_public_keys(discord)
        except ValueError as exc:
            raise ConfigError(f"{env_name('discord_public_key')}: {exc}") from None
        verifiers[Platform.DISCORD] = DiscordVerifier(keys, window)
    if standard := secret(settings.standard_webhooks_secret):
        try:
            key = parse_whsec(standard)
        except ValueError as exc:
            raise ConfigError(f"{env_name('standard_webhooks_secret')}: {exc}") from None
        verifiers[Platform.GENERIC] = StandardVerifier(key, window)
    return verifiers
