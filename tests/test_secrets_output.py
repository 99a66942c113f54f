"""Secrets never printed: passwords in connection URLs are masked in every message.

Compose connects to Redis as ``redis://:<password>@redis:6379/0``; when that Redis is unreachable
or the URL is malformed, the messages name the URL with the password masked. (``make run``'s
banner is checked in ``tests/test_foundation.py``: it never prints a secret the user set.)
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from invested.connections import wait_for_redis
from invested.redact import mask_url, mask_urls
from invested.settings import ConfigError, load_settings
from invested.stack import free_port

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "compose-redis-password-7d41"


def unreachable_url() -> str:
    return f"redis://:{PASSWORD}@127.0.0.1:{free_port()}/0"


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("redis://:pw@redis:6379/0", "redis://:***@redis:6379/0"),
        ("rediss://user:pw@redis:6380/1", "rediss://user:***@redis:6380/1"),
        ("redis://pw@redis", "redis://***@redis"),
        ("redis://redis:6379/0?password=pw&db=2", "redis://redis:6379/0?password=***&db=2"),
        ("redis://redis:6379/0", "redis://redis:6379/0"),
        ("unix:///run/redis.sock", "unix:///run/redis.sock"),
    ],
)
def test_mask_url_hides_passwords_and_keeps_the_rest(url: str, masked: str) -> None:
    assert mask_url(url) == masked
    assert mask_urls(f"cannot reach {url} now") == f"cannot reach {masked} now"


def test_unreachable_redis_message_masks_the_password() -> None:
    with pytest.raises(ConfigError) as caught:
        wait_for_redis(unreachable_url(), 0.3)
    assert "cannot reach Redis" in caught.value.message
    assert PASSWORD not in caught.value.message
    assert ":***@127.0.0.1" in caught.value.message


def test_invalid_settings_never_echo_a_password_or_a_secret() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(
            {
                "INVESTED_REDIS_URL": f"http://:{PASSWORD}@redis:6379/0",
                "INVESTED_BATCH_SIZE": "many",
            }
        )
    assert "INVESTED_REDIS_URL" in caught.value.message
    assert PASSWORD not in caught.value.message


def test_a_service_that_cannot_reach_redis_never_prints_its_password() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INVESTED_")}
    env.update(
        INVESTED_REDIS_URL=unreachable_url(),
        INVESTED_API_PORT=str(free_port()),
        INVESTED_STARTUP_TIMEOUT_SECONDS="1",
        INVESTED_LOG_LEVEL="DEBUG",
    )
    result = subprocess.run(
        [sys.executable, "-m", "services.api"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    assert "cannot reach Redis" in result.stderr
    assert PASSWORD not in result.stdout + result.stderr
