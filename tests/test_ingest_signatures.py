"""Known-answer tests of every signature scheme, from each platform's documented vectors.

- GitHub, "Validating webhook deliveries" (docs.github.com): secret "It's a Secret to Everybody",
  payload "Hello, World!".
- Slack, "Verifying requests from Slack" (the example slash-command request of the docs, also in
  slack_sdk's tests).
- Discourse: its own spec of the webhook job (secret of the web_hook fabricator, ping payload).
- Standard Webhooks: the reference library's ``test_sign_function`` vector.
- Discord signs with Ed25519: RFC 8032 test vectors 1 and 2 check the primitive; the Discord
  framing (timestamp + body) is checked against the development key.
"""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from invested.contracts import Platform
from invested.devsecrets import DEV_ENV, discord_dev_private_key, discord_dev_public_key_hex
from invested.settings import ConfigError, load_settings
from services.ingest.signatures import (
    INVALID,
    INVALID_TIMESTAMP,
    MISSING,
    STALE,
    SignatureError,
    parse_ed25519_public_keys,
    parse_whsec,
    sign_discord,
    sign_discourse,
    sign_github,
    sign_slack,
    sign_standard,
    verify_discord,
    verify_discourse,
    verify_ed25519,
    verify_github,
    verify_slack,
    verify_standard,
)
from services.ingest.verifiers import build_verifiers

WINDOW = 300.0


def reason(call: object, *args: object) -> str | None:
    try:
        call(*args)  # type: ignore[operator]
    except SignatureError as exc:
        return exc.reason
    return None


# --- GitHub --------------------------------------------------------------------------------------

GITHUB_SECRET = b"It's a Secret to Everybody"
GITHUB_PAYLOAD = b"Hello, World!"
GITHUB_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def test_github_documented_vector() -> None:
    assert sign_github(GITHUB_SECRET, GITHUB_PAYLOAD) == GITHUB_SIGNATURE
    assert reason(verify_github, GITHUB_SECRET, GITHUB_PAYLOAD, GITHUB_SIGNATURE) is None


@pytest.mark.parametrize(
    ("secret", "payload", "header", "expected"),
    [
        (GITHUB_SECRET, b"Hello, World?", GITHUB_SIGNATURE, INVALID),
        (b"another secret", GITHUB_PAYLOAD, GITHUB_SIGNATURE, INVALID),
        (GITHUB_SECRET, GITHUB_PAYLOAD, GITHUB_SIGNATURE.upper(), INVALID),
        (GITHUB_SECRET, GITHUB_PAYLOAD, GITHUB_SIGNATURE.removeprefix("sha256="), INVALID),
        (GITHUB_SECRET, GITHUB_PAYLOAD, "sha1=757107ea", INVALID),
        (GITHUB_SECRET, GITHUB_PAYLOAD, "sha256=\u00e9\u00e9", INVALID),
        (GITHUB_SECRET, GITHUB_PAYLOAD, "", MISSING),
        (GITHUB_SECRET, GITHUB_PAYLOAD, None, MISSING),
    ],
)
def test_github_rejects(secret: bytes, payload: bytes, header: str | None, expected: str) -> None:
    assert reason(verify_github, secret, payload, header) == expected


# --- Slack ---------------------------------------------------------------------------------------

SLACK_SECRET = b"8f742231b10e8888abcd99yyyzzz85a5"
SLACK_TIMESTAMP = "1531420618"
SLACK_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
    b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
    b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibI"
    b"GlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
SLACK_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
SLACK_NOW = 1531420618.0


def test_slack_documented_vector() -> None:
    assert sign_slack(SLACK_SECRET, SLACK_TIMESTAMP, SLACK_BODY) == SLACK_SIGNATURE
    args = (SLACK_SECRET, SLACK_BODY, SLACK_TIMESTAMP, SLACK_SIGNATURE, SLACK_NOW, WINDOW)
    assert reason(verify_slack, *args) is None


