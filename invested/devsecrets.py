"""Development secrets for ``make run``, ``make demo`` and the tests. Never use them in production.

``make run`` prints them at start; any ``INVESTED_*`` variable set in the environment wins.
The Discord key pair is derived from a fixed seed so the simulator can sign what ingest verifies.
"""

from __future__ import annotations

import base64
import os

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

DISCORD_DEV_SEED = bytes(range(32))


def discord_dev_private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(DISCORD_DEV_SEED)


def discord_dev_public_key_hex() -> str:
    return discord_dev_private_key().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


DEV_ENV: dict[str, str] = {
    "INVESTED_GITHUB_WEBHOOK_SECRET": "dev-github-secret",
    "INVESTED_SLACK_SIGNING_SECRET": "dev-slack-signing-secret",
    "INVESTED_DISCOURSE_WEBHOOK_SECRET": "dev-discourse-secret",
    # The instance the simulator posts as (tools.simulator.config.SimConfig).
    "INVESTED_DISCOURSE_INSTANCE_URL": "https://forum.acme.dev",
    "INVESTED_DISCORD_PUBLIC_KEY": discord_dev_public_key_hex(),
    "INVESTED_STANDARD_WEBHOOKS_SECRET": "whsec_"
    + base64.b64encode(b"dev-standard-webhooks-key!").decode(),
    "INVESTED_API_KEYS": "dev-api-key",
}


def with_dev_defaults(environ: dict[str, str]) -> dict[str, str]:
    """The environment with development secrets filled in where the variable is unset."""
    return {**DEV_ENV, **environ}


def service_env(
    kafka_bootstrap: str, redis_url: str, log_level: str = "WARNING", **overrides: str
) -> dict[str, str]:
    """The environment of a locally started service (tests, benchmarks): no inherited
    ``INVESTED_*`` variable, development secrets, the given broker and Redis, then overrides."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INVESTED_")}
    env.update(DEV_ENV)
    env.update(
        INVESTED_KAFKA_BOOTSTRAP=kafka_bootstrap,
        INVESTED_REDIS_URL=redis_url,
        INVESTED_LOG_LEVEL=log_level,
        PYTHONUNBUFFERED="1",
    )
    env.update(overrides)
    return env
