"""Bearer API keys: several keys at once (rotation), compared in constant time, never logged.

Keys come from ``INVESTED_API_KEYS`` (comma-separated). Each presented token is hashed and
compared against the hash of every configured key with :func:`hmac.compare_digest`, so neither
the position of a mismatch nor the length of a key leaks through timing. No key configured means
the API is locked (every ``/v1`` request is a 401).
"""

from __future__ import annotations

import hashlib
import hmac

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from services.api.errors import ApiError

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key from INVESTED_API_KEYS: `Authorization: Bearer <key>`.",
)


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", "surrogateescape")).digest()


class ApiKeys:
    """The configured keys, kept only as SHA-256 digests."""

    def __init__(self, keys: list[SecretStr]) -> None:
        self._digests = [_digest(key.get_secret_value()) for key in keys]

    def __len__(self) -> int:
        return len(self._digests)

    def __repr__(self) -> str:
        return f"ApiKeys(<{len(self._digests)} keys>)"

    def accepts(self, token: str | None) -> bool:
        return self.identify(token) is not None

    def identify(self, token: str | None) -> str | None:
        """Which configured key ``token`` is (``key-<n>``, never the key), None if none."""
        if not token:
            return None
        presented = _digest(token)
        found: str | None = None
        for index, digest in enumerate(self._digests):  # no early exit: every key is compared
            if hmac.compare_digest(presented, digest):
                found = f"key-{index}"
        return found


async def require_api_key(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer_scheme),
) -> None:
    """Dependency of every ``/v1`` route: a valid bearer key or a 401 JSON error."""
    keys: ApiKeys = request.app.state.api_keys
    identity = keys.identify(credentials.credentials) if credentials is not None else None
    request.state.api_key = identity  # per-key limits (live streams) count by it
    if identity is None:
        raise ApiError(
            401,
            "unauthorized",
            "a valid API key is required: Authorization: Bearer <key>",
            headers={"WWW-Authenticate": "Bearer"},
        )