@pytest.mark.parametrize(
    ("body", "timestamp", "signature", "now", "expected"),
    [
        (SLACK_BODY + b"-", SLACK_TIMESTAMP, SLACK_SIGNATURE, SLACK_NOW, INVALID),
        (SLACK_BODY, "1531420619", SLACK_SIGNATURE, SLACK_NOW, INVALID),  # timestamp is signed
        (SLACK_BODY, SLACK_TIMESTAMP, SLACK_SIGNATURE, SLACK_NOW + 301, STALE),
        (SLACK_BODY, SLACK_TIMESTAMP, SLACK_SIGNATURE, SLACK_NOW - 301, STALE),
        (SLACK_BODY, SLACK_TIMESTAMP, SLACK_SIGNATURE, SLACK_NOW + 300, None),
        (SLACK_BODY, "1531420618.5", SLACK_SIGNATURE, SLACK_NOW, INVALID_TIMESTAMP),
        (SLACK_BODY, "soon", SLACK_SIGNATURE, SLACK_NOW, INVALID_TIMESTAMP),
        (SLACK_BODY, None, SLACK_SIGNATURE, SLACK_NOW, MISSING),
        (SLACK_BODY, SLACK_TIMESTAMP, None, SLACK_NOW, MISSING),
    ],
)
def test_slack_rejects(
    body: bytes, timestamp: str | None, signature: str | None, now: float, expected: str | None
) -> None:
    assert reason(verify_slack, SLACK_SECRET, body, timestamp, signature, now, WINDOW) == expected


# --- Discourse -----------------------------------------------------------------------------------

DISCOURSE_SECRET = b"my_lovely_secret_for_web_hook"
DISCOURSE_PING = b'{"ping":"OK"}'
DISCOURSE_SIGNATURE = "sha256=162f107f6b5022353274eb1a7197885cfd35744d8d08e5bcea025d309386b7d6"


def test_discourse_vector_from_its_own_spec() -> None:
    assert sign_discourse(DISCOURSE_SECRET, DISCOURSE_PING) == DISCOURSE_SIGNATURE
    assert reason(verify_discourse, DISCOURSE_SECRET, DISCOURSE_PING, DISCOURSE_SIGNATURE) is None
    assert (
        reason(verify_discourse, DISCOURSE_SECRET, b'{"ping":"KO"}', DISCOURSE_SIGNATURE) == INVALID
    )


# --- Standard Webhooks ---------------------------------------------------------------------------

SW_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SW_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SW_TIMESTAMP = "1614265330"
SW_PAYLOAD = b'{"test": 2432232314}'
SW_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
SW_NOW = 1614265330.0


def test_standard_webhooks_reference_vector() -> None:
    key = parse_whsec(SW_SECRET)
    assert sign_standard(key, SW_ID, SW_TIMESTAMP, SW_PAYLOAD) == SW_SIGNATURE
    args = (key, SW_PAYLOAD, SW_ID, SW_TIMESTAMP, SW_SIGNATURE, SW_NOW, WINDOW)
    assert reason(verify_standard, *args) is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        # Several signatures (key rotation): one valid v1 is enough; other versions are ignored.
        ("v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= " + SW_SIGNATURE, None),
        ("v2," + SW_SIGNATURE[3:], INVALID),
        ("v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=", INVALID),
        ("v1,not base64!!", INVALID),
        ("v1", INVALID),
        ("", MISSING),
    ],
)
def test_standard_webhooks_signature_header(header: str, expected: str | None) -> None:
    key = parse_whsec(SW_SECRET)
    args = (key, SW_PAYLOAD, SW_ID, SW_TIMESTAMP, header, SW_NOW, WINDOW)
    assert reason(verify_standard, *args) == expected


def test_standard_webhooks_id_timestamp_and_window_are_signed_and_checked() -> None:
    key = parse_whsec(SW_SECRET)
    assert (
        reason(
            verify_standard,
            key,
            SW_PAYLOAD,
            "msg_other",
            SW_TIMESTAMP,
            SW_SIGNATURE,
            SW_NOW,
            WINDOW,
        )
        == INVALID
    )
    assert (
        reason(
            verify_standard,
            key,
            SW_PAYLOAD,
            SW_ID,
            SW_TIMESTAMP,
            SW_SIGNATURE,
            SW_NOW + 301,
            WINDOW,
        )
        == STALE
    )
    assert (
        reason(
            verify_standard,
            key,
            SW_PAYLOAD,
            SW_ID,
            SW_TIMESTAMP,
            SW_SIGNATURE,
            SW_NOW - 301,
            WINDOW,
        )
        == STALE
    )
    assert (
        reason(verify_standard, key, SW_PAYLOAD, None, SW_TIMESTAMP, SW_SIGNATURE, SW_NOW, WINDOW)
        == MISSING
    )
    assert (
        reason(
            verify_standard,
            key,
            SW_PAYLOAD + b" ",
            SW_ID,
            SW_TIMESTAMP,
            SW_SIGNATURE,
            SW_NOW,
            WINDOW,
        )
        == INVALID
    )


