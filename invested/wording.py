"""Plain-English counts for the explanations people read: ``1 own event``, ``3 contributions``.

Kinds are verbs in the contract (``contribute``, ``attend``); a sentence needs a noun, in the
singular for one and the plural otherwise. The classifier's reasons (:mod:`invested.records`,
also shown by the API and ``make tail``) and the API's member explanations take their nouns from
this one table, so every kind reads the same wherever it is written. A test pins every kind.
"""

from __future__ import annotations

from invested.contracts import Kind

# (singular, plural) noun of each kind in a sentence. Verbs become the noun a person would say:
# "3 contributions", not "3 contributes"; uncountable or odd ones get a phrase.
KIND_NOUNS: dict[Kind, tuple[str, str]] = {
    Kind.VIEW: ("view", "views"),
    Kind.REACT: ("reaction", "reactions"),
    Kind.STAR: ("star", "stars"),
    Kind.FORK: ("fork", "forks"),
    Kind.DOWNLOAD: ("download", "downloads"),
    Kind.FOLLOW: ("follow", "follows"),
    Kind.UNFOLLOW: ("unfollow", "unfollows"),
    Kind.JOIN: ("join", "joins"),
    Kind.LEAVE: ("departure", "departures"),  # "3 leaves" reads as foliage or time off
    Kind.SUBSCRIBE: ("subscription", "subscriptions"),
    Kind.UNSUBSCRIBE: ("cancelled subscription", "cancelled subscriptions"),
    Kind.UNSTAR: ("removed star", "removed stars"),
    Kind.POST: ("post", "posts"),
    Kind.REPLY: ("reply", "replies"),
    Kind.COMMENT: ("comment", "comments"),
    Kind.MENTION: ("mention", "mentions"),
    Kind.ANSWER: ("answer", "answers"),
    Kind.REVIEW: ("review", "reviews"),
    Kind.CONTRIBUTE: ("contribution", "contributions"),
    Kind.FEEDBACK: ("piece of feedback", "pieces of feedback"),  # uncountable noun
    Kind.ATTEND: ("event attended", "events attended"),
    Kind.HOST: ("event hosted", "events hosted"),
    Kind.COMMIT: ("commit", "commits"),
    Kind.RELEASE: ("release", "releases"),
}

_ORDER = {kind.value: index for index, kind in enumerate(Kind)}


def counted(count: int | float, singular: str, plural: str | None = None) -> str:
    """``1 day``, ``2 days``, ``0 days``, ``1.5 days``: the count and the noun that agrees."""
    number = f"{count:g}" if isinstance(count, float) else str(count)
    return f"{number} {singular if count == 1 else (plural or _regular_plural(singular))}"


def kind_count(kind: str, count: int) -> str:
    """``1 reply``, ``3 contributions``; a kind this version does not know gets a regular plural."""
    try:
        singular, plural = KIND_NOUNS[Kind(kind)]
    except ValueError:  # written by a newer contract: still readable, never an error
        singular, plural = kind, _regular_plural(kind)
    return counted(count, singular, plural)


def kind_listing(counts: dict[str, int]) -> str:
    """``5 replies, 2 comments and 1 post``: most frequent first, ties in contract order."""
    items = sorted(
        ((kind, n) for kind, n in counts.items() if n > 0),
        key=lambda item: (-item[1], _ORDER.get(item[0], len(_ORDER)), item[0]),
    )
    return listing([kind_count(kind, n) for kind, n in items])


def listing(words: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def _regular_plural(noun: str) -> str:
    if noun.endswith(("s", "x", "z", "ch", "sh")):
        return noun + "es"
    if len(noun) > 1 and noun.endswith("y") and noun[-2] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"
