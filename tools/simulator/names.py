"""Readable names, handles, ids and e-mails for the simulated crowd, drawn from the seed.

Each platform has its own handle style (GitHub ``lenasch``, Slack ``lena.schmidt``, Discourse
``lena_s``, Discord ``lenas42``), and no crowd handle equals another account's handle even with
case and punctuation ignored: handles shared across platforms are the cast's, on purpose
(:mod:`tools.simulator.cast`), so every link suggestion the demo shows is one it meant to show.
E-mails differ per platform too (a work address on Slack, a personal one on Discourse), so only
the cast is linked by e-mail.
"""

from __future__ import annotations

import random
import re
import string
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from invested.contracts import Platform
from tools.simulator.cast import BOTS, Identity

FIRST = [
    "lena",
    "ana",
    "omar",
    "mei",
    "lucas",
    "chloe",
    "ibrahim",
    "sofia",
    "mateo",
    "hana",
    "david",
    "amara",
    "felix",
    "yuki",
    "leila",
    "oscar",
    "zara",
    "elias",
    "nina",
    "rafael",
    "ines",
    "kofi",
    "maya",
    "arjun",
    "clara",
    "tariq",
    "emma",
    "diego",
    "aisha",
    "jakob",
    "lucia",
    "chen",
    "fatima",
    "hugo",
    "olga",
    "pedro",
    "rosa",
    "viktor",
    "wen",
    "yusuf",
    "zoe",
    "bruno",
    "dalia",
    "eitan",
    "freya",
    "goran",
    "ilse",
    "juno",
    "kai",
]
LAST = [
    "schmidt",
    "garcia",
    "nguyen",
    "kowalski",
    "dubois",
    "rossi",
    "tanaka",
    "silva",
    "mensah",
    "novak",
    "fischer",
    "ortiz",
    "larsen",
    "moreau",
    "costa",
    "ivanova",
    "khan",
    "sato",
    "jensen",
    "petrov",
    "almeida",
    "bauer",
    "conti",
    "mendes",
    "weber",
    "yilmaz",
    "hoffmann",
    "lindgren",
    "adeyemi",
    "keller",
    "romero",
    "santos",
    "wagner",
    "nakamura",
    "obi",
    "vargas",
    "eriksen",
    "fontaine",
    "haddou",
    "kim",
    "lopez",
    "marsh",
    "nieminen",
    "park",
    "quinn",
    "reyes",
]
COMPANIES = ("initech.example", "globex.example", "hooli.example", "umbrella.example")
MAILHOSTS = ("fastmail.example", "posteo.example", "proton.example")
DISCORD_EPOCH_MS = 1_420_070_400_000  # snowflakes count milliseconds from 2015-01-01


class HasAccounts(Protocol):
    accounts: dict[Platform, Identity]


@dataclass(frozen=True)
class Person:
    first: str
    last: str

    @property
    def display(self) -> str:
        return f"{self.first.title()} {self.last.title()}"


def _key(handle: str) -> str:
    return re.sub(r"[^a-z0-9]", "", handle.lower())


@dataclass
class Taken:
    """Names, handles (normalized) and ids already in use."""

    people: set[Person] = field(default_factory=set)
    handles: set[str] = field(default_factory=set)
    ids: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, members: Iterable[HasAccounts]) -> Taken:
        taken = cls()
        for member in members:
            for identity in member.accounts.values():
                taken.handles.add(_key(identity.handle))
                taken.ids.add(identity.id)
        for bot in BOTS.values():
            taken.handles.add(_key(bot.handle))
            taken.ids.add(bot.id)
        return taken

    def handle(self, wanted: str) -> str:
        handle, number = wanted, 1
        while _key(handle) in self.handles:
            number += 1
            handle = f"{wanted}{number}"
        self.handles.add(_key(handle))
        return handle

    def id(self, draw: Callable[[], object]) -> str:
        while True:
            value = str(draw())
            if value not in self.ids:
                self.ids.add(value)
                return value


def person(rng: random.Random, taken: Taken) -> Person:
    while True:
        drawn = Person(rng.choice(FIRST), rng.choice(LAST))
        if drawn not in taken.people or len(taken.people) >= len(FIRST) * len(LAST):
            taken.people.add(drawn)
            return drawn


def _slack_id(rng: random.Random) -> str:
    return "U0" + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(9))


def _snowflake(rng: random.Random) -> str:
    # An account made between 2016 and 2023: the id embeds its creation time above 22 bits.
    created_ms = rng.randrange(1_451_606_400_000, 1_704_067_200_000) - DISCORD_EPOCH_MS
    return str((created_ms << 22) | rng.getrandbits(22))


def account(rng: random.Random, who: Person, platform: Platform, taken: Taken) -> Identity:
    """One account of a crowd member on a platform, in that platform's style."""
    first, last = who.first, who.last
    if platform is Platform.GITHUB:
        user_id = taken.id(lambda: rng.randrange(1_200_000, 150_000_000))
        return Identity(user_id, taken.handle(f"{first}{last[:3]}"))
    if platform is Platform.SLACK:
        user_id = taken.id(lambda: _slack_id(rng))
        handle = taken.handle(f"{first}.{last}")
        return Identity(user_id, handle, f"{handle}@{rng.choice(COMPANIES)}")
    if platform is Platform.DISCOURSE:
        handle = taken.handle(f"{first}_{last[0]}")
        email = f"{first}{last[0]}{rng.randrange(10, 99)}@{rng.choice(MAILHOSTS)}"
        taken.ids.add(handle)  # Discourse members are their usernames
        return Identity(handle, handle, email)
    if platform is Platform.DISCORD:
        user_id = taken.id(lambda: _snowflake(rng))
        return Identity(user_id, taken.handle(f"{first}{last[0]}{rng.randrange(10, 99)}"))
    attendee = taken.id(lambda: f"attendee-{rng.randrange(1100, 99999)}")
    return Identity(attendee, attendee)
