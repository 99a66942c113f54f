"""Secrets kept out of printed and logged text: the one place that masks them.

A connection URL may carry a password (``redis://:secret@redis:6379/0`` is how compose connects),
so every message that shows a URL goes through :func:`mask_url` (or :func:`mask_urls` for free
text such as an exception's message). Secret settings are never shown at all.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"
# Query parameters that carry credentials in the URL forms redis-py and Kafka clients accept.
_SECRET_PARAMS = ("password", "passwd", "secret", "token", "key")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")


def mask_url(url: str) -> str:
    """``url`` with its password (and any credential query parameter) replaced by ``***``.

    ``redis://user:pw@host/0`` → ``redis://user:***@host/0``; a lone user-info part
    (``redis://pw@host``, which some clients read as a password) is masked whole. Text that is not
    a URL is returned unchanged."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK if "@" in url else url
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user, colon, _ = userinfo.partition(":")
        netloc = f"{user}:{MASK}@{hostport}" if colon else f"{MASK}@{hostport}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(name.lower().endswith(_SECRET_PARAMS) for name, _ in pairs):
            query = urlencode(
                [
                    (name, MASK if name.lower().endswith(_SECRET_PARAMS) else value)
                    for name, value in pairs
                ],
                safe="*",
            )
    if netloc == parts.netloc and query == parts.query:
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def mask_urls(text: str) -> str:
    """Every URL inside ``text`` masked (exception messages, configuration problems)."""
    return _URL.sub(lambda match: mask_url(match.group(0)), text)
