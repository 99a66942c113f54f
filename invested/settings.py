"""Configuration for every service, from ``INVESTED_*`` environment variables.

One class, one place: the README's configuration table is generated from these fields
(``python -m invested.settings --markdown``) and a test keeps the two in step.
Bad configuration fails fast with one readable message (see :func:`load_settings`).
"""

from __future__ import annotations

import difflib
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from invested.communities import discourse_community
from invested.redact import MASK, mask_url, mask_urls

ENV_PREFIX = "INVESTED_"


class ConfigError(SystemExit):
    """Raised (as a clean exit, code 2) when configuration is unusable; carries one message."""

    message: str

    def __init__(self, message: str) -> None:
        super().__init__(2)
        self.message = message

    def __str__(self) -> str:
        return self.message


class Settings(BaseSettings):
    """Every setting of every service. Environment variable = ``INVESTED_`` + field name upper."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    # --- connections ---------------------------------------------------------------------------
    kafka_bootstrap: str = Field(
        "127.0.0.1:9092", description="Kafka bootstrap servers, comma-separated host:port."
    )
    redis_url: str = Field("redis://127.0.0.1:6379/0", description="Redis URL (redis://...).")
    startup_timeout_seconds: float = Field(
        15.0, gt=0, description="How long a service waits for Kafka/Redis at start before failing."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Log level of every service."
    )

    topic_replication_factor: int = Field(
        1, ge=1, le=16, description="Replication factor of topics created by the topic job."
    )

    # --- ports (make run) ----------------------------------------------------------------------
    bind_host: str = Field("127.0.0.1", description="Interface the HTTP services listen on.")
    api_port: int = Field(8000, ge=1, le=65535, description="API HTTP port.")
    ingest_port: int = Field(8001, ge=1, le=65535, description="Ingest HTTP port.")
    classifier_metrics_port: int = Field(
        8002, ge=1, le=65535, description="Classifier /metrics and health port."
    )
    broker_port: int = Field(
        9092, ge=1, le=65535, description="Embedded broker port (make run only)."
    )
    redis_port: int = Field(
        6379, ge=1, le=65535, description="Embedded Redis port (make run only)."
    )

    # --- HTTP servers (ingest, API, classifier) ------------------------------------------------
    http_header_timeout_seconds: float = Field(
        10.0,
        gt=0,
        description="Longest wait for a request's line and headers, from the connection's start "
        "or the end of the previous answer; a slower client is answered 408 and disconnected.",
    )
    http_body_timeout_seconds: float = Field(
        30.0,
        gt=0,
        description="Longest wait for a request body once its headers arrived; a slower upload "
        "is answered 408 and disconnected.",
    )
    http_keep_alive_seconds: float = Field(
        5.0, gt=0, description="An idle keep-alive connection is closed after this."
    )
    http_max_connections: int = Field(
        1000,
        ge=1,
        description="Open connections per HTTP server (lowered to fit the file-descriptor "
        "limit); a new one beyond it displaces the connection waiting longest for its headers.",
    )

    # --- ingest --------------------------------------------------------------------------------
    github_webhook_secret: SecretStr | None = Field(
        None, description="GitHub webhook secret (X-Hub-Signature-256). Unset: route answers 503."
    )
    slack_signing_secret: SecretStr | None = Field(
        None, description="Slack app signing secret (v0 signatures). Unset: route answers 503."
    )
    discourse_webhook_secret: SecretStr | None = Field(
        None,
        description="Discourse webhook secret of the instance in INVESTED_DISCOURSE_INSTANCE_URL, "
        "or comma-separated `<instance url>=<secret>` pairs (the secret that verifies a webhook "
        "decides its instance). Unset: route answers 503.",
    )
    discourse_instance_url: str | None = Field(
        None,
        description="Base URL of the Discourse instance (path included) whose webhooks the single "
        "INVESTED_DISCOURSE_WEBHOOK_SECRET signs; required with a single secret.",
    )
    discord_public_key: SecretStr | None = Field(
        None,
        description="Discord public key(s), hex Ed25519, comma-separated (the application's key "
        "and/or the gateway bridge's key). Unset: route answers 503.",
    )
    standard_webhooks_secret: SecretStr | None = Field(
        None, description="Standard Webhooks secret (whsec_<base64>). Unset: route answers 503."
    )
    max_body_bytes: int = Field(1_048_576, gt=0, description="Largest webhook body accepted.")
    replay_window_seconds: int = Field(
        300, gt=0, description="Signed timestamps older/newer than this are rejected (401)."
    )
    max_clock_skew_seconds: int = Field(
        300,
        ge=0,
        description="An event time later than its receive time by more than this is set to the "
        "receive time (counted in invested_ingest_clock_adjusted_total).",
    )
    dedupe_ttl_seconds: int = Field(
        259_200, gt=0, description="How long a platform delivery id is remembered (redeliveries)."
    )
    dedupe_unwritten_limit: int = Field(
        100_000,
        ge=0,
        description="Delivery ids held in memory while Redis refuses to store them (e.g. out of "
        "memory): still recognised as duplicates and written later; past it the oldest are "
        "dropped (counted).",
    )
    produce_timeout_seconds: float = Field(
        10.0, gt=0, description="Longest wait for Kafka acks before a webhook gets 503."
    )
    kafka_idempotent_producer: bool = Field(
        False,
        description="Ingest produces with enable_idempotence (the broker must support it; the "
        "embedded Tansu broker does not).",
    )

    # --- classifier ----------------------------------------------------------------------------
    rules_file: Path | None = Field(
        None, description="Rules YAML file. Unset: the bundled services/classifier/rules.yaml."
    )
    classifier_group: str = Field(
        "invested-classifier", description="Faust app id / Kafka consumer group of the classifier."
    )
    classifier_data_dir: Path = Field(
        Path(".invested/classifier"), description="Faust local data directory."
    )
    batch_size: int = Field(500, gt=0, le=100_000, description="Events per Redis batch.")
    batch_timeout_seconds: float = Field(
        0.05, gt=0, description="Longest wait to fill a batch before processing it."
    )
    sweep_interval_seconds: float = Field(
        30.0, gt=0, description="How often the inactivity sweep runs."
    )
    clock_offset_seconds: float = Field(
        0.0, description="Added to wall-clock time by the sweep: advances time in tests and demos."
    )
    history_limit: int = Field(100, gt=0, description="Transitions kept per member for the API.")
    classifier_redis_timeout_seconds: float = Field(
        10.0,
        gt=0,
        description="Socket timeout of the classifier's Redis calls (above the slowest batch "
        "script): a frozen Redis fails them, so the worker retries and reports 503 on /healthz.",
    )

    # --- api -----------------------------------------------------------------------------------
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Bearer API keys, comma-separated (several allow rotation). Empty: API locked.",
    )
    sse_max_streams: int = Field(
        200,
        ge=1,
        description="Live transition streams open at once in one API process; more answer 503 "
        "too_many_streams (other requests are unaffected).",
    )
    sse_max_streams_per_key: int = Field(
        20, ge=1, description="Live transition streams open at once per API key (503 beyond)."
    )

    @field_validator(
        "github_webhook_secret",
        "slack_signing_secret",
        "discourse_webhook_secret",
        "discord_public_key",
        "standard_webhooks_secret",
        mode="before",
    )
    @classmethod
    def _empty_secret_is_unset(cls, value: object) -> object:
        # `SECRET=` in an .env file means "not configured", never "sign with the empty string".
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("discourse_instance_url", mode="before")
    @classmethod
    def _empty_instance_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("discourse_instance_url")
    @classmethod
    def _check_instance_url(cls, value: str | None) -> str | None:
        if value is not None:
            discourse_community(value)  # ValueError names what is wrong with the URL
        return value

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("kafka_bootstrap")
    @classmethod
    def _check_bootstrap(cls, value: str) -> str:
        for server in value.split(","):
            host, sep, port = server.strip().rpartition(":")
            if not sep or not host or not port.isdigit():
                raise ValueError(f"expected host:port[,host:port...], got {value!r}")
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"expected redis://host:port/db, got {mask_url(value)!r}")
        return value

    @property
    def bootstrap_servers(self) -> list[str]:
        return [s.strip() for s in self.kafka_bootstrap.split(",")]


def env_name(field_name: str) -> str:
    return ENV_PREFIX + field_name.upper()


def _unknown_variables(environ: dict[str, str]) -> list[str]:
    known = {env_name(name) for name in Settings.model_fields}
    messages = []
    for name in sorted(environ):
        if name.startswith(ENV_PREFIX) and name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            messages.append(f"{name}: unknown setting{hint}")
    return messages


def is_secret(field_name: str) -> bool:
    """Secret settings (SecretStr): their values are never printed, not even when invalid."""
    field = Settings.model_fields.get(field_name)
    return field is not None and "SecretStr" in str(field.annotation)


def shown_value(field_name: str, value: str) -> str:
    """A setting's value as it may appear in messages: secrets masked, URL passwords masked."""
    if is_secret(field_name) and value != "<default>":
        return MASK
    return mask_url(value)