@pytest.mark.parametrize("secret", ["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_", "whsec_***"])
def test_whsec_secrets_must_be_prefixed_base64(secret: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_whsec(secret)
    assert secret not in str(caught.value)  # never echo a secret


# --- Discord (Ed25519) ---------------------------------------------------------------------------

RFC8032 = [  # (public key, message, signature): RFC 8032 section 7.1, TEST 1 and TEST 2
    (
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        b"",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        b"\x72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
]


@pytest.mark.parametrize(("public", "message", "signature"), RFC8032)
def test_ed25519_rfc8032_vectors(public: str, message: bytes, signature: str) -> None:
    keys = parse_ed25519_public_keys(public)
    assert reason(verify_ed25519, keys, message, signature) is None
    assert reason(verify_ed25519, keys, message + b"!", signature) == INVALID
    flipped = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    assert reason(verify_ed25519, keys, message, flipped) == INVALID


DISCORD_BODY = b'{"type":1}'
DISCORD_TIMESTAMP = "1700000000"
# Ed25519 is deterministic: the development key's signature of timestamp + body never changes.
DISCORD_SIGNATURE = (
    "c1098e97d711377f30225d53d94b89d43537f92e5b3afaddc590781b1f9f9d4b"
    "2eeab335d370be3b9a090bc61a85b86448bc140dcd195f1569c2bff181257607"
)


def test_discord_signs_timestamp_then_body() -> None:
    key = discord_dev_private_key()
    assert sign_discord(key, DISCORD_TIMESTAMP, DISCORD_BODY) == DISCORD_SIGNATURE
    public = parse_ed25519_public_keys(discord_dev_public_key_hex())
    now = 1700000000.0
    args = (public, DISCORD_BODY, DISCORD_TIMESTAMP, DISCORD_SIGNATURE, now, WINDOW)
    assert reason(verify_discord, *args) is None
    # The timestamp is part of the signed message, so it cannot be moved into the window.
    assert (
        reason(verify_discord, public, DISCORD_BODY, "1700000001", DISCORD_SIGNATURE, now, WINDOW)
        == INVALID
    )
    assert (
        reason(
            verify_discord,
            public,
            DISCORD_BODY,
            DISCORD_TIMESTAMP,
            DISCORD_SIGNATURE,
            now + 301,
            WINDOW,
        )
        == STALE
    )
    assert (
        reason(verify_discord, public, DISCORD_BODY, DISCORD_TIMESTAMP, "zz", now, WINDOW)
        == INVALID
    )
    assert (
        reason(verify_discord, public, DISCORD_BODY, DISCORD_TIMESTAMP, "ab" * 32, now, WINDOW)
        == INVALID
    )
    assert (
        reason(verify_discord, public, DISCORD_BODY, None, DISCORD_SIGNATURE, now, WINDOW)
        == MISSING
    )


def test_discord_accepts_any_configured_key() -> None:
    other = Ed25519PrivateKey.generate()
    other_hex = other.public_key().public_bytes_raw().hex()
    keys = parse_ed25519_public_keys(f"{other_hex}, {discord_dev_public_key_hex()}")
    args = (keys, DISCORD_BODY, DISCORD_TIMESTAMP, DISCORD_SIGNATURE, 1700000000.0, WINDOW)
    assert reason(verify_discord, *args) is None


@pytest.mark.parametrize(
    ("value", "message"), [("xyz", "not hex"), ("abcd", "2 bytes"), (" , ", "no key")]
)
def test_discord_key_errors_name_the_problem(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_ed25519_public_keys(value)


# --- verifiers from settings ---------------------------------------------------------------------


def test_verifiers_exist_only_for_set_secrets() -> None:
    assert build_verifiers(load_settings({})) == {}
    settings = load_settings(
        {"INVESTED_GITHUB_WEBHOOK_SECRET": "s", "INVESTED_SLACK_SIGNING_SECRET": " "}
    )
    assert set(build_verifiers(settings)) == {Platform.GITHUB}  # blank counts as unset
    dev = {k: v for k, v in DEV_ENV.items() if k != "INVESTED_API_KEYS"}
    assert set(build_verifiers(load_settings(dev))) == set(Platform)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("INVESTED_DISCORD_PUBLIC_KEY", "deadbeef-not-a-key"),
        ("INVESTED_STANDARD_WEBHOOKS_SECRET", "whsec_%%%secret%%%"),
        ("INVESTED_STANDARD_WEBHOOKS_SECRET", base64.b64encode(b"no prefix").decode()),
    ],
)
def test_malformed_secret_is_a_config_error_naming_the_variable_not_the_value(
    variable: str, value: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        build_verifiers(load_settings({variable: value}))
    assert variable in caught.value.message
    assert value not in caught.value.message
