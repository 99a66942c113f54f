"""The demo's fixed cast: the brand's staff, its bots and the people seen on two platforms.

These identities do not depend on ``--seed``: ``deploy/demo/roles.yaml`` names the staff and the
one bot no payload marks, and README examples and story tests refer to them. Everyone else in the
community (the crowd) is drawn by :mod:`tools.simulator.model` from the seed.

Cross-platform people come in three kinds, so that the demo shows each way identities meet:
the same verified e-mail on Slack (``team_join`` / ``user_change`` profile) and Discourse (the
``user_created`` payload) is an automatic link; the same handle on two platforms is only a
suggestion; and one such suggestion (``sam``) names two different people, to be rejected.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from invested.contracts import Platform

GITHUB, SLACK, DISCOURSE, DISCORD, GENERIC = (
    Platform.GITHUB,
    Platform.SLACK,
    Platform.DISCOURSE,
    Platform.DISCORD,
    Platform.GENERIC,
)


@dataclass(frozen=True)
class Identity:
    """One account: the platform's member id (Discourse: the username), its handle, and the
    verified e-mail address the platform's payloads show for it, if any."""

    id: str
    handle: str
    email: str | None = None


@dataclass(frozen=True)
class CastMember:
    """A fixed person. ``joins`` are the days into the window when they join a platform (absent:
    a member before the window starts); ``profile_update_day`` is when they edit their Slack
    profile (a ``user_change`` carrying their e-mail)."""

    name: str
    role: str  # staff, core, regular or lurker
    activity: float
    identities: dict[Platform, Identity]
    joins: dict[Platform, float] = field(default_factory=dict)
    profile_update_day: float | None = None


STAFF: tuple[CastMember, ...] = (
    CastMember(
        "Dana Okafor",  # maintainer: reviews and merges pull requests, triages issues
        "staff",
        2.5,
        {
            GITHUB: Identity("5550100", "dana-okafor"),
            SLACK: Identity("U0ACMESTAFF", "dana", "dana@acme.dev"),
        },
    ),
    CastMember(
        "Tomás Reyes",  # community manager: answers questions, hosts the meetups
        "staff",
        2.5,
        {
            SLACK: Identity("U0ACMESTAF2", "tomas", "tomas@acme.dev"),
            DISCOURSE: Identity("tomas_acme", "tomas_acme"),
            DISCORD: Identity("910000000000000101", "tomas.acme"),
            GENERIC: Identity("attendee-1001", "attendee-1001"),
        },
    ),
    CastMember(
        "Kenji Watanabe",  # engineer: reviews pull requests, helps on Discord
        "staff",
        2.0,
        {
            GITHUB: Identity("5550101", "kenji-acme"),
            SLACK: Identity("U0ACMESTAF3", "kenji", "kenji@acme.dev"),
            DISCORD: Identity("910000000000000102", "kenji_acme"),
        },
    ),
)

PEOPLE: tuple[CastMember, ...] = (
    # The same verified e-mail on Slack and Discourse: linked automatically.
    CastMember(
        "Priya Raman",
        "core",
        5.0,
        {
            SLACK: Identity("U0PRIYA0001", "priya", "priya.raman@example.com"),
            DISCOURSE: Identity("priya_r", "priya_r", "priya.raman@example.com"),
            GITHUB: Identity("5551003", "priyaraman"),
            GENERIC: Identity("attendee-2417", "attendee-2417"),
        },
        joins={DISCOURSE: 6.0},
        profile_update_day=2.0,
    ),
    CastMember(
        "Jonas Berg",  # joins Slack (team_join), edits the profile later: one membership
        "regular",
        1.5,
        {
            SLACK: Identity("U0JONAS0002", "jonas.berg", "jonas.berg@example.org"),
            DISCOURSE: Identity("jberg", "jberg", "jonas.berg@example.org"),
        },
        joins={SLACK: 3.0, DISCOURSE: 4.0},
        profile_update_day=9.0,
    ),
    # The same handle on two platforms: a link suggestion.
    CastMember(
        "Alice Nakamura",
        "core",
        4.0,
        {GITHUB: Identity("5551001", "alice"), DISCORD: Identity("310000000000000001", "alice")},
    ),
    CastMember(
        "Noor Haddad",
        "regular",
        1.5,
        {DISCOURSE: Identity("noor", "noor"), DISCORD: Identity("310000000000000002", "noor")},
    ),
    # One handle, two different people (different e-mails): a suggestion to reject.
    CastMember("Sam Whitfield", "regular", 1.2, {GITHUB: Identity("5551002", "sam")}),
    CastMember(
        "Samira Okoye",
        "regular",
        1.2,
        {SLACK: Identity("U0SAMIR0003", "sam", "samira.okoye@example.net")},
        profile_update_day=5.0,
    ),
)


@dataclass(frozen=True)
class Bot:
    """A bot account as its platform's payloads show it."""

    key: str
    platform: Platform
    id: str  # the member id ingest gives its events
    handle: str
    note: str  # how the platform marks it (README, summaries)


BOTS: dict[str, Bot] = {
    bot.key: bot
    for bot in (
        Bot("dependabot", GITHUB, "49699333", "dependabot[bot]", "user type Bot"),
        Bot("github-actions", GITHUB, "41898282", "github-actions[bot]", "user type Bot, app"),
        # A machine user: GitHub types it User, so only the roles file says it is a bot.
        Bot("release-bot", GITHUB, "5550199", "acme-release-bot", "roles file only"),
        Bot("digest", SLACK, "U0ACMEDIGST", "Acme Digest", "bot_id next to user, no subtype"),
        Bot("slackbot", SLACK, "USLACKBOT", "Slackbot", "the user USLACKBOT"),
        Bot("mee6", DISCORD, "159985870458322944", "MEE6", "author.bot"),
        Bot("releases-webhook", DISCORD, "910000000000000900", "Acme Releases", "webhook_id"),
        Bot("system", DISCOURSE, "system", "system", "user id -1"),
        Bot("discobot", DISCOURSE, "discobot", "discobot", "user id -2"),
    )
}

# Ids the platforms give bots outside the member id.
SLACK_DIGEST_BOT_ID = "B0ACMEDIGST"
SLACK_DIGEST_APP_ID = "A0ACMEDIGST"
DISCOURSE_BOT_USER_IDS = {"system": -1, "discobot": -2}
GITHUB_ACTIONS_APP = {"id": 15368, "slug": "github-actions", "name": "GitHub Actions"}
