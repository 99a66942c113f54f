"""Kafka topic names, partition counts and per-topic configuration, defined once."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    # Applied by the topic-creation job in production; the embedded broker ignores what it lacks.
    config: dict[str, str] = field(default_factory=dict)
    purpose: str = ""


ENGAGEMENT_EVENTS = "engagement.events"
MEMBER_TRANSITIONS = "member.transitions"
INGEST_DEADLETTER = "ingest.deadletter"
CLASSIFIER_DEADLETTER = "classifier.deadletter"

SEVEN_DAYS_MS = str(7 * 24 * 3600 * 1000)
THIRTY_DAYS_MS = str(30 * 24 * 3600 * 1000)

TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(
        ENGAGEMENT_EVENTS,
        partitions=8,
        # Kept long enough to rebuild state for the whole rules window (28 days) plus slack.
        config={"cleanup.policy": "delete", "retention.ms": THIRTY_DAYS_MS},
        purpose="normalized EngagementEvent JSON, key community/member",
    ),
    TopicSpec(
        MEMBER_TRANSITIONS,
        partitions=8,
        config={"cleanup.policy": "delete", "retention.ms": THIRTY_DAYS_MS},
        purpose="MemberTransition CloudEvents JSON, key community/member",
    ),
    TopicSpec(
        INGEST_DEADLETTER,
        partitions=1,
        config={"cleanup.policy": "delete", "retention.ms": SEVEN_DAYS_MS},
        purpose="authentic webhooks that could not be mapped, with the reason",
    ),
    TopicSpec(
        CLASSIFIER_DEADLETTER,
        partitions=1,
        config={"cleanup.policy": "delete", "retention.ms": SEVEN_DAYS_MS},
        purpose="records on engagement.events the classifier could not parse (poison messages)",
    ),
)


def member_key(community: str, member: str) -> str:
    """The partition key of everything about one member: all their events land in order."""
    return f"{community}/{member}"
