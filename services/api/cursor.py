"""Opaque pagination cursors: base64url (no padding) of the last member id of a page.

Pages are ``ZRANGEBYLEX`` reads from an *exclusive* lower bound, so a cursor is just a position
in the id order, independent of which members join or leave the listed set in between: a member
present throughout is listed exactly once, and no member is ever listed twice.
"""

from __future__ import annotations

import base64
import binascii

from invested.contracts import CONTROL_CHARS

ID_MAX_LENGTH = 256  # invested.contracts.Identifier
CURSOR_MAX_LENGTH = 4 * ((ID_MAX_LENGTH * 4 + 2) // 3)  # base64 of 256 four-byte characters
CURSOR_PATTERN = r"^[A-Za-z0-9_-]+$"


def encode_cursor(member: str) -> str:
    return base64.urlsafe_b64encode(member.encode()).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str | None) -> str | None:
    """The member id a cursor stands for; ValueError when it is not one this API produced."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        member = raw.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValueError("not a cursor returned by this API") from None
    if (
        not 1 <= len(member) <= ID_MAX_LENGTH
        or CONTROL_CHARS.search(member)
        or encode_cursor(member) != cursor  # canonical form only: one cursor per position
    ):
        raise ValueError("not a cursor returned by this API")
    return member
