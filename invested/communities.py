"""Community ids derived from platform URLs, normalized in one place.

A community id names Redis keys and Kafka keys (``community/member``), so it must not contain
``/``, ``{`` or ``}``. A Discourse community is an *instance*: its base URL, path included, since
one host can serve several forums (``https://forum.acme.test/forum-fr`` and ``/forum-de``). Ingest
(the instance a webhook secret is bound to) and the brands file (instances listed as URLs) both
go through :func:`discourse_community`, so the same URL always gives the same id.
"""

from __future__ import annotations

from urllib.parse import urlsplit

# Joins the host and the path segments. A "~" inside a segment is escaped as "%7E" (its
# percent-encoding, which a URL may use for it anyway), so two different URLs never share an id.
SEGMENT_SEPARATOR = "~"
_DEFAULT_PORTS = {"http": 80, "https": 443}


def discourse_community(url: str) -> str:
    """``https://Forum.Acme.test:8443/forum-fr/`` → ``forum.acme.test:8443~forum-fr``.

    Host lower-cased, the port kept unless it is the scheme's default, empty path segments and a
    trailing slash dropped. Raises ValueError for anything that is not an ``http(s)://host[/path]``
    URL (a query, fragment or user name has no place in an instance URL).
    """
    text = url.strip()
    parts = urlsplit(text)
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ValueError("expected an http(s)://host[/path] URL")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError("an instance URL has no query, fragment or user name")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("the port is not a number") from None
    host = parts.hostname.lower()
    if port is not None and port != _DEFAULT_PORTS[parts.scheme]:
        host = f"{host}:{port}"
    segments = [
        segment.replace(SEGMENT_SEPARATOR, "%7E") for segment in parts.path.split("/") if segment
    ]
    community = SEGMENT_SEPARATOR.join([host, *segments])
    if any(char in community for char in "{}") or not community.isprintable():
        raise ValueError("the URL contains characters a community id cannot carry")
    return community