def load_settings(environ: dict[str, str] | None = None, **overrides: object) -> Settings:
    """Read settings, or raise :class:`ConfigError` with one line per problem, naming the variable.

    Unknown ``INVESTED_*`` variables are errors too: a typo must not silently fall back to a default.
    """
    environ = dict(os.environ if environ is None else environ)
    problems = _unknown_variables(environ)
    settings: Settings | None = None
    try:
        # Validate exactly the given environment (tests pass their own; services pass os.environ).
        values: dict[str, object] = {
            key[len(ENV_PREFIX) :].lower(): value
            for key, value in environ.items()
            if key.startswith(ENV_PREFIX)
            and key[len(ENV_PREFIX) :].lower() in Settings.model_fields
        }
        values.update(overrides)
        settings = Settings.model_validate(values)
    except ValidationError as exc:
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            given = shown_value(field, environ.get(env_name(field), "<default>"))
            problems.append(f"{env_name(field)}={given!r}: {mask_urls(str(error['msg']))}")
    if problems:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))
    assert settings is not None
    return settings


def settings_markdown_table() -> str:
    """The README configuration table, generated so it cannot drift from the code."""
    rows = ["| Environment variable | Default | Meaning |", "| --- | --- | --- |"]
    for name, field in Settings.model_fields.items():
        if field.default_factory is not None:
            default = "(empty)"
        elif field.default is None:
            default = "(unset)"
        else:
            default = f"`{field.default}`"
        rows.append(f"| `{env_name(name)}` | {default} | {field.description} |")
    return "\n".join(rows)


if __name__ == "__main__":
    if sys.argv[1:] == ["--markdown"]:
        print(settings_markdown_table())
    else:
        from invested.service import main_guarded

        def dump() -> None:
            values = load_settings().model_dump(mode="json")  # SecretStr dumps as "**********"
            values["redis_url"] = mask_url(values["redis_url"])
            print(json.dumps(values, indent=2))

        main_guarded(dump)
