"""Request parameters, validated with the same bounds as the contracts (OpenAPI shows them).

Ids follow ``invested.contracts.Identifier``: 1..256 characters, no control characters. A bad
parameter is a 422 whose ``error`` names it (``invalid_id``, ``invalid_limit``, ...).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Path, Query
from pydantic import AfterValidator

from invested.contracts import Segment
from services.api.cursor import CURSOR_MAX_LENGTH, CURSOR_PATTERN, ID_MAX_LENGTH, decode_cursor

ID_PATTERN = r"^[^\x00-\x1f\x7f]+$"
MAX_PAGE = 500
DEFAULT_PAGE = 50
STREAM_ID_PATTERN = r"^[0-9]{1,20}(-[0-9]{1,20})?$"
_U64 = 2**64 - 1


def _stream_id(value: str | None) -> str | None:
    # Redis rejects parts beyond 64 bits with an error; refuse them here as bad input.
    if value is not None and any(int(part) > _U64 for part in value.split("-")):
        raise ValueError("stream id parts must fit in 64 bits")
    return value


CommunityId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=ID_MAX_LENGTH,
        pattern=ID_PATTERN,
        description="Community id: GitHub org, Slack team, Discourse site, Discord guild.",
        examples=["acme"],
    ),
]
MemberId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=ID_MAX_LENGTH,
        pattern=ID_PATTERN,
        description="Platform user id of the member.",
        examples=["alice"],
    ),
]
SegmentFilter = Annotated[
    Segment | None, Query(description="List only this segment; omit for every known member.")
]
PageLimit = Annotated[
    int, Query(ge=1, le=MAX_PAGE, description=f"Members per page, 1..{MAX_PAGE}.")
]
HistoryLimit = Annotated[
    int, Query(ge=1, le=MAX_PAGE, description=f"Transitions to return, 1..{MAX_PAGE}.")
]
Cursor = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=CURSOR_MAX_LENGTH,
        pattern=CURSOR_PATTERN,
        description="`next_cursor` of the previous page; omit for the first page.",
    ),
    AfterValidator(decode_cursor),
]
LastEventIdHeader = Annotated[
    str | None,
    Header(
        alias="Last-Event-ID",
        pattern=STREAM_ID_PATTERN,
        description="Resume after this event id (EventSource sends it on reconnect).",
    ),
    AfterValidator(_stream_id),
]
LastEventIdQuery = Annotated[
    str | None,
    Query(
        pattern=STREAM_ID_PATTERN,
        description="Same as the Last-Event-ID header, for clients that cannot set headers.",
    ),
    AfterValidator(_stream_id),
]
